#include "core/ops/log_tail.hpp"

#include "core/errors.hpp"
#include "core/log.hpp"
#include "core/ops/cluster_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace kluster::ops {

LogTail::LogTail(const kafka::Properties& base) {
  kafka::Properties props = base;
  props["group.id"] = "kluster-monitor"; // required by librdkafka, never joined: partitions are assigned
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  props["enable.partition.eof"] = "true";
  // Bound what librdkafka prefetches: the observer only counts and forgets.
  props.emplace("queued.max.messages.kbytes", "16384");
  props.emplace("fetch.wait.max.ms", "100");
  props.emplace("client.id", "klusterctl-monitor");
  consumer_ = kafka::makeConsumer(props);
}

LogTail::~LogTail() {
  if (consumer_) consumer_->close();
}

void LogTail::follow(kafka::Admin& admin, const std::string& topic, std::int64_t fromMs, std::int64_t atLeastLast,
                     const std::map<int, std::int64_t>& earlier) {
  const int partitions = requireTopic(admin, topic);
  std::vector<RdKafka::TopicPartition*> assignment;
  for (int p = 0; p < partitions; ++p) {
    const auto marks = admin.watermarks(topic, p);
    const auto e = earlier.find(p);
    auto start = admin.offsetForTime(topic, p, e == earlier.end() ? fromMs : std::min(fromMs, e->second));
    if (atLeastLast > 0) start = std::min(start, marks.high - atLeastLast);
    start = std::clamp(start, marks.low, marks.high);
    next_[{topic, p}] = start;
    assignment.push_back(RdKafka::TopicPartition::create(topic, p, start));
  }
  // incremental_assign adds to what earlier calls assigned instead of replacing it.
  auto error = consumer_->incremental_assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (error) {
    std::string what = error->str();
    delete error;
    throw KlusterError(code::NodeError, fmt::format("assign {}: {}", topic, what),
                       "check that the Kafka brokers are reachable");
  }
}

bool LogTail::drain(const Sink& sink, std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  // The end to reach is the one each partition has now; what arrives meanwhile waits for the next call.
  std::map<TopicPartition, std::int64_t> ends;
  for (const auto& [tp, next] : next_) {
    std::int64_t low = 0, high = 0;
    kafka::check(consumer_->query_watermark_offsets(tp.first, tp.second, &low, &high,
                                                    static_cast<int>(std::max<std::int64_t>(budget.count(), 1000))),
                 fmt::format("watermarks of {}[{}]", tp.first, tp.second));
    if (high > next) ends[tp] = high;
  }
  while (!ends.empty()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    std::unique_ptr<RdKafka::Message> msg(
        consumer_->consume(static_cast<int>(std::min<std::int64_t>(left.count(), 200))));
    const TopicPartition tp{msg->topic_name(), msg->partition()};
    switch (msg->err()) {
    case RdKafka::ERR_NO_ERROR:
      next_[tp] = msg->offset() + 1;
      sink(*msg);
      if (auto it = ends.find(tp); it != ends.end() && msg->offset() + 1 >= it->second) ends.erase(it);
      break;
    case RdKafka::ERR__PARTITION_EOF:
      // Offsets can have gaps (transaction markers): reaching the end counts, unless it is an older end.
      next_[tp] = std::max(next_[tp], msg->offset());
      if (auto it = ends.find(tp); it != ends.end() && msg->offset() >= it->second) ends.erase(it);
      break;
    case RdKafka::ERR__TIMED_OUT: break;
    default: KLOG(Warn, "monitor", "reading {}: {}", msg->topic_name(), msg->errstr()); break;
    }
  }
  return true;
}

} // namespace kluster::ops
