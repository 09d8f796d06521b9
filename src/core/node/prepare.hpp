#pragma once
// Turns a raw request into database work, or into a refusal that every node reaches identically:
// malformed input, SQL that does not parse, transaction control, statements that cannot run in a
// transaction, and non-deterministic functions. Current-time functions are pinned to the request's
// Kafka timestamp and random() is seeded from its offset, so every node computes the same values.
//
// Preparing is split in two so the ALL applier can prepare the next requests on its reader thread while
// the database runs the current batch: Preparer needs only the request (and a cache of analyses);
// FunctionCheck asks the database which functions are volatile, just before a batch runs.
#include "core/auth.hpp"
#include "core/db/adapter.hpp"
#include "core/message.hpp"
#include "core/sql/analysis_cache.hpp"
#include "core/sql/determinism.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace kluster::node {

struct Prepared {
  ParsedRequest parsed;
  std::optional<db::Outcome> refusal; ///< set when the request must not run
  db::Work work;
  bool control = false;       ///< Kluster's own message (fingerprint): no response
  bool describe = false;      ///< ONE: a describe request (parsed.request.statements[0], paramTypes)
  bool speculate = false;     ///< ONE: an interactive transaction's statements so far (Connection::speculate)
  bool changesSchema = false; ///< not plain DML: ends an ALL batch (functions may change)
  /// ALL: an interactive transaction's part, staged for its commit instead of applied (node/staged.cpp).
  bool stages = false;
  /// ALL: a commit whose staged parts were read from the database into `work` (FunctionCheck::apply).
  bool spliced = false;
  std::vector<std::string> functions; ///< ALL: functions called, for FunctionCheck
  /// ALL: analyses whose writes depend on a row order (sql::OrderRequirement), for FunctionCheck.
  std::vector<std::shared_ptr<const sql::Analysis>> ordered;
  /// ALL: the tables the request writes (sql::Analysis::writeTargets), whose triggers FunctionCheck judges.
  std::vector<sql::TableRef> targets;
  /// ALL: the relations the request's writes read (sql::Analysis::reads) and the materialized views it refreshes:
  /// FunctionCheck judges the queries of the views among them.
  std::vector<sql::TableRef> reads, refreshes;
  bool scansRows = false;       ///< ALL: some write reads rows from a table (sql::Analysis::scansRows)
  bool writes = false;          ///< ALL: not read-only (may fire a DEFAULT of the current time)
  std::int64_t timestampMs = 0; ///< ALL: the request's pinned time
  std::int64_t offset = 0;      ///< ALL: the request's offset
  /// ALL: a security request whose digest this node's clients file matches: (cluster, digest) to record.
  std::optional<std::pair<std::string, std::string>> security;
  /// ALL: this node cannot go past this request (a security request whose digest its clients file does not
  /// match): the node stops before it, with this message, rather than diverge.
  std::optional<std::string> fatal;
};

/// The clients file in effect (signed requests and permissions; null: none), shared by the ALL reader, which
/// changes it at a security request, and the ONE workers.
class ClientsInEffect {
public:
  std::shared_ptr<const auth::Clients> get() const {
    std::lock_guard lock(mutex_);
    return clients_;
  }
  void set(std::shared_ptr<const auth::Clients> clients) {
    std::lock_guard lock(mutex_);
    clients_ = std::move(clients);
  }

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const auth::Clients> clients_;
};

/// Parses and analyzes requests. Needs no database; safe to use from one thread at a time.
class Preparer {
public:
  /// `adapter` is the database's (the statements of bookkeeping, the SQLSTATEs of refusals); `cache` (shared,
  /// thread-safe) keeps analyses by SQL text; without one every text is analyzed.
  /// Requests are analyzed in the dialect of the adapter's type (sql::dialect), the cache's.
  Preparer(const db::Adapter& adapter, std::size_t maxRequestBytes, sql::AnalysisCache* cache = nullptr);
  void setCluster(std::string cluster) { cluster_ = std::move(cluster); }
  /// Requests are authenticated and authorized by `clients` (when it holds a file); `file` is this node's
  /// clients file, read again at each security request (empty: none configured).
  void setClients(ClientsInEffect* clients, std::filesystem::path file, std::int64_t skipPublication = -1) {
    clients_ = clients;
    clientsFile_ = std::move(file);
    skipPublication_ = skipPublication;
  }

  /// A request read from ALL at `offset`, published at `timestampMs`. Run FunctionCheck on it before
  /// it is applied.
  Prepared forAll(std::string_view payload, std::int64_t offset, std::int64_t timestampMs);
  /// A request read from ONE: runs read-only; PostgreSQL itself refuses writes.
  Prepared forOne(std::string_view payload);

private:
  void analyze(Prepared& p, bool forAll, std::int64_t offset, std::int64_t timestampMs, const auth::Rule* rule);
  /// Authenticates `p` against the clients in effect (none: every request passes); sets p.refusal, or `rule`.
  bool authenticate(Prepared& p, std::int64_t referenceMs, const auth::Rule*& rule);
  void security(Prepared& p, std::int64_t offset, std::int64_t timestampMs);

  const db::Adapter* adapter_;
  const sql::Dialect* dialect_;
  std::size_t maxBytes_;
  sql::AnalysisCache* cache_;
  std::string cluster_;
  ClientsInEffect* clients_ = nullptr;
  std::filesystem::path clientsFile_;
  std::int64_t skipPublication_ = -1;
  std::shared_ptr<const auth::Clients> inEffect_; ///< keeps the rule a request was checked against alive
};

/// The determinism rules that need the catalog (docs/determinism.md): refuses ALL requests that call a
/// function whose result is not decided by the request and the data (volatile ones other than those Kluster
/// pins, STABLE built-ins that read the backend or the server, see sql::functionRefusal), and writes whose
/// row order (LIMIT, DISTINCT ON, row_number(), string_agg()...) is not made total by an ORDER BY over a
/// unique key. Function classes and unique keys are cached by name; call invalidate() after DDL, which may
/// (re)define functions and indexes. Identical on every node: the schema comes from the same log.
class FunctionCheck {
public:
  /// Without a connection, nothing is known of the catalog (unit tests).
  FunctionCheck(const db::Adapter& adapter, db::Connection* conn) : adapter_(&adapter), conn_(conn) {}
  void setConnection(db::Connection* conn) { conn_ = conn; }
  void invalidate() {
    refusals_.clear();
    keys_.clear();
    drawn_.clear();
    immediate_.clear();
    inputs_.reset();
    definitions_.clear();
    triggers_.clear();
    tableFunctions_.clear();
    verdicts_.clear();
    bodyRefusals_.clear();
    views_.clear();
    rules_.clear();
  }
  /// Sets `p.refusal` when `p` breaks one of these rules. Throws DbError when a look-up fails.
  void apply(Prepared& p);

private:
  /// What a user-defined function's own body breaks ("" when nothing), and what it runs in turn.
  struct Verdict {
    std::string message, hint;
    std::vector<std::string> calls;
    std::vector<sql::TableRef> writes;
    std::vector<sql::OrderRequirement> orders;
    std::vector<sql::JoinWrite> joins; ///< its UPDATE ... FROM and DELETE ... USING ... RETURNING
    std::string draws;                 ///< what the body draws per call ("nextval()"...), "" when nothing
    std::vector<sql::OrderRequirement::Defaults> inserts; ///< tables it inserts into, whose DEFAULTs may draw
    std::vector<sql::TableRef> reads;                     ///< relations it reads: views run their queries
  };
  /// The columns of a table whose DEFAULT draws a value per row (cached).
  const std::vector<std::string>& drawnColumns(const sql::TableRef& table);

  void checkOrder(Prepared& p);
  /// An UPDATE of several rows that SETs columns of a unique index checked row by row, as a refusal.
  std::optional<db::Outcome> keyUpdateRefusal(const std::vector<std::shared_ptr<const sql::Analysis>>& analyses);
  /// A table's unique keys (cached).
  const std::vector<std::vector<std::string>>& uniqueKeys(const sql::TableRef& table);
  /// The first join write that may take a target row's values from one of several join rows, as a refusal.
  std::optional<db::Outcome> joinRefusal(const std::vector<const sql::JoinWrite*>& writes);
  /// The first of `requirements` whose row order is not total, as a refusal (closure.cpp).
  std::optional<db::Outcome> orderRefusal(const std::vector<const sql::OrderRequirement*>& requirements);
  /// A commit that names parts it staged (node/staged.cpp): their statements, read from the database, go into
  /// its work at their places; a part that is not there is the commit's refusal.
  void spliceStaged(Prepared& p);
  /// Determinism by closure (closure.cpp, README "Determinism"): the bodies of the user-defined functions a write
  /// calls and of the triggers of the tables it writes, and everything they call and write in turn.
  void checkClosure(Prepared& p);
  const std::vector<db::FunctionDefinition>& definitions(const std::string& name);
  const std::vector<db::FunctionDefinition>& triggers(const sql::TableRef& table);
  const Verdict& verdict(const db::FunctionDefinition& def);
  /// What a relation is, and a view's query (cached).
  const db::ViewDefinition& view(const sql::TableRef& relation);
  /// A view's query judged (sql::analyzeViewQuery), cached with the functions' verdicts.
  const Verdict& viewVerdict(const sql::TableRef& relation, const db::ViewDefinition& view);
  const std::vector<db::FunctionDefinition>& rules(const sql::TableRef& table);
  /// Why calling the built-in `name` from a function body is refused ("" when it is not).
  const std::string& bodyRefusal(const std::string& name);
  /// Every user-defined function named `name` was vouched for by an operator (and there is one).
  bool allTrusted(const std::string& name);

  const db::Adapter* adapter_;
  db::Connection* conn_;
  /// Function name -> why it is refused in a write, and in a read on ALL ("" when allowed). A read changes no
  /// data, so only volatile functions are refused there (its answers are compared, not stored); STABLE
  /// functions that read the server are refused in writes only.
  std::map<std::string, std::pair<std::string, std::string>> refusals_;
  std::map<std::pair<std::string, std::string>, std::vector<std::vector<std::string>>> keys_; ///< unique keys
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> drawn_; ///< columns drawing defaults
  /// Columns that a unique index checked row by row reads, by table.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> immediate_;
  std::optional<db::RequestInputs> inputs_; ///< what the database's DEFAULTs read from the request
  std::map<std::string, std::vector<db::FunctionDefinition>> definitions_; ///< user functions by name
  std::map<std::pair<std::string, std::string>, std::vector<db::FunctionDefinition>> triggers_; ///< by table
  /// Functions a table's DEFAULTs, generated columns, CHECKs and policies call, by table.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> tableFunctions_;
  std::map<std::string, Verdict> verdicts_;                                 ///< by signature
  std::map<std::string, std::string> bodyRefusals_;                         ///< built-ins called from bodies, by name
  std::map<std::pair<std::string, std::string>, db::ViewDefinition> views_; ///< by relation
  std::map<std::pair<std::string, std::string>, std::vector<db::FunctionDefinition>> rules_; ///< by table
};

/// Turns an analyzed part of an interactive transaction (Request::Transaction::stagePart) into the statement that
/// stores it for its commit (node/staged.cpp); `timestampMs` is its Kafka timestamp.
void stagePart(const db::Adapter& adapter, Prepared& p, std::int64_t timestampMs);

/// The seed random() gets for the request at an ALL offset: the same on every node (db::Work::randomSeed).
double randomSeedFor(std::int64_t offset);
/// Volatilities as the determinism rules of the SQL analysis take them (pg_proc's letters).
sql::FunctionKind functionKind(db::Volatility builtin, db::Volatility user);
/// What the UUIDs drawn by the request at an ALL offset derive from (db::Work::uuidKey): "<offset>/<messageId>".
std::string uuidKeyFor(std::int64_t offset, const std::string& messageId);

} // namespace kluster::node
