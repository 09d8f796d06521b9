#include "core/node/batch.hpp"

#include "core/log.hpp"
#include "core/node/responder.hpp"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <string_view>
#include <unordered_set>

namespace kluster::node {

bool runBatch(const BatchContext& context, db::Connection& db, FunctionCheck& check, std::vector<BatchRequest>& batch,
              bool careful, BatchAnswers& answers, std::int64_t startedUs) {
  answers = {};
  for (auto& item : batch) check.apply(*item.prepared);
  std::map<std::string, db::AppliedRecord> applied;
  if (careful) {
    std::vector<std::string> ids;
    for (const auto& item : batch)
      if (item.prepared->parsed.hasRequestId()) ids.push_back(item.prepared->parsed.request.messageId);
    applied = db.findApplied(ids);
  }

  std::vector<const db::Work*> work;
  std::vector<int> slot(batch.size(), -1);   // index into `work`, or -1 when not executed
  std::unordered_set<std::string_view> seen; // ids in this batch (they live in `batch`)
  seen.reserve(batch.size());
  std::vector<std::optional<db::AppliedRecord>> duplicateOf(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& p = *batch[i].prepared;
    const auto& id = p.parsed.request.messageId;
    if (p.parsed.hasRequestId()) {
      if (auto it = applied.find(id); it != applied.end())
        duplicateOf[i] = it->second;
      else if (!seen.insert(id).second)
        duplicateOf[i] = db::AppliedRecord{-1, "", "", 0};
    }
    if (!p.refusal && !duplicateOf[i] && !p.work.statements.empty()) { // (a tick has nothing to run)
      slot[i] = static_cast<int>(work.size());
      work.push_back(&p.work);
    }
  }
  db.begin();
  auto outcomes = db.execute(work);

  std::vector<db::AppliedEntry> entries;
  entries.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto offset = batch[i].offset;
    const auto& p = *batch[i].prepared;
    if (p.control) {
      entries.push_back({p.parsed.request.messageId, offset, std::string(code::Ok), "", 0});
      continue;
    }
    db::Outcome outcome;
    if (duplicateOf[i]) {
      const auto& d = *duplicateOf[i];
      outcome = db::Outcome::error(
          code::Duplicate, d.offset >= 0
                               ? fmt::format("request already applied at ALL offset {} ({})", d.offset, d.resultCode)
                               : std::string("request already applied in this batch"));
      outcome.rowsAffected = d.rowsAffected;
    } else {
      outcome = p.refusal     ? *p.refusal
                : slot[i] < 0 ? db::Outcome{} // nothing to run
                              : std::move(outcomes[static_cast<std::size_t>(slot[i])]);
    }
    if (!p.parsed.hasRequestId()) {
      answers.reports.push_back({context.nodeId,
                                 p.parsed.errorCode,
                                 fmt::format("unreadable request on ALL: {}", p.parsed.errorMessage),
                                 {},
                                 "ALL",
                                 offset,
                                 {},
                                 "warning",
                                 0});
      continue;
    }
    Response r = buildResponse(context.nodeId, p.parsed, "ALL", std::move(outcome), startedUs / 1000);
    if (p.parsed.request.trace) r.trace = Trace{batch[i].fetchedUs, startedUs, 0, 0};
    r.allOffset = duplicateOf[i] && duplicateOf[i]->offset >= 0 ? duplicateOf[i]->offset : offset;
    if (!duplicateOf[i])
      entries.push_back({p.parsed.request.messageId, offset, r.resultCode, r.resultHash, r.rowsAffected});
    answers.responses.push_back(std::move(r));
  }
  const auto& last = batch.back();
  if (!db.commit(context.cluster, entries, {last.offset, last.prepared->parsed.request.messageId})) {
    if (careful) // every id was looked up first: someone else writes to _kluster.applied
      throw db::DbError(db::ErrorKind::Transient, code::NodeError,
                        "a request id looked up as new was recorded meanwhile",
                        context.adapter->sqlStateFor(code::Duplicate));
    KLOG(Info, "node", "ALL offsets {}..{} hold a request applied before: applying the batch again without it",
         batch.front().offset, last.offset);
    return false;
  }
  return true;
}

} // namespace kluster::node
