#pragma once
// Cluster administration over librdkafka's Admin API: topics, consumer groups and their offsets, watermarks.
#include "core/kafka/kafka.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kluster::kafka {

struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replicationFactor = 1;
  std::map<std::string, std::string> configs;
};

enum class CreateOutcome { Created, AlreadyExists };

struct GroupListing {
  std::string groupId;
  std::string state; ///< "Stable", "Empty", "PreparingRebalance", "CompletingRebalance", "Dead", "Unknown"
  bool active() const { return state == "Stable" || state == "PreparingRebalance" || state == "CompletingRebalance"; }
};

struct Watermarks {
  std::int64_t low = 0;
  std::int64_t high = 0;
};

/// An admin client. Every call blocks up to the given timeout and throws KlusterError on failure.
class Admin {
public:
  Admin(const Properties& props, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  std::vector<CreateOutcome> createTopics(const std::vector<TopicSpec>& topics);
  /// Partition count of a topic, or nullopt when it does not exist.
  std::optional<int> partitionCount(const std::string& topic);
  /// Number of brokers in the cluster.
  int brokerCount();
  std::vector<GroupListing> listGroups();
  /// The client ids of a consumer group's members (none when it has none or does not exist).
  std::vector<std::string> groupMembers(const std::string& group);
  /// Committed offsets of a group for partitions 0..n-1 of `topic` (-1 where nothing is committed).
  std::vector<std::int64_t> committedOffsets(const std::string& group, const std::string& topic, int partitions);
  /// Sets a group's committed offsets (the group must have no active members).
  void setCommittedOffsets(const std::string& group, const std::string& topic,
                           const std::vector<std::int64_t>& offsets);
  /// Deletes a consumer group and its committed offsets (the group must have no active members).
  void deleteGroup(const std::string& group);
  Watermarks watermarks(const std::string& topic, int partition);
  /// The offset of the first message at or after a timestamp (ms), or the high watermark when none is.
  std::int64_t offsetForTime(const std::string& topic, int partition, std::int64_t timestampMs);
  /// A topic's configuration values (only the names asked for).
  std::map<std::string, std::string> topicConfig(const std::string& topic, const std::vector<std::string>& names);

private:
  std::unique_ptr<RdKafka::Producer> client_;
  std::chrono::milliseconds timeout_;
};

} // namespace kluster::kafka
