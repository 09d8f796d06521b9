// analyze(): one walk over the parse tree collects what a request does (routing, functions,
// transaction control, statements that cannot run in a transaction block, sequences,
// parameters) and where its current-time expressions are, for pinCurrentTime().
#include "core/sql/analyzer.hpp"

#include "core/sql/parse_tree.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <initializer_list>
#include <tuple>

namespace kluster::sql {

namespace detail {

// ---------------------------------------------------------------------------------------------
// Current-time sites.

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

namespace {

// A plain call without arguments of the built-in `name` (unqualified or pg_catalog.name): fn().
bool isBuiltinCall(const json& funcCall, std::initializer_list<std::string_view> names) {
  const json* fn = field(funcCall, "funcname");
  if (fn == nullptr || !fn->is_array() || fn->empty() || fn->size() > 2) return false;
  if (fn->size() == 2 && stringNode((*fn)[0]) != "pg_catalog") return false;
  const std::string_view name = stringNode(fn->back());
  if (std::find(names.begin(), names.end(), name) == names.end()) return false;
  for (const char* key :
       {"args", "agg_order", "agg_filter", "over", "agg_within_group", "agg_star", "agg_distinct", "func_variadic"}) {
    if (funcCall.contains(key)) return false;
  }
  return true;
}

// A call of a built-in aggregate whose result can depend on the order its rows come in (floating-point rounding of
// sum() and the statistics; which of equal values that print differently max() and min() keep), with nothing
// that fixes the order: no ORDER BY of its own, not DISTINCT (PostgreSQL sorts that input), not a window function
// (which takes no ORDER BY inside), not WITHIN GROUP, with arguments. pinAggregateOrder() gives it an order.
bool isOrderSensitiveAggregate(const json& funcCall) {
  static constexpr std::string_view kNames[] = {
      "sum",     "avg",        "max",      "min",       "stddev",     "stddev_pop", "stddev_samp", "variance",
      "var_pop", "var_samp",   "corr",     "covar_pop", "covar_samp", "regr_avgx",  "regr_avgy",   "regr_intercept",
      "regr_r2", "regr_slope", "regr_sxx", "regr_sxy",  "regr_syy"};
  const json* fn = field(funcCall, "funcname");
  if (fn == nullptr || !fn->is_array() || fn->empty() || fn->size() > 2) return false;
  if (fn->size() == 2 && stringNode((*fn)[0]) != "pg_catalog") return false;
  if (std::find(std::begin(kNames), std::end(kNames), stringNode(fn->back())) == std::end(kNames)) return false;
  for (const char* key : {"agg_order", "over", "agg_within_group", "agg_star", "agg_distinct", "func_variadic"})
    if (funcCall.contains(key)) return false;
  return funcCall.contains("args");
}

} // namespace

// ---------------------------------------------------------------------------------------------
// The tree walk.

void Collector::walk(const json& root, Context rootCtx) {
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

// Fields typed as a specific node struct are not wrapped in {"Type": ...} in the JSON.
std::string_view Collector::typedField(std::string_view parent, const std::string& key) {
  if (parent == "SelectStmt" && (key == "larg" || key == "rarg")) return "SelectStmt";
  if (parent == "CallStmt" && key == "funccall") return "FuncCall";
  return {};
}

void Collector::node(std::string_view type, const json& body, Context ctx, std::vector<Item>& stack) {
  const json* directFrom = ctx.rangeFunction;
  const bool callTarget = ctx.callTarget;
  if (type != "List") ctx.rangeFunction = nullptr; // only the List wrapping a FROM function
  ctx.callTarget = false;
  const bool executed = !ctx.stored && !ctx.planOnly;

  // Children pushed with a different context than ctx.
  const json* special = nullptr;
  Context specialCtx = ctx;

  if (type == "FuncCall") {
    if (isBuiltinCall(body, {"gen_random_uuid"}) && !callTarget && (!ctx.stored || ctx.storedDefault)) {
      uuidSites.push_back(static_cast<int>(intField(body, "location"))); // pinRandomUuid() rewrites it
    } else if (const std::string_view name = lastName(field(body, "funcname")); !name.empty()) {
      functions.emplace_back(name);
    }
    if (executed && isOrderSensitiveAggregate(body))
      aggregateSites.push_back(static_cast<int>(intField(body, "location"))); // pinAggregateOrder() orders it
    if (const json* fn = field(body, "funcname"); executed && fn != nullptr && fn->is_array() && !fn->empty() &&
                                                  fn->size() <= 2 &&
                                                  (fn->size() == 1 || stringNode((*fn)[0]) == "pg_catalog")) {
      const std::string_view name = stringNode(fn->back());
      if (name == "nextval" || name == "setval") facts.draws = true; // moves a sequence: not a read
    }
    if (isBuiltinCall(body, {"now", "transaction_timestamp", "statement_timestamp"}) && !callTarget) {
      TimeSite site;
      site.location = static_cast<int>(intField(body, "location"));
      site.kind = SiteKind::Function;
      site.stored = ctx.stored;
      site.storedDefault = ctx.storedDefault;
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
      site.storedDefault = ctx.storedDefault;
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
    if (stringField(body, "contype") == "CONSTR_DEFAULT") ctx.storedDefault = true;
  } else if (type == "CreateSeqStmt") {
    createsSequence = true;
  } else if (type == "ParamRef") {
    if (!ctx.ownParams) {
      const auto n = static_cast<int>(intField(body, "number"));
      facts.maxParam = std::max(facts.maxParam, n);
      if (n >= 1 && n <= 65535) { // PostgreSQL's own limit on parameters
        if (facts.usedParams.size() < static_cast<std::size_t>(n)) facts.usedParams.resize(static_cast<std::size_t>(n));
        facts.usedParams[static_cast<std::size_t>(n - 1)] = true;
      }
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
      specialCtx.storedDefault = true;
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

void Collector::literalSite(const json& typeCast) {
  const json* arg = field(typeCast, "arg");
  const json* tn = field(typeCast, "typeName");
  if (arg == nullptr || tn == nullptr || tn->contains("arrayBounds")) return;
  const auto [argType, argBody] = unwrap(*arg);
  if (argType != "A_Const" || !argBody->contains("sval")) return;
  // The type first: the string's value is read (which ties the analysis to it) only for a date/time type.
  const json* names = field(*tn, "names");
  if (names == nullptr || !names->is_array() || names->empty() || names->size() > 2) return;
  if (names->size() == 2 && stringNode((*names)[0]) != "pg_catalog") return; // a user type
  TimeSite site;
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
  const json* sval = constantValue(*argBody, "sval");
  if (sval == nullptr || !sval->is_object()) return;
  std::string_view text = stringField(*sval, "sval");
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
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
  sites.push_back(site);
}

void Collector::collectTargets(const json* list) {
  if (list == nullptr || !list->is_array()) return;
  for (const json& item : *list) {
    const auto [type, body] = unwrap(item);
    if (type != "ResTarget" || body->contains("name")) continue;
    if (const json* val = field(*body, "val")) {
      targets.push_back({static_cast<int>(intField(*body, "location")), val});
    }
  }
}

namespace {

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

// READ ONLY among a BEGIN's or a SET TRANSACTION's modes: the parser writes it as an integer constant.
bool readOnlyMode(const json& body, const char* listKey) {
  const json* def = findOption(body, listKey, "transaction_read_only");
  if (def == nullptr) return false;
  const json* arg = field(*def, "arg");
  if (arg == nullptr) return false;
  if (const auto [type, constant] = unwrap(*arg); type == "A_Const" && constant != nullptr) {
    const json* ival = constantValue(*constant, "ival");
    return ival != nullptr && intField(*ival, "ival") == 1;
  }
  return defElemBool(*def).value_or(false);
}

std::optional<Statement::TransactionControl> transactionControlOf(std::string_view type, const json& body) {
  using Action = Statement::TransactionControl::Action;
  if (!isTransactionControl(type, body)) return std::nullopt;
  Statement::TransactionControl tc;
  if (type != "TransactionStmt") {
    tc.action = Action::Set;
    tc.readOnly = readOnlyMode(body, "args");
    return tc;
  }
  const std::string_view kind = stringField(body, "kind");
  static const std::pair<std::string_view, Action> kinds[] = {
      {"TRANS_STMT_BEGIN", Action::Begin},
      {"TRANS_STMT_START", Action::Begin},
      {"TRANS_STMT_COMMIT", Action::Commit},
      {"TRANS_STMT_ROLLBACK", Action::Rollback},
      {"TRANS_STMT_SAVEPOINT", Action::Savepoint},
      {"TRANS_STMT_RELEASE", Action::Release},
      {"TRANS_STMT_ROLLBACK_TO", Action::RollbackTo},
  };
  tc.action = Action::Prepared; // PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED
  for (const auto& [name, action] : kinds)
    if (kind == name) tc.action = action;
  tc.savepoint = std::string(stringField(body, "savepoint_name"));
  tc.readOnly = readOnlyMode(body, "options");
  tc.chain = boolField(body, "chain");
  return tc;
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
  const bool cleanSelect = !facts.locking && !facts.modifying && !facts.into && !facts.draws;
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

} // namespace

std::string statementText(std::string_view sql, std::int64_t location, std::int64_t len) {
  const auto from =
      static_cast<std::size_t>(std::clamp<std::int64_t>(location, 0, static_cast<std::int64_t>(sql.size())));
  return std::string(trimmed(sql.substr(from, len <= 0 ? std::string_view::npos : static_cast<std::size_t>(len))));
}

Parsed parseAndCollect(std::string_view sql, const std::string* tree) {
  checkText(sql);
  Parsed p;
  p.tree = tree != nullptr ? json::parse(*tree) : parseTree(std::string(sql));
  moveConstantsOut(p.tree, p.constants);
  const ConstantsScope scope(&p.constants);
  Analysis& a = p.analysis;
  Collector& c = p.collector;
  const json* stmts = field(p.tree, "stmts");
  if (stmts == nullptr || !stmts->is_array()) return p;
  for (const json& raw : *stmts) {
    const json* stmt = field(raw, "stmt");
    if (stmt == nullptr) continue;
    const auto [type, body] = unwrap(*stmt);
    if (body == nullptr) continue;
    c.facts = {};
    c.walk(*stmt, {});
    const bool readOnly = isReadOnlyStatement(type, *body, c.facts);
    a.statements.push_back({statementText(sql, intField(raw, "stmt_location"), intField(raw, "stmt_len")),
                            std::string(type),
                            c.facts.maxParam,
                            c.facts.usedParams,
                            {},
                            readOnly,
                            true,
                            std::nullopt,
                            std::nullopt,
                            std::nullopt});
    a.readOnly = a.readOnly && readOnly;
    a.locks = a.locks || c.facts.locking;
    a.statements.back().transaction = transactionControlOf(type, *body);
    a.statements.back().copyFrom = copyFromOf(type, *body);
    a.statements.back().copyTo = copyToOf(type, *body, a.statements.back().sql);
    a.transactionControl = a.transactionControl || a.statements.back().transaction.has_value();
    a.nonTransactional = a.nonTransactional || isNonTransactional(type, *body);
    const bool write = type == "InsertStmt" || type == "UpdateStmt" || type == "DeleteStmt" || type == "MergeStmt" ||
                       type == "CreateTableAsStmt" || c.facts.modifying || c.facts.into || c.facts.draws;
    checkDeterminism(type, *stmt, write, a);
    if (write) {
      collectKeyUpdates(*stmt, a);
      collectJoinWrites(*stmt, a);
    }
    if (!write) { // what the same read needs when a transaction's commit compares its result on every node
      Analysis asWrite;
      checkDeterminism(type, *stmt, true, asWrite);
      a.statements.back().validatable = !asWrite.nondeterministic;
      for (auto& r : asWrite.orderRequirements) a.readOrderRequirements.push_back(std::move(r));
    }
    if (type == "DoStmt") checkDoBlock(*body, a, c.functions);
    if (!a.serverAccess) a.serverAccess = serverAccess(type, *body);
    if (!a.unsupported) a.unsupported = copyWithoutData(type, *body);
  }
  std::sort(c.functions.begin(), c.functions.end());
  c.functions.erase(std::unique(c.functions.begin(), c.functions.end()), c.functions.end());
  a.functions = c.functions;
  if (!a.serverAccess) a.serverAccess = serverFunction(a.functions);
  for (const TimeSite& site : c.sites) {
    if (site.kind == SiteKind::Literal || !site.stored) {
      a.usesCurrentTime = true;
    } else {
      a.storesCurrentTime = true;
      (site.storedDefault ? a.defaultsCurrentTime : a.storesCurrentTimeElsewhere) = true;
    }
  }
  a.createsSequenceValue = c.createsSequence;
  a.drawsUuid = !c.uuidSites.empty();
  a.ordersAggregates = !c.aggregateSites.empty();
  return p;
}

} // namespace detail

namespace detail {

Analysis pinAllTexts(Analysis a) {
  if (a.drawsUuid || a.ordersAggregates)
    for (Statement& st : a.statements) {
      std::string pinned = a.drawsUuid ? pinRandomUuid(st.sql) : st.sql;
      if (a.ordersAggregates) pinned = pinAggregateOrder(pinned);
      if (pinned != st.sql) st.allSql = std::move(pinned);
    }
  return a;
}

} // namespace detail

Analysis analyze(std::string_view sql) {
  return detail::pinAllTexts(detail::onParserStack(sql.size(), [&] { return detail::parseAndCollect(sql).analysis; }));
}

bool isReadOnly(std::string_view sql) noexcept {
  try {
    return analyze(sql).readOnly;
  } catch (...) {
    return false;
  }
}

bool isPlainDml(std::string_view kind) {
  return kind == "SelectStmt" || kind == "InsertStmt" || kind == "UpdateStmt" || kind == "DeleteStmt" ||
         kind == "MergeStmt" || kind == "ExplainStmt" || kind == "VariableShowStmt";
}

} // namespace kluster::sql
