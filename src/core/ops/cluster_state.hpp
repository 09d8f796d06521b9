#pragma once
// What Kafka knows of a cluster's readers: every node's group on ALL (C.node.<id>), the shared group on ONE
// (C.one), their committed offsets and the topics' watermarks. Shared by `klusterctl offsets` and `monitor`.
#include "core/kafka/admin.hpp"
#include "core/topics.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kluster::ops {

/// A group's position on one partition. Offsets follow Kafka's meaning: `committed` is the next offset to read.
struct PartitionPosition {
  int partition = 0;
  std::int64_t committed = -1; ///< -1: nothing committed
  std::int64_t logStart = 0;   ///< low watermark
  std::int64_t logEnd = 0;     ///< high watermark: the offset the next message will get
};

/// Messages between a committed offset and the log end; nullopt when nothing is committed (as
/// kafka-consumer-groups shows "-"). Never negative.
std::optional<std::int64_t> committedLag(std::int64_t committed, std::int64_t logEnd);

/// One of the cluster's consumer groups.
struct GroupPosition {
  std::string group;
  std::string nodeId; ///< empty for the shared ONE group
  std::string topic;
  std::string state; ///< Kafka's group state ("Stable", "Empty", ...), or "None" when the group does not exist
  bool active = false;
  std::vector<PartitionPosition> partitions;
  /// "active" when the group has members, else "stopped".
  std::string activity() const { return active ? "active" : "stopped"; }
};

/// The node groups of a cluster (`<cluster>.node.<id>`, Dead ones left out), sorted by node id with numbers
/// compared as numbers (node2 before node10).
std::vector<kafka::GroupListing> nodeGroupListings(const Topics& topics, const std::vector<kafka::GroupListing>& all);

/// Node id of a node group name, or empty when `group` is not one of the cluster's node groups.
std::string nodeIdOfGroup(const Topics& topics, const std::string& group);

/// Orders node ids with embedded numbers compared numerically.
bool naturalLess(const std::string& a, const std::string& b);

/// A snapshot of every group's position.
struct ClusterPositions {
  std::string cluster;
  std::int64_t takenMs = 0;
  std::int64_t allLogStart = 0;
  std::int64_t allLogEnd = 0;
  std::vector<GroupPosition> nodes; ///< one per node group on ALL, in natural node order
  GroupPosition one;                ///< the shared group on ONE
};

/// Reads the groups, their committed offsets and the watermarks. `extraNodes` are node ids to include even
/// without a group (shown with state "None"). Throws KlusterError when the cluster's topics do not exist.
ClusterPositions loadPositions(kafka::Admin& admin, const Topics& topics,
                               const std::vector<std::string>& extraNodes = {});

/// The watermarks of partitions 0..n-1 of a topic.
std::vector<kafka::Watermarks> topicWatermarks(kafka::Admin& admin, const std::string& topic, int partitions);

/// Reads one group's committed offsets on every partition of `topic`, next to the topic's watermarks;
/// `listing` is the group's entry in a group listing (nullopt: the group does not exist).
GroupPosition loadGroup(kafka::Admin& admin, const std::string& group, const std::string& topic,
                        const std::vector<kafka::Watermarks>& watermarks,
                        const std::optional<kafka::GroupListing>& listing);

/// The partition count of a cluster topic, or a KlusterError naming the cluster (with a hint) when it is missing.
int requireTopic(kafka::Admin& admin, const std::string& topic);

} // namespace kluster::ops
