// SQL understanding for Kluster, built on PostgreSQL 15's own parser (libpg_query).
//
// Every node applies the same requests in the same order; this module tells the client and
// the node what a request does (routing, refusals, determinism checks) and rewrites the
// current-time expressions of a request into literals so that all nodes store the same values.
//
// Thread safety: every function here is reentrant and may be called concurrently from any
// number of threads. libpg_query keeps all of its parser state (memory contexts, error stack,
// GUCs such as standard_conforming_strings) in thread-local storage, and this module has no
// mutable globals except the lazily started big-stack worker described below (guarded by a
// mutex). Caveat of libpg_query 15-4.0.0: the first call on a thread allocates a small
// per-thread memory context (freed when the thread exits) and creates one pthread key that is
// never deleted; after about 1024 distinct threads have called in, the process runs out of
// pthread keys (PTHREAD_KEYS_MAX). Call from long-lived threads (a fixed pool), not from a new
// thread per request.
//
// Stack safety: libpg_query 15-4.0.0 does not check its stack depth, and turning its parse tree
// into JSON recurses once per nesting level, so a deeply nested expression ("SELECT 1+1+1+...",
// about 60000 terms) overflows an 8 MiB stack and kills the process. Inputs larger than 16 KiB
// are therefore parsed on one internal worker thread with a large (lazily committed) stack;
// smaller inputs are parsed on the calling thread, which needs about 2 MiB of free stack.
// Inputs larger than kMaxSqlBytes are refused with std::length_error; if that worker cannot be
// started (no address space for its stack), calls with large inputs throw std::system_error.
//
// Text positions: libpg_query reports byte offsets into the UTF-8 text; this module works in
// bytes throughout. The input must be valid UTF-8 without NUL bytes (what a UTF-8 PostgreSQL
// server accepts), otherwise SyntaxError is thrown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::sql {

/// Largest SQL text analyze()/pinCurrentTime() accept (bytes).
inline constexpr std::size_t kMaxSqlBytes = std::size_t{16} << 20;

/// One top-level statement of a request.
struct Statement {
  /// The statement's text as split by the parser (without the terminating ';', surrounding
  /// whitespace trimmed; comments before it are kept).
  std::string sql;
  /// The parse-tree node name, e.g. "SelectStmt", "InsertStmt", "CreateStmt", "TransactionStmt".
  std::string kind;
  /// Highest parameter placeholder $n the statement uses (0: none); the statement needs the
  /// request's parameters $1..$maxParam. $n inside PREPARE ... AS and SQL-standard function
  /// bodies belong to that prepared statement/function and are not counted.
  int maxParam = 0;
  /// usedParams[n - 1]: the statement uses $n. A statement may skip some of $1..$maxParam ("INSERT ...
  /// VALUES ($2)"); the node then tells PostgreSQL their type (text), which it cannot infer.
  std::vector<bool> usedParams;
  /// The text to run on ALL when it differs from `sql`: its gen_random_uuid() calls made deterministic
  /// (pinRandomUuid()) and its order-sensitive aggregates given an order (pinAggregateOrder()), computed once per
  /// text so that cached analyses carry it. Empty otherwise.
  std::string allSql;
  /// This statement only reads data, by the rule of Analysis::readOnly (which is true when every
  /// statement's is).
  bool readOnly = true;
  /// Its result is decided by the data alone, as a write's must be: false for a read that the determinism
  /// rules would refuse in a write from its syntax (catalogs, system columns, unpinned settings...). An
  /// interactive transaction's commit validates only such results (README "Transactions").
  bool validatable = true;
  /// Transaction control as the parse tree says it (a TransactionStmt, or SET TRANSACTION and its kin).
  struct TransactionControl {
    enum class Action { Begin, Commit, Rollback, Savepoint, Release, RollbackTo, Prepared, Set };
    Action action = Action::Begin;
    std::string savepoint; ///< SAVEPOINT / RELEASE / ROLLBACK TO: its name
    bool readOnly = false; ///< BEGIN / SET TRANSACTION ... READ ONLY
    bool chain = false;    ///< COMMIT / ROLLBACK AND CHAIN
    bool operator==(const TransactionControl&) const = default;
  };
  std::optional<TransactionControl> transaction;
  /// COPY's format options, as both directions take them (PostgreSQL's defaults).
  struct CopyFormat {
    bool csv = false;
    bool binary = false;
    char delimiter = '\t';    ///< ',' in CSV
    std::string null = "\\N"; ///< "" in CSV
    bool header = false;
    char quote = '"';        ///< CSV
    char escape = '"';       ///< CSV
    std::string unsupported; ///< an option the proxy does not handle (FORCE_NOT_NULL, ENCODING...), else empty
    bool operator==(const CopyFormat&) const = default;
  };
  /// COPY ... FROM STDIN: what the proxy needs to turn the rows its client sends into INSERTs.
  struct CopyFrom : CopyFormat {
    std::string table;                ///< quoted, schema-qualified when written so: "shop"."orders"
    std::vector<std::string> columns; ///< quoted; empty: every column, in order
    bool operator==(const CopyFrom&) const = default;
  };
  std::optional<CopyFrom> copyFrom;
  /// COPY table [(columns)] TO STDOUT or COPY (query) TO STDOUT: a read the proxy answers as COPY data.
  struct CopyTo : CopyFormat {
    std::string table;                   ///< as CopyFrom's; empty for COPY (query)
    std::vector<std::string> columns;    ///< quoted; empty: every column
    std::string query;                   ///< COPY (query): its text
    std::vector<std::string> forceQuote; ///< FORCE_QUOTE's column names (as written, unquoted)
    bool forceQuoteAll = false;          ///< FORCE_QUOTE *
    /// Why PostgreSQL itself refuses these options (its SQLSTATE and message: a delimiter in the NULL string...).
    std::string invalidState, invalid;
    bool operator==(const CopyTo&) const = default;
  };
  std::optional<CopyTo> copyTo;
  bool operator==(const Statement&) const = default;
};

/// Why a request cannot be applied deterministically on ALL (see determinism.hpp).
struct Refusal {
  std::string message;
  std::string hint;
  bool operator==(const Refusal&) const = default;
};

/// A table a row order is taken over: schema "" means the pinned search_path (public).
struct TableRef {
  std::string schema;
  std::string name;
  std::string alias; ///< the name the query refers to it by (its alias, or its name)
  bool operator==(const TableRef&) const = default;
};

/// A row order a write depends on (LIMIT/OFFSET/FETCH FIRST, DISTINCT ON, an order-sensitive window
/// function or aggregate): deterministic only when `columns` (ORDER BY, plus the PARTITION BY / GROUP BY
/// columns that are constant within the ordered set) cover a unique, non-null key of every table.
/// Deciding it needs the catalog's unique indexes: the node checks it (FunctionCheck).
/// An UPDATE that assigns columns of its target table (docs/determinism.md): PostgreSQL checks a unique index that is
/// not DEFERRABLE row by row, so when the update changes the key columns of several rows, whether a row collides on
/// the way depends on the order rows are updated in. Deciding it needs the catalog: the node checks it.
struct KeyUpdate {
  TableRef table;
  std::vector<std::string> columns; ///< the columns it SETs
  /// Columns its WHERE equates with a constant or a parameter (top-level ANDs): when they cover a unique key, the
  /// update changes one row at most.
  std::vector<std::string> pinned;
  bool operator==(const KeyUpdate&) const = default;
};

/// An UPDATE ... FROM, or a DELETE ... USING with RETURNING, whose SET or RETURNING reads its FROM items: when a
/// target row joins several rows of them, PostgreSQL uses whichever join row its plan meets first (docs/determinism.md,
/// "the documented arbitrary choices"). Deterministic when each FROM item read is joined on a unique key, given the
/// target and the items already so joined: deciding it needs the catalog's unique keys (the node checks it).
struct JoinWrite {
  std::string what;   ///< "UPDATE ... FROM" or "DELETE ... USING ... RETURNING"
  std::string target; ///< the target's alias (or name)
  struct Source {
    std::string alias;
    std::optional<TableRef> table;              ///< a table: its unique keys come from the catalog
    std::vector<std::vector<std::string>> keys; ///< a subquery's, CTE's or VALUES list's own (an empty key: one row)
    bool operator==(const Source&) const = default;
  };
  std::vector<Source> sources; ///< the FROM items, joins flattened
  /// `alias.column = expression` in the WHERE's top-level ANDs or an inner join's ON (an outer join's ON counts for
  /// its nullable side only): the expression reads the FROM items `reads` (and the target), or anything
  /// (`readsAny`: an unqualified column, a subquery).
  struct Equality {
    std::string alias;
    std::string column;
    std::vector<std::string> reads;
    bool readsAny = false;
    bool operator==(const Equality&) const = default;
  };
  std::vector<Equality> equalities;
  std::vector<std::string> read; ///< aliases the SET or RETURNING reads columns of
  bool readsUnqualified = false; ///< the SET or RETURNING reads an unqualified column (of any item)
  bool operator==(const JoinWrite&) const = default;
};

struct OrderRequirement {
  std::string what; ///< e.g. "LIMIT", "DISTINCT ON", "row_number() OVER", "string_agg()"
  std::vector<TableRef> tables;
  /// (qualifier, column): qualifier is the table alias written, or "" for an unqualified column.
  std::vector<std::pair<std::string, std::string>> columns;
  /// No order can be proved (rows of a UNION, of a subquery): the requirement fails whenever it applies.
  bool unordered = false;
  /// INSERT ... SELECT: the requirement applies only when the target table has a column whose DEFAULT is
  /// drawn per row in row order (a sequence: SERIAL, IDENTITY, nextval()) that the INSERT does not give.
  struct Defaults {
    TableRef target;
    bool listed = false;            ///< the INSERT names its columns
    std::vector<std::string> given; ///< those columns
    bool operator==(const Defaults&) const = default;
  };
  std::optional<Defaults> onlyIfDrawnDefaults;
  /// What the refusal says and hints when the order is not total, when the general words do not fit (MERGE).
  std::string why;
  std::string hint;
  bool operator==(const OrderRequirement&) const = default;
};

/// Whether a statement kind (a parse-tree node name, Statement::kind) is plain DML or a read: SELECT, INSERT,
/// UPDATE, DELETE, MERGE, EXPLAIN, SHOW. Anything else may change the schema (DDL, TRUNCATE, ...).
bool isPlainDml(std::string_view kind);

/// What a request (one or more statements) does, decided from syntax alone.
struct Analysis {
  /// The request's statements in order; empty or whitespace/comment-only input has none.
  std::vector<Statement> statements;

  /// Every statement only reads data: plain SELECT/VALUES/TABLE, SHOW, EXPLAIN without ANALYZE
  /// (it only plans), EXPLAIN ANALYZE of a read-only statement, WITH ... SELECT without a
  /// data-modifying CTE. Not read-only: SELECT ... FOR UPDATE/SHARE (row locks), SELECT INTO
  /// (creates a table) and every other statement (DML, DDL, SET, CALL, DO, LOCK, COPY, PREPARE,
  /// DECLARE, ...). True for a request without statements.
  /// Syntax only: "SELECT nextval('s')" or "SELECT my_func_that_writes()" is read-only here;
  /// the node must check `functions` against pg_proc (provolatile = 'v') before treating such a
  /// request as a pure read.
  bool readOnly = true;

  /// Some executed statement takes row locks (FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE),
  /// also inside subqueries and CTEs. Locks under a plain EXPLAIN or in a stored definition
  /// (view, rule, function body) do not count.
  bool locks = false;

  /// Some statement controls the transaction: BEGIN/START TRANSACTION/COMMIT/END/ROLLBACK/ABORT,
  /// SAVEPOINT/RELEASE/ROLLBACK TO, PREPARE TRANSACTION/COMMIT PREPARED/ROLLBACK PREPARED,
  /// SET TRANSACTION, SET SESSION CHARACTERISTICS AS TRANSACTION, and SET/RESET of
  /// [default_]transaction_isolation/_read_only/_deferrable. Kluster manages transactions itself
  /// and refuses these.
  bool transactionControl = false;

  /// Some statement cannot run inside a transaction block (PostgreSQL 15 callers of
  /// PreventInTransactionBlock): VACUUM (not plain ANALYZE), CREATE/DROP DATABASE,
  /// ALTER DATABASE ... SET TABLESPACE, CREATE/DROP TABLESPACE, ALTER SYSTEM,
  /// CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX ... CONCURRENTLY,
  /// REINDEX SCHEMA/SYSTEM/DATABASE, CLUSTER without a table name, DISCARD ALL,
  /// ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY, COMMIT/ROLLBACK PREPARED,
  /// CREATE SUBSCRIPTION (unless create_slot = false or connect = false),
  /// ALTER SUBSCRIPTION ... REFRESH / SET|ADD|DROP PUBLICATION (unless refresh = false),
  /// DROP SUBSCRIPTION (PostgreSQL only refuses it when the subscription has a slot; assumed).
  /// Not detectable from syntax: CLUSTER/REINDEX of a partitioned table. Such a statement must
  /// also be alone in its request (PostgreSQL runs a multi-statement string as one transaction).
  /// ALTER TYPE ... ADD VALUE is allowed in a transaction block since PostgreSQL 12.
  bool nonTransactional = false;

  /// Every function called anywhere (FuncCall nodes: select lists, WHERE, subqueries, CTEs,
  /// VALUES lists, function arguments, DEFAULT/CHECK expressions, CALL, SQL-standard function
  /// bodies), by its unqualified name (last name part), deduplicated and sorted. Names are as
  /// PostgreSQL resolves them: unquoted identifiers are folded to lower case by the parser,
  /// quoted ones keep their case ("MyFunc"() stays MyFunc, so it can be looked up in
  /// pg_proc.proname as is). Includes the functions PostgreSQL 15 uses for SQL syntax such as
  /// EXTRACT, AT TIME ZONE (timezone), SUBSTRING, TRIM (btrim), OVERLAY, POSITION. Bodies given
  /// as strings to CREATE FUNCTION are not looked into; those of DO blocks are (the functions they call, too).
  std::vector<std::string> functions;

  /// A current-time value is evaluated when this request runs: now(), transaction_timestamp(),
  /// statement_timestamp() (unqualified or pg_catalog.), CURRENT_TIMESTAMP/CURRENT_DATE/
  /// CURRENT_TIME/LOCALTIME/LOCALTIMESTAMP, or one of the special input strings 'now', 'today',
  /// 'tomorrow', 'yesterday' cast to date/time/timetz/timestamp/timestamptz (these are
  /// evaluated when the statement is parsed, even inside a view or DEFAULT). Exactly what
  /// pinCurrentTime() replaces. clock_timestamp(), timeofday() and random() are not included:
  /// they are volatile and show up in `functions`.
  /// Not detectable from syntax: an untyped 'now' stored into a timestamp column
  /// (INSERT ... VALUES ('now')), and column defaults such as DEFAULT now() that the
  /// statement triggers.
  bool usesCurrentTime = false;

  /// A current-time function/keyword is stored in a definition and evaluated later, so
  /// pinCurrentTime() leaves it alone: DEFAULT/CHECK/GENERATED expressions (CREATE TABLE,
  /// ALTER TABLE ... ADD COLUMN/SET DEFAULT, domains), views and materialized views, rules,
  /// triggers, policies, SQL-standard function bodies and parameter defaults, PREPARE, index
  /// and partition-key expressions. Note that ALTER TABLE ... ADD COLUMN ... DEFAULT now()
  /// also fills the existing rows with each node's own clock.
  bool storesCurrentTime = false;
  /// Of those: some are column or domain DEFAULTs (CREATE TABLE, ALTER TABLE ... ADD COLUMN / ALTER COLUMN
  /// SET DEFAULT, CREATE DOMAIN), which pinDefaultTime() makes deterministic; some are elsewhere (views,
  /// CHECK, triggers, rules, function bodies...), which stay refused.
  bool defaultsCurrentTime = false;
  bool storesCurrentTimeElsewhere = false;

  /// The request creates a sequence: SERIAL/BIGSERIAL/SMALLSERIAL (serial2/4/8) columns,
  /// GENERATED ... AS IDENTITY (CREATE TABLE, ALTER TABLE ... ADD COLUMN / ADD GENERATED),
  /// or CREATE SEQUENCE.
  bool createsSequenceValue = false;

  /// gen_random_uuid() is called by the request or stored in a column or domain DEFAULT: pinRandomUuid() makes
  /// it `_kluster.gen_random_uuid()`, which derives each UUID from the request (not in `functions`). Calls
  /// stored elsewhere (views, function bodies...) stay as they are and are in `functions` (refused: volatile).
  bool drawsUuid = false;

  /// Some statement runs a built-in aggregate whose result can depend on the order of its input rows (sum(), avg()
  /// and the statistics of float4/float8 round differently by the order of addition; max() and min() keep whichever
  /// of equal values that print differently, such as 1.5 and 1.50, they meet last), without an order of its own:
  /// pinAggregateOrder() gives it one on ALL.
  bool ordersAggregates = false;

  /// Determinism (ALL only): the first syntax-only rule of determinism.hpp the request breaks (system
  /// columns, reg* casts and catalogs read by a write, random() evaluated per scanned row, current_setting()
  /// of a setting Kluster does not pin, CURRENT_USER & co., session SET/RESET, set_config(), a row order
  /// over a subquery or function that cannot be made total).
  std::optional<Refusal> nondeterministic;
  /// Row orders the request's writes depend on, to check against the catalog's unique keys.
  std::vector<OrderRequirement> orderRequirements;
  /// Row orders its reads depend on: an interactive transaction's commit compares what its reads return, so
  /// there they must be total too.
  std::vector<OrderRequirement> readOrderRequirements;
  /// The request's UPDATEs (also in CTEs), to check the columns they SET against unique indexes.
  std::vector<KeyUpdate> keyUpdates;
  /// The request's UPDATE ... FROM and DELETE ... USING ... RETURNING (also in CTEs), to check their joins against
  /// unique keys.
  std::vector<JoinWrite> joinWrites;
  /// Tables the request inserts into, updates, deletes from, merges into or truncates (also in CTEs): their
  /// triggers run on its behalf, so the node judges their functions too (deduplicated, in order found).
  std::vector<TableRef> writeTargets;
  /// Relations the request's writes read by name (FROM items, also in subqueries and CTEs; not CTE names, not the
  /// targets themselves), deduplicated, in order found: a view among them runs its query on the write's behalf, so
  /// the node judges that query from the catalog (FunctionCheck, docs/determinism.md "Determinism by closure").
  std::vector<TableRef> reads;
  /// Materialized views the request refreshes (REFRESH MATERIALIZED VIEW): a write that runs the view's query.
  std::vector<TableRef> refreshes;
  /// Some write reads rows from a table (UPDATE, DELETE, MERGE, INSERT ... SELECT ... FROM t, a subquery): the
  /// functions and triggers it runs per row run in each node's own physical row order.
  bool scansRows = false;

  /// The request reaches past the database into its server: COPY to/from a file or PROGRAM, LOAD, ALTER SYSTEM,
  /// SET ROLE / SESSION AUTHORIZATION, role management, functions and DO blocks in untrusted languages,
  /// CREATE LANGUAGE, extensions and foreign servers that reach files or other servers, and calls of the
  /// functions that read the server's files, signal its processes or change its configuration (pg_read_file,
  /// lo_import, pg_terminate_backend, pg_reload_conf, session-level advisory locks, ...). Refused on ALL and
  /// ONE alike (FORBIDDEN): a node is not a shell on its database server. See server_access.cpp.
  std::optional<Refusal> serverAccess;
  /// Session state that would outlive the request on the node's connection: session-level SET/RESET, PREPARE,
  /// EXECUTE, DEALLOCATE, DECLARE ... WITH HOLD. Also in `nondeterministic` (ALL); refused on ONE too, whose
  /// connections serve every client's reads (NONDETERMINISTIC).
  std::optional<Refusal> sessionState;
  /// COPY FROM STDIN / TO STDOUT: a request carries no data stream (FEATURE_NOT_SUPPORTED).
  std::optional<Refusal> unsupported;
  bool operator==(const Analysis&) const = default;
};

/// Where and why the parser rejected the SQL text.
struct ParseError {
  /// PostgreSQL's message, e.g. `syntax error at or near "FORM"`.
  std::string message;
  /// 1-based position in characters (not bytes), as PostgreSQL reports it; 0 when unknown.
  int cursorPosition = 0;
};

/// Thrown when the SQL text does not parse (or is not valid UTF-8, or contains a NUL byte).
class SyntaxError : public std::runtime_error {
public:
  explicit SyntaxError(ParseError error);
  [[nodiscard]] const ParseError& error() const noexcept { return error_; }

private:
  ParseError error_;
};

/// Parses `sql` once and reports what it does.
/// Throws SyntaxError when it does not parse, std::length_error above kMaxSqlBytes.
[[nodiscard]] Analysis analyze(std::string_view sql);

/// Routing for `--to auto`: true when analyze(sql).readOnly (read-only requests go to the ONE
/// topic, everything else to ALL); false when the SQL does not parse or cannot be analyzed.
[[nodiscard]] bool isReadOnly(std::string_view sql) noexcept;

/// Determinism: returns `sql` with every current-time expression that is evaluated when the
/// request runs (see Analysis::usesCurrentTime) replaced by a literal of the instant
/// `epochMillis` (milliseconds since 1970-01-01 UTC), keeping its type:
///   now(), pg_catalog.now(), transaction_timestamp(), statement_timestamp(), CURRENT_TIMESTAMP
///                        -> '2026-11-26 07:00:00.123+00'::timestamptz
///   CURRENT_TIMESTAMP(p) -> '2026-11-26 07:00:00.123+00'::timestamptz(p)
///   CURRENT_DATE         -> '2026-11-26'::date
///   CURRENT_TIME[(p)]    -> '07:00:00.123+00'::timetz[(p)]
///   LOCALTIMESTAMP[(p)]  -> '2026-11-26 07:00:00.123'::timestamp[(p)]
///   LOCALTIME[(p)]       -> '07:00:00.123'::time[(p)]
///   'now' / 'today' / 'tomorrow' / 'yesterday' (typed) -> '2026-11-26 07:00:00.123+00' /
///                           '2026-11-26 00:00:00+00' / next / previous day (only the string)
/// All values are in UTC, i.e. the local-time forms behave as if the session TimeZone were UTC
/// (so every node computes the same value whatever its TimeZone setting).
/// Positions come from the parse tree and the PostgreSQL scanner, so 'now()' inside a string,
/// a comment, a quoted identifier "now" or a column named now stays untouched, as do stored
/// definitions (see Analysis::storesCurrentTime). Result column names are kept: an unnamed
/// select-list/RETURNING item whose name would change gets an alias (SELECT now() ->
/// SELECT '...'::timestamptz AS "now"); in FROM, now() becomes CAST('...' AS timestamptz) AS "now"
/// (items of ROWS FROM (...) cannot be aliased and get the type's name as column name).
/// Returns the input unchanged when nothing matches. The result is re-parsed as a check.
/// Throws SyntaxError when `sql` does not parse, std::out_of_range when the instant is outside
/// PostgreSQL's timestamp range, std::length_error above kMaxSqlBytes.
[[nodiscard]] std::string pinCurrentTime(std::string_view sql, std::int64_t epochMillis);

/// The function a rewritten DEFAULT calls: the time of the request that writes the row (see pinDefaultTime).
inline constexpr std::string_view kRequestTimeFunction = "_kluster.request_time()";

/// Determinism of stored defaults: returns `sql` with every current-time function/keyword stored in a column or
/// domain DEFAULT (Analysis::defaultsCurrentTime) replaced by an expression of `_kluster.request_time()`, the
/// pinned time of the request that writes the row (the node sets it per request):
///   now(), CURRENT_TIMESTAMP & co. -> _kluster.request_time()   (CURRENT_TIMESTAMP(p): CAST(... AS timestamptz(p)))
///   CURRENT_DATE / LOCALTIMESTAMP / LOCALTIME -> CAST(timezone('UTC', _kluster.request_time()) AS date/timestamp/time)
///   CURRENT_TIME -> CAST(_kluster.request_time() AS timetz)
/// Other stored sites and sites evaluated when the request runs are left alone (see pinCurrentTime()).
/// Returns the input unchanged when nothing matches. Throws as pinCurrentTime() does.
[[nodiscard]] std::string pinDefaultTime(std::string_view sql);

/// The function gen_random_uuid() becomes on ALL (see pinRandomUuid()).
inline constexpr std::string_view kRandomUuidFunction = "_kluster.gen_random_uuid";

/// Determinism of UUIDs: returns `sql` with every gen_random_uuid() (or pg_catalog.gen_random_uuid()) that the
/// request runs or stores in a DEFAULT (Analysis::drawsUuid) calling `_kluster.gen_random_uuid()` instead: a
/// version-4 UUID derived from the request that draws it (its ALL offset and messageId, and a counter), so every
/// node draws the same ones (the PostgreSQL adapter defines it). The result column keeps its name
/// (gen_random_uuid). Calls in strings, comments and other stored definitions are left alone. Returns the input
/// unchanged when nothing matches. Throws SyntaxError when `sql` does not parse.
[[nodiscard]] std::string pinRandomUuid(std::string_view sql);

/// Determinism of aggregates (Analysis::ordersAggregates): returns `sql` with every call of sum(), avg(), max(),
/// min() and the statistical aggregates that the request runs without an order of its own (no ORDER BY inside,
/// not DISTINCT, not a window function, not WITHIN GROUP) given one: `sum(x)` becomes
/// `sum(x ORDER BY (x)::text)`, so every node feeds it the same values in the same order whatever its row order,
/// and floating-point rounding and the choice among equal values come out alike. The text of a value is unique to
/// it under the settings nodes pin (extra_float_digits among them), and equal texts are the same value. The result
/// column keeps its name. Calls in stored definitions (views, function bodies, defaults) are left alone. Returns
/// the input unchanged when nothing matches, or when the rewritten text would not parse. Throws SyntaxError when
/// `sql` does not parse.
[[nodiscard]] std::string pinAggregateOrder(std::string_view sql);

} // namespace kluster::sql
