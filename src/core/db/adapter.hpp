#pragma once
// The database adapter interface: everything the node asks of a DBMS, in Kluster's own terms (result codes,
// error kinds, volatility). One implementation per DBMS in a folder of its own (db/postgres/), chosen once by
// the configured database type (db::adapter()); the node's apply loop knows nothing of SQL dialects or drivers.
// ARCHITECTURE.md has the checklist of what an adapter implements.
#include "core/errors.hpp"
#include "core/message.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kluster::db {

/// How an error must be handled (see docs/messages.md, "Error classes").
enum class ErrorKind {
  Request,   ///< every node hits it identically: it is the request's outcome
  Transient, ///< retry the same work after a back-off (serialization failure, deadlock, lost connection)
  Node       ///< local to this node (disk full, permission denied, ...): retry, report on ERRORS, stop if it lasts
};

/// A database error, classified by the adapter: Kluster's kind and result code decide what happens; the SQLSTATE
/// the DBMS reported (SQL's standard five characters; empty when it gave none) is only passed on, in messages and
/// error reports. Each adapter classifies its DBMS's own errors (PostgreSQL: postgres/sqlstate.cpp).
class DbError : public KlusterError {
public:
  DbError(ErrorKind kind, std::string_view code, const std::string& message, std::string sqlState)
      : KlusterError(code, message), kind_(kind), sqlState_(std::move(sqlState)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& sqlState() const { return sqlState_; }

private:
  ErrorKind kind_;
  std::string sqlState_;
};

/// One statement to run, with the parameters it takes. Parameters are Kluster's `$1`, `$2`... in the text (a
/// request's syntax); an adapter whose DBMS uses other placeholders translates them.
struct Statement {
  std::string sql;
  std::vector<std::optional<std::string>> params; ///< text values; nullopt is SQL NULL
  /// The connection may keep it as a server-side prepared statement, so the server parses the text once
  /// (plain DML of a request that changes no schema; see Connection::forgetStatements).
  bool reusable = false;
  /// unusedParams[i]: the SQL does not use $i+1 (it gets a value because a later $n needs the position);
  /// the database cannot infer its type, so the adapter declares it as text.
  std::vector<bool> unusedParams;
};

/// A request as the database runs it: its statements, applied atomically.
struct Work {
  std::vector<Statement> statements;
  /// When set, the DBMS's random number generator is seeded first. Kluster's seed is a real in [-1, 1] derived
  /// from the log (randomSeedFor(), or a transaction's `seed`); each adapter maps it onto its DBMS's own seed
  /// (PostgreSQL's setseed() takes it as it is).
  std::optional<double> randomSeed;
  /// When set, the request's pinned time (ms since 1970 UTC) that defaults rewritten by sql::pinDefaultTime()
  /// read through _kluster.request_time() while this request writes.
  std::optional<std::int64_t> requestTimeMs;
  /// When set, what the UUIDs this request draws through _kluster.gen_random_uuid() (sql::pinRandomUuid()) are
  /// derived from: "<ALL offset>/<messageId>"; the request's n-th UUID is md5("<key>/<n>") as a version-4 UUID.
  std::optional<std::string> uuidKey;
  /// An interactive transaction (Request::Transaction): the digests its statements' results must have, for the
  /// first expect.size() statements ("" : not compared). A difference is the request's outcome SERIALIZATION_FAILURE:
  /// on ALL its effects are undone like those of a request that failed.
  std::vector<std::string> expect;
  /// Put each statement's result digest in the outcome (Outcome::digests).
  bool digests = false;
  /// Every statement only reads: a speculation runs them all in one snapshot (a transaction that only reads
  /// commits without a request, so what it read must be one position of the log).
  bool readOnly = false;
  /// An interactive transaction's reserved sequence values: the statements draw from each named sequence from the
  /// given value on; the sequence's own state is as before once they ran (Request::Transaction::sequences).
  std::map<std::string, std::int64_t> sequenceStarts;
  /// A speculation of plain DML: the tables its statements write ((schema or "", name)) and the functions they
  /// call by name, from which the adapter works out the sequences they may draw from (a speculation keeps
  /// nothing it draws, PgConnection::speculate). Unset: they may draw from any.
  struct SequenceScope {
    std::vector<std::pair<std::string, std::string>> tables;
    std::vector<std::string> functions;
  };
  std::optional<SequenceScope> sequenceScope;
};

/// What the objects of a database (column DEFAULTs, mostly) read from the request that writes, beyond its SQL.
struct RequestInputs {
  bool time = false;   ///< _kluster.request_time(): writes set Work::requestTimeMs
  bool uuid = false;   ///< _kluster.gen_random_uuid(): writes set Work::uuidKey
  bool random = false; ///< random(): writes set Work::randomSeed
};

/// The outcome of a request: rows or rows affected, or a request-level error.
struct Outcome {
  std::string resultCode{code::Ok};
  std::string sqlState;
  std::string errorMessage;
  std::string hint;
  ojson result;  ///< last statement's rows, or {"rowsAffected": n}
  ojson columns; ///< [{"name","type"}] when the last statement returned rows
  ojson results; ///< per statement, when there were several
  std::int64_t rowsAffected = 0;
  std::vector<std::string> digests;          ///< each statement's result digest, when the work asked for them
  std::map<std::string, std::int64_t> drawn; ///< a speculation: the last value drawn from each sequence
  bool ok() const { return resultCode == code::Ok; }
  static Outcome error(std::string_view code, std::string message, std::string sqlState = {}, std::string hint = {});
};

/// A statement's result as an interactive transaction's validation compares it (Work::expect): its rows as a
/// multiset (a row order that no ORDER BY fixes may differ between nodes and between runs), or its row count.
std::string resultDigest(const ojson& statementResult);
/// The digests of each statement of an outcome (its `results`, or its `result` alone).
std::vector<std::string> resultDigests(const Outcome& outcome);
/// Compares an outcome's statements with `work.expect`; returns the index of the first that differs.
std::optional<std::size_t> firstMismatch(const Work& work, const std::vector<std::string>& digests);

/// A read whose database holds ALL only up to `held`, below its floor `wanted` (ReadFloor): NOT_CAUGHT_UP.
Outcome notCaughtUp(std::int64_t held, std::int64_t wanted);

/// The ALL position a node's database holds: the last applied offset and request.
struct Position {
  std::int64_t offset = -1; ///< -1: nothing applied yet
  std::string messageId;
};

/// The oldest ALL position a read may see (ONE with minAllOffset).
struct ReadFloor {
  std::string cluster;
  std::int64_t offset = -1;
};

/// The clients file in effect: its digest and the ALL offset of the security request that put it in effect.
struct SecurityRecord {
  std::string digest;
  std::int64_t offset = -1;
};

/// What a previous application of a request recorded (for duplicate requests).
struct AppliedRecord {
  std::int64_t offset = -1;
  std::string resultCode;
  std::string resultHash;
  std::int64_t rowsAffected = 0;
};

/// A request applied inside a batch, recorded in the same transaction as its effects.
struct AppliedEntry {
  std::string messageId;
  std::int64_t offset;
  std::string resultCode;
  std::string resultHash;
  std::int64_t rowsAffected;
};

/// A part of an interactive transaction that an earlier ALL request staged (Request::Transaction::stagePart): its
/// statements as the node prepared them, kept until the commit that names it.
struct StagedPart {
  std::int32_t part = 0;
  std::string clientId; ///< the client that staged it: only its own commit may use it
  std::string body;     ///< JSON (node/staged.cpp writes and reads it)
};

/// What a function's result depends on, as its DBMS declares it.
enum class Volatility {
  None,      ///< no such function
  Immutable, ///< its arguments only
  Stable,    ///< its arguments and the database's contents, within one statement
  Volatile   ///< anything: it may differ at every call
};

/// The most volatile overload of a function name among the DBMS's built-in functions and among the others
/// (user-defined, extensions).
struct FunctionVolatility {
  Volatility builtin = Volatility::None;
  Volatility user = Volatility::None;
};

/// A user-defined function (or procedure, aggregate) as the determinism closure judges it (README "Determinism"):
/// not one of the DBMS's own (pg_catalog, information_schema) nor Kluster's (_kluster).
struct FunctionDefinition {
  std::string signature; ///< schema.name(argument types), as _kluster.trust_function() records it
  std::string language;  ///< sql, plpgsql, c, internal, plpython3u...
  Volatility volatility = Volatility::Volatile; ///< as declared
  std::string source;     ///< the body as stored (PostgreSQL: prosrc; empty for SQL-standard bodies)
  std::string definition; ///< the statement that defines it (pg_get_functiondef()); empty for aggregates
  bool trusted = false;   ///< an operator vouched for this very definition through ALL (_kluster.trust_function())
  std::vector<std::string> calls; ///< an aggregate's support functions (names), judged in its place
  bool perRow = true;             ///< a trigger's function: FOR EACH ROW (false: FOR EACH STATEMENT)
  std::string trigger;            ///< a trigger's function: the trigger's CREATE TRIGGER (its WHEN condition)
};

/// A relation a write reads, refreshes or writes through, as the determinism closure judges it: a view runs its query
/// on the write's behalf (README "Determinism").
struct ViewDefinition {
  char kind = '\0';  ///< 'v' a view, 'm' a materialized view, '\0' anything else (a table, nothing by that name)
  std::string query; ///< a view's query (PostgreSQL: pg_get_viewdef())
  /// Its query runs a built-in aggregate whose result depends on the order of its input for the types it is given:
  /// sum(), avg() and the statistical aggregates of float4/float8, max()/min() of float4/float8/numeric/interval.
  bool orderSensitiveAggregates = false;
};

struct ServerInfo {
  std::string product; ///< e.g. "PostgreSQL"
  std::string version; ///< e.g. "15.18"
  int majorVersion = 0;
  std::string encoding;
  std::string collation;
  std::string ctype;
};

/// The buckets a table's rows are split into for continuous verification (by the hash of their key): a table whose
/// checksum differs is narrowed down to the first bucket that differs.
inline constexpr int kCheckBuckets = 32;

/// A table's row count and order-independent checksum, as continuous verification compares them.
struct TableChecksum {
  std::string table; ///< "schema.name"
  std::int64_t rows = 0;
  std::string checksum;
  /// The rows split by their key's hash into kCheckBuckets buckets: each bucket's checksum, 8 hex digits each,
  /// bucket 0 first; empty when the adapter does not split tables (MariaDB).
  std::string buckets;
  /// The SQL expression that gives a row's bucket (e.g. "hashtextextended(ROW(id)::text, 0) & 31"), for reports.
  std::string bucketOf;
  std::int64_t summedAt = -1; ///< the ALL offset whose snapshot the sums come from (a reused sum: an earlier one)
  bool operator==(const TableChecksum&) const = default;
};

/// What requests applied since a check may have written, as the ALL log tells it (node/checker.cpp): every table,
/// or the tables they name (schema "" : the search_path) and the functions they call, which the snapshot's catalog
/// then turns into the user tables they may have changed (Connection::snapshotWritten).
struct Writes {
  bool everything = false;
  std::set<std::pair<std::string, std::string>> tables; ///< (schema or "", name)
  std::set<std::string> functions;                      ///< names, unqualified
  void merge(const Writes& other) {
    everything = everything || other.everything;
    if (everything) {
      tables.clear();
      functions.clear();
      return;
    }
    tables.insert(other.tables.begin(), other.tables.end());
    functions.insert(other.functions.begin(), other.functions.end());
    // A bound on memory: past it, any table may have changed.
    if (tables.size() + functions.size() > 10000) merge({true, {}, {}});
  }
  bool empty() const { return !everything && tables.empty() && functions.empty(); }
};

/// One connection to a node's database. Not thread-safe: each thread owns its own.
class Connection {
public:
  virtual ~Connection() = default;

  virtual ServerInfo serverInfo() = 0;
  /// Creates Kluster's own bookkeeping tables when missing.
  virtual void ensureSchema() = 0;
  /// The ALL position stored for `cluster` (offset -1 when nothing was applied yet).
  virtual Position loadPosition(const std::string& cluster) = 0;
  /// The cluster's recorded database fingerprint (JSON text), when one was applied from ALL.
  virtual std::optional<std::string> loadFingerprint(const std::string& cluster) = 0;
  /// The clients file in effect for `cluster` (a security request applied), if any.
  virtual std::optional<SecurityRecord> loadSecurity(const std::string& cluster) = 0;
  /// Records (committed at once) that the node process `token` serves `cluster` with this database now: a process
  /// started later with the same node id claims it in turn (see processClaim).
  virtual void claimProcess(const std::string& cluster, const std::string& token) = 0;
  /// The token of the node process that claimed `cluster` last (empty when none did).
  virtual std::string processClaim(const std::string& cluster) = 0;
  /// Which of these request ids were already applied, with what they recorded.
  virtual std::map<std::string, AppliedRecord> findApplied(const std::vector<std::string>& messageIds) = 0;
  /// The parts staged for the interactive transaction `transaction` (its uuidKey) and committed so far, by part
  /// number (Adapter::stageStatement). An adapter without staging has none.
  virtual std::vector<StagedPart> loadStaged(const std::string& transaction) {
    (void)transaction;
    return {};
  }

  /// ALL batches: begin(), execute() the batch's work, then commit() it with the applied requests and the
  /// new position. execute() returns one outcome per work item; a request-level error undoes only that item.
  /// Transient and node errors throw DbError; the caller then calls rollback() and retries the whole batch.
  /// An adapter may defer the start of the transaction to the first statement it sends.
  virtual void begin() = 0;
  virtual std::vector<Outcome> execute(const std::vector<const Work*>& work) = 0;
  /// Records the applied requests and the new position, and commits: both or neither. False when an
  /// earlier batch had recorded one of `entries` already (a request the caller did not know was a
  /// duplicate): nothing is committed, and the caller rolls back and applies the batch again, with
  /// findApplied().
  virtual bool commit(const std::string& cluster, const std::vector<AppliedEntry>& entries,
                      const Position& position) = 0;
  virtual void rollback() noexcept = 0;
  /// Drops the prepared statements the connection keeps, before the next batch begins. Called after DDL,
  /// so that no statement planned against an older schema runs on one node and not on another.
  virtual void forgetStatements() = 0;

  /// Runs a read-only request (ONE). Writes are refused by the database itself. With `atLeast`, the read's
  /// own transaction first checks the ALL position the database holds: below atLeast->offset, nothing runs
  /// and the outcome is NOT_CAUGHT_UP (the database lost commits the node's memory still counts, or was
  /// restored), so read-your-writes rests on the data actually read, not on what the node believes.
  virtual Outcome query(const Work& work, const ReadFloor* atLeast) = 0;
  /// Describes one statement without running it (a describe request on ONE): its parameter types and
  /// result columns, as a StatementDescription in the outcome's `result`. `paramTypes` are the types the
  /// client declared (0: the database infers it). Types that are not the DBMS's built-ins are reported as
  /// text (their ids differ between nodes). A statement the database cannot prepare is the request's error,
  /// with its SQLSTATE; transient and node errors throw DbError. `atLeast` as for query().
  virtual Outcome describe(const std::string& sql, const std::vector<std::uint32_t>& paramTypes,
                           const ReadFloor* atLeast) = 0;
  /// Runs an interactive transaction's statements so far (ONE: its speculation) in a transaction that is always
  /// rolled back, and answers each statement's result and digest. It never holds a lock long enough to stall the
  /// apply loop: a statement waiting for a lock gives up quickly, and so does one that runs long; both answer
  /// SERIALIZATION_FAILURE, as does a result that differs from `work.expect`. Sequences draw the values they would
  /// draw at the database's position, and nothing of it stays. `atLeast` as for query().
  virtual Outcome speculate(const Work& work, const ReadFloor* atLeast) = 0;

  /// Whether commit() returns only once the batch is durable (the default). With false, a crash of the database
  /// server may lose the last commits; loadPosition() then shows a position behind the node's, and the node
  /// applies them again from ALL. The first commit of a database without a position is durable all the same
  /// (so a database that lost everything still has a position, and the node never starts from Kafka's offset).
  virtual void setDurableCommits(bool durable) = 0;

  /// Volatility of functions by name, built-in and user-defined apart. Unknown names are absent.
  virtual std::map<std::string, FunctionVolatility> functionVolatility(const std::vector<std::string>& names) = 0;
  /// The unique keys of a table (schema "" : the search_path) that make a row order total: the column lists of
  /// its valid, non-partial unique indexes on plain columns whose columns are all NOT NULL (or that treat
  /// NULLs as equal). Empty when the table has none or does not exist.
  virtual std::vector<std::vector<std::string>> uniqueKeys(const std::string& schema, const std::string& table) = 0;
  /// The columns of a table (schema "" : the search_path) whose DEFAULT draws a new value per row (SERIAL,
  /// IDENTITY, nextval(), random(), gen_random_uuid()): an INSERT ... SELECT fills them in the order rows come.
  virtual std::vector<std::string> drawnDefaults(const std::string& schema, const std::string& table) = 0;
  /// The columns of a table (schema "" : the search_path) that some unique index checks row by row (not
  /// DEFERRABLE): its key columns and the columns its expressions and predicate read.
  virtual std::vector<std::string> immediateUniqueColumns(const std::string& schema, const std::string& table) = 0;
  /// The user-defined functions named `name` (every overload, in signature order), for the determinism closure.
  virtual std::vector<FunctionDefinition> userFunctions(const std::string& name) = 0;
  /// The functions of the enabled user triggers of a table (schema "" : the search_path), in trigger name order;
  /// empty when it has none or does not exist. Built-in trigger functions are left out.
  virtual std::vector<FunctionDefinition> triggerFunctions(const std::string& schema, const std::string& table) = 0;
  /// What a relation (schema "" : the search_path) is, and a view's query; kind '\0' when it is not a view.
  virtual ViewDefinition viewDefinition(const std::string& schema, const std::string& name) = 0;
  /// The rules of a table or view (schema "" : the search_path) that a write to it runs (CREATE RULE: not a view's own
  /// SELECT rule), in name order, as FunctionDefinitions: signature "rule <name> on <schema>.<table>", language
  /// "rule", definition the CREATE RULE statement (pg_get_ruledef()); empty when it has none.
  virtual std::vector<FunctionDefinition> ruleDefinitions(const std::string& schema, const std::string& table) = 0;
  /// The user-defined functions (by name, sorted) that a write to a table (schema "" : the search_path) runs through
  /// its definition rather than its text: column DEFAULTs, generated columns, CHECK constraints, row-level security
  /// policies, and the DEFAULTs and CHECK constraints of the domains of its columns. Kluster's own are left out.
  virtual std::vector<std::string> tableFunctions(const std::string& schema, const std::string& table) = 0;
  /// Which request inputs some object of the database (a column DEFAULT...) reads: writes must set them.
  virtual RequestInputs requestInputs() = 0;

  /// Continuous verification. openSnapshot() starts a read-only transaction whose snapshot is fixed at once
  /// (the database as it is now) and returns the ALL offset it holds for `cluster` (-1: none); the caller
  /// takes it right after a commit, so nothing applied later is in it. snapshotTables() lists every user table in
  /// that snapshot (Kluster's own schema and the system's left out), in name order ("schema.name");
  /// snapshotChecksum() checksums one of them; closeSnapshot() ends it. Throws DbError.
  virtual std::int64_t openSnapshot(const std::string& cluster) = 0;
  virtual std::vector<std::string> snapshotTables() = 0;
  virtual TableChecksum snapshotChecksum(const std::string& table) = 0;
  virtual void closeSnapshot() noexcept = 0;
  /// The tables (as snapshotTables() names them) that `writes` may have changed, from the snapshot's catalog:
  /// the tables named, and nullopt (any table) when a write may reach further than the table it names (a
  /// trigger, a rule, a view, inheritance, a cascading foreign key, a volatile user-defined function). The
  /// default knows nothing: nullopt.
  virtual std::optional<std::set<std::string>> snapshotWritten(const Writes& writes) {
    (void)writes;
    return std::nullopt;
  }
  /// Every table's checksum in the snapshot, in name order.
  std::vector<TableChecksum> snapshotChecksums() {
    std::vector<TableChecksum> out;
    for (const auto& t : snapshotTables()) out.push_back(snapshotChecksum(t));
    return out;
  }
};

class Operations; // operations.hpp

/// A DBMS as Kluster uses it, apart from any connection: what a node decides without asking the database (the
/// statements of its bookkeeping, the SQLSTATEs of its own refusals) and how to connect. One per database type;
/// stateless and shared by every thread.
class Adapter {
public:
  virtual ~Adapter() = default;
  /// The configured `[database] type` it serves ("postgresql").
  virtual std::string_view type() const = 0;
  /// Opens a connection; throws UsageError for a URL it cannot use, DbError when the database cannot be reached.
  virtual std::unique_ptr<Connection> connect(const std::string& url) const = 0;
  /// The SQLSTATE a response carries for a refusal the node decides itself with result code `resultCode`
  /// (SYNTAX_ERROR from the analysis, FEATURE_NOT_SUPPORTED, ...), as the DBMS would have reported it; empty when
  /// the DBMS has none for it.
  virtual std::string sqlStateFor(std::string_view resultCode) const = 0;
  /// The statement that records the cluster's database fingerprint (JSON text) the first time one is applied
  /// (later ones change nothing), run in its batch.
  virtual Statement recordFingerprint(const std::string& cluster, const std::string& fingerprint,
                                      std::int64_t timestampMs) const = 0;
  /// The statement that records a security request's digest at `offset` (run in its batch).
  virtual Statement recordSecurity(const std::string& cluster, const std::string& digest,
                                   std::int64_t offset) const = 0;
  /// The statement that stores part `part` of the interactive transaction `transaction` (`body`, JSON) for its
  /// commit, run in its batch instead of the part's statements; it also forgets parts staged more than a day of
  /// log time before `timestampMs` (the request's Kafka timestamp), whose transactions never committed. nullopt:
  /// the DBMS's adapter cannot stage (the request is refused).
  virtual std::optional<Statement> stageStatement(const std::string& transaction, std::int32_t part,
                                                  const std::string& clientId, std::int64_t timestampMs,
                                                  const std::string& body) const {
    (void)transaction, (void)part, (void)clientId, (void)timestampMs, (void)body;
    return std::nullopt;
  }
  /// The statement a commit runs first to forget the parts it staged (only called after stageStatement()).
  virtual Statement dropStaged(const std::string& transaction) const {
    (void)transaction;
    return {};
  }
  /// What the operator commands need of it (backup, restore, verify, bench apply).
  virtual const Operations& operations() const = 0;
  /// Whether DDL runs inside the batch's transaction (PostgreSQL). When not (MariaDB commits implicitly before and
  /// after DDL), the node applies a request that changes the schema in a batch of its own: the requests before it
  /// would otherwise be committed by it without their position, and applied again after a crash.
  virtual bool transactionalDdl() const { return true; }
};

/// The database types Kluster has an adapter for, in the order the help lists them.
std::vector<std::string> databaseTypes();
/// The adapter of a configured database type; throws UsageError naming the supported ones.
const Adapter& adapter(std::string_view type);
/// adapter(type).connect(url).
std::unique_ptr<Connection> connect(std::string_view type, const std::string& url);

} // namespace kluster::db
