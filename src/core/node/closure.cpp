// Determinism by closure (README "Determinism"): a write runs code that is not in its text, the bodies of the
// user-defined functions it calls and of the triggers of the tables it writes. Each body is read from the catalog
// and judged with the rules of a write's statements (sql::analyzeFunctionBody()); what it calls and writes is
// judged in turn, each function and table once. The verdict depends only on the catalog, identical on every node
// at the same log position, and is cached until the next DDL (FunctionCheck::invalidate()).
#include "core/node/prepare.hpp"

#include "core/errors.hpp"
#include "core/sql/analyzer.hpp"
#include "core/sql/determinism.hpp"
#include "core/sql/function_body.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <set>

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

const std::vector<db::FunctionDefinition>& FunctionCheck::triggers(const sql::TableRef& table) {
  const auto id = std::pair{table.schema, table.name};
  auto it = triggers_.find(id);
  if (it == triggers_.end()) it = triggers_.emplace(id, conn_->triggerFunctions(table.schema, table.name)).first;
  return it->second;
}

const std::vector<std::string>& FunctionCheck::drawnColumns(const sql::TableRef& table) {
  const auto id = std::pair{table.schema, table.name};
  auto it = drawn_.find(id);
  if (it == drawn_.end()) it = drawn_.emplace(id, conn_->drawnDefaults(table.schema, table.name)).first;
  return it->second;
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
    sql::FunctionBody body = sql::analyzeFunctionBody(def.language, def.source, def.definition);
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
  }
  return verdicts_.emplace(def.signature, std::move(v)).first->second;
}

void FunctionCheck::checkClosure(Prepared& p) {
  // Breadth first over functions (by name) and tables, each once: cycles end, and the first refusal found is the
  // same on every node (the same catalog, walked in the same order).
  struct Name {
    std::string name;
    std::string caller; // the function whose body calls it ("" when the request calls it)
  };
  struct Table {
    sql::TableRef table;
    std::string writer; // the function whose body writes it ("" when the request writes it)
  };
  std::deque<Name> names;
  std::deque<Table> tables;
  for (const auto& f : p.functions) names.push_back({f, {}});
  for (const auto& t : p.targets) tables.push_back({t, {}});
  std::set<std::string> seenNames, seenSignatures;
  std::set<std::pair<std::string, std::string>> seenTables;
  std::vector<const sql::OrderRequirement*> orders;
  std::vector<const sql::JoinWrite*> joins;
  const auto refuse = [&](std::string message, std::string hint) {
    p.refusal = db::Outcome::error(code::Nondeterministic, std::move(message), "", std::move(hint));
  };
  // Judges one definition; false when it is refused.
  // `what` names the function for messages: "function public.f(integer)", "trigger function public.g() of table t".
  const auto judge = [&](const db::FunctionDefinition& def, const std::string& what, const std::string& via) {
    if (!seenSignatures.insert(def.signature).second) return true;
    const Verdict& v = verdict(def);
    if (!v.message.empty()) {
      refuse(fmt::format("{}{}, run by this write: {}", what, via, v.message), v.hint);
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
    if (!draws.empty() && def.perRow && p.scansRows) {
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
    for (const auto& o : v.orders) orders.push_back(&o);
    for (const auto& j : v.joins) joins.push_back(&j);
    return true;
  };
  while (!names.empty() || !tables.empty()) {
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
      // What its definition runs for each row: DEFAULTs, generated columns, CHECKs (its own and its domains'),
      // policies.
      const auto id = std::pair{t.table.schema, t.table.name};
      auto defined = tableFunctions_.find(id);
      if (defined == tableFunctions_.end())
        defined = tableFunctions_.emplace(id, conn_->tableFunctions(t.table.schema, t.table.name)).first;
      for (const auto& f : defined->second)
        names.push_back(
            {f, fmt::format("a DEFAULT, generated column, CHECK or policy of table {}{}", t.table.name, via)});
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
  auto refusal = orderRefusal(orders);
  if (!refusal) refusal = joinRefusal(joins);
  if (refusal) {
    refusal->errorMessage = "a function or trigger this write runs: " + refusal->errorMessage;
    p.refusal = std::move(refusal);
  }
}

} // namespace kluster::node
