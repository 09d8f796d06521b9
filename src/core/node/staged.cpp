// Staged parts of interactive transactions (docs/transactions.md "COPY in a transaction"). A transaction's COPY
// may carry far more rows than one request can, and its rows need no speculation (its client sees only "COPY n"):
// the proxy sends them to ALL as parts, each an ordinary request that every node analyzes and checks as it would
// apply it (refusals alike), then stores instead of applying, in the same batch as its position. The commit names
// its parts and where they go among its statements; every node reads them back from its own database, at the same
// position of the log, and applies everything as one transaction. A part is in a batch before its commit's (the
// commit starts a batch of its own), so it is committed when the commit's batch reads it.
#include "core/node/prepare.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>

#include <map>

namespace kluster::node {

void stagePart(const db::Adapter& adapter, Prepared& p, std::int64_t timestampMs) {
  const auto& req = p.parsed.request;
  const auto& tx = *req.transaction;
  if (p.changesSchema) {
    p.refusal = db::Outcome::error(code::BadRequest,
                                   "only INSERT, UPDATE, DELETE and MERGE statements can be staged in a transaction");
    return;
  }
  nlohmann::json statements = nlohmann::json::array();
  for (const auto& st : p.work.statements) {
    nlohmann::json params = nlohmann::json::array();
    for (const auto& v : st.params) params.push_back(v ? nlohmann::json(*v) : nlohmann::json());
    nlohmann::json one{{"sql", st.sql}, {"params", std::move(params)}};
    if (!st.unusedParams.empty()) one["unused"] = st.unusedParams;
    statements.push_back(std::move(one));
  }
  const nlohmann::json body{{"statements", std::move(statements)},
                            {"random", p.work.randomSeed.has_value()},
                            {"uuid", p.work.uuidKey.has_value()},
                            {"time", p.work.requestTimeMs.has_value()}};
  auto store = adapter.stageStatement(tx.uuidKey, *tx.stagePart, req.clientId, timestampMs, body.dump());
  if (!store) {
    p.refusal = db::Outcome::error(code::FeatureNotSupported,
                                   fmt::format("a {} cluster cannot stage a transaction's rows", adapter.type()),
                                   adapter.sqlStateFor(code::FeatureNotSupported));
    return;
  }
  p.work = db::Work{};
  p.work.statements.push_back(std::move(*store));
  p.stages = true;
}

void FunctionCheck::spliceStaged(Prepared& p) {
  const auto& tx = p.parsed.request.transaction;
  if (p.spliced || p.refusal || !tx || tx->staged.empty()) return;
  std::map<std::int32_t, db::StagedPart> parts;
  if (conn_)
    for (auto& part : conn_->loadStaged(tx->uuidKey)) parts.emplace(part.part, std::move(part));
  db::Work& work = p.work;
  std::vector<db::Statement> statements{adapter_->dropStaged(tx->uuidKey)};
  std::vector<std::string> expect{""}; // "" : not compared
  bool random = false, uuid = false, time = false;
  auto it = tx->staged.begin();
  for (std::size_t k = 0; k <= work.statements.size(); ++k) {
    for (; it != tx->staged.end() && it->before == k; ++it) {
      auto found = parts.find(it->part);
      if (found == parts.end()) {
        p.refusal = db::Outcome::error(
            code::SerializationFailure,
            fmt::format("part {} of the rows this transaction copied is not stored on the nodes (its transaction "
                        "began more than a day of log time ago, or the part was never staged): nothing was applied",
                        it->part),
            "", "retry the whole transaction");
        return;
      }
      if (found->second.clientId != p.parsed.request.clientId) {
        p.refusal = db::Outcome::error(code::Forbidden, fmt::format("part {} of the transaction was staged by another "
                                                                    "client",
                                                                    it->part));
        return;
      }
      try { // written by this code; a part changed by hand is refused rather than stop the apply loop
        const auto body = nlohmann::json::parse(found->second.body);
        for (const auto& one : body.at("statements")) {
          db::Statement st;
          st.sql = one.at("sql").get<std::string>();
          for (const auto& v : one.at("params"))
            st.params.push_back(v.is_null() ? std::nullopt : std::optional<std::string>(v.get<std::string>()));
          if (auto u = one.find("unused"); u != one.end()) st.unusedParams = u->get<std::vector<bool>>();
          statements.push_back(std::move(st));
          expect.emplace_back();
        }
        random |= body.value("random", false);
        uuid |= body.value("uuid", false);
        time |= body.value("time", false);
      } catch (const std::exception& e) {
        p.refusal = db::Outcome::error(code::BadRequest,
                                       fmt::format("part {} of the transaction is unreadable: {}", it->part, e.what()));
        return;
      }
    }
    if (k == work.statements.size()) break;
    statements.push_back(std::move(work.statements[k]));
    expect.push_back(k < work.expect.size() ? work.expect[k] : std::string());
  }
  work.statements = std::move(statements);
  work.expect = std::move(expect);
  work.readOnly = false;
  if (random && !work.randomSeed) work.randomSeed = tx->seed;
  if (uuid && !work.uuidKey) work.uuidKey = tx->uuidKey;
  if (time && !work.requestTimeMs) work.requestTimeMs = tx->timeMs;
  p.spliced = true;
}

} // namespace kluster::node
