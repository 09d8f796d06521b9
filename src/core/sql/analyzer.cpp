// SQL analysis and current-time pinning on top of libpg_query (PostgreSQL 15 parser).
//
// Notes on libpg_query's JSON parse tree (15-4.0.0) that this file relies on:
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
#include "core/sql/analyzer.hpp"

#include <pg_query.h>
#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <system_error>
#include <type_traits>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kluster::sql {

SyntaxError::SyntaxError(ParseError error)
    : std::runtime_error(error.cursorPosition > 0
                             ? fmt::format("{} (at character {})", error.message, error.cursorPosition)
                             : error.message),
      error_(std::move(error)) {}

namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Running the parser on a big enough stack.

// Inputs up to this size are parsed on the calling thread. libpg_query needs roughly 70 bytes
// of stack per input byte in the worst case (a chain of binary operators, 2 bytes per nesting
// level, ~140 bytes of stack per level while writing the JSON), so 16 KiB needs ~1.2 MiB.
constexpr std::size_t kInlineBytes = std::size_t{16} << 10;
// Stack reserved for the worker that parses larger inputs: 128 bytes per input byte.
constexpr std::size_t kWorkerStackBytes = kMaxSqlBytes * 128;

// One long-lived thread with a large stack; it runs one job at a time. It is never destroyed
// (the process ends with it blocked on its condition variable), which also avoids the
// static-destruction order problems of a joinable thread. The stack is reserved with
// MAP_NORESERVE, so only the pages a deep parse actually touches cost memory.
class BigStackWorker {
public:
  static BigStackWorker& instance() {
    static auto* worker = new BigStackWorker(); // intentionally leaked, see above
    return *worker;
  }

  void run(const std::function<void()>& job) {
    std::lock_guard callers(callersMutex_); // one job at a time
    std::unique_lock lock(mutex_);
    job_ = &job;
    done_ = false;
    cv_.notify_all();
    cv_.wait(lock, [this] { return done_; });
  }

private:
  BigStackWorker() {
    void* stack = mmap(nullptr, kWorkerStackBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
      throw std::system_error(errno, std::generic_category(), "kluster::sql: cannot reserve parser stack");
    }
    mprotect(stack, 4096, PROT_NONE); // guard page at the low end
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stack, kWorkerStackBytes);
    pthread_t thread;
    const int rc = pthread_create(&thread, &attr, &BigStackWorker::main, this);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      munmap(stack, kWorkerStackBytes);
      throw std::system_error(rc, std::generic_category(), "kluster::sql: cannot start parser thread");
    }
    pthread_detach(thread);
  }

  static void* main(void* self) {
    auto& worker = *static_cast<BigStackWorker*>(self);
    std::unique_lock lock(worker.mutex_);
    for (;;) {
      worker.cv_.wait(lock, [&] { return worker.job_ != nullptr; });
      const std::function<void()>* job = std::exchange(worker.job_, nullptr);
      lock.unlock();
      (*job)(); // never throws: onParserStack() catches everything inside the job
      lock.lock();
      worker.done_ = true;
      worker.cv_.notify_all();
    }
  }

  std::mutex callersMutex_;
  std::mutex mutex_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;
  bool done_ = false;
};

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
  BigStackWorker::instance().run(job);
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

// ---------------------------------------------------------------------------------------------
// Input validation: what a UTF-8 PostgreSQL server accepts.

void checkText(std::string_view sql) {
  const auto* s = reinterpret_cast<const unsigned char*>(sql.data());
  const std::size_t n = sql.size();
  int chars = 0;
  for (std::size_t i = 0; i < n; ++chars) {
    const unsigned char c = s[i];
    if (c != 0 && c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07u, min = 0x10000;
    }
    bool ok = len != 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    if (!ok) {
      std::string bytes;
      for (std::size_t k = i; k < std::min(n, i + std::max<std::size_t>(len, 1)); ++k) {
        bytes += fmt::format("{}0x{:02x}", bytes.empty() ? "" : " ", s[k]);
      }
      throw SyntaxError({fmt::format("invalid byte sequence for encoding \"UTF8\": {}", bytes), chars + 1});
    }
    i += len;
  }
}

// ---------------------------------------------------------------------------------------------
// libpg_query wrappers.

json parseTree(const std::string& sqlz) {
  PgQueryParseResult result = pg_query_parse(sqlz.c_str());
  struct Free {
    PgQueryParseResult& r;
    ~Free() { pg_query_free_parse_result(r); }
  } freeResult{result};
  if (result.error != nullptr) {
    throw SyntaxError(
        {result.error->message != nullptr ? result.error->message : "syntax error", result.error->cursorpos});
  }
  return json::parse(result.parse_tree);
}

bool parses(const std::string& sqlz) {
  PgQueryParseResult result = pg_query_parse(sqlz.c_str());
  const bool ok = result.error == nullptr;
  pg_query_free_parse_result(result);
  return ok;
}

// Token numbers from /usr/include/pg_query/pg_query.proto (enum Token).
enum TokenKind : int {
  kLParen = 40,
  kRParen = 41,
  kComma = 44,
  kSemicolon = 59,
  kLBracket = 91,
  kRBracket = 93,
  kSconst = 261,
  kUSconst = 262,
  kSqlComment = 275,
  kCComment = 276,
  kDistinct = 390,
  kExcept = 405,
  kFetch = 418,
  kFor = 424,
  kFrom = 429,
  kGroup = 438,
  kHaving = 442,
  kIntersect = 471,
  kInto = 473,
  kLimit = 491,
  kOffset = 540,
  kOn = 543,
  kOrder = 549,
  kOrdinality = 550,
  kReturning = 606,
  kTime = 671,
  kUescape = 685,
  kUnion = 689,
  kWhere = 713,
  kWindow = 715,
  kWith = 716,
  kWithin = 717,
  kWithLa = 739,
};

struct Token {
  int start = 0;
  int end = 0;
  int kind = 0;
};

// Minimal protobuf reader for PgQuery__ScanResult (so that protobuf-c headers are not needed):
//   ScanResult { int32 version = 1; repeated ScanToken tokens = 2; }
//   ScanToken  { int32 start = 1; int32 end = 2; Token token = 4; KeywordKind keyword_kind = 5; }
class ProtoReader {
public:
  ProtoReader(const unsigned char* p, std::size_t n) : p_(p), end_(p + n) {}
  [[nodiscard]] bool atEnd() const { return p_ >= end_; }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) throw std::runtime_error("kluster::sql: truncated scanner output");
      const unsigned char b = *p_++;
      v |= std::uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    throw std::runtime_error("kluster::sql: malformed scanner output");
  }

  ProtoReader sub() {
    const std::uint64_t len = varint();
    if (len > static_cast<std::uint64_t>(end_ - p_)) throw std::runtime_error("kluster::sql: truncated scanner output");
    ProtoReader r(p_, len);
    p_ += len;
    return r;
  }

  void skip(unsigned wireType) {
    switch (wireType) {
    case 0: varint(); return;
    case 1: advance(8); return;
    case 2: sub(); return;
    case 5: advance(4); return;
    default: throw std::runtime_error("kluster::sql: malformed scanner output");
    }
  }

private:
  void advance(std::size_t n) {
    if (n > static_cast<std::size_t>(end_ - p_)) throw std::runtime_error("kluster::sql: truncated scanner output");
    p_ += n;
  }
  const unsigned char* p_;
  const unsigned char* end_;
};

std::vector<Token> scanTokens(const std::string& sqlz) {
  PgQueryScanResult result = pg_query_scan(sqlz.c_str());
  struct Free {
    PgQueryScanResult& r;
    ~Free() { pg_query_free_scan_result(r); }
  } freeResult{result};
  if (result.error != nullptr) {
    throw SyntaxError(
        {result.error->message != nullptr ? result.error->message : "syntax error", result.error->cursorpos});
  }
  std::vector<Token> tokens;
  ProtoReader reader(reinterpret_cast<const unsigned char*>(result.pbuf.data), result.pbuf.len);
  while (!reader.atEnd()) {
    const std::uint64_t key = reader.varint();
    if ((key >> 3) != 2 || (key & 7) != 2) {
      reader.skip(static_cast<unsigned>(key & 7));
      continue;
    }
    ProtoReader tr = reader.sub();
    Token token;
    while (!tr.atEnd()) {
      const std::uint64_t tkey = tr.varint();
      const auto fieldNo = tkey >> 3;
      if ((tkey & 7) != 0) {
        tr.skip(static_cast<unsigned>(tkey & 7));
        continue;
      }
      const auto value = static_cast<int>(static_cast<std::int32_t>(tr.varint()));
      if (fieldNo == 1)
        token.start = value;
      else if (fieldNo == 2)
        token.end = value;
      else if (fieldNo == 4)
        token.kind = value;
    }
    tokens.push_back(token);
  }
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// JSON access helpers.

bool isNodeTypeName(const std::string& key) { return !key.empty() && key[0] >= 'A' && key[0] <= 'Z'; }

// {"Type": {...}} -> ("Type", body); anything else -> ("", nullptr).
std::pair<std::string_view, const json*> unwrap(const json& node) {
  if (node.is_object() && node.size() == 1) {
    const auto it = node.begin();
    if (isNodeTypeName(it.key()) && it.value().is_object()) return {it.key(), &it.value()};
  }
  return {{}, nullptr};
}

const json* field(const json& body, const char* key) {
  const auto it = body.find(key);
  return it == body.end() ? nullptr : &*it;
}

std::string_view stringField(const json& body, const char* key) {
  const json* v = field(body, key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : std::string_view();
}

std::int64_t intField(const json& body, const char* key, std::int64_t fallback = 0) {
  const json* v = field(body, key);
  return v != nullptr && v->is_number_integer() ? v->get<std::int64_t>() : fallback;
}

bool boolField(const json& body, const char* key) {
  const json* v = field(body, key);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

// The text of a String node ({"String": {"sval": "x"}}), "" otherwise.
std::string_view stringNode(const json& node) {
  const auto [type, body] = unwrap(node);
  return type == "String" ? stringField(*body, "sval") : std::string_view();
}

// Last String of a name list (funcname, TypeName.names, ColumnRef.fields, ...).
std::string_view lastName(const json* list) {
  std::string_view name;
  if (list != nullptr && list->is_array()) {
    for (const json& item : *list) {
      if (const auto s = stringNode(item); unwrap(item).first == "String") name = s;
    }
  }
  return name;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// PostgreSQL's defGetBoolean() on a DefElem body; nullopt when the value is not a boolean.
std::optional<bool> defElemBool(const json& defElem) {
  const json* arg = field(defElem, "arg");
  if (arg == nullptr) return true; // "WITH (create_slot)" / "EXPLAIN ANALYZE"
  const auto [type, body] = unwrap(*arg);
  if (body == nullptr) return std::nullopt;
  if (type == "Integer") {
    const auto v = intField(*body, "ival");
    if (v == 0 || v == 1) return v == 1;
    return std::nullopt;
  }
  if (type == "Boolean") return boolField(*body, "boolval");
  std::string_view text;
  if (type == "String")
    text = stringField(*body, "sval");
  else if (type == "TypeName")
    text = lastName(field(*body, "names"));
  if (equalsIgnoreCase(text, "true") || equalsIgnoreCase(text, "on")) return true;
  if (equalsIgnoreCase(text, "false") || equalsIgnoreCase(text, "off")) return false;
  return std::nullopt;
}

// The DefElem named `name` in an option list, or nullptr.
const json* findOption(const json& body, const char* listKey, std::string_view name) {
  const json* list = field(body, listKey);
  if (list == nullptr || !list->is_array()) return nullptr;
  for (const json& item : *list) {
    const auto [type, def] = unwrap(item);
    if (type == "DefElem" && stringField(*def, "defname") == name) return def;
  }
  return nullptr;
}

// Option `name` as a boolean: `absent` when missing, `unknown` when not a boolean.
bool optionBool(const json& body, const char* listKey, std::string_view name, bool absent, bool unknown) {
  const json* def = findOption(body, listKey, name);
  if (def == nullptr) return absent;
  return defElemBool(*def).value_or(unknown);
}

// ---------------------------------------------------------------------------------------------
// Current-time sites.

enum class TimeType { Timestamptz, Timestamp, Date, Timetz, Time };

std::string_view typeName(TimeType t) {
  switch (t) {
  case TimeType::Timestamptz: return "timestamptz";
  case TimeType::Timestamp: return "timestamp";
  case TimeType::Date: return "date";
  case TimeType::Timetz: return "timetz";
  case TimeType::Time: return "time";
  }
  return "timestamptz";
}

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
  const json* rangeFunction = nullptr; // RangeFunction body when the site is a FROM item itself
  std::string_view fromName;           // column name PostgreSQL gives that FROM item
};

// An unnamed select-list / RETURNING entry; pinning may change the name PostgreSQL figures for it.
struct UnnamedTarget {
  int location = 0;
  const json* val = nullptr;
};

std::optional<std::pair<TimeType, bool>> keywordType(std::string_view op) {
  // SQLValueFunctionOp -> (type, has precision)
  static constexpr std::array<std::tuple<std::string_view, TimeType, bool>, 9> kOps{{
      {"SVFOP_CURRENT_DATE", TimeType::Date, false},
      {"SVFOP_CURRENT_TIME", TimeType::Timetz, false},
      {"SVFOP_CURRENT_TIME_N", TimeType::Timetz, true},
      {"SVFOP_CURRENT_TIMESTAMP", TimeType::Timestamptz, false},
      {"SVFOP_CURRENT_TIMESTAMP_N", TimeType::Timestamptz, true},
      {"SVFOP_LOCALTIME", TimeType::Time, false},
      {"SVFOP_LOCALTIME_N", TimeType::Time, true},
      {"SVFOP_LOCALTIMESTAMP", TimeType::Timestamp, false},
      {"SVFOP_LOCALTIMESTAMP_N", TimeType::Timestamp, true},
  }};
  for (const auto& [name, type, precise] : kOps) {
    if (name == op) return std::pair{type, precise};
  }
  return std::nullopt;
}

std::string_view sqlValueFunctionName(std::string_view op) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 15> kNames{{
      {"SVFOP_CURRENT_DATE", "current_date"},
      {"SVFOP_CURRENT_TIME", "current_time"},
      {"SVFOP_CURRENT_TIME_N", "current_time"},
      {"SVFOP_CURRENT_TIMESTAMP", "current_timestamp"},
      {"SVFOP_CURRENT_TIMESTAMP_N", "current_timestamp"},
      {"SVFOP_LOCALTIME", "localtime"},
      {"SVFOP_LOCALTIME_N", "localtime"},
      {"SVFOP_LOCALTIMESTAMP", "localtimestamp"},
      {"SVFOP_LOCALTIMESTAMP_N", "localtimestamp"},
      {"SVFOP_CURRENT_ROLE", "current_role"},
      {"SVFOP_CURRENT_USER", "current_user"},
      {"SVFOP_USER", "user"},
      {"SVFOP_SESSION_USER", "session_user"},
      {"SVFOP_CURRENT_CATALOG", "current_catalog"},
      {"SVFOP_CURRENT_SCHEMA", "current_schema"},
  }};
  for (const auto& [name, colname] : kNames) {
    if (name == op) return colname;
  }
  return {};
}

bool isTimeFunctionCall(const json& funcCall) {
  const json* names = field(funcCall, "funcname");
  if (names == nullptr || !names->is_array() || names->empty() || names->size() > 2) return false;
  if (names->size() == 2 && stringNode((*names)[0]) != "pg_catalog") return false;
  const std::string_view name = stringNode(names->back());
  if (name != "now" && name != "transaction_timestamp" && name != "statement_timestamp") return false;
  for (const char* key :
       {"args", "agg_order", "agg_filter", "over", "agg_within_group", "agg_star", "agg_distinct", "func_variadic"}) {
    if (funcCall.contains(key)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The tree walk: one pass over a statement collects everything analyze() and pinCurrentTime()
// need. Iterative (explicit stack), because parse trees can be nested tens of thousands deep.

struct Context {
  bool stored = false;                 // inside a definition stored for later evaluation
  bool planOnly = false;               // inside EXPLAIN without ANALYZE: not executed
  const json* rangeFunction = nullptr; // set on the items of RangeFunction.functions
  bool callTarget = false;             // CallStmt.funccall itself
  bool ownParams = false;              // PREPARE / CREATE FUNCTION body: $n are not the request's parameters
};

struct StatementFacts {
  bool locking = false;   // executed LockingClause
  bool modifying = false; // executed INSERT/UPDATE/DELETE/MERGE
  bool into = false;      // SELECT INTO
  int maxParam = 0;       // highest $n of the request's parameters
};

struct Collector {
  std::vector<std::string> functions;
  std::vector<TimeSite> sites;
  std::vector<UnnamedTarget> targets;
  bool createsSequence = false;
  StatementFacts facts; // reset per statement

  void walk(const json& root, Context rootCtx) {
    std::vector<Item> stack{{&root, rootCtx, {}}};
    while (!stack.empty()) {
      const Item item = stack.back();
      stack.pop_back();
      const json& v = *item.value;
      if (!item.nodeType.empty()) {
        node(item.nodeType, v, item.ctx, stack);
      } else if (v.is_array()) {
        for (const json& element : v) {
          if (element.is_structured()) stack.push_back({&element, item.ctx, {}});
        }
      } else if (v.is_object()) {
        Context ctx = item.ctx;
        ctx.rangeFunction = nullptr;
        ctx.callTarget = false;
        for (auto it = v.begin(); it != v.end(); ++it) {
          if (!it.value().is_structured()) continue;
          if (isNodeTypeName(it.key()) && it.value().is_object()) {
            stack.push_back({&it.value(), item.ctx, it.key()});
          } else {
            stack.push_back({&it.value(), ctx, {}});
          }
        }
      }
    }
  }

private:
  struct Item {
    const json* value;
    Context ctx;
    std::string_view nodeType; // set: `value` is the body of a node of this type
  };

  // Fields typed as a specific node struct are not wrapped in {"Type": ...} in the JSON.
  static std::string_view typedField(std::string_view parent, const std::string& key) {
    if (parent == "SelectStmt" && (key == "larg" || key == "rarg")) return "SelectStmt";
    if (parent == "CallStmt" && key == "funccall") return "FuncCall";
    return {};
  }

  void node(std::string_view type, const json& body, Context ctx, std::vector<Item>& stack) {
    const json* directFrom = ctx.rangeFunction;
    const bool callTarget = ctx.callTarget;
    if (type != "List") ctx.rangeFunction = nullptr; // only the List wrapping a FROM function
    ctx.callTarget = false;
    const bool executed = !ctx.stored && !ctx.planOnly;

    // Children pushed with a different context than ctx.
    const json* special = nullptr;
    Context specialCtx = ctx;

    if (type == "FuncCall") {
      if (const std::string_view name = lastName(field(body, "funcname")); !name.empty()) {
        functions.emplace_back(name);
      }
      if (isTimeFunctionCall(body) && !callTarget) {
        TimeSite site;
        site.location = static_cast<int>(intField(body, "location"));
        site.kind = SiteKind::Function;
        site.stored = ctx.stored;
        site.rangeFunction = directFrom;
        site.fromName = stringNode(field(body, "funcname")->back());
        sites.push_back(site);
      }
    } else if (type == "SQLValueFunction") {
      const std::string_view op = stringField(body, "op");
      if (const auto kt = keywordType(op)) {
        TimeSite site;
        site.location = static_cast<int>(intField(body, "location"));
        site.kind = SiteKind::Keyword;
        site.type = kt->first;
        site.precision = kt->second ? static_cast<int>(intField(body, "typmod", 0)) : -1;
        site.stored = ctx.stored;
        site.rangeFunction = directFrom;
        site.fromName = sqlValueFunctionName(op);
        sites.push_back(site);
      }
    } else if (type == "TypeCast") {
      literalSite(body);
    } else if (type == "ColumnDef") {
      const json* typeNameBody = field(body, "typeName");
      if (typeNameBody != nullptr && typeNameBody->is_object()) {
        const json* names = field(*typeNameBody, "names");
        if (names != nullptr && names->size() == 1 && !boolField(*typeNameBody, "pct_type")) {
          const std::string_view t = stringNode((*names)[0]);
          createsSequence = createsSequence || t == "serial" || t == "bigserial" || t == "smallserial" ||
                            t == "serial2" || t == "serial4" || t == "serial8";
        }
      }
    } else if (type == "Constraint") {
      if (stringField(body, "contype") == "CONSTR_IDENTITY") createsSequence = true;
      ctx.stored = true; // DEFAULT, CHECK, GENERATED, EXCLUDE ... WHERE
    } else if (type == "CreateSeqStmt") {
      createsSequence = true;
    } else if (type == "ParamRef") {
      if (!ctx.ownParams) {
        facts.maxParam = std::max(facts.maxParam, static_cast<int>(intField(body, "number")));
      }
    } else if (type == "PrepareStmt" || type == "CreateFunctionStmt") {
      ctx.stored = true;
      ctx.ownParams = true;
    } else if (type == "ViewStmt" || type == "CreateTrigStmt" || type == "RuleStmt" || type == "CreatePolicyStmt" ||
               type == "AlterPolicyStmt" || type == "CreateDomainStmt" || type == "AlterDomainStmt" ||
               type == "IndexStmt" || type == "IndexElem" || type == "CreateStatsStmt" || type == "PartitionSpec" ||
               type == "PartitionElem" || type == "CreatePublicationStmt" || type == "AlterPublicationStmt") {
      ctx.stored = true;
    } else if (type == "CreateTableAsStmt") {
      if (stringField(body, "objtype") == "OBJECT_MATVIEW") ctx.stored = true;
    } else if (type == "AlterTableCmd") {
      if (stringField(body, "subtype") == "AT_ColumnDefault") {
        special = field(body, "def");
        specialCtx.stored = true;
      }
    } else if (type == "ExplainStmt") {
      if (!optionBool(body, "options", "analyze", false, true)) {
        special = field(body, "query");
        specialCtx.planOnly = true;
      }
    } else if (type == "RangeFunction") {
      special = field(body, "functions");
      specialCtx.rangeFunction = &body;
    } else if (type == "CallStmt") {
      special = field(body, "funccall");
      specialCtx.callTarget = true;
    } else if (type == "SelectStmt") {
      if (executed && body.contains("intoClause")) facts.into = true;
      collectTargets(field(body, "targetList"));
    } else if (type == "InsertStmt" || type == "UpdateStmt" || type == "DeleteStmt" || type == "MergeStmt") {
      if (executed) facts.modifying = true;
      collectTargets(field(body, "returningList"));
    } else if (type == "LockingClause") {
      if (executed) facts.locking = true;
    }

    for (auto it = body.begin(); it != body.end(); ++it) {
      if (!it.value().is_structured()) continue;
      const Context& childCtx = &it.value() == special ? specialCtx : ctx;
      stack.push_back({&it.value(), childCtx, typedField(type, it.key())});
    }
  }

  void literalSite(const json& typeCast) {
    const json* arg = field(typeCast, "arg");
    const json* tn = field(typeCast, "typeName");
    if (arg == nullptr || tn == nullptr || tn->contains("arrayBounds")) return;
    const auto [argType, argBody] = unwrap(*arg);
    if (argType != "A_Const") return;
    const json* sval = field(*argBody, "sval");
    if (sval == nullptr || !sval->is_object()) return;
    std::string_view text = stringField(*sval, "sval");
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    TimeSite site;
    site.kind = SiteKind::Literal;
    site.location = static_cast<int>(intField(*argBody, "location"));
    if (equalsIgnoreCase(text, "now"))
      site.wholeInstant = true;
    else if (equalsIgnoreCase(text, "tomorrow"))
      site.dayOffset = 1;
    else if (equalsIgnoreCase(text, "yesterday"))
      site.dayOffset = -1;
    else if (!equalsIgnoreCase(text, "today"))
      return;
    const json* names = field(*tn, "names");
    if (names == nullptr || !names->is_array() || names->empty() || names->size() > 2) return;
    if (names->size() == 2 && stringNode((*names)[0]) != "pg_catalog") return; // a user type
    const std::string_view t = stringNode(names->back());
    if (t == "timestamptz")
      site.type = TimeType::Timestamptz;
    else if (t == "timestamp")
      site.type = TimeType::Timestamp;
    else if (t == "date")
      site.type = TimeType::Date;
    else if (t == "timetz")
      site.type = TimeType::Timetz;
    else if (t == "time")
      site.type = TimeType::Time;
    else
      return;
    sites.push_back(site);
  }

  void collectTargets(const json* list) {
    if (list == nullptr || !list->is_array()) return;
    for (const json& item : *list) {
      const auto [type, body] = unwrap(item);
      if (type != "ResTarget" || body->contains("name")) continue;
      if (const json* val = field(*body, "val")) {
        targets.push_back({static_cast<int>(intField(*body, "location")), val});
      }
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Per-statement classification.

bool isTransactionControl(std::string_view type, const json& body) {
  if (type == "TransactionStmt") return true;
  if (type != "VariableSetStmt") return false;
  const std::string_view name = stringField(body, "name");
  static constexpr std::array<std::string_view, 8> kNames{"TRANSACTION",
                                                          "SESSION CHARACTERISTICS",
                                                          "transaction_isolation",
                                                          "transaction_read_only",
                                                          "transaction_deferrable",
                                                          "default_transaction_isolation",
                                                          "default_transaction_read_only",
                                                          "default_transaction_deferrable"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

bool isNonTransactional(std::string_view type, const json& body) {
  if (type == "VacuumStmt") return boolField(body, "is_vacuumcmd");
  if (type == "CreatedbStmt" || type == "DropdbStmt" || type == "CreateTableSpaceStmt" ||
      type == "DropTableSpaceStmt" || type == "AlterSystemStmt" || type == "DropSubscriptionStmt") {
    return true;
  }
  if (type == "IndexStmt" || type == "DropStmt") return boolField(body, "concurrent");
  if (type == "ReindexStmt") {
    const std::string_view kind = stringField(body, "kind");
    return kind == "REINDEX_OBJECT_SCHEMA" || kind == "REINDEX_OBJECT_SYSTEM" || kind == "REINDEX_OBJECT_DATABASE" ||
           optionBool(body, "params", "concurrently", false, true);
  }
  if (type == "ClusterStmt") return !body.contains("relation");
  if (type == "AlterDatabaseStmt") return findOption(body, "options", "tablespace") != nullptr;
  if (type == "DiscardStmt") return stringField(body, "target") == "DISCARD_ALL";
  if (type == "TransactionStmt") {
    const std::string_view kind = stringField(body, "kind");
    return kind == "TRANS_STMT_COMMIT_PREPARED" || kind == "TRANS_STMT_ROLLBACK_PREPARED";
  }
  if (type == "AlterTableStmt") {
    const json* cmds = field(body, "cmds");
    if (cmds == nullptr || !cmds->is_array()) return false;
    for (const json& cmd : *cmds) {
      const auto [cmdType, cmdBody] = unwrap(cmd);
      if (cmdType != "AlterTableCmd" || stringField(*cmdBody, "subtype") != "AT_DetachPartition") continue;
      const json* def = field(*cmdBody, "def");
      if (def == nullptr) continue;
      const auto [defType, defBody] = unwrap(*def);
      if (defType == "PartitionCmd" && boolField(*defBody, "concurrent")) return true;
    }
    return false;
  }
  if (type == "CreateSubscriptionStmt") {
    // connect = false implies create_slot = false.
    return optionBool(body, "options", "create_slot", true, true) && optionBool(body, "options", "connect", true, true);
  }
  if (type == "AlterSubscriptionStmt") {
    const std::string_view kind = stringField(body, "kind");
    if (kind == "ALTER_SUBSCRIPTION_REFRESH") return true;
    if (kind == "ALTER_SUBSCRIPTION_SET_PUBLICATION" || kind == "ALTER_SUBSCRIPTION_ADD_PUBLICATION" ||
        kind == "ALTER_SUBSCRIPTION_DROP_PUBLICATION") {
      return optionBool(body, "options", "refresh", true, true);
    }
    return false;
  }
  return false;
}

bool isReadOnlyStatement(std::string_view type, const json& body, const StatementFacts& facts) {
  const bool cleanSelect = !facts.locking && !facts.modifying && !facts.into;
  if (type == "SelectStmt") return cleanSelect;
  if (type == "VariableShowStmt") return true;
  if (type == "ExplainStmt") {
    if (!optionBool(body, "options", "analyze", false, true)) return true; // only plans
    const json* query = field(body, "query");
    return query != nullptr && unwrap(*query).first == "SelectStmt" && cleanSelect;
  }
  return false;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The parsed request plus everything the walk found.
struct Parsed {
  json tree;
  Analysis analysis;
  Collector collector;
};

Parsed parseAndCollect(std::string_view sql) {
  checkText(sql);
  const std::string sqlz(sql);
  Parsed p;
  p.tree = parseTree(sqlz);
  Analysis& a = p.analysis;
  Collector& c = p.collector;
  const json* stmts = field(p.tree, "stmts");
  if (stmts == nullptr || !stmts->is_array()) return p;
  for (const json& raw : *stmts) {
    const json* stmt = field(raw, "stmt");
    if (stmt == nullptr) continue;
    const auto [type, body] = unwrap(*stmt);
    if (body == nullptr) continue;
    const auto location = static_cast<std::size_t>(
        std::clamp<std::int64_t>(intField(raw, "stmt_location"), 0, static_cast<std::int64_t>(sql.size())));
    const auto len = static_cast<std::size_t>(intField(raw, "stmt_len")); // 0: up to the end
    c.facts = {};
    c.walk(*stmt, {});
    a.statements.push_back({std::string(trimmed(sql.substr(location, len == 0 ? std::string_view::npos : len))),
                            std::string(type), c.facts.maxParam});
    a.readOnly = a.readOnly && isReadOnlyStatement(type, *body, c.facts);
    a.locks = a.locks || c.facts.locking;
    a.transactionControl = a.transactionControl || isTransactionControl(type, *body);
    a.nonTransactional = a.nonTransactional || isNonTransactional(type, *body);
  }
  std::sort(c.functions.begin(), c.functions.end());
  c.functions.erase(std::unique(c.functions.begin(), c.functions.end()), c.functions.end());
  a.functions = c.functions;
  for (const TimeSite& site : c.sites) {
    if (site.kind == SiteKind::Literal || !site.stored)
      a.usesCurrentTime = true;
    else
      a.storesCurrentTime = true;
  }
  a.createsSequenceValue = c.createsSequence;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Column names (PostgreSQL's FigureColnameInternal on the raw parse tree), to keep result
// column names when a current-time expression is replaced by a cast literal.

struct FiguredName {
  int strength = 0; // 0: "?column?", 1: weak (type name / "case"), 2: strong
  std::string name;
};

FiguredName figureColname(const json& expr, const std::unordered_set<int>* pinned);

FiguredName sublinkName(const json& body) {
  const std::string_view linkType = stringField(body, "subLinkType");
  if (linkType == "EXISTS_SUBLINK") return {2, "exists"};
  if (linkType == "ARRAY_SUBLINK") return {2, "array"};
  if (linkType != "EXPR_SUBLINK") return {};
  // The subquery's first result column name (its left-most branch for UNION & co.).
  const json* select = field(body, "subselect");
  if (select == nullptr || unwrap(*select).first != "SelectStmt") return {};
  const json* sbody = unwrap(*select).second;
  while (const json* larg = field(*sbody, "larg")) sbody = larg; // typed field: not wrapped
  const json* list = field(*sbody, "targetList");
  if (list == nullptr || !list->is_array() || list->empty()) return {};
  const auto [ttype, target] = unwrap((*list)[0]);
  if (ttype != "ResTarget") return {};
  if (const std::string_view name = stringField(*target, "name"); !name.empty()) return {2, std::string(name)};
  // The inner select list gets an alias itself when pinning would change its name, so the name
  // seen from outside never changes: figure it without pinning.
  const json* val = field(*target, "val");
  const FiguredName inner = val != nullptr ? figureColname(*val, nullptr) : FiguredName{};
  return {2, inner.strength > 0 ? inner.name : "?column?"};
}

FiguredName figureColname(const json& expr, const std::unordered_set<int>* pinned) {
  // Walks down the chain of nodes that pass the name through (TypeCast, CollateClause,
  // CaseExpr.defresult, A_Indirection.arg); "fallbacks" are the weak names of the enclosing
  // TypeCast/CaseExpr nodes, the outermost one wins over a weak inner name.
  std::vector<std::string_view> fallbacks;
  FiguredName result;
  const json* cur = &expr;
  while (cur != nullptr) {
    const auto [type, body] = unwrap(*cur);
    if (body == nullptr) break;
    if (pinned != nullptr && (type == "FuncCall" || type == "SQLValueFunction") &&
        pinned->count(static_cast<int>(intField(*body, "location"))) != 0) {
      result = {1, "timestamptz"}; // becomes a TypeCast of a constant: the type's name
      if (type == "SQLValueFunction") {
        if (const auto kt = keywordType(stringField(*body, "op"))) result.name = typeName(kt->first);
      }
      break;
    }
    if (type == "ColumnRef") {
      if (const std::string_view n = lastName(field(*body, "fields")); !n.empty()) result = {2, std::string(n)};
      break;
    }
    if (type == "A_Indirection") {
      if (const std::string_view n = lastName(field(*body, "indirection")); !n.empty()) {
        result = {2, std::string(n)};
        break;
      }
      cur = field(*body, "arg");
      continue;
    }
    if (type == "FuncCall") {
      result = {2, std::string(lastName(field(*body, "funcname")))};
      break;
    }
    if (type == "A_Expr") {
      if (stringField(*body, "kind") == "AEXPR_NULLIF") result = {2, "nullif"};
      break;
    }
    if (type == "TypeCast") {
      const json* tn = field(*body, "typeName");
      fallbacks.push_back(tn != nullptr ? lastName(field(*tn, "names")) : std::string_view());
      cur = field(*body, "arg");
      continue;
    }
    if (type == "CollateClause") {
      cur = field(*body, "arg");
      continue;
    }
    if (type == "CaseExpr") {
      fallbacks.emplace_back("case");
      cur = field(*body, "defresult");
      continue;
    }
    if (type == "GroupingFunc")
      result = {2, "grouping"};
    else if (type == "SubLink")
      result = sublinkName(*body);
    else if (type == "A_ArrayExpr")
      result = {2, "array"};
    else if (type == "RowExpr")
      result = {2, "row"};
    else if (type == "CoalesceExpr")
      result = {2, "coalesce"};
    else if (type == "MinMaxExpr") {
      const std::string_view op = stringField(*body, "op");
      if (op == "IS_GREATEST")
        result = {2, "greatest"};
      else if (op == "IS_LEAST")
        result = {2, "least"};
    } else if (type == "SQLValueFunction") {
      if (const std::string_view n = sqlValueFunctionName(stringField(*body, "op")); !n.empty()) {
        result = {2, std::string(n)};
      }
    } else if (type == "XmlExpr") {
      static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kXml{{
          {"IS_XMLCONCAT", "xmlconcat"},
          {"IS_XMLELEMENT", "xmlelement"},
          {"IS_XMLFOREST", "xmlforest"},
          {"IS_XMLPARSE", "xmlparse"},
          {"IS_XMLPI", "xmlpi"},
          {"IS_XMLROOT", "xmlroot"},
          {"IS_XMLSERIALIZE", "xmlserialize"},
      }};
      const std::string_view op = stringField(*body, "op");
      for (const auto& [k, n] : kXml) {
        if (k == op) result = {2, std::string(n)};
      }
    } else if (type == "XmlSerialize") {
      result = {2, "xmlserialize"};
    }
    break;
  }
  if (result.strength <= 1 && !fallbacks.empty()) result = {1, std::string(fallbacks.front())};
  return result;
}

// ---------------------------------------------------------------------------------------------
// Instants.

struct CivilTime {
  std::int64_t year = 1970; // astronomical (0 = 1 BC)
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millis = 0;
};

std::int64_t floorDiv(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian calendar).
std::int64_t daysFromCivil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = floorDiv(y, 400);
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilTime civilFromMillis(std::int64_t epochMillis) {
  constexpr std::int64_t kDay = 86'400'000;
  const std::int64_t days = floorDiv(epochMillis, kDay);
  std::int64_t ms = epochMillis - days * kDay;
  const std::int64_t z = days + 719468;
  const std::int64_t era = floorDiv(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  CivilTime t;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2);
  t.hour = static_cast<int>(ms / 3'600'000);
  ms %= 3'600'000;
  t.minute = static_cast<int>(ms / 60'000);
  ms %= 60'000;
  t.second = static_cast<int>(ms / 1000);
  t.millis = static_cast<int>(ms % 1000);
  return t;
}

void checkInstantRange(std::int64_t epochMillis) {
  // PostgreSQL timestamps: 4714-11-24 BC 00:00 (Julian day 0) up to 294276-12-31 24:00 AD.
  constexpr std::int64_t kDay = 86'400'000;
  static const std::int64_t kMin = daysFromCivil(-4713, 11, 24) * kDay;
  static const std::int64_t kEnd = daysFromCivil(294277, 1, 1) * kDay;
  if (epochMillis < kMin || epochMillis >= kEnd) {
    throw std::out_of_range(fmt::format("instant {} ms is outside PostgreSQL's timestamp range", epochMillis));
  }
}

std::string dateText(const CivilTime& t) {
  const bool bc = t.year <= 0;
  return fmt::format("{:04d}-{:02d}-{:02d}{}", bc ? 1 - t.year : t.year, t.month, t.day, bc ? " BC" : "");
}

std::string timeText(const CivilTime& t) {
  return fmt::format("{:02d}:{:02d}:{:02d}.{:03d}", t.hour, t.minute, t.second, t.millis);
}

// The literal text (without quotes) of `t` for a value of type `type`, in UTC.
std::string literalText(const CivilTime& t, TimeType type) {
  const bool bc = t.year <= 0;
  const std::string date = fmt::format("{:04d}-{:02d}-{:02d}", bc ? 1 - t.year : t.year, t.month, t.day);
  switch (type) {
  case TimeType::Timestamptz: return fmt::format("{} {}+00{}", date, timeText(t), bc ? " BC" : "");
  case TimeType::Timestamp: return fmt::format("{} {}{}", date, timeText(t), bc ? " BC" : "");
  case TimeType::Date: return dateText(t);
  case TimeType::Timetz: return timeText(t) + "+00";
  case TimeType::Time: return timeText(t);
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Token helpers for pinning.

bool isComment(const Token& t) { return t.kind == kSqlComment || t.kind == kCComment; }

std::size_t tokenAt(const std::vector<Token>& tokens, int location) {
  const auto it =
      std::lower_bound(tokens.begin(), tokens.end(), location, [](const Token& t, int loc) { return t.start < loc; });
  if (it == tokens.end() || it->start != location) {
    throw std::logic_error(fmt::format("kluster::sql: no token at byte {}", location));
  }
  return static_cast<std::size_t>(it - tokens.begin());
}

std::size_t nextToken(const std::vector<Token>& tokens, std::size_t i) {
  for (++i; i < tokens.size() && isComment(tokens[i]); ++i) {
  }
  return i;
}

// Index of the ')' matching the '(' at `open`.
std::size_t matchingParen(const std::vector<Token>& tokens, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < tokens.size(); ++i) {
    if (tokens[i].kind == kLParen)
      ++depth;
    else if (tokens[i].kind == kRParen && --depth == 0)
      return i;
  }
  throw std::logic_error("kluster::sql: unbalanced parentheses in scanner output");
}

// Byte offset just after the expression that starts at token `first` in a select list or
// RETURNING list: the expression ends before a ',' / ';' / unmatched ')' or the keyword that
// starts the next clause, at parenthesis depth 0.
std::size_t expressionEnd(const std::vector<Token>& tokens, std::size_t first) {
  int depth = 0;
  std::size_t last = first;
  std::size_t previous = first;
  for (std::size_t i = first; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (isComment(t)) continue;
    if (t.kind == kLParen || t.kind == kLBracket) {
      ++depth;
    } else if (t.kind == kRParen || t.kind == kRBracket) {
      if (depth == 0) break;
      --depth;
    } else if (depth == 0 && i != first) {
      bool stop = t.kind == kComma || t.kind == kSemicolon;
      switch (t.kind) {
      case kInto:
      case kWhere:
      case kHaving:
      case kWindow:
      case kOrder:
      case kLimit:
      case kOffset:
      case kFetch:
      case kFor:
      case kUnion:
      case kIntersect:
      case kExcept:
      case kOn:
      case kReturning: stop = true; break;
      case kFrom: // but not IS [NOT] DISTINCT FROM
        stop = tokens[previous].kind != kDistinct;
        break;
      case kGroup: // but not WITHIN GROUP
        stop = tokens[previous].kind != kWithin;
        break;
      case kWith: { // but not WITH TIME ZONE
        const std::size_t next = nextToken(tokens, i);
        stop = next >= tokens.size() || (tokens[next].kind != kTime && tokens[next].kind != kOrdinality);
        break;
      }
      default: break;
      }
      if (stop) break;
    }
    last = i;
    previous = i;
  }
  return static_cast<std::size_t>(tokens[last].end);
}

struct Edit {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;
};

std::string quoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (const char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

bool joinsWithNeighbour(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '_' || c == '$' || c == '\'' || c == '"' || u >= 0x80;
}

std::string applyEdits(std::string_view sql, std::vector<Edit>& edits) {
  std::stable_sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(sql.size() + edits.size() * 48);
  std::size_t pos = 0;
  for (std::size_t i = 0; i < edits.size(); ++i) {
    const Edit& e = edits[i];
    if (e.begin < pos) throw std::logic_error("kluster::sql: overlapping rewrites");
    out.append(sql.substr(pos, e.begin - pos));
    // Keep tokens apart: "now()FROM" must not become "...::timestamptzFROM".
    if (!out.empty() && !e.text.empty() && joinsWithNeighbour(out.back()) && joinsWithNeighbour(e.text.front())) {
      out += ' ';
    }
    out += e.text;
    const bool nextEditHere = i + 1 < edits.size() && edits[i + 1].begin == e.end;
    if (!nextEditHere && e.end < sql.size() && !e.text.empty() && joinsWithNeighbour(e.text.back()) &&
        joinsWithNeighbour(sql[e.end])) {
      out += ' ';
    }
    pos = e.end;
  }
  out.append(sql.substr(pos));
  return out;
}

std::string pinParsed(std::string_view sql, std::int64_t epochMillis, Parsed& parsed, bool castSyntax) {
  const Collector& c = parsed.collector;
  std::vector<const TimeSite*> sites;
  std::unordered_set<int> seen;
  std::unordered_set<int> pinnedCalls; // FuncCall/SQLValueFunction locations being replaced
  for (const TimeSite& site : c.sites) {
    if (site.kind != SiteKind::Literal && site.stored) continue;
    if (!seen.insert(site.location).second) continue; // a node reachable twice in the tree
    sites.push_back(&site);
    if (site.kind != SiteKind::Literal) pinnedCalls.insert(site.location);
  }
  if (sites.empty()) return std::string(sql);

  checkInstantRange(epochMillis);
  const CivilTime instant = civilFromMillis(epochMillis);
  const std::string sqlz(sql);
  const std::vector<Token> tokens = scanTokens(sqlz);
  std::vector<Edit> edits;

  for (const TimeSite* site : sites) {
    const std::size_t first = tokenAt(tokens, site->location);
    std::size_t last = first;
    std::string literal;
    if (site->kind == SiteKind::Function) {
      std::size_t open = first;
      while (open < tokens.size() && tokens[open].kind != kLParen) ++open;
      last = matchingParen(tokens, open);
      literal = literalText(instant, TimeType::Timestamptz);
    } else if (site->kind == SiteKind::Keyword) {
      if (site->precision >= 0) {
        const std::size_t open = nextToken(tokens, first);
        if (open >= tokens.size() || tokens[open].kind != kLParen) {
          throw std::logic_error("kluster::sql: expected '(' after a current-time keyword");
        }
        last = matchingParen(tokens, open);
      }
      literal = literalText(instant, site->type);
    } else {
      if (tokens[first].kind != kSconst && tokens[first].kind != kUSconst) {
        throw std::logic_error("kluster::sql: expected a string constant");
      }
      if (tokens[first].kind == kUSconst) { // U&'...' UESCAPE '!'
        const std::size_t next = nextToken(tokens, first);
        if (next < tokens.size() && tokens[next].kind == kUescape) last = nextToken(tokens, next);
      }
      if (last >= tokens.size()) throw std::logic_error("kluster::sql: truncated UESCAPE clause");
      if (site->wholeInstant) {
        literal = literalText(instant, TimeType::Timestamptz);
      } else {
        constexpr std::int64_t kDay = 86'400'000;
        const std::int64_t midnight = (floorDiv(epochMillis, kDay) + site->dayOffset) * kDay;
        checkInstantRange(midnight);
        literal = literalText(civilFromMillis(midnight), TimeType::Timestamptz);
        literal.replace(literal.find('.'), 4, ""); // midnight: no milliseconds
      }
      edits.push_back({static_cast<std::size_t>(tokens[first].start), static_cast<std::size_t>(tokens[last].end),
                       fmt::format("'{}'", literal)});
      continue;
    }

    std::string type(site->kind == SiteKind::Function ? "timestamptz" : typeName(site->type));
    if (site->precision >= 0) type += fmt::format("({})", site->precision);
    const bool inFrom = site->rangeFunction != nullptr;
    std::string text =
        inFrom || castSyntax ? fmt::format("CAST('{}' AS {})", literal, type) : fmt::format("'{}'::{}", literal, type);
    std::size_t end = static_cast<std::size_t>(tokens[last].end);
    edits.push_back({static_cast<std::size_t>(tokens[first].start), end, std::move(text)});

    // A FROM item keeps its name (and so its column name) through an alias.
    if (inFrom && !site->rangeFunction->contains("alias") && !boolField(*site->rangeFunction, "is_rowsfrom")) {
      if (boolField(*site->rangeFunction, "ordinality")) { // ... WITH ORDINALITY AS "now"
        const std::size_t with = nextToken(tokens, last);
        const std::size_t ord = with < tokens.size() ? nextToken(tokens, with) : tokens.size();
        if (ord < tokens.size() && (tokens[with].kind == kWith || tokens[with].kind == kWithLa) &&
            tokens[ord].kind == kOrdinality) {
          end = static_cast<std::size_t>(tokens[ord].end);
        }
      }
      edits.push_back({end, end, " AS " + quoteIdentifier(site->fromName)});
    }
  }

  // Select-list / RETURNING entries whose figured column name would change get an alias.
  for (const UnnamedTarget& target : c.targets) {
    const FiguredName before = figureColname(*target.val, nullptr);
    const FiguredName after = figureColname(*target.val, &pinnedCalls);
    const std::string beforeName = before.strength > 0 ? before.name : "?column?";
    const std::string afterName = after.strength > 0 ? after.name : "?column?";
    if (beforeName == afterName) continue;
    const std::size_t end = expressionEnd(tokens, tokenAt(tokens, target.location));
    edits.push_back({end, end, " AS " + quoteIdentifier(beforeName)});
  }

  return applyEdits(sql, edits);
}

} // namespace

Analysis analyze(std::string_view sql) {
  return onParserStack(sql.size(), [&] { return parseAndCollect(sql).analysis; });
}

bool isReadOnly(std::string_view sql) noexcept {
  try {
    return analyze(sql).readOnly;
  } catch (...) {
    return false;
  }
}

std::string pinCurrentTime(std::string_view sql, std::int64_t epochMillis) {
  return onParserStack(sql.size(), [&] {
    Parsed parsed = parseAndCollect(sql);
    std::string pinned = pinParsed(sql, epochMillis, parsed, false);
    if (pinned.size() == sql.size() && pinned == sql) return pinned;
    // Check that the rewrite parses. Every site was replaced (or an exception thrown), and the
    // edits never add or remove statements, so parsing is the check that is left. The "::" form
    // is not valid where the grammar wants a plain c_expr (e.g. FETCH FIRST n ROWS); CAST(...)
    // is valid wherever a function call is, so retry with it.
    if (parses(pinned)) return pinned;
    pinned = pinParsed(sql, epochMillis, parsed, true);
    if (parses(pinned)) return pinned;
    throw std::logic_error(fmt::format("kluster::sql: could not pin the current time in: {}", sql));
  });
}

} // namespace kluster::sql
