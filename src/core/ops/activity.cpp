#include "core/ops/activity.hpp"

#include "core/ops/cluster_state.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kluster::ops {

std::optional<ErrorEvent> parseErrorReport(std::string_view payload, std::int64_t fallbackMs) {
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("code")) return std::nullopt;
  auto text = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  ErrorEvent e;
  e.nodeId = text("nodeId");
  e.code = text("code");
  e.severity = text("severity");
  e.message = text("message");
  e.requestId = text("requestId");
  e.requestTopic = text("requestTopic");
  e.sqlState = text("sqlState");
  if (auto it = j.find("offset"); it != j.end() && it->is_number_integer()) e.offset = it->get<std::int64_t>();
  auto ts = j.find("timestamp");
  e.timestampMs = ts != j.end() && ts->is_number_integer() ? ts->get<std::int64_t>() : fallbackMs;
  return e;
}

void RateWindow::add(std::int64_t timestampMs, std::int64_t count) {
  const std::int64_t second = timestampMs / 1000;
  if (!buckets_.empty() && buckets_.back().first == second) {
    buckets_.back().second += count;
    return;
  }
  // Messages from several partitions arrive slightly out of time order: keep the buckets sorted.
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), second,
                             [](const auto& bucket, std::int64_t s) { return bucket.first < s; });
  if (it != buckets_.end() && it->first == second)
    it->second += count;
  else
    buckets_.insert(it, {second, count});
}

void RateWindow::expire(std::int64_t fromMs) {
  while (!buckets_.empty() && (buckets_.front().first + 1) * 1000 <= fromMs) buckets_.pop_front();
}

std::int64_t RateWindow::countSince(std::int64_t fromMs) const {
  std::int64_t total = 0;
  for (auto it = buckets_.rbegin(); it != buckets_.rend() && (it->first + 1) * 1000 > fromMs; ++it) total += it->second;
  return total;
}

ActivityTracker::ActivityTracker(Limits limits, std::int64_t startMs) : limits_(limits), startMs_(startMs) {}

ActivityTracker::PerNode& ActivityTracker::perNode(const std::string& nodeId) {
  auto [it, added] = index_.emplace(nodeId, static_cast<std::uint16_t>(nodes_.size()));
  if (added) nodes_.push_back(PerNode{nodeId, {}, {}, {}});
  return nodes_[it->second];
}

void ActivityTracker::addResponse(const Response& response, std::int64_t timestampMs) {
  if (response.nodeId.empty()) return;
  if (response.requestTopic == checks::kTopic) {
    if (auto r = checks::Result::fromResponse(response)) {
      perNode(r->nodeId);
      checks_.add(std::move(*r));
      checkSeenMs_ = timestampMs;
    }
    return;
  }
  auto& node = perNode(response.nodeId);
  node.responses.add(timestampMs);
  if (response.requestTopic != "ALL") return;
  auto& latest = node.latest;
  latest.lastAllResponseMs = std::max(latest.lastAllResponseMs.value_or(timestampMs), timestampMs);
  if (!response.allOffset) return;
  const auto offset = *response.allOffset;
  latest.lastAllOffset = std::max(latest.lastAllOffset.value_or(offset), offset);
  if (response.resultHash.empty()) return;

  const auto nodeIndex = index_.at(response.nodeId);
  auto record = [&](Answers& answers) {
    for (auto& [idx, hash] : answers.byNode)
      if (idx == nodeIndex) {
        hash = response.resultHash; // a node answering twice (a redelivery) counts once, with its latest answer
        return;
      }
    answers.byNode.emplace_back(nodeIndex, response.resultHash);
  };
  if (auto it = divergent_.find(offset); it != divergent_.end()) {
    record(it->second);
    return;
  }
  auto [it, added] = answers_.try_emplace(offset);
  auto& answers = it->second;
  if (added) {
    answers.requestId = response.requestId;
    answers.firstSeenMs = timestampMs;
  }
  record(answers);
  const bool differs = std::any_of(answers.byNode.begin(), answers.byNode.end(),
                                   [&](const auto& a) { return a.second != answers.byNode.front().second; });
  if (differs) {
    answers.divergent = true;
    answers.firstSeenMs = timestampMs;
    divergent_.emplace(offset, std::move(answers));
    answers_.erase(it);
    while (divergent_.size() > limits_.divergences) divergent_.erase(divergent_.begin());
  }
  // Oldest requests go first: nodes answer in ALL order, so they are the ones every node has answered.
  while (answers_.size() > limits_.trackedRequests) answers_.erase(answers_.begin());
}

void ActivityTracker::addError(ErrorEvent event) {
  if (!event.nodeId.empty()) perNode(event.nodeId).errors.add(event.timestampMs);
  auto it = std::find_if(errors_.begin(), errors_.end(),
                         [&](const ErrorEvent& e) { return e.timestampMs < event.timestampMs; });
  errors_.insert(it, std::move(event));
  while (errors_.size() > limits_.errors) errors_.pop_back();
}

void ActivityTracker::expire(std::int64_t nowMs) {
  const auto from = nowMs - limits_.window.count();
  for (auto& n : nodes_) {
    n.responses.expire(from);
    n.errors.expire(from);
  }
}

NodeActivity ActivityTracker::node(const std::string& nodeId, std::int64_t nowMs) const {
  auto it = index_.find(nodeId);
  if (it == index_.end()) return {};
  const auto& n = nodes_[it->second];
  NodeActivity a = n.latest;
  const auto from = nowMs - observedWindow(nowMs).count();
  a.responses = n.responses.countSince(from);
  a.errors = n.errors.countSince(from);
  return a;
}

std::vector<std::string> ActivityTracker::nodesSeen() const {
  std::vector<std::string> ids;
  for (const auto& n : nodes_) ids.push_back(n.id);
  return ids;
}

std::chrono::milliseconds ActivityTracker::observedWindow(std::int64_t nowMs) const {
  const auto observed = std::min<std::int64_t>(limits_.window.count(), nowMs - startMs_);
  return std::chrono::milliseconds(std::max<std::int64_t>(observed, 1000));
}

Divergence ActivityTracker::describe(std::int64_t offset, const Answers& answers) const {
  Divergence d;
  d.requestId = answers.requestId;
  d.allOffset = offset;
  d.detectedMs = answers.firstSeenMs;
  for (const auto& [idx, hash] : answers.byNode) {
    auto it = std::find_if(d.hashes.begin(), d.hashes.end(), [&](const auto& h) { return h.first == hash; });
    if (it == d.hashes.end()) it = d.hashes.insert(d.hashes.end(), {hash, {}});
    it->second.push_back(nodes_[idx].id);
  }
  for (auto& h : d.hashes) std::sort(h.second.begin(), h.second.end(), naturalLess);
  std::stable_sort(d.hashes.begin(), d.hashes.end(),
                   [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  const bool majority = d.hashes.size() == 1 || d.hashes[0].second.size() > d.hashes[1].second.size();
  if (majority) d.majorityHash = d.hashes[0].first;
  for (std::size_t i = majority ? 1 : 0; i < d.hashes.size(); ++i)
    d.divergedNodes.insert(d.divergedNodes.end(), d.hashes[i].second.begin(), d.hashes[i].second.end());
  std::sort(d.divergedNodes.begin(), d.divergedNodes.end(), naturalLess);
  return d;
}

std::vector<Divergence> ActivityTracker::divergences() const {
  std::vector<Divergence> out;
  for (auto it = divergent_.rbegin(); it != divergent_.rend(); ++it) out.push_back(describe(it->first, it->second));
  // Only the latest complete check counts: a node repaired (restored) since shows as identical again.
  if (auto v = checks_.latest(); v && !v->identical()) {
    Answers a;
    a.requestId = fmt::format("check@{}", v->allOffset);
    a.firstSeenMs = checkSeenMs_;
    for (const auto& r : checks_.at(v->allOffset)) a.byNode.emplace_back(index_.at(r.nodeId), r.digest());
    auto d = describe(v->allOffset, a);
    d.check = true;
    d.tables = v->tables;
    out.insert(out.begin(), std::move(d));
  }
  return out;
}

} // namespace kluster::ops
