// The determinism rules: the walk over a statement that finds what its effect could depend on besides the
// database contents and the request (row order, system columns, object ids, catalogs, the backend's session).
// The function and setting lists are in function_lists.cpp.
#include "core/sql/determinism.hpp"

#include "core/sql/parse_tree.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

namespace kluster::sql {

namespace {

template <std::size_t N> bool contains(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// Functions whose result depends on the order rows reach them.
constexpr std::string_view kOrderSensitiveAggregates[] = {
    "any_value",      "array_agg", "json_agg",         "json_arrayagg", "json_object_agg",
    "json_objectagg", "jsonb_agg", "jsonb_object_agg", "string_agg",    "xmlagg"};
constexpr std::string_view kOrderSensitiveWindow[] = {"first_value", "lag",   "last_value", "lead",
                                                      "nth_value",   "ntile", "row_number"};

// System columns every table has: physical (ctid), per transaction (xmin, xmax, cmin, cmax) or
// object ids (tableoid).
constexpr std::string_view kSystemColumns[] = {"cmax", "cmin", "ctid", "tableoid", "xmax", "xmin"};

// Types whose values are object ids, different on every node.
constexpr std::string_view kOidTypes[] = {"oid",          "regclass", "regcollation", "regconfig", "regdictionary",
                                          "regnamespace", "regoper",  "regoperator",  "regproc",   "regprocedure",
                                          "regrole",      "regtype",  "xid"};

constexpr int kFrameRows = 0x4;                // FRAMEOPTION_ROWS
constexpr int kFrameGroups = 0x8;              // FRAMEOPTION_GROUPS
constexpr std::int64_t kCursorWithHold = 0x20; // CURSOR_OPT_HOLD

} // namespace

namespace detail {

namespace {

bool isNullConst(const json& node) {
  const auto [type, body] = unwrap(node);
  return type == "A_Const" && boolField(*body, "isnull");
}

bool isZeroConst(const json& node) {
  const auto [type, body] = unwrap(node);
  if (type != "A_Const") return false;
  const json* ival = constantValue(*body, "ival");
  return ival != nullptr && intField(*ival, "ival") == 0;
}

class Checker {
public:
  Checker(bool write, Analysis& out) : write_(write), out_(out) {}

  void run(std::string_view type, const json& stmt) {
    collectCteNames(stmt);
    if (type == "UpdateStmt" || type == "DeleteStmt" || type == "MergeStmt") rowsScanned_ = true;
    if (type == "VariableSetStmt") variableSet(*unwrap(stmt).second);
    if (type == "CreateFunctionStmt") functionTimingSettings(*unwrap(stmt).second, "options");
    if (type == "AlterFunctionStmt") functionTimingSettings(*unwrap(stmt).second, "actions");
    if (type == "PrepareStmt" || type == "ExecuteStmt" || type == "DeallocateStmt") {
      sessionState("prepared statements live in the node connection's session: a node that reconnected would not "
                   "have it",
                   "send the statement itself with its parameters (Kluster prepares repeated statements by itself)");
    }
    if (type == "DeclareCursorStmt" && (intField(*unwrap(stmt).second, "options") & kCursorWithHold) != 0) {
      sessionState("a cursor WITH HOLD would outlive the request in the node connection's session",
                   "read the rows in the request itself (SELECT ... ORDER BY ... LIMIT), without a held cursor");
    }
    if (const json* rel = temporaryRelation(type, *unwrap(stmt).second)) {
      refuse(fmt::format("the temporary table {} would live in the node connection's session beyond the request, "
                         "and vanish on a node that reconnected",
                         stringField(*rel, "relname")),
             "use ON COMMIT DROP (it lives for the request only), or a regular table");
    }
    if (type == "AlterTableStmt") alterTableRule(*unwrap(stmt).second);
    if (type == "RefreshMatViewStmt")
      if (const json* rel = field(*unwrap(stmt).second, "relation")) addRef(*rel, out_.refreshes);
    if (type == "TruncateStmt")
      if (const json* rels = field(*unwrap(stmt).second, "relations"); rels != nullptr && rels->is_array())
        for (const json& r : *rels)
          if (const auto [rt, rb] = unwrap(r); rt == "RangeVar") target(*rb);
    walk(stmt);
    if (write_ && !drawn_.empty() && (type == "UpdateStmt" || type == "DeleteStmt" || type == "MergeStmt")) {
      refuse(fmt::format("{}() in an UPDATE, DELETE or MERGE would be evaluated per row in each node's own "
                         "physical row order: rows would get different values on different nodes",
                         drawn_),
             "draw the values with INSERT ... SELECT ... ORDER BY a unique key, or compute them in the client");
    }
    if (write_ && rowsScanned_) out_.scansRows = true;
    if (write_ && randomCalled_ && rowsScanned_) {
      refuse("random() would be evaluated once per row in each node's own physical row order: rows would get "
             "different values on different nodes",
             "compute the values in the client, or derive them from the row (e.g. md5(id::text)) instead of random()");
    }
  }

  // Something consumes the rows of `stmt` (a SELECT) in the order they come: their order must be total.
  // `values` (PL/pgSQL's SELECT ... INTO, which keeps the first row): the names that are values, not columns (the
  // function's variables); a query that finds one row at most (an aggregate without GROUP BY, a unique key equated
  // with values) needs no order.
  void rowOrder(const json& stmt, std::string what, std::string why, std::string hint,
                const std::set<std::string>* values) {
    const auto [t, select] = unwrap(stmt);
    if (t != "SelectStmt" || select == nullptr || field(*select, "valuesLists")) return;
    collectCteNames(stmt);
    OrderRequirement req;
    req.what = std::move(what);
    req.why = std::move(why);
    req.hint = std::move(hint);
    const std::string_view op = stringField(*select, "op");
    bool onlyRowSource = false;
    if ((!op.empty() && op != "SETOP_NONE") || !fromTables(*select, req.tables, onlyRowSource)) req.unordered = true;
    if (!req.unordered && req.tables.empty()) return; // one row, or rows from a function in its own order
    addSortColumns(field(*select, "sortClause"), *select, req.columns);
    if (values != nullptr) {
      if (isOneRowAggregate(*select)) return;
      addPinnedColumns(field(*select, "whereClause"), *values, req.columns); // constant over the rows found
    }
    out_.orderRequirements.push_back(std::move(req));
  }

private:
  struct Item {
    const json* value;
    const json* select; // the innermost enclosing SelectStmt body
    std::string_view nodeType;
  };

  void refuse(std::string message, std::string hint) {
    if (!out_.nondeterministic) out_.nondeterministic = Refusal{std::move(message), std::move(hint)};
  }
  // Refused on ONE as well: the node's read connections are shared by every client's reads.
  void sessionState(std::string message, std::string hint) {
    if (!out_.sessionState) out_.sessionState = Refusal{message, hint};
    refuse(std::move(message), std::move(hint));
  }

  void collectCteNames(const json& root) {
    std::vector<const json*> stack{&root};
    while (!stack.empty()) {
      const json* v = stack.back();
      stack.pop_back();
      if (v->is_object()) {
        if (const json* cte = field(*v, "CommonTableExpr")) ctes_.insert(std::string(stringField(*cte, "ctename")));
        for (const auto& [key, child] : v->items())
          if (child.is_structured()) stack.push_back(&child);
      } else if (v->is_array()) {
        for (const json& child : *v)
          if (child.is_structured()) stack.push_back(&child);
      }
    }
  }

  // CREATE TEMP TABLE / TEMP ... AS / TEMP VIEW / TEMP SEQUENCE that outlives its transaction.
  static const json* temporaryRelation(std::string_view type, const json& body) {
    const json* rel = nullptr;
    if (type == "CreateStmt" || type == "CreateSeqStmt") rel = field(body, "relation");
    if (type == "ViewStmt") rel = field(body, "view");
    if (type == "CreateTableAsStmt")
      if (const json* into = field(body, "into")) rel = field(*into, "rel");
    if (rel == nullptr || stringField(*rel, "relpersistence") != "t") return nullptr;
    const json* owner = type == "CreateTableAsStmt" ? field(body, "into") : &body;
    const char* key = type == "CreateTableAsStmt" ? "onCommit" : "oncommit";
    if (owner != nullptr && stringField(*owner, key) == "ONCOMMIT_DROP") return nullptr;
    return rel;
  }

  void variableSet(const json& body) {
    const std::string_view kind = stringField(body, "kind");
    if (boolField(body, "is_local") && (kind == "VAR_SET_VALUE" || kind == "VAR_SET_MULTI")) {
      if (const std::string name = lowerAscii(stringField(body, "name")); isTimingSetting(name))
        refuse(fmt::format("SET LOCAL {} would make the request fail on a node that runs it slower (or with less "
                           "room) than another, which applies it",
                           name),
               "leave it out: a write either applies on every node or fails on every node; the client bounds its own "
               "wait (the request's timeout)");
      return;
    }
    sessionState("SET/RESET would change (or reset to this server's defaults) the node connection's settings beyond "
                 "the request, differently on a node that reconnected",
                 "use SET LOCAL name = value inside the request: it applies to that request only");
  }

  // CREATE/ALTER FUNCTION ... SET name = value: the function runs under that setting wherever it is called.
  void functionTimingSettings(const json& body, const char* listKey) {
    for (const auto& name : functionSettings(body, listKey))
      if (isTimingSetting(name))
        refuse(fmt::format("a function that sets {} fails a write that calls it on a node that runs it slower (or "
                           "with less room) than another, which applies it",
                           name),
               "leave the setting out of the function: a write either applies on every node or fails on every node");
  }

  void walk(const json& root) {
    std::vector<Item> stack{{&root, nullptr, {}}};
    while (!stack.empty()) {
      const Item item = stack.back();
      stack.pop_back();
      const json& v = *item.value;
      if (!item.nodeType.empty()) {
        node(item.nodeType, v, item.select, stack);
      } else if (v.is_array()) {
        for (const json& e : v)
          if (e.is_structured()) stack.push_back({&e, item.select, {}});
      } else if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
          if (!it.value().is_structured()) continue;
          const bool typed = isNodeTypeName(it.key()) && it.value().is_object();
          stack.push_back({&it.value(), item.select, typed ? std::string_view(it.key()) : std::string_view()});
        }
      }
    }
  }

  void node(std::string_view type, const json& body, const json* select, std::vector<Item>& stack) {
    // Stored definitions are evaluated later, by whatever reads them (see docs/determinism.md, "Limits").
    if (type == "ViewStmt" || type == "CreateFunctionStmt" || type == "PrepareStmt" || type == "RuleStmt" ||
        type == "CreateTrigStmt" || type == "CreatePolicyStmt" || type == "AlterPolicyStmt")
      return;
    if (type == "SelectStmt") {
      select = &body;
      if (write_) selectRules(body);
      if (write_ && !out_.nondeterministic) out_.nondeterministic = drawnBeforeSort(body);
    } else if (type == "FuncCall") {
      funcCall(body, select);
    } else if (type == "InsertStmt" && write_) {
      insertRule(body);
    } else if (type == "DefElem") {
      cacheRule(body);
    } else if (type == "SQLValueFunction") {
      const std::string_view op = stringField(body, "op");
      if (op == "SVFOP_CURRENT_ROLE" || op == "SVFOP_CURRENT_USER" || op == "SVFOP_USER" ||
          op == "SVFOP_SESSION_USER" || op == "SVFOP_CURRENT_CATALOG") {
        refuse(fmt::format("{} names the node's own connection (role or database), which may differ between nodes",
                           sqlValueFunctionName(op)),
               "pass the value from the client");
      }
    } else if ((type == "LockingClause" && write_ && stringField(body, "waitPolicy") != "LockWaitBlock" &&
                !stringField(body, "waitPolicy").empty()) ||
               (type == "LockStmt" && boolField(body, "nowait"))) {
      refuse("SKIP LOCKED and NOWAIT depend on the locks other sessions hold on each node's database: one node would "
             "skip rows or fail where another waits",
             "leave out SKIP LOCKED / NOWAIT: Kluster applies the writes on ALL one after the other");
    } else if (type == "CurrentOfExpr" && write_) {
      refuse("WHERE CURRENT OF writes the row a cursor stands on, and a cursor's rows come in each node's own order",
             "update or delete the row by its key (WHERE id = ...)");
    } else if (type == "RangeTableSample" && write_) {
      refuse("TABLESAMPLE picks rows by their physical place in each node's own table files (even with "
             "REPEATABLE): nodes would pick different rows",
             "pick the rows by their values instead, e.g. WHERE abs(hashtext(id::text)) % 100 < 10, or ORDER BY a "
             "unique key with LIMIT");
    } else if (type == "RangeVar") {
      rowsScanned_ = true;
      if (write_) catalogRule(body);
      if (write_ &&
          !(stringField(body, "schemaname").empty() && ctes_.count(std::string(stringField(body, "relname")))))
        addRef(body, out_.reads);
    } else if (type == "ColumnRef" && write_) {
      if (const auto col = columnOfBody(body); col && contains(kSystemColumns, col->second)) {
        refuse(fmt::format("the system column {} differs between nodes (physical location, transaction ids, object "
                           "ids)",
                           col->second),
               "use the table's own key columns");
      }
    } else if (type == "TypeCast" && write_) {
      const json* tn = field(body, "typeName");
      if (tn != nullptr) {
        const std::string_view t = lastName(field(*tn, "names"));
        if (contains(kOidTypes, t) && !sequenceNames_.count(&body))
          refuse(fmt::format("a cast to {} produces object or transaction ids, which differ between nodes", t),
                 "refer to objects by name (text), not by id");
      }
    }
    for (auto it = body.begin(); it != body.end(); ++it) {
      if (!it.value().is_structured()) continue;
      std::string_view typed;
      if (type == "SelectStmt" && (it.key() == "larg" || it.key() == "rarg")) typed = "SelectStmt";
      if (it.key() == "relation" && it.value().is_object() && it.value().contains("relname")) {
        // INSERT/UPDATE/DELETE/MERGE targets: a plain RangeVar (not wrapped). An INSERT's is not scanned.
        if (type != "InsertStmt") rowsScanned_ = true;
        if (type == "InsertStmt" || type == "UpdateStmt" || type == "DeleteStmt" || type == "MergeStmt")
          target(it.value());
        if (write_) catalogRule(it.value());
        continue;
      }
      stack.push_back({&it.value(), select, typed});
    }
  }

  void target(const json& rangeVar) { addRef(rangeVar, out_.writeTargets); }

  static void addRef(const json& rangeVar, std::vector<TableRef>& refs) {
    TableRef t{std::string(stringField(rangeVar, "schemaname")), std::string(stringField(rangeVar, "relname")), {}};
    t.alias = t.name;
    for (const TableRef& known : refs)
      if (known.schema == t.schema && known.name == t.name) return;
    refs.push_back(std::move(t));
  }

  void catalogRule(const json& rangeVar) {
    const std::string_view schema = stringField(rangeVar, "schemaname");
    const std::string_view rel = stringField(rangeVar, "relname");
    if (schema == "pg_catalog" || schema == "information_schema" ||
        (schema.empty() && rel.substr(0, 3) == "pg_" && !ctes_.count(std::string(rel)))) {
      refuse(fmt::format("a write reads the catalog or statistics view {}: object ids, statistics and sizes differ "
                         "between nodes",
                         rel),
             "read the catalog in a separate request (e.g. on ONE) and pass the values you need");
    }
  }

  void funcCall(const json& body, const json* select) {
    const std::string name = std::string(lastName(field(body, "funcname")));
    const json* args = field(body, "args");
    if (name == "random") randomCalled_ = true;
    if ((name == "nextval" || name == "setval") && args != nullptr && args->is_array() && !args->empty()) {
      // nextval('s'::regclass), as PostgreSQL prints a sequence's name in views, rules and bodies: a name.
      if (const auto [ct, cast] = unwrap((*args)[0]);
          ct == "TypeCast" && field(*cast, "arg") != nullptr && unwrap(*field(*cast, "arg")).first == "A_Const")
        sequenceNames_.insert(cast);
    }
    if (name == "nextval" || name == "setval" || name == "gen_random_uuid") {
      if (drawn_.empty()) drawn_ = name;
      if (write_ && select != nullptr) { // per row of a scan: only in an order that is total
        std::vector<std::pair<std::string, std::string>> columns;
        addSortColumns(field(*select, "sortClause"), *select, columns);
        require(name + "() evaluated per row", *select, std::move(columns));
      }
    }
    if (name == "set_config") {
      refuse("set_config() changes the node connection's settings beyond the request (and beyond the batch it "
             "is applied in)",
             "use SET LOCAL name = value inside the request");
    }
    if (name == "current_setting") {
      std::string setting;
      if (args != nullptr && args->is_array() && !args->empty()) {
        const auto [t, b] = unwrap((*args)[0]);
        if (t == "A_Const")
          if (const json* s = constantValue(*b, "sval")) setting = lowerAscii(stringField(*s, "sval"));
      }
      if (!isPinnedSetting(setting)) {
        refuse(setting.empty() ? "current_setting() of a setting named at run time may read a setting Kluster "
                                 "does not pin"
                               : fmt::format("current_setting('{}') reads a setting Kluster does not pin: each "
                                             "node's server or database may have its own value",
                                             setting),
               "pass the value from the client, or SET LOCAL it in the same request and use it there");
      }
    }
    if (!write_ || select == nullptr) return;
    if (const json* over = field(body, "over")) {
      windowRule(name, *over, *select);
    } else if (contains(kOrderSensitiveAggregates, name) && !body.contains("agg_within_group")) {
      std::vector<std::pair<std::string, std::string>> columns;
      addSortColumns(field(body, "agg_order"), *select, columns);
      addExprColumns(field(*select, "groupClause"), columns);
      require(name + "()", *select, std::move(columns));
    }
  }

  // ALTER TABLE ... ADD COLUMN whose value is drawn per row (SERIAL, IDENTITY, a DEFAULT of nextval(), random() or
  // gen_random_uuid()), or ALTER COLUMN ... TYPE ... USING such an expression: PostgreSQL fills the existing rows
  // in its own physical order. Decided from the statement alone, so even on an empty table.
  void alterTableRule(const json& body) {
    const json* cmds = field(body, "cmds");
    if (cmds == nullptr || !cmds->is_array()) return;
    for (const json& c : *cmds) {
      const auto [t, cmd] = unwrap(c);
      if (t != "AlterTableCmd") continue;
      const std::string_view sub = stringField(*cmd, "subtype");
      if (sub != "AT_AddColumn" && sub != "AT_AlterColumnType") continue;
      const json* def = field(*cmd, "def");
      if (def == nullptr) continue;
      const auto [dt, column] = unwrap(*def);
      if (dt != "ColumnDef") continue;
      const std::string what = drawnPerRow(*column);
      if (what.empty()) continue;
      refuse(fmt::format("ALTER TABLE ... {} with {} fills the table's existing rows in each node's own physical "
                         "row order: they would get different values on different nodes",
                         sub == "AT_AddColumn" ? "ADD COLUMN" : "ALTER COLUMN ... TYPE ... USING", what),
             "add the column without it, fill it from each row's key (e.g. UPDATE ... FROM (SELECT id, row_number() "
             "OVER (ORDER BY id) ...)), then ALTER COLUMN ... SET DEFAULT or ADD GENERATED ... AS IDENTITY");
      return;
    }
  }

  // INSERT ... SELECT from tables: a target column whose DEFAULT draws from a sequence gets its values in the
  // order the rows come, so that order must be total (decided with the catalog, FunctionCheck).
  void insertRule(const json& body) {
    const json* selectNode = field(body, "selectStmt");
    const json* rel = field(body, "relation");
    if (selectNode == nullptr || rel == nullptr) return; // DEFAULT VALUES
    const auto [t, select] = unwrap(*selectNode);
    if (t != "SelectStmt" || field(*select, "valuesLists")) return; // VALUES: rows in the request's order
    OrderRequirement req;
    req.what = "INSERT ... SELECT into a column whose DEFAULT draws a value per row (a sequence, random() or "
               "gen_random_uuid())";
    OrderRequirement::Defaults defaults;
    defaults.target = {std::string(stringField(*rel, "schemaname")), std::string(stringField(*rel, "relname")), {}};
    if (const json* cols = field(body, "cols"); cols != nullptr && cols->is_array() && !cols->empty()) {
      defaults.listed = true;
      for (const json& c : *cols)
        if (const auto [ct, cb] = unwrap(c); ct == "ResTarget") defaults.given.emplace_back(stringField(*cb, "name"));
    }
    req.onlyIfDrawnDefaults = std::move(defaults);
    const std::string_view op = stringField(*select, "op");
    bool onlyRowSource = false;
    if ((!op.empty() && op != "SETOP_NONE") || !fromTables(*select, req.tables, onlyRowSource)) {
      req.unordered = true;
    } else {
      if (req.tables.empty()) return; // one row, or rows from a function in its own order
      addSortColumns(field(*select, "sortClause"), *select, req.columns);
    }
    // ON CONFLICT DO NOTHING keeps the first of the rows that conflict with one another: it needs the order too.
    if (const json* conflict = field(body, "onConflictClause");
        conflict != nullptr && stringField(*conflict, "action") == "ONCONFLICT_NOTHING") {
      OrderRequirement first = req;
      first.what = "INSERT ... SELECT ... ON CONFLICT DO NOTHING";
      first.why = "of the rows that conflict with one another, the first one inserted stays, and rows come in each "
                  "node's own physical order: nodes would keep different rows";
      first.hint = "add an ORDER BY that covers a unique NOT NULL key of every table read (rows are inserted in that "
                   "order), or use ON CONFLICT DO UPDATE (two rows for one key then fail alike on every node)";
      first.onlyIfDrawnDefaults.reset();
      out_.orderRequirements.push_back(std::move(first));
    }
    out_.orderRequirements.push_back(std::move(req));
  }

  // CACHE n > 1 (CREATE/ALTER SEQUENCE, IDENTITY options): each session keeps values of its own, which a
  // node that reconnects loses, so its next value would jump ahead of the other nodes'.
  void cacheRule(const json& body) {
    if (stringField(body, "defname") != "cache") return;
    const json* arg = field(body, "arg");
    if (arg == nullptr) return;
    const auto [t, b] = unwrap(*arg);
    const auto n = t == "Integer" ? intField(*b, "ival", 1) : 2;
    if (n > 1)
      refuse("a sequence CACHE above 1 keeps values in each node connection's session: a node that reconnected "
             "would skip them and hand out different values",
             "leave CACHE at 1 (the default)");
  }

  void windowRule(const std::string& name, const json& over, const json& select) {
    // OVER w / OVER (w ...): the named window's clauses come from the query's WINDOW list.
    const json* def = &over;
    const std::string_view ref =
        stringField(over, "refname").empty() ? stringField(over, "name") : stringField(over, "refname");
    const json* named = nullptr;
    if (!ref.empty()) {
      if (const json* list = field(select, "windowClause"); list != nullptr && list->is_array())
        for (const json& w : *list)
          if (const auto [t, b] = unwrap(w); t == "WindowDef" && stringField(*b, "name") == ref) named = b;
    }
    auto clause = [&](const char* key) -> const json* {
      if (const json* own = field(*def, key)) return own;
      return named != nullptr ? field(*named, key) : nullptr;
    };
    const auto frame = static_cast<int>(intField(*def, "frameOptions", named ? intField(*named, "frameOptions") : 0));
    const bool sensitive = contains(kOrderSensitiveWindow, name) || contains(kOrderSensitiveAggregates, name) ||
                           (frame & (kFrameRows | kFrameGroups)) != 0;
    if (!sensitive) return; // rank(), sum() OVER (PARTITION BY ...), RANGE frames: decided by values
    std::vector<std::pair<std::string, std::string>> columns;
    addSortColumns(clause("orderClause"), select, columns);
    addExprColumns(clause("partitionClause"), columns);
    require(name + "() OVER", select, std::move(columns));
  }

  void selectRules(const json& body) {
    const json* count = field(body, "limitCount");
    const json* offset = field(body, "limitOffset");
    const bool withTies = stringField(body, "limitOption") == "LIMIT_OPTION_WITH_TIES";
    const bool limits = (count != nullptr && !isNullConst(*count) && !withTies) ||
                        (offset != nullptr && !isNullConst(*offset) && !isZeroConst(*offset));
    const json* distinct = field(body, "distinctClause");
    const bool distinctOn = distinct != nullptr && distinct->is_array() && !distinct->empty() &&
                            !(distinct->size() == 1 && (*distinct)[0].empty());
    if (!limits && !distinctOn) return;
    std::vector<std::pair<std::string, std::string>> columns;
    addSortColumns(field(body, "sortClause"), body, columns);
    const std::string what = limits ? "LIMIT/OFFSET/FETCH FIRST" : "DISTINCT ON";
    const std::string_view op = stringField(body, "op");
    if (!op.empty() && op != "SETOP_NONE") {
      refuse(fmt::format("{} over a UNION/INTERSECT/EXCEPT keeps rows in each node's own order", what),
             "apply the LIMIT in each branch, each with an ORDER BY that covers a unique key");
      return;
    }
    require(what, body, std::move(columns));
  }

  // The FROM items a row order is taken over; false when one of them has no key (a subquery, a CTE, a
  // function or VALUES joined with something else).
  bool fromTables(const json& select, std::vector<TableRef>& tables, bool& onlyRowSource) {
    const json* from = field(select, "fromClause");
    if (from == nullptr || !from->is_array()) return true;
    std::vector<const json*> items;
    for (const json& f : *from) items.push_back(&f);
    std::size_t sources = 0;
    bool others = false;
    while (!items.empty()) {
      const json* f = items.back();
      items.pop_back();
      const auto [t, b] = unwrap(*f);
      if (t == "JoinExpr") {
        if (const json* l = field(*b, "larg")) items.push_back(l);
        if (const json* r = field(*b, "rarg")) items.push_back(r);
      } else if (t == "RangeVar") {
        const std::string rel(stringField(*b, "relname"));
        if (stringField(*b, "schemaname").empty() && ctes_.count(rel)) return false;
        TableRef ref{std::string(stringField(*b, "schemaname")), rel, rel};
        if (const json* alias = field(*b, "alias")) ref.alias = std::string(stringField(*alias, "aliasname"));
        tables.push_back(std::move(ref));
      } else if (t == "RangeFunction" || (t == "RangeSubselect" && field(*b, "subquery") &&
                                          field(*unwrap(*field(*b, "subquery")).second, "valuesLists"))) {
        ++sources; // rows in the order the function / VALUES list gives them
      } else {
        others = true;
      }
    }
    if (others) return false;
    if (sources > 0 && (sources > 1 || !tables.empty())) return false;
    onlyRowSource = sources == 1;
    return true;
  }

  void require(const std::string& what, const json& select, std::vector<std::pair<std::string, std::string>> columns) {
    OrderRequirement req;
    req.what = what;
    bool onlyRowSource = false;
    if (!fromTables(select, req.tables, onlyRowSource)) {
      refuse(fmt::format("{} in a write depends on the order of rows from a subquery, CTE or function, which "
                         "differs between nodes",
                         what),
             "select from the tables themselves with an ORDER BY that covers a unique key");
      return;
    }
    if (req.tables.empty()) return; // no rows, one row, or rows in the request's own order
    req.columns = std::move(columns);
    out_.orderRequirements.push_back(std::move(req));
  }

  bool write_;
  Analysis& out_;
  std::set<std::string> ctes_;
  bool rowsScanned_ = false;
  bool randomCalled_ = false;
  std::string drawn_;                   // the first function called that draws a new value per call (sequences, UUIDs)
  std::set<const json*> sequenceNames_; // casts to regclass naming the sequence of nextval()/setval()
};

} // namespace

void checkDeterminism(std::string_view type, const json& stmt, bool write, Analysis& out) {
  Checker(write, out).run(type, stmt);
}

void requireRowOrder(const json& stmt, std::string what, std::string why, std::string hint, Analysis& out,
                     const std::set<std::string>* values) {
  Checker(true, out).rowOrder(stmt, std::move(what), std::move(why), std::move(hint), values);
}

} // namespace detail

} // namespace kluster::sql
