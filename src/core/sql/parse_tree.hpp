// Internal to kluster_sql (not installed, not included outside src/core/sql): parsing with
// libpg_query on a big enough stack, access to its JSON parse tree, and the one-pass walk over
// that tree that analyze() and pinCurrentTime() share.
//
// Notes on libpg_query's JSON parse tree (15-4.0.0) that this module relies on:
//  * A node is an object with one key, its type name ({"FuncCall": {...}}); fields typed as a
//    specific struct (SelectStmt.intoClause, TypeCast.typeName, RangeFunction.alias, ...) are
//    NOT wrapped. Node type names start with an upper-case letter, field names never do.
//  * Fields holding their default value are omitted: false booleans, 0 integers (including
//    "location": 0, "typmod": 0 of CURRENT_TIMESTAMP(0), A_Const "ival": {} for 0, Integer {}),
//    empty strings and lists, and "stmt_location"/"stmt_len" of 0.
//  * A NULL element of a node list is an empty object {} (RangeFunction's [func, coldeflist]).
//  * DefElem arguments come in several shapes: String, Integer, Float, Boolean, and TypeName for
//    unreserved words (WITH (connect = off) gives {"TypeName": {"names": ["off"]}}).
//  * Locations are byte offsets into the whole input, also for the 2nd..nth statement.
//  * Some SQL syntax is represented as calls of pg_catalog functions (EXTRACT, AT TIME ZONE,
//    SUBSTRING, TRIM, OVERLAY, POSITION, ...), and CURRENT_TIMESTAMP & co. are SQLValueFunction
//    nodes (not FuncCall).
#pragma once

#include "core/sql/analyzer.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kluster::sql::detail {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Running the parser on a big enough stack.

// Inputs up to this size are parsed on the calling thread. libpg_query needs roughly 70 bytes
// of stack per input byte in the worst case (a chain of binary operators, 2 bytes per nesting
// level, ~140 bytes of stack per level while writing the JSON), so 16 KiB needs ~1.2 MiB.
constexpr std::size_t kInlineBytes = std::size_t{16} << 10;

// Runs `job` on the one internal worker thread that has a large stack and waits for it. `job`
// must not throw. Throws std::system_error when that worker cannot be started.
void runOnBigStack(const std::function<void()>& job);

// Runs f() on a stack big enough for an input of `inputBytes` bytes and returns its result (or
// rethrows its exception). Throws std::length_error above kMaxSqlBytes.
template <class F> std::invoke_result_t<F&> onParserStack(std::size_t inputBytes, F&& f) {
  if (inputBytes > kMaxSqlBytes) {
    throw std::length_error(
        fmt::format("SQL text of {} bytes is larger than the {} bytes kluster can analyze", inputBytes, kMaxSqlBytes));
  }
  if (inputBytes <= kInlineBytes) return f();
  std::optional<std::invoke_result_t<F&>> result;
  std::exception_ptr error;
  const std::function<void()> job = [&] {
    try {
      result.emplace(f());
    } catch (...) {
      error = std::current_exception();
    }
  };
  runOnBigStack(job);
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

// Throws SyntaxError unless `sql` is valid UTF-8 without NUL bytes (what a UTF-8 PostgreSQL
// server accepts).
void checkText(std::string_view sql);

// libpg_query wrappers; `sqlz` is NUL-terminated. parseTree() throws SyntaxError.
json parseTree(const std::string& sqlz);
bool parses(const std::string& sqlz);

// ---------------------------------------------------------------------------------------------
// Constants (the values of A_Const nodes: literals, and the integers the grammar writes for some keywords).
// parseAndCollect() moves every A_Const's value out of the tree into a Constants table, leaving its index in its
// place, so that a rule can read a constant's value only through constantValue(), which records that it did: an
// analysis that read none holds for every text of the same shape (shape.cpp, sql::AnalysisCache).

// The value members of an A_Const that are moved out: a constant's kind (which of them it has, or "isnull") stays.
inline constexpr const char* kConstantKinds[] = {"boolval", "bsval", "fval", "ival", "sval"};

struct Constants {
  std::vector<json> values; ///< the moved values ({"ival": 5}, {} for 0, {"sval": "x"}...), by index
  bool read = false;        ///< constantValue() returned one
};

// Moves the value member of every A_Const in `tree` into `out`, leaving its index (a number) in its place.
void moveConstantsOut(json& tree, Constants& out);

// While alive, constantValue() looks indices up in `constants` (on this thread) and records reads there.
class ConstantsScope {
public:
  explicit ConstantsScope(Constants* constants);
  ~ConstantsScope();
  ConstantsScope(const ConstantsScope&) = delete;
  ConstantsScope& operator=(const ConstantsScope&) = delete;

private:
  Constants* previous_;
};

// The value of kind `kind` ("ival", "sval"...) of an A_Const's body ({"ival": 5}, {} for the integer 0), nullptr
// when the constant is of another kind. Records the read (a rule's verdict now depends on the value). Works on trees
// whose constants were moved out (inside a ConstantsScope) and on trees that keep them (function bodies).
const json* constantValue(const json& aConstBody, const char* kind);

// ---------------------------------------------------------------------------------------------
// JSON access helpers.

bool isNodeTypeName(const std::string& key);

// Calls visit(key, value) for every structured member of every object below `root` (depth first, in no particular
// order), descending into `value` when visit returns true.
void forEachMember(const json& root, const std::function<bool(const std::string& key, const json& value)>& visit);

// {"Type": {...}} -> ("Type", body); anything else -> ("", nullptr).
std::pair<std::string_view, const json*> unwrap(const json& node);

const json* field(const json& body, const char* key);
std::string_view stringField(const json& body, const char* key);
std::int64_t intField(const json& body, const char* key, std::int64_t fallback = 0);
bool boolField(const json& body, const char* key);

// The text of a String node ({"String": {"sval": "x"}}), "" otherwise.
std::string_view stringNode(const json& node);

// Last String of a name list (funcname, TypeName.names, ColumnRef.fields, ...).
std::string_view lastName(const json* list);

bool equalsIgnoreCase(std::string_view a, std::string_view b);

// PostgreSQL's defGetBoolean() on a DefElem body; nullopt when the value is not a boolean.
std::optional<bool> defElemBool(const json& defElem);

// The DefElem named `name` in an option list, or nullptr.
const json* findOption(const json& body, const char* listKey, std::string_view name);

// Option `name` as a boolean: `absent` when missing, `unknown` when not a boolean.
bool optionBool(const json& body, const char* listKey, std::string_view name, bool absent, bool unknown);

// The settings a CREATE FUNCTION (`listKey` "options") or ALTER FUNCTION ("actions") gives the function with its
// SET clauses, in lower case: the function runs under them wherever it is called.
std::vector<std::string> functionSettings(const json& body, const char* listKey);

// ASCII lower case (setting names, languages).
std::string lowerAscii(std::string_view s);

// ---------------------------------------------------------------------------------------------
// Server access (server_access.cpp): what a statement may not reach, decided from syntax alone.

// A statement of type `type` (its parse-tree body) that reaches the database server, or nullopt.
std::optional<Refusal> serverAccess(std::string_view type, const json& body);
// The first of `functions` (sorted names) that reaches the database server, or nullopt.
std::optional<Refusal> serverFunction(const std::vector<std::string>& functions);
// COPY FROM STDIN / TO STDOUT, which a request cannot feed or drain.
std::optional<Refusal> copyWithoutData(std::string_view type, const json& body);
// COPY ... FROM STDIN and COPY ... TO STDOUT as the proxy runs them (copy_statement.cpp); nullopt for other
// statements. `sql` is the statement's text, which COPY (query) TO takes its query from.
std::optional<Statement::CopyFrom> copyFromOf(std::string_view type, const json& body);
std::optional<Statement::CopyTo> copyToOf(std::string_view type, const json& body, const std::string& sql);

// A value drawn per call in the ORDER BY, WHERE, GROUP BY... of a query over table rows (drawn_order.cpp).
std::optional<Refusal> drawnBeforeSort(const json& select);
// What in a ColumnDef draws a new value for each row it fills (SERIAL, IDENTITY, a DEFAULT of nextval(), random(),
// gen_random_uuid()): "" when nothing does (drawn_order.cpp).
std::string drawnPerRow(const json& column);
// The UPDATEs in a statement, anywhere (CTEs too), with the columns they SET (key_updates.cpp).
void collectKeyUpdates(const json& stmt, Analysis& out);
// The UPDATE ... FROM and DELETE ... USING ... RETURNING in a statement, anywhere (join_writes.cpp); and the rows a
// MERGE inserts in its join's order, for the DEFAULTs drawn per row.
void collectJoinWrites(const json& stmt, Analysis& out);

// ---------------------------------------------------------------------------------------------
// Current-time sites.

enum class TimeType { Timestamptz, Timestamp, Date, Timetz, Time };

std::string_view typeName(TimeType t);

enum class SiteKind {
  Function, // now(), transaction_timestamp(), statement_timestamp() [pg_catalog.]
  Keyword,  // CURRENT_TIMESTAMP & co. (SQLValueFunction)
  Literal,  // 'now' / 'today' / 'tomorrow' / 'yesterday' cast to a date/time type
};

struct TimeSite {
  int location = 0; // byte offset of the first token
  SiteKind kind = SiteKind::Function;
  TimeType type = TimeType::Timestamptz;
  int precision = -1;                  // CURRENT_TIMESTAMP(p) & co.
  int dayOffset = 0;                   // Literal: today 0, tomorrow +1, yesterday -1
  bool wholeInstant = false;           // Literal: 'now' (instant) rather than a midnight
  bool stored = false;                 // in a stored definition: evaluated later, not pinned
  bool storedDefault = false;          // stored in a DEFAULT: pinDefaultTime() rewrites it
  const json* rangeFunction = nullptr; // RangeFunction body when the site is a FROM item itself
  std::string_view fromName;           // column name PostgreSQL gives that FROM item
};

// An unnamed select-list / RETURNING entry; pinning may change the name PostgreSQL figures for it.
struct UnnamedTarget {
  int location = 0;
  const json* val = nullptr;
};

// SQLValueFunctionOp of a current-time keyword -> (type, has precision); nullopt for the others.
std::optional<std::pair<TimeType, bool>> keywordType(std::string_view op);

// The column name PostgreSQL gives a SQLValueFunction ("current_date", "user", ...); "" if unknown.
std::string_view sqlValueFunctionName(std::string_view op);

// ---------------------------------------------------------------------------------------------
// The tree walk: one pass over a statement collects everything analyze() and pinCurrentTime()
// need. Iterative (explicit stack), because parse trees can be nested tens of thousands deep.

struct Context {
  bool stored = false;                 // inside a definition stored for later evaluation
  bool planOnly = false;               // inside EXPLAIN without ANALYZE: not executed
  const json* rangeFunction = nullptr; // set on the items of RangeFunction.functions
  bool callTarget = false;             // CallStmt.funccall itself
  bool ownParams = false;              // PREPARE / CREATE FUNCTION body: $n are not the request's parameters
  bool storedDefault = false;          // a column or domain DEFAULT (evaluated when a row is written)
};

struct StatementFacts {
  bool locking = false;         // executed LockingClause
  bool modifying = false;       // executed INSERT/UPDATE/DELETE/MERGE
  bool into = false;            // SELECT INTO
  bool draws = false;           // executed nextval()/setval(): moves a sequence, so not a read
  int maxParam = 0;             // highest $n of the request's parameters
  std::vector<bool> usedParams; // [n - 1]: $n appears
};

struct Collector {
  std::vector<std::string> functions;
  std::vector<TimeSite> sites;
  std::vector<int> uuidSites;      // gen_random_uuid() run by the request or stored in a DEFAULT: locations
  std::vector<int> aggregateSites; // built-in aggregates whose result depends on their input's order: locations
  std::vector<UnnamedTarget> targets;
  bool createsSequence = false;
  StatementFacts facts; // reset per statement

  void walk(const json& root, Context rootCtx);

private:
  struct Item {
    const json* value;
    Context ctx;
    std::string_view nodeType; // set: `value` is the body of a node of this type
  };

  // Fields typed as a specific node struct are not wrapped in {"Type": ...} in the JSON.
  static std::string_view typedField(std::string_view parent, const std::string& key);

  void node(std::string_view type, const json& body, Context ctx, std::vector<Item>& stack);
  void literalSite(const json& typeCast);
  void collectTargets(const json* list);
};

// Determinism rules of one top-level statement (`stmt` is the wrapped node, `type` its type); `write`:
// it changes data (DML, CREATE TABLE AS, SELECT INTO, data-modifying CTEs). Fills
// Analysis::nondeterministic and Analysis::orderRequirements (determinism.cpp).
void checkDeterminism(std::string_view type, const json& stmt, bool write, Analysis& out);
// Row orders (row_order.cpp): the (qualifier, column) of a ColumnRef (nullopt for `*` and anything else); the columns
// an ORDER BY names (t.c, c, an output column's alias or position); the columns of an expression list.
std::optional<std::pair<std::string, std::string>> columnOfBody(const json& body);
std::optional<std::pair<std::string, std::string>> columnOf(const json& node);
void addSortColumns(const json* sortList, const json& select,
                    std::vector<std::pair<std::string, std::string>>& columns);
void addExprColumns(const json* list, std::vector<std::pair<std::string, std::string>>& columns);
// Something consumes the rows of the SELECT `stmt` in the order they come (a PL/pgSQL FOR loop, RETURN QUERY, a
// cursor): adds the requirement that its ORDER BY covers a unique key of every table it reads (refused with `why` and
// `hint`). With `values` (PL/pgSQL's SELECT ... INTO, which keeps the first row: the names that are the function's
// variables), a query that finds one row at most needs none: an aggregate without GROUP BY (isOneRowAggregate), or
// a WHERE that equates a unique key with values (addPinnedColumns).
void requireRowOrder(const json& stmt, std::string what, std::string why, std::string hint, Analysis& out,
                     const std::set<std::string>* values = nullptr);
// A SELECT that returns one row whatever the rows it reads: a built-in aggregate in its select list, no GROUP BY, no
// window function, no set-returning built-in there (row_order.cpp).
bool isOneRowAggregate(const json& select);
// The columns a WHERE's top-level ANDs equate (`=`) with an expression of constants, parameters and `values` only: the
// same in every row it finds (row_order.cpp).
void addPinnedColumns(const json* where, const std::set<std::string>& values,
                      std::vector<std::pair<std::string, std::string>>& columns);

// The cursor statements of a PL/pgSQL body (plpgsql_cursors.cpp), which libpg_query's PL/pgSQL parser cannot read
// (it knows no variable's type): the body with those of the cursors it declares replaced by statements it reads,
// and what they run, to be judged apart. Throws SyntaxError when the body cannot be scanned.
struct CursorStatements {
  std::string source;                   ///< the body, rewritten
  std::vector<std::string> queries;     ///< the queries of OPEN ... FOR: their rows are taken in order
  std::vector<std::string> expressions; ///< SELECTs of the expressions they give (a cursor's arguments, FETCH counts)
  bool dynamic = false;                 ///< OPEN ... FOR EXECUTE
};
CursorStatements rewriteCursorStatements(const std::string& source);

// A DO block (`body` of a DoStmt) judged as the body of a function the request runs (function_body.cpp): its
// refusal goes to Analysis::nondeterministic, the functions it calls to `functions`, the tables it writes and its
// row orders to the analysis, for the node to judge with the catalog.
void checkDoBlock(const json& body, Analysis& out, std::vector<std::string>& functions);

// The parsed request plus everything the walk found.
struct Parsed {
  json tree; ///< its constants moved out into `constants`
  Constants constants;
  Analysis analysis;
  Collector collector;
};

// Checks and parses `sql` and walks every statement: fills Parsed::analysis (what analyze()
// returns) and Parsed::collector (what pinCurrentTime() rewrites). Throws SyntaxError.
// `tree`: libpg_query's JSON parse tree of `sql`, when the caller has it already (shape.cpp).
Parsed parseAndCollect(std::string_view sql, const std::string* tree = nullptr);

// What analyze() adds to parseAndCollect()'s analysis: Statement::allSql, its gen_random_uuid() calls and
// order-sensitive aggregates pinned (shapeReusable() shares no analysis that has one).
Analysis pinAllTexts(Analysis a);

// A statement's text as the analysis gives it (Statement::sql): `sql` from `location`, `len` bytes (0: up to the end),
// surrounding whitespace trimmed.
std::string statementText(std::string_view sql, std::int64_t location, std::int64_t len);

} // namespace kluster::sql::detail
