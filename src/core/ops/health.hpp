#pragma once
// How each node is doing, from Kafka's view (group membership, committed offset, log end) and what the
// nodes said recently (RESPONSES, ERRORS): the states `klusterctl monitor` shows and `--check` alerts on.
#include "core/message.hpp"
#include "core/ops/activity.hpp"
#include "core/ops/cluster_state.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::ops {

/// A node's state, worst first when several apply: diverged > stopped > silent > lagging > ok.
enum class NodeState { Ok, Lagging, Silent, Stopped, Diverged };
std::string_view stateName(NodeState state);

struct Thresholds {
  std::int64_t maxLag = 1000;                                      ///< lagging beyond this many ALL messages
  std::chrono::milliseconds silentAfter{std::chrono::seconds(30)}; ///< silent after this long without an answer
};

/// The node's applied ALL offset as far as Kafka tells: the larger of (committed - 1), since the node commits
/// the next offset to read, and the highest allOffset it answered. nullopt when neither is known.
std::optional<std::int64_t> appliedOffset(std::int64_t committed, std::optional<std::int64_t> lastAllOffset);

/// ALL messages not yet applied: logEnd - (applied + 1), or everything retained when nothing is known applied.
std::int64_t allLag(std::optional<std::int64_t> applied, std::int64_t logStart, std::int64_t logEnd);

/// One node's health.
struct NodeHealth {
  std::string nodeId;
  std::string group;
  std::string groupState; ///< Kafka's state of the node's group
  bool member = false;    ///< the group has an active member
  std::int64_t committed = -1;
  std::optional<std::int64_t> lastAllOffset;     ///< highest allOffset it answered (in the history read)
  std::optional<std::int64_t> applied;           ///< see appliedOffset()
  std::int64_t lag = 0;                          ///< see allLag()
  std::optional<std::int64_t> lastAllResponseMs; ///< when it last answered an ALL request
  double responsesPerSec = 0;
  double errorsPerSec = 0;
  NodeState state = NodeState::Ok;
  std::vector<std::string> reasons; ///< why it is not ok, one sentence each
};

/// Sets every node's state and reasons. `historyStartMs`: since when responses were read (a node with no
/// answer since then has been quiet at least that long).
void classify(std::vector<NodeHealth>& nodes, const std::vector<Divergence>& divergences, const Thresholds& thresholds,
              std::int64_t nowMs, std::int64_t historyStartMs);

/// Everything `klusterctl monitor` shows at one moment.
struct MonitorSnapshot {
  std::string cluster;
  std::int64_t takenMs = 0;
  std::int64_t windowMs = 0; ///< rates are averaged over this
  Thresholds thresholds;
  std::int64_t allLogStart = 0;
  std::int64_t allLogEnd = 0;
  std::vector<NodeHealth> nodes;
  GroupPosition one;
  std::vector<Divergence> divergences;
  std::vector<ErrorEvent> errors;    ///< newest first
  std::vector<std::string> problems; ///< every reason to alert; empty when healthy
  bool healthy() const { return problems.empty(); }
};

/// Combines the groups' positions with the observed activity.
MonitorSnapshot assess(const ClusterPositions& positions, const ActivityTracker& activity, const Thresholds& thresholds,
                       std::int64_t nowMs);

/// The JSON form of a snapshot (documented in docs/operations.md, "klusterctl monitor").
ojson toJson(const MonitorSnapshot& snapshot);

} // namespace kluster::ops
