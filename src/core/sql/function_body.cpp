// Determinism by closure: the body of a user-defined function judged with the rules of a write's statements
// (see function_body.hpp). SQL bodies are parsed as statements; PL/pgSQL bodies with PostgreSQL's own PL/pgSQL
// parser (libpg_query), whose every SQL statement and expression is then parsed and judged the same way.
#include "core/sql/function_body.hpp"

#include "core/sql/parse_tree.hpp"

#include <pg_query.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

namespace kluster::sql {

namespace {

using detail::json;

// In a body these are not pinned: each node's own transaction or statement time.
constexpr std::string_view kOwnClock[] = {"now", "statement_timestamp", "transaction_timestamp"};
// Drawn per call, in the order calls happen, which the statement running the body decides (rows in each node's own
// physical order): the request's seed and sequence positions are the same everywhere, the order is not.
constexpr std::string_view kDrawnPerCall[] = {"nextval", "random", "setseed", "setval"};

template <std::size_t N> bool contains(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

constexpr const char* kRowsInOrder =
    "the function takes the query's rows in the order they come, and nodes store their rows in different physical "
    "orders: a loop would run its steps, or a caller receive the rows, in a different order on each node";
constexpr const char* kRowsInOrderHint =
    "add an ORDER BY that covers a unique NOT NULL key (e.g. the primary key) of every table the query reads";

class BodyJudge {
public:
  FunctionBody out;
  std::string inside = "inside a function"; // where the judged statements are, for messages

  void refuse(std::string message, std::string hint, bool opaque = false) {
    if (out.refusal) return;
    out.refusal = Refusal{std::move(message), std::move(hint)};
    out.opaque = opaque;
  }
  void opaque(const std::string& why) {
    refuse(why,
           "write the body in SQL or PL/pgSQL without EXECUTE, or, if it is deterministic, have an operator "
           "vouch for it through ALL: CALL _kluster.trust_function('name(argument types)')",
           true);
  }

  // SQL text of one or more statements; `rowsInOrder`: what consumes their rows in the order they come (a FOR loop,
  // RETURN QUERY, a cursor), so that order must be total; `firstRow` (SELECT ... INTO: the first row is kept): the
  // function's variables.
  void sqlText(const std::string& text, std::string_view rowsInOrder = {},
               const std::set<std::string>* firstRow = nullptr) {
    const json tree = detail::parseTree(text);
    if (const json* stmts = detail::field(tree, "stmts"); stmts != nullptr && stmts->is_array())
      for (const json& raw : *stmts)
        if (const json* stmt = detail::field(raw, "stmt")) statement(*stmt, rowsInOrder, firstRow);
  }

  // One statement node ({"InsertStmt": {...}}), judged as a write: whatever it is, it feeds one.
  void statement(const json& stmt, std::string_view rowsInOrder = {}, const std::set<std::string>* firstRow = nullptr) {
    const auto [type, body] = detail::unwrap(stmt);
    if (body == nullptr) return;
    detail::Collector c;
    c.walk(stmt, {});
    Analysis a;
    detail::checkDeterminism(type, stmt, true, a);
    if (firstRow != nullptr)
      detail::requireRowOrder(
          stmt, "SELECT ... INTO",
          "PL/pgSQL keeps the first row the query finds, and nodes store their rows in different physical orders: "
          "each node could keep a different row",
          "add an ORDER BY that covers a unique NOT NULL key of every table the query reads, select one row by a "
          "unique key (WHERE id = ...), aggregate (SELECT count(*) ...), or write SELECT ... INTO STRICT (several "
          "rows are then an error on every node)",
          a, firstRow);
    else if (!rowsInOrder.empty())
      detail::requireRowOrder(stmt, std::string(rowsInOrder), kRowsInOrder, kRowsInOrderHint, a);
    detail::collectJoinWrites(stmt, a);
    if (a.nondeterministic) refuse(a.nondeterministic->message, a.nondeterministic->hint);
    if (auto access = detail::serverAccess(type, *body)) refuse(access->message, access->hint);
    for (const detail::TimeSite& site : c.sites)
      if (!site.stored)
        refuse(fmt::format("the current time (now(), CURRENT_TIMESTAMP & co.) {} is each node's own transaction "
                           "time, not the request's: nodes would compute different values",
                           inside),
               "pass the time to the function as an argument from the request (now() in the request itself is the "
               "request's time, the same on every node)");
    if (!c.uuidSites.empty())
      refuse(fmt::format("gen_random_uuid() {} draws from each node's own random source", inside),
             "call gen_random_uuid() in the request itself (it draws the same UUIDs on every node) and pass the value "
             "to the function as an argument");
    for (const std::string& f : c.functions) {
      if (contains(kOwnClock, f))
        refuse(fmt::format("{}() {} is each node's own transaction time, not the request's", f, inside),
               "pass the time to the function as an argument from the request");
      if (contains(kDrawnPerCall, f) && out.draws.empty()) out.draws = f + "()";
      out.functions.push_back(f);
    }
    collectInserts(stmt);
    if (!c.aggregateSites.empty()) out.ordersAggregates = true;
    for (TableRef& t : a.writeTargets) out.writeTargets.push_back(std::move(t));
    for (TableRef& t : a.reads) out.reads.push_back(std::move(t));
    for (OrderRequirement& r : a.orderRequirements) out.orderRequirements.push_back(std::move(r));
    for (JoinWrite& j : a.joinWrites) out.joinWrites.push_back(std::move(j));
  }

  // INSERT statements anywhere in `stmt` (CTEs too): their tables and the columns they give.
  void collectInserts(const json& stmt) {
    std::vector<const json*> pending{&stmt};
    while (!pending.empty()) {
      const json* v = pending.back();
      pending.pop_back();
      if (v->is_object()) {
        if (const json* insert = detail::field(*v, "InsertStmt"); insert != nullptr && insert->is_object())
          if (const json* rel = detail::field(*insert, "relation")) {
            OrderRequirement::Defaults d;
            d.target = {std::string(detail::stringField(*rel, "schemaname")),
                        std::string(detail::stringField(*rel, "relname")),
                        {}};
            if (const json* cols = detail::field(*insert, "cols"); cols != nullptr && cols->is_array()) {
              d.listed = !cols->empty();
              for (const json& c : *cols)
                if (const auto [ct, cb] = detail::unwrap(c); ct == "ResTarget")
                  d.given.emplace_back(detail::stringField(*cb, "name"));
            }
            out.inserts.push_back(std::move(d));
          }
      }
      if (v->is_structured())
        for (const json& child : *v)
          if (child.is_structured()) pending.push_back(&child);
    }
  }

  // A PL/pgSQL expression's text: a statement (INSERT ..., SELECT ... with its INTO taken out), an assignment
  // ("NEW.total := NEW.a + NEW.b", "x = 1") or an expression ("x > 0").
  void plpgsqlExpression(const std::string& query, bool assignment, std::string_view rowsInOrder = {},
                         const std::set<std::string>* firstRow = nullptr) {
    if (!rowsInOrder.empty() || firstRow != nullptr) return sqlText(query, rowsInOrder, firstRow);
    if (assignment) {
      std::size_t at = query.find(":=");
      std::size_t skip = 2;
      if (at == std::string::npos) at = query.find('='), skip = 1;
      if (at == std::string::npos) return opaque("an assignment in the PL/pgSQL body cannot be read");
      return sqlText("SELECT " + query.substr(at + skip));
    }
    if (detail::parses(query)) return sqlText(query);
    sqlText("SELECT " + query);
  }

  void plpgsql(std::string definition, const std::string& source) {
    // Cursor statements, which the parser cannot read, are replaced (plpgsql_cursors.cpp); what they run is judged.
    if (const std::size_t at = source.empty() ? std::string::npos : definition.rfind(source); at != std::string::npos) {
      detail::CursorStatements cursors = detail::rewriteCursorStatements(source);
      if (cursors.dynamic)
        return opaque("the function opens a cursor for dynamic SQL (OPEN ... FOR EXECUTE), which Kluster cannot judge "
                      "before it runs");
      definition.replace(at, source.size(), cursors.source);
      for (const std::string& q : cursors.queries) sqlText(q, "OPEN ... FOR query (a cursor's rows)");
      for (const std::string& e : cursors.expressions) sqlText(e);
    }
    PgQueryPlpgsqlParseResult result = pg_query_parse_plpgsql(definition.c_str());
    struct Free {
      PgQueryPlpgsqlParseResult& r;
      ~Free() { pg_query_free_plpgsql_parse_result(r); }
    } freeResult{result};
    if (result.error != nullptr || result.plpgsql_funcs == nullptr)
      return opaque(fmt::format("the PL/pgSQL body cannot be read by Kluster's parser ({})",
                                result.error != nullptr && result.error->message != nullptr ? result.error->message
                                                                                            : "no function"));
    const json funcs = json::parse(result.plpgsql_funcs);
    // The function's variables (arguments, declarations, loop variables, NEW and OLD): values in its queries.
    std::set<std::string> variables;
    detail::forEachMember(funcs, [&](const std::string& key, const json& value) {
      if ((key == "PLpgSQL_var" || key == "PLpgSQL_rec") && value.is_object())
        variables.insert(detail::lowerAscii(detail::stringField(value, "refname")));
      return true;
    });
    struct Item {
      const json* value;
      std::string_view owner;          // the nearest enclosing node type
      const json* ownerBody = nullptr; // its body
      std::string_view key;            // the member this value is in
    };
    std::vector<Item> stack{{&funcs, {}, nullptr, {}}};
    while (!stack.empty()) {
      const Item item = stack.back();
      stack.pop_back();
      if (item.value->is_array()) {
        for (auto it = item.value->rbegin(); it != item.value->rend(); ++it)
          if (it->is_structured()) stack.push_back({&*it, item.owner, item.ownerBody, item.key});
        continue;
      }
      if (!item.value->is_object()) continue;
      std::vector<Item> children;
      for (auto it = item.value->begin(); it != item.value->end(); ++it) {
        const std::string& key = it.key();
        if (key == "PLpgSQL_stmt_dynexecute" || key == "PLpgSQL_stmt_dynfors" || key == "dynquery")
          return opaque("the function runs dynamic SQL (EXECUTE), which Kluster cannot judge before it runs");
        if (key == "PLpgSQL_expr" && it.value().is_object()) {
          const std::string_view query = detail::stringField(it.value(), "query");
          // The query of FOR ... IN query LOOP, of RETURN QUERY and of a cursor gives its rows in order; a SELECT
          // ... INTO without STRICT keeps the first.
          const std::string_view rowsInOrder = item.owner == "PLpgSQL_stmt_fors"           ? "FOR ... IN query LOOP"
                                               : item.owner == "PLpgSQL_stmt_return_query" ? "RETURN QUERY"
                                               : item.owner == "PLpgSQL_var" && item.key == "cursor_explicit_expr"
                                                   ? "a cursor's query"
                                                   : "";
          const bool firstRow = item.owner == "PLpgSQL_stmt_execsql" && item.ownerBody != nullptr &&
                                detail::boolField(*item.ownerBody, "into") &&
                                !detail::boolField(*item.ownerBody, "strict");
          plpgsqlExpression(std::string(query), item.owner == "PLpgSQL_stmt_assign", rowsInOrder,
                            firstRow ? &variables : nullptr);
          continue;
        }
        if (!it.value().is_structured()) continue;
        const bool typed = detail::isNodeTypeName(key) && it.value().is_object();
        if (typed)
          children.push_back({&it.value(), std::string_view(key), &it.value(), {}});
        else
          children.push_back({&it.value(), item.owner, item.ownerBody, std::string_view(key)});
      }
      for (auto it = children.rbegin(); it != children.rend(); ++it) stack.push_back(*it); // in text order
    }
  }

  // SQL-standard bodies: the statements of CREATE FUNCTION's sql_body (BEGIN ATOMIC ... END, or RETURN expr).
  void sqlStandard(const std::string& definition) {
    const json tree = detail::parseTree(definition);
    const json* stmts = detail::field(tree, "stmts");
    if (stmts == nullptr || !stmts->is_array() || stmts->size() != 1)
      return opaque("the SQL function's definition cannot be read");
    const json* stmt = detail::field((*stmts)[0], "stmt");
    const auto [type, create] = stmt != nullptr ? detail::unwrap(*stmt) : std::pair<std::string_view, const json*>{};
    const json* body = create != nullptr ? detail::field(*create, "sql_body") : nullptr;
    if (type != "CreateFunctionStmt" || body == nullptr) return opaque("the SQL function's body cannot be read");
    std::vector<const json*> pending{body};
    while (!pending.empty()) {
      const json* node = pending.back();
      pending.pop_back();
      const auto [t, b] = detail::unwrap(*node);
      if (t == "List") {
        if (const json* items = detail::field(*b, "items"); items != nullptr && items->is_array())
          for (auto it = items->rbegin(); it != items->rend(); ++it) pending.push_back(&*it);
      } else if (b != nullptr) {
        statement(*node);
      }
    }
  }
};

} // namespace

FunctionBody analyzeFunctionBody(std::string_view language, std::string_view source, std::string_view definition) {
  const std::string lang = detail::lowerAscii(language);
  BodyJudge judge;
  try {
    detail::onParserStack(source.size() + definition.size(), [&] {
      if (lang == "sql") {
        const bool empty = std::all_of(source.begin(), source.end(),
                                       [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
        if (empty) {
          judge.sqlStandard(std::string(definition));
        } else {
          detail::checkText(source);
          judge.sqlText(std::string(source));
        }
      } else if (lang == "plpgsql") {
        detail::checkText(definition);
        judge.plpgsql(std::string(definition), std::string(source));
      } else {
        judge.opaque(fmt::format("the function is written in {}, whose code Kluster cannot judge", language));
      }
      return 0;
    });
  } catch (const std::exception& e) {
    judge.opaque(fmt::format("the function's body cannot be read ({})", e.what()));
  }
  FunctionBody out = std::move(judge.out);
  std::sort(out.functions.begin(), out.functions.end());
  out.functions.erase(std::unique(out.functions.begin(), out.functions.end()), out.functions.end());
  return out;
}

namespace {

// Runs `judge` on the parser's stack; a text that cannot be read is refused (`what`: "the view's query").
FunctionBody judgeText(BodyJudge& judge, std::string_view text, const char* what,
                       const std::function<void(const std::string&)>& run) {
  try {
    detail::onParserStack(text.size(), [&] {
      detail::checkText(text);
      run(std::string(text));
      return 0;
    });
  } catch (const std::exception& e) {
    judge.refuse(fmt::format("Kluster cannot read {} ({})", what, e.what()),
                 "write it in SQL Kluster reads, or leave it out of writes on ALL");
  }
  FunctionBody out = std::move(judge.out);
  std::sort(out.functions.begin(), out.functions.end());
  out.functions.erase(std::unique(out.functions.begin(), out.functions.end()), out.functions.end());
  return out;
}

bool readsNewOrOld(const json& node) {
  bool reads = false;
  detail::forEachMember(node, [&](const std::string& key, const json& value) {
    if (key == "ColumnRef" && value.is_object()) {
      const json* fields = detail::field(value, "fields");
      if (fields != nullptr && fields->is_array() && fields->size() >= 2) {
        const std::string_view first = detail::stringNode((*fields)[0]);
        reads = reads || first == "new" || first == "old";
      }
    }
    return !reads;
  });
  return reads;
}

} // namespace

FunctionBody analyzeViewQuery(std::string_view query) {
  BodyJudge judge;
  judge.inside = "inside a view";
  FunctionBody out = judgeText(judge, query, "the view's query", [&](const std::string& text) { judge.sqlText(text); });
  if (!out.refusal && !out.draws.empty())
    out.refusal = Refusal{fmt::format("{} in a view is evaluated each time a plan reads the view, which differs "
                                      "between nodes' plans: nodes would draw different values",
                                      out.draws),
                          "draw the values in the write itself (random() there is seeded, and sequences are drawn "
                          "alike), and keep the view to what the data decides"};
  return out;
}

FunctionBody analyzeRule(std::string_view definition) {
  BodyJudge judge;
  judge.inside = "in a rule";
  return judgeText(judge, definition, "the rule", [&](const std::string& text) {
    const json tree = detail::parseTree(text);
    const json* stmts = detail::field(tree, "stmts");
    const json* stmt =
        stmts != nullptr && stmts->is_array() && stmts->size() == 1 ? detail::field((*stmts)[0], "stmt") : nullptr;
    const auto [type, rule] = stmt != nullptr ? detail::unwrap(*stmt) : std::pair<std::string_view, const json*>{};
    if (type != "RuleStmt") throw std::runtime_error("not a CREATE RULE statement");
    if (const json* where = detail::field(*rule, "whereClause")) judge.statement(*where);
    if (const json* actions = detail::field(*rule, "actions"); actions != nullptr && actions->is_array())
      for (const json& action : *actions) {
        judge.statement(action);
        const auto [at, ab] = detail::unwrap(action);
        if (at == "UpdateStmt")
          if (const json* set = detail::field(*ab, "targetList"); set != nullptr && readsNewOrOld(*set))
            judge.refuse("an UPDATE in a rule runs joined with the rows the write changes, and when several of them "
                         "meet one row it takes the NEW or OLD values of whichever its plan meets first, which "
                         "differs between nodes",
                         "set values that do not depend on which changed row is taken (SET n = n + 1, or a subquery "
                         "ordered by a unique key), or do the work in the write itself");
      }
  });
}

namespace detail {

void checkDoBlock(const json& body, Analysis& out, std::vector<std::string>& functions) {
  std::string language = "plpgsql", code;
  if (const json* args = field(body, "args"); args != nullptr && args->is_array())
    for (const json& a : *args)
      if (const auto [t, b] = unwrap(a); t == "DefElem") {
        const json* arg = field(*b, "arg");
        if (arg == nullptr) continue;
        if (stringField(*b, "defname") == "as") code = std::string(stringNode(*arg));
        if (stringField(*b, "defname") == "language") language = lowerAscii(stringNode(*arg));
      }
  // The block as the function PostgreSQL runs it: a PL/pgSQL body without arguments.
  std::string tag = "$kluster_do$";
  while (code.find(tag) != std::string::npos) tag.insert(tag.size() - 1, "_");
  const std::string definition =
      "CREATE FUNCTION kluster_do() RETURNS void LANGUAGE " + language + " AS " + tag + code + tag;
  FunctionBody judged = analyzeFunctionBody(language, code, definition);
  if (judged.refusal && !out.nondeterministic)
    out.nondeterministic = Refusal{"in the DO block: " + judged.refusal->message, judged.refusal->hint};
  functions.insert(functions.end(), judged.functions.begin(), judged.functions.end());
  for (TableRef& t : judged.writeTargets) out.writeTargets.push_back(std::move(t));
  for (TableRef& t : judged.reads) out.reads.push_back(std::move(t));
  for (OrderRequirement& r : judged.orderRequirements) out.orderRequirements.push_back(std::move(r));
  for (JoinWrite& j : judged.joinWrites) out.joinWrites.push_back(std::move(j));
}

} // namespace detail

} // namespace kluster::sql
