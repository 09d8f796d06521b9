#include "core/ops/health.hpp"

#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kluster::ops {
namespace {

std::string seconds(std::int64_t ms) { return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0); }

ojson optionalInt(const std::optional<std::int64_t>& v) { return v ? ojson(*v) : ojson(nullptr); }

double perSecond(std::int64_t count, std::int64_t windowMs) {
  return windowMs > 0 ? static_cast<double>(count) * 1000.0 / static_cast<double>(windowMs) : 0.0;
}

// Rates rounded for display and JSON: two decimals is all an operator reads.
double rounded(double v) { return static_cast<double>(static_cast<std::int64_t>(v * 100.0 + 0.5)) / 100.0; }

} // namespace

std::string_view stateName(NodeState state) {
  switch (state) {
  case NodeState::Ok: return "ok";
  case NodeState::Lagging: return "lagging";
  case NodeState::Silent: return "silent";
  case NodeState::Stopped: return "stopped";
  case NodeState::Diverged: return "diverged";
  }
  return "unknown";
}

std::optional<std::int64_t> appliedOffset(std::int64_t committed, std::optional<std::int64_t> lastAllOffset) {
  std::optional<std::int64_t> applied;
  if (committed > 0) applied = committed - 1;
  if (lastAllOffset && (!applied || *lastAllOffset > *applied)) applied = lastAllOffset;
  return applied;
}

std::int64_t allLag(std::optional<std::int64_t> applied, std::int64_t logStart, std::int64_t logEnd) {
  if (!applied) return std::max<std::int64_t>(0, logEnd - logStart);
  return std::max<std::int64_t>(0, logEnd - (*applied + 1));
}

void classify(std::vector<NodeHealth>& nodes, const std::vector<Divergence>& divergences, const Thresholds& thresholds,
              std::int64_t nowMs, std::int64_t historyStartMs) {
  for (auto& n : nodes) {
    n.reasons.clear();
    n.state = NodeState::Ok;
    auto worsen = [&](NodeState s) { n.state = std::max(n.state, s); };

    for (const auto& d : divergences) {
      if (std::find(d.divergedNodes.begin(), d.divergedNodes.end(), n.nodeId) == d.divergedNodes.end()) continue;
      std::string mine;
      for (const auto& [hash, who] : d.hashes)
        if (std::find(who.begin(), who.end(), n.nodeId) != who.end()) mine = hash;
      if (d.check) {
        std::string tables;
        for (const auto& t : d.tables) tables += (tables.empty() ? "" : " | ") + t;
        n.reasons.push_back(fmt::format(
            "{} diverged: continuous verification at ALL offset {} found its tables different from {}: {}", n.nodeId,
            d.allOffset, d.majorityHash.empty() ? "the other nodes' (no majority)" : "the majority's", tables));
        worsen(NodeState::Diverged);
        continue;
      }
      n.reasons.push_back(
          d.majorityHash.empty()
              ? fmt::format("{} diverged: request {} (ALL offset {}) answered with resultHash {}, and no outcome "
                            "has a majority",
                            n.nodeId, d.requestId, d.allOffset, mine)
              : fmt::format("{} diverged: request {} (ALL offset {}) answered with resultHash {}, the majority {}",
                            n.nodeId, d.requestId, d.allOffset, mine, d.majorityHash));
      worsen(NodeState::Diverged);
    }

    if (!n.member) {
      n.reasons.push_back(fmt::format("{} stopped: its group {} has no active member (state {}); {} ALL message(s) "
                                      "not applied",
                                      n.nodeId, n.group, n.groupState, n.lag));
      worsen(NodeState::Stopped);
    } else {
      // Silent: the others answered ALL requests this node has not reached, and it said nothing for a while.
      std::optional<std::int64_t> othersOffset, othersLastMs;
      for (const auto& m : nodes) {
        if (&m == &n || !m.lastAllOffset) continue;
        othersOffset = std::max(othersOffset.value_or(*m.lastAllOffset), *m.lastAllOffset);
        if (m.lastAllResponseMs)
          othersLastMs = std::max(othersLastMs.value_or(*m.lastAllResponseMs), *m.lastAllResponseMs);
      }
      const auto lastHeard = n.lastAllResponseMs.value_or(historyStartMs);
      const bool othersAhead = othersOffset && *othersOffset > n.applied.value_or(-1);
      const bool othersSince = othersLastMs && *othersLastMs > lastHeard;
      if (othersAhead && othersSince && nowMs - lastHeard > thresholds.silentAfter.count()) {
        n.reasons.push_back(fmt::format("{} silent: no ALL response for {}{} while other nodes answered up to ALL "
                                        "offset {} (it is at {})",
                                        n.nodeId, n.lastAllResponseMs ? "" : "at least ", seconds(nowMs - lastHeard),
                                        *othersOffset, n.applied ? std::to_string(*n.applied) : "none"));
        worsen(NodeState::Silent);
      }
    }

    if (n.lag > thresholds.maxLag) {
      n.reasons.push_back(
          fmt::format("{} lagging: {} ALL message(s) behind (max {})", n.nodeId, n.lag, thresholds.maxLag));
      worsen(NodeState::Lagging);
    }
  }
}

MonitorSnapshot assess(const ClusterPositions& positions, const ActivityTracker& activity, const Thresholds& thresholds,
                       std::int64_t nowMs) {
  MonitorSnapshot s;
  s.cluster = positions.cluster;
  s.takenMs = nowMs;
  s.windowMs = activity.observedWindow(nowMs).count();
  s.thresholds = thresholds;
  s.allLogStart = positions.allLogStart;
  s.allLogEnd = positions.allLogEnd;
  s.one = positions.one;
  s.divergences = activity.divergences();
  s.errors.assign(activity.recentErrors().begin(), activity.recentErrors().end());
  for (const auto& g : positions.nodes) {
    NodeHealth n;
    n.nodeId = g.nodeId;
    n.group = g.group;
    n.groupState = g.state;
    n.member = g.active;
    n.committed = g.partitions.empty() ? -1 : g.partitions.front().committed;
    const auto a = activity.node(g.nodeId, nowMs);
    n.lastAllOffset = a.lastAllOffset;
    n.lastAllResponseMs = a.lastAllResponseMs;
    n.applied = appliedOffset(n.committed, a.lastAllOffset);
    n.lag = allLag(n.applied, positions.allLogStart, positions.allLogEnd);
    n.responsesPerSec = rounded(perSecond(a.responses, s.windowMs));
    n.errorsPerSec = rounded(perSecond(a.errors, s.windowMs));
    s.nodes.push_back(std::move(n));
  }
  classify(s.nodes, s.divergences, thresholds, nowMs, activity.startMs());
  if (s.nodes.empty())
    s.problems.push_back(fmt::format("no node groups ({}*): no node of cluster {} has ever run",
                                     Topics{s.cluster}.nodeGroupPrefix(), s.cluster));
  for (const auto& n : s.nodes) s.problems.insert(s.problems.end(), n.reasons.begin(), n.reasons.end());
  return s;
}

ojson toJson(const MonitorSnapshot& s) {
  ojson j;
  j["cluster"] = s.cluster;
  j["time"] = util::isoMillis(s.takenMs);
  j["timestampMs"] = s.takenMs;
  j["windowMs"] = s.windowMs;
  j["thresholds"] = {{"maxLag", s.thresholds.maxLag}, {"silentAfterMs", s.thresholds.silentAfter.count()}};
  j["all"] = {{"topic", Topics{s.cluster}.all()}, {"logStart", s.allLogStart}, {"logEnd", s.allLogEnd}};
  j["healthy"] = s.healthy();
  j["problems"] = s.problems;
  ojson nodes = ojson::array();
  for (const auto& n : s.nodes) {
    ojson o;
    o["nodeId"] = n.nodeId;
    o["state"] = std::string(stateName(n.state));
    o["reasons"] = n.reasons;
    o["group"] = n.group;
    o["groupState"] = n.groupState;
    o["member"] = n.member;
    o["committedOffset"] = n.committed >= 0 ? ojson(n.committed) : ojson(nullptr);
    o["lastAllOffset"] = optionalInt(n.lastAllOffset);
    o["appliedOffset"] = optionalInt(n.applied);
    o["lag"] = n.lag;
    o["lastAllResponse"] = n.lastAllResponseMs ? ojson(util::isoMillis(*n.lastAllResponseMs)) : ojson(nullptr);
    o["sinceLastAllResponseMs"] =
        n.lastAllResponseMs ? ojson(std::max<std::int64_t>(0, s.takenMs - *n.lastAllResponseMs)) : ojson(nullptr);
    o["responsesPerSec"] = n.responsesPerSec;
    o["errorsPerSec"] = n.errorsPerSec;
    nodes.push_back(std::move(o));
  }
  j["nodes"] = std::move(nodes);
  ojson parts = ojson::array();
  for (const auto& p : s.one.partitions) {
    auto lag = committedLag(p.committed, p.logEnd);
    parts.push_back({{"partition", p.partition},
                     {"committedOffset", p.committed >= 0 ? ojson(p.committed) : ojson(nullptr)},
                     {"logEnd", p.logEnd},
                     {"lag", lag ? ojson(*lag) : ojson(nullptr)}});
  }
  j["one"] = {{"group", s.one.group}, {"groupState", s.one.state}, {"partitions", std::move(parts)}};
  ojson divergences = ojson::array();
  for (const auto& d : s.divergences) {
    ojson hashes = ojson::array();
    for (const auto& [hash, who] : d.hashes) hashes.push_back({{"resultHash", hash}, {"nodes", who}});
    divergences.push_back({{"requestId", d.requestId},
                           {"allOffset", d.allOffset},
                           {"majorityHash", d.majorityHash.empty() ? ojson(nullptr) : ojson(d.majorityHash)},
                           {"divergedNodes", d.divergedNodes},
                           {"kind", d.check ? "check" : "request"},
                           {"tables", d.tables},
                           {"answers", std::move(hashes)},
                           {"detected", util::isoMillis(d.detectedMs)}});
  }
  j["divergences"] = std::move(divergences);
  ojson errors = ojson::array();
  for (const auto& e : s.errors) {
    ojson o;
    o["time"] = util::isoMillis(e.timestampMs);
    o["timestampMs"] = e.timestampMs;
    o["nodeId"] = e.nodeId;
    o["severity"] = e.severity;
    o["code"] = e.code;
    o["message"] = e.message;
    if (!e.requestId.empty()) o["requestId"] = e.requestId;
    if (!e.requestTopic.empty()) o["requestTopic"] = e.requestTopic;
    if (e.offset) o["offset"] = *e.offset;
    if (!e.sqlState.empty()) o["sqlState"] = e.sqlState;
    errors.push_back(std::move(o));
  }
  j["errors"] = std::move(errors);
  return j;
}

} // namespace kluster::ops
