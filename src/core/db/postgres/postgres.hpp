#pragma once
// The PostgreSQL adapter, over libpq. libpq's pipeline mode sends a whole ALL batch in one round trip;
// the first failing request makes the adapter roll back, replay the good prefix and go on without it.
#include "core/db/adapter.hpp"
#include "core/db/postgres/pg_settings.hpp"

#include <libpq-fe.h>

#include <unordered_map>
#include <unordered_set>

namespace kluster::db {

/// PostgreSQL's errors in Kluster's terms (sqlstate.cpp): the kind of a SQLSTATE, and the result code of a
/// request-level one.
ErrorKind classifySqlState(const std::string& sqlState);
std::string_view resultCodeForSqlState(const std::string& sqlState);

/// pg_proc.provolatile ('i', 's', 'v'; anything else: None) in Kluster's terms.
Volatility volatilityOf(char provolatile);

/// The adapter of `[database] type = "postgresql"` (postgresAdapter() is how db::adapter() reaches it).
class PgAdapter final : public Adapter {
public:
  std::string_view type() const override { return "postgresql"; }
  std::unique_ptr<Connection> connect(const std::string& url) const override;
  std::string sqlStateFor(std::string_view resultCode) const override;
  Statement recordFingerprint(const std::string& cluster, const std::string& fingerprint,
                              std::int64_t timestampMs) const override;
  Statement recordSecurity(const std::string& cluster, const std::string& digest, std::int64_t offset) const override;
  const Operations& operations() const override;
  std::optional<Statement> stageStatement(const std::string& transaction, std::int32_t part,
                                          const std::string& clientId, std::int64_t timestampMs,
                                          const std::string& body) const override;
  Statement dropStaged(const std::string& transaction) const override;
};

/// Converts one PostgreSQL text value of type `oid` to JSON (numbers that fit exactly, booleans, json, or text).
ojson pgValueToJson(unsigned oid, const char* text, int length);
/// A readable type name for common built-in type oids; empty when unknown.
std::string_view builtinTypeName(unsigned oid);

/// An order-independent digest of the rows whose md5 (32 hex digits) is in column `md5Column`, as an aggregate
/// expression: md5 of the row count and two 64-bit sums of halves of the md5s. It needs no sort and constant
/// memory however large the table (`verify` and continuous verification compute the same value).
std::string pgRowsDigestSql(const std::string& md5Column);

/// Kluster's tables and functions for sequences (pg_sequences.cpp), created by ensureSchema().
extern const char* const kSequenceSchema;
/// Kluster's record of the functions an operator vouched for (pg_functions.cpp), created by ensureSchema().
extern const char* const kTrustSchema;
/// The parts interactive transactions staged (pg_staged.cpp), created by ensureSchema().
extern const char* const kStagedSchema;

/// What cannot be pinned by options, because it needs a superuser (lc_messages, session_replication_role), set
/// after connecting; throws DbError (Node) when session_replication_role is not `origin` and cannot be made so. The
/// caller closes the connection.
void pinSession(PGconn* conn);

// A PostgreSQL array literal of text values ({"a","b"}), for binding a whole column as one parameter.
template <typename Range, typename Get> std::string textArray(const Range& items, Get get) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : std::string_view(get(item))) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

/// Clears a libpq result at the end of its scope.
struct ResultGuard {
  PGresult* res;
  ~ResultGuard() { PQclear(res); }
};

class PgConnection final : public Connection {
public:
  explicit PgConnection(const std::string& url);
  ~PgConnection() override;

  ServerInfo serverInfo() override;
  void ensureSchema() override;
  Position loadPosition(const std::string& cluster) override;
  std::vector<StagedPart> loadStaged(const std::string& transaction) override;
  std::optional<std::string> loadFingerprint(const std::string& cluster) override;
  std::optional<SecurityRecord> loadSecurity(const std::string& cluster) override;
  void claimProcess(const std::string& cluster, const std::string& token) override;
  std::string processClaim(const std::string& cluster) override;
  std::map<std::string, AppliedRecord> findApplied(const std::vector<std::string>& messageIds) override;
  void begin() override;
  std::vector<Outcome> execute(const std::vector<const Work*>& work) override;
  bool commit(const std::string& cluster, const std::vector<AppliedEntry>& entries, const Position& position) override;
  void rollback() noexcept override;
  void forgetStatements() override { forget_ = true; }
  Outcome query(const Work& work, const ReadFloor* atLeast) override;     // pg_read.cpp
  Outcome speculate(const Work& work, const ReadFloor* atLeast) override; // pg_speculate.cpp
  Outcome describe(const std::string& sql, const std::vector<std::uint32_t>& paramTypes,
                   const ReadFloor* atLeast) override;
  void setDurableCommits(bool durable) override;
  std::map<std::string, FunctionVolatility> functionVolatility(const std::vector<std::string>& names) override;
  std::vector<std::vector<std::string>> uniqueKeys(const std::string& schema, const std::string& table) override;
  std::vector<std::string> drawnDefaults(const std::string& schema, const std::string& table) override;
  std::vector<std::string> immediateUniqueColumns(const std::string& schema, const std::string& table) override;
  RequestInputs requestInputs() override;
  std::vector<FunctionDefinition> userFunctions(const std::string& name) override;
  std::vector<FunctionDefinition> triggerFunctions(const std::string& schema, const std::string& table) override;
  std::vector<std::string> tableFunctions(const std::string& schema, const std::string& table) override;
  ViewDefinition viewDefinition(const std::string& schema, const std::string& name) override;
  std::vector<FunctionDefinition> ruleDefinitions(const std::string& schema, const std::string& table) override;
  std::int64_t openSnapshot(const std::string& cluster) override;
  std::vector<std::string> snapshotTables() override;                                  // pg_checks.cpp
  TableChecksum snapshotChecksum(const std::string& table) override;                   // pg_checks.cpp
  std::optional<std::set<std::string>> snapshotWritten(const Writes& writes) override; // pg_checks.cpp
  void closeSnapshot() noexcept override { rollback(); }

private:
  struct Sent; // one statement queued in the pipeline
  struct Failure {
    std::size_t item;
    std::string sqlState, message, hint;
    bool validation = false; // an interactive transaction's result differs from what its client saw
  };

  // Statements of the connection's own sent in the same pipeline as a request's, hidden from its results: before
  // it (BEGIN, limits, the position check) and after it (what the caller reads back, COMMIT or ROLLBACK), so that
  // a read or a speculation is one round trip. Each step keeps its first value; the first step that fails is kept
  // in `error` (a failure in `before` aborts the rest of the pipeline, the request's statements included).
  struct Frame {
    struct Step {
      Step() = default;
      Step(std::string text, std::vector<std::optional<std::string>> values = {})
          : sql(std::move(text)), params(std::move(values)) {}
      std::string sql;
      std::vector<std::optional<std::string>> params;
      bool ran = false;                 ///< it completed
      std::optional<std::string> value; ///< its first row's first column, when it has one
    };
    std::vector<Step> before, after;
    std::optional<Failure> error;
  };
  // The frame's steps for the position check of `atLeast` (its value: the database's ALL position, or -1), and
  // what a run of it says: nullopt when the database holds at least `atLeast`, NOT_CAUGHT_UP otherwise.
  static Frame::Step positionStep(const ReadFloor& atLeast);
  // One request's statements inside `frame`, in one pipeline (a read, a speculation); rolled back on an exception.
  std::optional<Failure> runFramed(const Work& work, Frame& frame, Outcome& outcome);
  static std::optional<Outcome> behind(const Frame::Step& position, const ReadFloor& atLeast);
  // Starts a read-only transaction; with `atLeast`, checks the database's ALL position in it first and
  // answers NOT_CAUGHT_UP (rolled back) when it is behind.
  std::optional<Outcome> beginRead(const ReadFloor* atLeast); // pg_read.cpp, with query() and readError()
  // A request-level error of a read (rolled back), or DbError for the others.
  Outcome readError(const std::string& sqlState, const std::string& message, const std::string& hint);
  // A speculation's sequence scope as a text[] value for _kluster.speculate_sequences(): its tables (quoted) or
  // its functions; NULL (nullopt) without a scope (pg_speculate.cpp).
  static std::optional<std::string> scopeArray(const std::optional<Work::SequenceScope>& scope, bool tables);
  // Runs simple commands outside a pipeline; throws DbError on failure.
  void exec(const std::string& sql);
  // Sends the BEGIN that begin() deferred, when it is still pending (in a pipeline: queued in it).
  void sendPendingBegin(std::vector<Sent>* pipeline, std::size_t item);
  PGresult* execParams(const std::string& sql, const std::vector<std::optional<std::string>>& params);
  // Sends items [from, to) in one pipeline; fills outcomes; returns the first failure, if any.
  std::optional<Failure> runPipeline(const std::vector<const Work*>& work, std::size_t from, std::size_t to,
                                     std::vector<Outcome>* outcomes, Frame* frame = nullptr);
  void send(const std::string& sql, const std::vector<std::optional<std::string>>& params,
            const std::vector<bool>& unused = {});
  // Sends a reusable statement as a named prepared one, preparing it first when this connection has not
  // yet; returns the SQL text when it sent a Prepare (its result confirms the name).
  const std::string* sendReusable(const Statement& st);
  // Whether a reusable statement is worth preparing: prepared already, or its text came before. A text seen once
  // (values spliced into the SQL: a new text per row) runs unnamed, as cheap as a Parse can be, and does not fill the
  // server's and this connection's statements with texts that never come again.
  bool worthPreparing(const std::string& sql);
  void pump();
  void flushAndWait();
  PGresult* nextResult();
  Outcome toOutcome(std::vector<PGresult*>& results);
  std::string typeName(unsigned oid);
  // Sequences kept in step with the log (pg_sequences.cpp).
  bool mayHaveSequences() const;
  void saveSequences();
  const char* saveSequencesSql() const;
  void restoreSequences();
  [[noreturn]] void throwFromResult(const PGresult* res, const std::string& what);
  [[noreturn]] void throwConnectionLost(const std::string& what);

  PGconn* conn_ = nullptr;
  std::string url_;
  std::unordered_map<unsigned, std::string> typeNames_;
  /// The tables snapshotTables() listed last: name -> (quoted reference, the row's bucket key expression).
  std::map<std::string, std::pair<std::string, std::string>> snapshotTables_;
  std::unordered_map<std::string, std::string> statements_; // SQL text -> prepared statement name
  std::unordered_map<std::string, std::string> preparing_;  // prepared in the pipeline being run, not confirmed
  std::unordered_set<std::size_t> seenOnce_;                // hashes of reusable texts run unnamed once
  std::uint64_t statementCount_ = 0;
  bool forget_ = false;
  bool beginPending_ = false;        // begin() was called; BEGIN goes out with the next statement
  int unpumped_ = 0;                 // statements sent since the last flush
  std::optional<bool> hasSequences_; // unknown until a save counted them
  bool sequencesRestored_ = false;   // put back once per connection, before its first batch
  bool writing_ = false;             // a write batch is open: a rollback puts the sequences back
  bool unreusableInBatch_ = false;   // the batch ran DDL (or another one-off statement)
  bool durable_ = true;              // commits wait for the WAL flush (synchronous_commit)
  bool positionStored_ = true;       // the last loadPosition() found a position: later commits may be lost
};

} // namespace kluster::db
