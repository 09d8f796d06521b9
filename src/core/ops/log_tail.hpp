#pragma once
// Reads topics the way an observer must: every partition by direct assignment (no group join, so the
// cluster's groups are not disturbed and nothing is committed), from a point in time to the current end.
#include "core/kafka/admin.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace kluster::ops {

class LogTail {
public:
  using Sink = std::function<void(const RdKafka::Message&)>;

  /// `props`: client properties (bootstrap servers and pass-through settings).
  explicit LogTail(const kafka::Properties& props);
  ~LogTail();
  LogTail(const LogTail&) = delete;
  LogTail& operator=(const LogTail&) = delete;

  /// Reads every partition of `topic` from the first message at or after `fromMs`, and at least the last
  /// `atLeastLast` messages of each partition; `earlier` gives some partitions an earlier start (partition -> ms).
  void follow(kafka::Admin& admin, const std::string& topic, std::int64_t fromMs, std::int64_t atLeastLast = 0,
              const std::map<int, std::int64_t>& earlier = {});

  /// Hands every message up to the ends the partitions have now to `sink`, in order per partition. Returns
  /// true when it got there, false when `budget` ran out first (the rest comes with the next call).
  bool drain(const Sink& sink, std::chrono::milliseconds budget);

private:
  using TopicPartition = std::pair<std::string, int>;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::map<TopicPartition, std::int64_t> next_; // next offset to hand out, per assigned partition
};

} // namespace kluster::ops
