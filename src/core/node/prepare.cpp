#include "core/node/prepare.hpp"

#include "core/errors.hpp"
#include "core/sql/analyzer.hpp"
#include "core/sql/determinism.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>

namespace kluster::node {
namespace {

std::optional<std::string> paramText(const nlohmann::json& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer())
    return v.is_number_unsigned() ? std::to_string(v.get<std::uint64_t>()) : std::to_string(v.get<std::int64_t>());
  return v.dump();
}

} // namespace

std::string uuidKeyFor(std::int64_t offset, const std::string& messageId) {
  return fmt::format("{}/{}", offset, messageId);
}

sql::FunctionKind functionKind(db::Volatility builtin, db::Volatility user) {
  auto letter = [](db::Volatility v) {
    switch (v) {
    case db::Volatility::Immutable: return 'i';
    case db::Volatility::Stable: return 's';
    case db::Volatility::Volatile: return 'v';
    case db::Volatility::None: break;
    }
    return '\0';
  };
  return {letter(builtin), letter(user)};
}

double randomSeedFor(std::int64_t offset) {
  // A fixed mapping of the offset into Kluster's seed range [-1, 1].
  auto x = static_cast<std::uint64_t>(offset) * 0x9E3779B97F4A7C15ULL;
  return static_cast<double>(x >> 11) / static_cast<double>(1ULL << 53) * 2.0 - 1.0;
}

Preparer::Preparer(const db::Adapter& adapter, std::size_t maxRequestBytes, sql::AnalysisCache* cache)
    : adapter_(&adapter), dialect_(&sql::dialect(adapter.type())), maxBytes_(maxRequestBytes), cache_(cache) {
  if (cache_ && &cache_->dialect() != dialect_)
    throw std::logic_error("the analysis cache is of another dialect than the database's");
}

Prepared Preparer::forAll(std::string_view payload, std::int64_t offset, std::int64_t timestampMs) {
  Prepared p;
  p.parsed = parseRequest(payload, maxBytes_);
  if (!p.parsed.ok()) {
    p.refusal = db::Outcome::error(p.parsed.errorCode, p.parsed.errorMessage);
    return p;
  }
  if (const auto& fp = p.parsed.request.fingerprint) {
    // The first fingerprint in the log becomes the cluster's record, identically on every node.
    p.control = true;
    p.changesSchema = true; // the node checks its own server against the record right after the commit
    p.work.statements.push_back(adapter_->recordFingerprint(cluster_, fp->dump(), timestampMs));
    return p;
  }
  if (p.parsed.request.tick) {
    p.control = true; // nothing to run: recorded as applied, answered by no one
    return p;
  }
  const auth::Rule* rule = nullptr;
  // ALL: the signing time is compared with the Kafka timestamp, the same on every node.
  if (!authenticate(p, timestampMs, rule)) return p;
  if (p.parsed.request.securityDigest) {
    security(p, offset, timestampMs);
    return p;
  }
  if (p.parsed.request.describe) {
    p.refusal = db::Outcome::error(code::BadRequest, "describe requests belong on ONE", "",
                                   "send it to ONE: it changes nothing");
    return p;
  }
  // An interactive transaction's commit pins the time its speculation used: when the transaction began.
  const auto& tx = p.parsed.request.transaction;
  analyze(p, true, offset, tx ? tx->timeMs : timestampMs, rule);
  if (tx && tx->stagePart && !p.refusal) stagePart(*adapter_, p, timestampMs);
  return p;
}

bool Preparer::authenticate(Prepared& p, std::int64_t referenceMs, const auth::Rule*& rule) {
  inEffect_ = clients_ ? clients_->get() : nullptr;
  if (!inEffect_) return true;
  const auto& req = p.parsed.request;
  if (auto denial = inEffect_->authenticate(req, referenceMs, auth::kWindowMs)) {
    p.refusal = db::Outcome::error(denial->code, denial->message, "", denial->hint);
    return false;
  }
  rule = inEffect_->find(req.clientId);
  return true;
}

void Preparer::security(Prepared& p, std::int64_t offset, std::int64_t timestampMs) {
  const auto& digest = *p.parsed.request.securityDigest;
  if (inEffect_) { // changing the clients in effect takes an admin
    const auto* rule = inEffect_->find(p.parsed.request.clientId);
    if (!rule || rule->access != auth::Rule::Access::Admin) {
      p.refusal = db::Outcome::error(code::Forbidden,
                                     fmt::format("client '{}' may not publish a clients file: it takes access = "
                                                 "\"admin\"",
                                                 p.parsed.request.clientId));
      return;
    }
  }
  if (offset == skipPublication_) { // the way past a publication no node can take (docs/security.md)
    p.refusal = db::Outcome::error(code::Forbidden,
                                   fmt::format("the security request at ALL offset {} is skipped by this node's "
                                               "security.skip_publication",
                                               offset));
    return;
  }
  // Read again now, in log order: every request after this one is checked against it, on every node alike.
  std::shared_ptr<const auth::Clients> next;
  std::string why;
  try {
    if (clientsFile_.empty()) throw UsageError("this node has no clients file (security.clients_file)");
    next = std::make_shared<const auth::Clients>(auth::Clients::load(clientsFile_));
    if (next->digest() != digest)
      why = fmt::format("this node's clients file {} has digest {}, not the {} published at ALL offset {}",
                        clientsFile_.string(), next->digest(), digest, offset);
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (!why.empty()) {
    p.fatal = fmt::format("cannot take the clients file published at ALL offset {}: {}; deploy the same file to "
                          "this node (klusterctl security digest FILE shows a file's digest) and start it again",
                          offset, why);
    return;
  }
  clients_->set(next);
  inEffect_ = next;
  auth::keepCopy(clientsFile_, digest); // for catching up after a later publication (docs/security.md)
  p.security = std::pair{cluster_, digest};
  p.timestampMs = timestampMs;
  p.offset = offset;
  p.writes = true;
}

Prepared Preparer::forOne(std::string_view payload) {
  Prepared p;
  p.parsed = parseRequest(payload, maxBytes_);
  if (!p.parsed.ok()) {
    p.refusal = db::Outcome::error(p.parsed.errorCode, p.parsed.errorMessage);
    return p;
  }
  if (p.parsed.request.fingerprint || p.parsed.request.tick) {
    p.refusal = db::Outcome::error(code::BadRequest, "control messages belong on ALL");
    return p;
  }
  // The database parses and describes the statement itself, without running it: nothing to analyze.
  p.describe = p.parsed.request.describe;
  const auth::Rule* rule = nullptr;
  // ONE: only one node answers, so its own clock is the reference.
  if (!authenticate(p, util::nowMillis(), rule)) return p;
  if (p.parsed.request.securityDigest) {
    p.refusal = db::Outcome::error(code::BadRequest, "security requests belong on ALL");
    return p;
  }
  if (p.describe) return p;
  if (const auto& tx = p.parsed.request.transaction) {
    if (tx->stagePart || !tx->staged.empty()) {
      p.refusal = db::Outcome::error(code::BadRequest, "staged parts of a transaction belong on ALL");
      return p;
    }
    // Prepared as its commit on ALL will be, with the values the transaction pinned when it began.
    p.speculate = true;
    analyze(p, true, 0, tx->timeMs, rule);
    return p;
  }
  analyze(p, false, 0, 0, rule);
  return p;
}

void FunctionCheck::apply(Prepared& p) {
  spliceStaged(p);
  if (p.refusal) return;
  if (p.security && p.work.statements.empty() && conn_)
    p.work.statements.push_back(adapter_->recordSecurity(p.security->first, p.security->second, p.offset));
  if (p.writes) { // what the database's DEFAULTs read from the request
    if (!inputs_ && conn_) inputs_ = conn_->requestInputs();
    const db::RequestInputs in = inputs_.value_or(db::RequestInputs{});
    if (in.time && !p.work.requestTimeMs) p.work.requestTimeMs = p.timestampMs;
    const auto& tx = p.parsed.request.transaction;
    if (in.uuid && !p.work.uuidKey)
      p.work.uuidKey = tx ? tx->uuidKey : uuidKeyFor(p.offset, p.parsed.request.messageId);
    if (in.random && !p.work.randomSeed) p.work.randomSeed = tx ? tx->seed : randomSeedFor(p.offset);
  }
  if (!p.functions.empty()) {
    std::vector<std::string> unknown;
    for (const auto& f : p.functions)
      if (!refusals_.count(f)) unknown.push_back(f);
    if (!unknown.empty() && conn_) {
      for (const auto& [name, v] : conn_->functionVolatility(unknown)) { // unknown names are asked again next time
        // A user-defined function an operator vouched for (_kluster.trust_function()) is not judged by its volatility.
        using db::Volatility;
        const Volatility user = v.user == Volatility::Volatile && allTrusted(name) ? Volatility::None : v.user;
        const bool isVolatile = v.builtin == Volatility::Volatile || user == Volatility::Volatile;
        auto why = sql::functionRefusal(name, functionKind(v.builtin, user));
        refusals_[name] = {why, isVolatile ? why : std::string()};
      }
    }
    for (const auto& f : p.functions)
      if (auto it = refusals_.find(f);
          it != refusals_.end() && !(p.writes ? it->second.first : it->second.second).empty()) {
        p.refusal = db::Outcome::error(code::Nondeterministic, p.writes ? it->second.first : it->second.second, "",
                                       "compute the value in the client and pass it as a parameter");
        return;
      }
  }
  if (!p.ordered.empty()) checkOrder(p);
  if (!p.refusal && p.writes && conn_) checkClosure(p);
  if (!p.refusal && !p.ordered.empty())
    if (auto refusal = keyUpdateRefusal(p.ordered)) p.refusal = std::move(refusal);
  if (!p.refusal && !p.ordered.empty()) {
    std::vector<const sql::JoinWrite*> joins;
    for (const auto& analysis : p.ordered)
      for (const auto& j : analysis->joinWrites) joins.push_back(&j);
    if (auto refusal = joinRefusal(joins)) p.refusal = std::move(refusal);
  }
}

const std::vector<std::vector<std::string>>& FunctionCheck::uniqueKeys(const sql::TableRef& t) {
  const auto id = std::pair{t.schema, t.name};
  auto it = keys_.find(id);
  if (it == keys_.end())
    it = keys_.emplace(id, conn_ ? conn_->uniqueKeys(t.schema, t.name) : decltype(it->second){}).first;
  return it->second;
}

std::optional<db::Outcome> FunctionCheck::joinRefusal(const std::vector<const sql::JoinWrite*>& writes) {
  const sql::UniqueKeys keys = [&](const sql::TableRef& t) { return uniqueKeys(t); };
  for (const sql::JoinWrite* w : writes) {
    const std::string item = sql::joinAmbiguity(*w, keys);
    if (item.empty()) continue;
    return db::Outcome::error(
        code::Nondeterministic,
        fmt::format("{}: a row of {} may join several rows of {}, and PostgreSQL then takes the values from whichever "
                    "join row its plan meets first, which differs between nodes (row order, settings, statistics)",
                    w->what, w->target, item),
        "",
        w->what.rfind("DELETE", 0) == 0
            ? fmt::format("RETURNING only the columns of {0}, or join {1} on a unique key (each column qualified)",
                          w->target, item)
            : fmt::format("join {0} on a unique key (its primary key, or a unique NOT NULL key, equated in the WHERE "
                          "with columns of {1}, each column qualified), or pick one row deterministically: SET v = "
                          "(SELECT {0}.v FROM ... WHERE ... ORDER BY <a unique key> LIMIT 1), or join a subquery that "
                          "aggregates (SELECT k, max(v) AS v FROM ... GROUP BY k)",
                          item, w->target));
  }
  return std::nullopt;
}

void FunctionCheck::checkOrder(Prepared& p) {
  std::vector<const sql::OrderRequirement*> requirements;
  // A transaction's commit compares what its reads returned: their row orders count as a write's.
  const bool reads = p.parsed.request.transaction.has_value();
  for (const auto& analysis : p.ordered) {
    for (const auto& req : analysis->orderRequirements) requirements.push_back(&req);
    if (reads)
      for (const auto& req : analysis->readOrderRequirements) requirements.push_back(&req);
  }
  if (auto refusal = orderRefusal(requirements)) p.refusal = std::move(refusal);
}

std::optional<db::Outcome>
FunctionCheck::keyUpdateRefusal(const std::vector<std::shared_ptr<const sql::Analysis>>& analyses) {
  for (const auto& analysis : analyses) {
    for (const sql::KeyUpdate& u : analysis->keyUpdates) {
      const auto id = std::pair{u.table.schema, u.table.name};
      auto it = immediate_.find(id);
      if (it == immediate_.end())
        it = immediate_.emplace(id, conn_ ? conn_->immediateUniqueColumns(id.first, id.second) : decltype(it->second){})
                 .first;
      const auto& checked = it->second;
      const auto set = std::find_if(u.columns.begin(), u.columns.end(), [&](const std::string& c) {
        return std::find(checked.begin(), checked.end(), c) != checked.end();
      });
      if (set == u.columns.end()) continue;
      // One row at most: its WHERE gives every column of a unique key.
      const auto& keys = uniqueKeys(u.table);
      const bool oneRow = std::any_of(keys.begin(), keys.end(), [&](const auto& key) {
        return std::all_of(key.begin(), key.end(), [&](const std::string& c) {
          return std::find(u.pinned.begin(), u.pinned.end(), c) != u.pinned.end();
        });
      });
      if (oneRow) continue;
      return db::Outcome::error(
          code::Nondeterministic,
          fmt::format("UPDATE of {}.{}: PostgreSQL checks a unique index that is not DEFERRABLE row by row, so whether "
                      "changing the key of several rows collides on the way depends on the order each node visits "
                      "its rows in",
                      u.table.name, *set),
          "",
          "update one row per statement, by its key (WHERE id = ...), or make the constraint DEFERRABLE (ALTER TABLE "
          "... ADD CONSTRAINT ... UNIQUE (...) DEFERRABLE), which PostgreSQL checks at the end of the statement");
    }
  }
  return std::nullopt;
}

std::optional<db::Outcome> FunctionCheck::orderRefusal(const std::vector<const sql::OrderRequirement*>& requirements) {
  const sql::UniqueKeys keys = [&](const sql::TableRef& t) { return uniqueKeys(t); };
  auto applies = [&](const sql::OrderRequirement& req) {
    if (!req.onlyIfDrawnDefaults) return true;
    const auto& d = *req.onlyIfDrawnDefaults;
    const auto id = std::pair{d.target.schema, d.target.name};
    auto it = drawn_.find(id);
    if (it == drawn_.end())
      it = drawn_.emplace(id, conn_ ? conn_->drawnDefaults(d.target.schema, d.target.name) : decltype(it->second){})
               .first;
    return std::any_of(it->second.begin(), it->second.end(), [&](const std::string& column) {
      return !d.listed || std::find(d.given.begin(), d.given.end(), column) == d.given.end();
    });
  };
  for (const sql::OrderRequirement* r : requirements) {
    const sql::OrderRequirement& req = *r;
    if (applies(req) && !sql::orderIsTotal(req, keys)) {
      std::string tables;
      for (const auto& t : req.tables) tables += (tables.empty() ? "" : ", ") + t.name;
      if (!req.why.empty())
        return db::Outcome::error(code::Nondeterministic, fmt::format("{}: {}", req.what, req.why), "", req.hint);
      if (req.unordered) {
        return db::Outcome::error(
            code::Nondeterministic,
            fmt::format("{}: the rows come from a UNION, subquery, CTE or function, in an order that differs "
                        "between nodes",
                        req.what),
            "", "select from the tables themselves with an ORDER BY that covers a unique key");
      }
      return db::Outcome::error(
          code::Nondeterministic,
          fmt::format("{} in a write takes rows in an order that is not total: nodes store their rows in different "
                      "physical orders and would pick or number different rows",
                      req.what),
          "", fmt::format("add an ORDER BY that covers a unique NOT NULL key (e.g. the primary key) of {}", tables));
    }
  }
  return std::nullopt;
}

void Preparer::analyze(Prepared& p, bool forAll, std::int64_t offset, std::int64_t timestampMs,
                       const auth::Rule* rule) {
  const Request& req = p.parsed.request;
  const auto& tx = req.transaction; // an interactive transaction: its own pinned values, parameters per statement
  std::vector<std::shared_ptr<const sql::Analysis>> analyses; // keeps `statements` alive
  std::vector<const sql::Statement*> statements;
  bool usesTime = false, storesTime = false, defaultsTime = false, readOnly = true, usesRandom = false,
       txControl = false, nonTx = false, drawsUuid = false;
  std::vector<std::string> functions;
  const sql::Refusal* nondeterministic = nullptr; // points into `analyses`
  const sql::Refusal* serverAccess = nullptr;
  const sql::Refusal* unsupported = nullptr;
  const sql::Refusal* sessionState = nullptr;
  try {
    for (const auto& text : req.statements) {
      analyses.push_back(cache_ ? cache_->get(text) : std::make_shared<const sql::Analysis>(dialect_->analyze(text)));
      const sql::Analysis& a = *analyses.back();
      for (const auto& st : a.statements) statements.push_back(&st);
      usesTime |= a.usesCurrentTime;
      storesTime |= a.storesCurrentTimeElsewhere;
      defaultsTime |= a.defaultsCurrentTime;
      drawsUuid |= a.drawsUuid;
      readOnly = readOnly && a.readOnly;
      txControl |= a.transactionControl;
      nonTx |= a.nonTransactional;
      functions.insert(functions.end(), a.functions.begin(), a.functions.end());
      if (forAll && !nondeterministic && a.nondeterministic) nondeterministic = &*a.nondeterministic;
      if (!serverAccess && a.serverAccess) serverAccess = &*a.serverAccess;
      if (!unsupported && a.unsupported) unsupported = &*a.unsupported;
      if (!sessionState && a.sessionState) sessionState = &*a.sessionState;
      if (forAll && (!a.orderRequirements.empty() || !a.keyUpdates.empty() || !a.joinWrites.empty() ||
                     (tx && !a.readOrderRequirements.empty())))
        p.ordered.push_back(analyses.back());
      if (forAll) {
        p.targets.insert(p.targets.end(), a.writeTargets.begin(), a.writeTargets.end());
        p.reads.insert(p.reads.end(), a.reads.begin(), a.reads.end());
        p.refreshes.insert(p.refreshes.end(), a.refreshes.begin(), a.refreshes.end());
      }
      p.scansRows = p.scansRows || (forAll && a.scansRows);
    }
  } catch (const sql::SyntaxError& e) {
    p.refusal = db::Outcome::error(code::SyntaxError, e.what(), adapter_->sqlStateFor(code::SyntaxError));
    return;
  } catch (const std::length_error& e) {
    p.refusal = db::Outcome::error(code::TooLarge, e.what());
    return;
  } catch (const std::exception& e) {
    // Never let one request stop the node: an SQL text that cannot be analyzed is refused.
    p.refusal = db::Outcome::error(code::BadRequest, std::string("cannot analyze the SQL: ") + e.what());
    return;
  }
  if (statements.empty() && !(tx && !tx->staged.empty())) { // (a commit of nothing but staged parts runs those)
    p.refusal = db::Outcome::error(code::EmptySql, "the request has no SQL to run");
    return;
  }
  if (rule) { // the client's permissions, from the parse tree
    std::vector<std::string> kinds;
    for (const auto* st : statements) kinds.push_back(st->kind);
    if (auto denial = auth::authorize(req.clientId, *rule, forAll && !readOnly, kinds)) {
      p.refusal = db::Outcome::error(denial->code, denial->message, "", denial->hint);
      return;
    }
  }
  std::sort(functions.begin(), functions.end());
  functions.erase(std::unique(functions.begin(), functions.end()), functions.end());
  usesRandom = std::binary_search(functions.begin(), functions.end(), "random");

  // Parameters: every statement takes $1..$n of the request's params; the request must give exactly
  // as many as the statements use, so a mismatch is refused here rather than by the driver.
  std::vector<int> statementParams;
  int maxParam = 0;
  for (const auto* st : statements) {
    statementParams.push_back(st->maxParam);
    maxParam = std::max(maxParam, statementParams.back());
  }
  if (tx) {
    if (statements.size() != req.statements.size()) {
      p.refusal = db::Outcome::error(code::BadRequest, "a transaction request takes one statement per entry");
      return;
    }
    for (std::size_t k = 0; k < statements.size(); ++k) {
      const std::size_t given = k < tx->params.size() ? tx->params[k].size() : 0;
      if (static_cast<std::size_t>(statementParams[k]) != given) {
        p.refusal = db::Outcome::error(code::ParamMismatch,
                                       fmt::format("statement {} uses {} parameter(s) but the transaction gives it {}",
                                                   k + 1, statementParams[k], given),
                                       "", "pass one value per $n placeholder");
        return;
      }
    }
    if (forAll && !p.speculate)
      for (std::size_t k = 0; k < statements.size(); ++k)
        if (!statements[k]->validatable) {
          p.refusal = db::Outcome::error(
              code::Nondeterministic,
              fmt::format("statement {} of the transaction reads what differs between nodes (a catalog, a system "
                          "column, a setting), so its commit cannot compare it",
                          k + 1),
              "", "read it outside the transaction, or leave it out of the statements to commit");
          return;
        }
  } else if (static_cast<std::size_t>(maxParam) != req.params.size()) {
    p.refusal = db::Outcome::error(
        code::ParamMismatch,
        fmt::format("the SQL uses {} parameter(s) but the request gives {}", maxParam, req.params.size()), "",
        "pass one value per $n placeholder");
    return;
  }
  // A NUL character cannot travel in a text parameter (the client library would cut the value there, and
  // PostgreSQL's text cannot hold one): refused rather than stored shortened.
  const auto paramsOf = [&](std::size_t k) -> const nlohmann::json& {
    static const nlohmann::json none = nlohmann::json::array();
    return !tx ? req.params : k < tx->params.size() ? tx->params[k] : none;
  };
  for (std::size_t k = 0; k < (tx ? tx->params.size() : 1); ++k)
    for (std::size_t i = 0; i < paramsOf(k).size(); ++i)
      if (paramsOf(k)[i].is_string() && paramsOf(k)[i].get_ref<const std::string&>().find('\0') != std::string::npos) {
        p.refusal = db::Outcome::error(
            code::InvalidUtf8, fmt::format("parameter ${} contains a NUL character, which text cannot hold", i + 1), "",
            "remove the NUL characters, or send binary data as a hex or base64 string (e.g. decode(..., 'hex'))");
        return;
      }
  if (serverAccess) { // on ONE too: a node is not a shell on its database server
    p.refusal = db::Outcome::error(code::Forbidden, serverAccess->message, "", serverAccess->hint);
    return;
  }
  if (unsupported) {
    p.refusal = db::Outcome::error(code::FeatureNotSupported, unsupported->message,
                                   adapter_->sqlStateFor(code::FeatureNotSupported), unsupported->hint);
    return;
  }
  if (txControl) {
    p.refusal = db::Outcome::error(
        code::TransactionControl,
        "transaction control statements are not allowed: Kluster runs each request as one transaction", "",
        "send the statements as one request (`statements`) to apply them atomically");
    return;
  }
  if (!forAll && sessionState) { // on ALL it is among the determinism refusals below
    p.refusal = db::Outcome::error(code::Nondeterministic, sessionState->message, "", sessionState->hint);
    return;
  }
  if (forAll) {
    if (nonTx) {
      p.refusal = db::Outcome::error(
          code::NotTransactional,
          "this statement cannot run inside a transaction, so Kluster cannot apply it exactly once", "",
          "run it on each node's database directly (e.g. VACUUM) or use the non-concurrent form");
      return;
    }
    if (nondeterministic) {
      p.refusal = db::Outcome::error(code::Nondeterministic, nondeterministic->message, "", nondeterministic->hint);
      return;
    }
    // The node judges the functions and triggers a write runs from the catalog before the request runs: one that
    // the same request defines would run unjudged.
    const auto kindIs = [&](std::initializer_list<std::string_view> kinds) {
      return std::any_of(statements.begin(), statements.end(), [&](const sql::Statement* st) {
        return std::find(kinds.begin(), kinds.end(), st->kind) != kinds.end();
      });
    };
    // A view or rule is used only by the statements after it (a write before it reads the one in place, judged).
    const std::initializer_list<std::string_view> uses = {"InsertStmt", "UpdateStmt",        "DeleteStmt",
                                                          "MergeStmt",  "CallStmt",          "DoStmt",
                                                          "SelectStmt", "CreateTableAsStmt", "RefreshMatViewStmt"};
    const auto viewThenUse = [&] {
      const auto view = std::find_if(statements.begin(), statements.end(), [](const sql::Statement* st) {
        return st->kind == "ViewStmt" || st->kind == "RuleStmt";
      });
      return view != statements.end() && std::any_of(view + 1, statements.end(), [&](const sql::Statement* st) {
               return std::find(uses.begin(), uses.end(), st->kind) != uses.end();
             });
    };
    if ((kindIs({"CreateFunctionStmt", "CreateTrigStmt"}) &&
         ((tx && !tx->staged.empty()) || // the parts it staged write
          kindIs({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "CallStmt", "DoStmt", "SelectStmt"}))) ||
        (kindIs({"ViewStmt", "RuleStmt"}) && ((tx && !tx->staged.empty()) || viewThenUse()))) {
      p.refusal = db::Outcome::error(
          code::Nondeterministic,
          "this request defines a function, trigger, view or rule and runs statements that could use it: Kluster "
          "judges what a write runs from the definitions in place before the request",
          "",
          "send CREATE FUNCTION / TRIGGER / VIEW / RULE in a request of their own, then the statements that use them");
      return;
    }
    if (storesTime) {
      p.refusal = db::Outcome::error(code::Nondeterministic,
                                     "the current time would be stored in a definition (DEFAULT, view, trigger...) and "
                                     "evaluated later by each node's own clock",
                                     "", "pass the timestamp explicitly from the client, e.g. as a parameter");
      return;
    }
  }
  for (const auto* st : statements)
    if (!sql::isPlainDml(st->kind)) p.changesSchema = true;
  p.work.statements.reserve(statements.size());
  for (std::size_t k = 0; k < statements.size(); ++k) {
    const auto& st = *statements[k];
    db::Statement s;
    const std::string& text = forAll && !st.allSql.empty() ? st.allSql : st.sql; // gen_random_uuid() pinned
    s.sql = (forAll && defaultsTime) ? dialect_->pinDefaultTime(text) : text;
    if (forAll && usesTime) s.sql = dialect_->pinCurrentTime(s.sql, timestampMs);
    // Pinned texts differ per request, and DDL must not run against statements prepared before it.
    // (not on ONE's connections, which DDL does not reach: forgetStatements())
    s.reusable = forAll && !p.speculate && !usesTime && !p.changesSchema; // a UUID's text is the same every time
    s.params.reserve(static_cast<std::size_t>(statementParams[k]));
    if (std::find(st.usedParams.begin(), st.usedParams.end(), false) != st.usedParams.end()) {
      s.unusedParams = st.usedParams;
      s.unusedParams.flip();
    }
    for (int i = 0; i < statementParams[k]; ++i)
      s.params.push_back(paramText(paramsOf(k)[static_cast<std::size_t>(i)]));
    p.work.statements.push_back(std::move(s));
  }
  if (forAll && usesRandom) p.work.randomSeed = tx ? tx->seed : randomSeedFor(offset);
  if (forAll && drawsUuid) p.work.uuidKey = tx ? tx->uuidKey : uuidKeyFor(offset, req.messageId);
  if (tx) {
    p.work.expect = tx->expect;
    p.work.digests = true;
    p.work.sequenceStarts = tx->sequences;
    p.work.readOnly = readOnly;
  }
  if (forAll) {
    p.writes = !readOnly || tx; // a transaction's reads decide its commit: judged as writes
    p.timestampMs = timestampMs;
    p.offset = offset;
    // The request defines such a DEFAULT (ALTER TABLE ... ADD COLUMN fills the existing rows with it).
    if (defaultsTime) p.work.requestTimeMs = timestampMs;
  }
  if (p.speculate && !readOnly && !p.changesSchema) { // DDL may create or change what draws: every sequence then
    db::Work::SequenceScope scope;
    for (const auto& t : p.targets) scope.tables.emplace_back(t.schema, t.name);
    scope.functions = functions;
    p.work.sequenceScope = std::move(scope);
  }
  if (forAll) p.functions = std::move(functions);
}

} // namespace kluster::node
