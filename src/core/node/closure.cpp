// Determinism by closure (README "Determinism"): a write runs code that is not in its text, the bodies of the
// user-defined functions it calls, of the triggers and rules of the tables it writes, and the queries of the views it
// reads, refreshes or writes through. Each is read from the catalog and judged with the rules of a write's statements
// (sql::analyzeFunctionBody(), analyzeRule(), analyzeViewQuery()); what it calls, reads and writes is judged in turn,
// each function, view and table once. The verdict depends only on the catalog, identical on every node
// at the same log position, and is cached until the next DDL (FunctionCheck::invalidate()).
#include "core/node/prepare.hpp"

#include "core/errors.hpp"
#include "core/sql/analyzer.hpp"
#include "core/sql/determinism.hpp"
#include "core/sql/function_body.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <tuple>

namespace kluster::node {

namespace {

bool compiled(const db::FunctionDefinition& def) { return def.language == "c" || def.language == "internal"; }

struct When {
  std::string message, hint;
  std::vector<std::string> calls;
};

// A trigger's WHEN condition, from its CREATE TRIGGER statement: the functions it calls, or why it is refused.
When whenClause(const std::string& createTrigger) {
  When w;
  if (createTrigger.empty()) return w;
  try {
    const sql::Analysis a = sql::analyze(createTrigger);
    w.calls = a.functions;
    if (a.storesCurrentTime) {
      w.message = "the current time in it is each node's own transaction time, not the request's";
      w.hint = "compare with a column the request fills instead";
    }
  } catch (const std::exception& e) {
    w.message = fmt::format("Kluster cannot read it ({})", e.what());
    w.hint = "drop the WHEN condition and test it in the trigger function";
  }
  return w;
}

} // namespace

const std::vector<db::FunctionDefinition>& FunctionCheck::definitions(const std::string& name) {
  auto it = definitions_.find(name);
  if (it == definitions_.end()) it = definitions_.emplace(name, conn_->userFunctions(name)).first;
  return it->second;
}

namespace {

// What the catalog says of a table (or view), asked once until the next DDL: `cache` by (schema, name), `ask` the
// connection's look-up.
template <typename Value, typename Ask>
const Value& cachedFor(std::map<std::pair<std::string, std::string>, Value>& cache, const sql::TableRef& table,
                       Ask ask) {
  const auto id = std::pair{table.schema, table.name};
  auto it = cache.find(id);
  if (it == cache.end()) it = cache.emplace(id, ask(table.schema, table.name)).first;
  return it->second;
}

} // namespace

const db::ViewDefinition& FunctionCheck::view(const sql::TableRef& relation) {
  return cachedFor(views_, relation, [&](const auto& s, const auto& n) { return conn_->viewDefinition(s, n); });
}

const std::vector<db::FunctionDefinition>& FunctionCheck::rules(const sql::TableRef& table) {
  return cachedFor(rules_, table, [&](const auto& s, const auto& n) { return conn_->ruleDefinitions(s, n); });
}

const std::vector<db::FunctionDefinition>& FunctionCheck::triggers(const sql::TableRef& table) {
  return cachedFor(triggers_, table, [&](const auto& s, const auto& n) { return conn_->triggerFunctions(s, n); });
}

const std::vector<std::string>& FunctionCheck::drawnColumns(const sql::TableRef& table) {
  return cachedFor(drawn_, table, [&](const auto& s, const auto& n) { return conn_->drawnDefaults(s, n); });
}

bool FunctionCheck::allTrusted(const std::string& name) {
  const auto& defs = definitions(name);
  return !defs.empty() && std::all_of(defs.begin(), defs.end(), [](const auto& d) { return d.trusted; });
}

const std::string& FunctionCheck::bodyRefusal(const std::string& name) {
  auto it = bodyRefusals_.find(name);
  if (it != bodyRefusals_.end()) return it->second;
  std::string why;
  const auto found = conn_->functionVolatility({name});
  if (const auto f = found.find(name); f != found.end() && f->second.builtin != db::Volatility::None)
    why = sql::functionRefusal(
        name,
        functionKind(f->second.builtin, db::Volatility::None)); // the user-defined ones are judged by their bodies
  return bodyRefusals_.emplace(name, std::move(why)).first->second;
}

const FunctionCheck::Verdict& FunctionCheck::verdict(const db::FunctionDefinition& def) {
  auto it = verdicts_.find(def.signature);
  if (it != verdicts_.end()) return it->second;
  Verdict v;
  v.calls = def.calls; // an aggregate's support functions
  if (def.trusted) {
    v.calls.clear(); // vouched for, with everything it runs
  } else if (compiled(def)) {
    if (def.volatility == db::Volatility::Volatile)
      v.message = "it is volatile compiled code (language " + def.language + "): nodes may compute different values";
    v.hint = "call it outside writes, or have an operator vouch for it through ALL: CALL "
             "_kluster.trust_function('" +
             def.signature + "')";
  } else {
    sql::FunctionBody body = def.language == "rule"
                                 ? sql::analyzeRule(def.definition)
                                 : sql::analyzeFunctionBody(def.language, def.source, def.definition);
    if (body.refusal) {
      v.message = body.refusal->message;
      v.hint = body.refusal->hint;
      if (body.opaque) v.hint += fmt::format(" (here: CALL _kluster.trust_function('{}'))", def.signature);
    }
    v.calls.insert(v.calls.end(), body.functions.begin(), body.functions.end());
    v.writes = std::move(body.writeTargets);
    v.orders = std::move(body.orderRequirements);
    v.joins = std::move(body.joinWrites);
    v.draws = std::move(body.draws);
    v.inserts = std::move(body.inserts);
    v.reads = std::move(body.reads);
  }
  return verdicts_.emplace(def.signature, std::move(v)).first->second;
}

const FunctionCheck::Verdict& FunctionCheck::viewVerdict(const sql::TableRef& relation,
                                                         const db::ViewDefinition& view) {
  const std::string key =
      fmt::format("view {}.{}", relation.schema.empty() ? "public" : relation.schema, relation.name);
  auto it = verdicts_.find(key);
  if (it != verdicts_.end()) return it->second;
  sql::FunctionBody body = sql::analyzeViewQuery(view.query);
  Verdict v;
  if (body.refusal) {
    v.message = body.refusal->message;
    v.hint = body.refusal->hint;
  } else if (body.ordersAggregates && view.orderSensitiveAggregates) {
    // The request's own aggregates are given an order (sql::pinAggregateOrder()); a view's query is not the
    // request's text, and PostgreSQL runs it as stored.
    v.message = "it runs sum(), avg(), max(), min() or a statistical aggregate of float4/float8 (max()/min() also of "
                "numeric or interval) without an ORDER BY of its own: the result depends on the order rows are added "
                "in (floating-point rounding), or on which of equal values that print differently comes first, and "
                "nodes read rows in their own physical orders";
    v.hint = "give the aggregate an order in the view: sum(x ORDER BY (x)::text), as Kluster does in a request's own "
             "statements (or use numeric with a scale)";
  }
  v.calls = std::move(body.functions);
  v.writes = std::move(body.writeTargets);
  v.orders = std::move(body.orderRequirements);
  v.joins = std::move(body.joinWrites);
  v.reads = std::move(body.reads);
  return verdicts_.emplace(key, std::move(v)).first->second;
}

void FunctionCheck::checkClosure(Prepared& p) {
  // Breadth first over functions (by name), tables and views, each once: cycles end, and the first refusal found is
  // the same on every node (the same catalog, walked in the same order).
  struct Name {
    std::string name;
    std::string caller; // the function whose body calls it ("" when the request calls it)
  };
  struct Table {
    sql::TableRef table;
    std::string writer; // what writes it ("" when the request does)
  };
  enum class Use { Read, Refresh, Write };
  struct View {
    sql::TableRef relation;
    std::string user; // what reads or writes it ("" when the request does)
    Use use = Use::Read;
  };
  std::deque<Name> names;
  std::deque<Table> tables;
  std::deque<View> views;
  for (const auto& f : p.functions) names.push_back({f, {}});
  for (const auto& t : p.targets) tables.push_back({t, {}});
  for (const auto& r : p.reads) views.push_back({r, {}, Use::Read});
  for (const auto& r : p.refreshes) views.push_back({r, {}, Use::Refresh});
  std::set<std::string> seenNames, seenSignatures;
  std::set<std::pair<std::string, std::string>> seenTables;
  std::set<std::tuple<std::string, std::string, Use>> seenViews;
  // Row orders and joins to check against unique keys once the walk is done, with what runs them (for messages).
  std::vector<std::pair<const sql::OrderRequirement*, std::string>> orders;
  std::vector<std::pair<const sql::JoinWrite*, std::string>> joins;
  const auto refuse = [&](std::string message, std::string hint) {
    p.refusal = db::Outcome::error(code::Nondeterministic, std::move(message), "", std::move(hint));
  };
  // Follows one verdict: false when it is refused. `what` names it for messages ("function public.f(integer)",
  // "trigger function public.g() of table t", "view v"), `how` says how the write runs it ("run by this write").
  const auto follow = [&](const Verdict& v, const std::string& what, const std::string& via, const std::string& how,
                          bool perRow) {
    if (!v.message.empty()) {
      refuse(fmt::format("{}{}, {}: {}", what, via, how, v.message), v.hint);
      return false;
    }
    // Values drawn per call: the same on every node when the calls come in the request's order, not per row of a
    // table (a statement-level trigger runs once).
    std::string draws = v.draws;
    for (const auto& insert : v.inserts) {
      if (!draws.empty()) break;
      for (const auto& column : drawnColumns(insert.target))
        if (!insert.listed || std::find(insert.given.begin(), insert.given.end(), column) == insert.given.end()) {
          draws =
              fmt::format("the DEFAULT of {}.{} (it inserts into {})", insert.target.name, column, insert.target.name);
          break;
        }
    }
    if (!draws.empty() && perRow && p.scansRows) {
      refuse(fmt::format("{}{}, run by this write for each row it reads, draws a value per call with {}: nodes read "
                         "rows in their own physical order and would draw different values for different rows",
                         what, via, draws),
             "pass the values from the request instead of drawing them in the function (or give the table it "
             "inserts into a key from the row, not a SERIAL); rows in the request's own order (INSERT ... VALUES) "
             "may draw");
      return false;
    }
    if (std::find(v.calls.begin(), v.calls.end(), "random") != v.calls.end() && !p.work.randomSeed)
      p.work.randomSeed = randomSeedFor(p.offset); // the request's seed, as for random() in its text
    for (const auto& c : v.calls) names.push_back({c, what + via});
    for (const auto& t : v.writes) tables.push_back({t, what + via});
    for (const auto& r : v.reads) views.push_back({r, what + via, Use::Read});
    for (const auto& o : v.orders) orders.emplace_back(&o, fmt::format("{}{}, {}", what, via, how));
    for (const auto& j : v.joins) joins.emplace_back(&j, fmt::format("{}{}, {}", what, via, how));
    return true;
  };
  const auto judge = [&](const db::FunctionDefinition& def, const std::string& what, const std::string& via) {
    if (!seenSignatures.insert(def.signature).second) return true;
    return follow(verdict(def), what, via, "run by this write", def.perRow);
  };
  while (!names.empty() || !tables.empty() || !views.empty()) {
    if (!tables.empty()) {
      const Table t = std::move(tables.front());
      tables.pop_front();
      if (!seenTables.insert({t.table.schema, t.table.name}).second) continue;
      const std::string via = t.writer.empty() ? "" : fmt::format(" (table written by {})", t.writer);
      for (const auto& def : triggers(t.table)) {
        const std::string what = fmt::format("trigger function {} of table {}", def.signature, t.table.name);
        if (!judge(def, what, via)) return;
        // The trigger's WHEN condition runs per row too: the functions it calls are judged as the body's.
        const auto when = whenClause(def.trigger);
        if (!when.message.empty()) {
          refuse(fmt::format("the WHEN condition of the {}{}: {}", what, via, when.message), when.hint);
          return;
        }
        for (const auto& c : when.calls) names.push_back({c, "the WHEN condition of the " + what + via});
      }
      // Its rules (CREATE RULE) run their actions on the write's behalf, as triggers do.
      for (const auto& def : rules(t.table))
        if (!judge(def, def.signature, via)) return;
      // A view written through (auto-updatable, or with INSTEAD OF triggers or rules): its query, and the tables
      // it reads, which the write then writes.
      views.push_back({t.table, t.writer, Use::Write});
      // What its definition runs for each row: DEFAULTs, generated columns, CHECKs (its own and its domains'),
      // policies.
      const auto& defined = cachedFor(tableFunctions_, t.table,
                                      [&](const auto& s, const auto& n) { return conn_->tableFunctions(s, n); });
      for (const auto& f : defined)
        names.push_back(
            {f, fmt::format("a DEFAULT, generated column, CHECK or policy of table {}{}", t.table.name, via)});
      continue;
    }
    if (!views.empty()) {
      const View w = std::move(views.front());
      views.pop_front();
      if (!seenViews.insert({w.relation.schema, w.relation.name, w.use}).second) continue;
      const db::ViewDefinition& d = view(w.relation);
      // A table, or the rows a materialized view stored when it was refreshed (judged then): nothing runs.
      if (d.kind != 'v' && !(d.kind == 'm' && w.use == Use::Refresh)) continue;
      const std::string what = fmt::format("{} {}", d.kind == 'm' ? "materialized view" : "view", w.relation.name);
      const std::string via = w.user.empty() ? "" : fmt::format(" (used by {})", w.user);
      const char* how = w.use == Use::Read      ? "read by this write"
                        : w.use == Use::Refresh ? "refreshed by this write"
                                                : "written through by this write";
      const Verdict& v = viewVerdict(w.relation, d);
      if (!follow(v, what, via, how, false)) return;
      if (w.use == Use::Write)
        for (const auto& r : v.reads) tables.push_back({r, what + via});
      continue;
    }
    const Name n = std::move(names.front());
    names.pop_front();
    if (!seenNames.insert(n.name).second) continue;
    if (!n.caller.empty()) { // the request's own calls of built-ins are judged by apply()
      if (const std::string& why = bodyRefusal(n.name); !why.empty()) {
        refuse(fmt::format("{}, run by this write, calls {}(): {}", n.caller, n.name, why),
               "compute the value in the request and pass it to the function as an argument");
        return;
      }
    }
    const std::string via = n.caller.empty() ? "" : fmt::format(" (called by {})", n.caller);
    for (const auto& def : definitions(n.name))
      if (!judge(def, "function " + def.signature, via)) return;
  }
  for (const auto& [order, owner] : orders)
    if (auto refusal = orderRefusal({order})) {
      refusal->errorMessage = owner + ": " + refusal->errorMessage;
      p.refusal = std::move(refusal);
      return;
    }
  for (const auto& [join, owner] : joins)
    if (auto refusal = joinRefusal({join})) {
      refusal->errorMessage = owner + ": " + refusal->errorMessage;
      p.refusal = std::move(refusal);
      return;
    }
}

} // namespace kluster::node
