#pragma once
// librdkafka's statistics (the `statistics.interval.ms` property): when a Kafka client of this process is
// configured with it, its periodic JSON report is kept, and the requests its connections sent to brokers and
// the responses they received are summed over every such client. `bench load` uses it for Kafka requests per write.
#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <string>

namespace kluster::kafka {

struct RequestCounts {
  std::uint64_t sent = 0;     ///< requests sent to brokers (the reports' brokers[].tx), over every client
  std::uint64_t received = 0; ///< responses received (brokers[].rx)
  int clients = 0;            ///< clients that have reported at least once
};

/// The last report of every client handle of this process, summed (counters since each client started).
RequestCounts requestCounts();

/// Sums a report's brokers[].tx and brokers[].rx (a report of librdkafka's statistics JSON); throws on bad JSON.
RequestCounts parseStatistics(const std::string& json, std::string* clientName = nullptr);

/// The event callback that records the reports; makeConf installs it when statistics are asked for.
RdKafka::EventCb* statisticsCollector();

} // namespace kluster::kafka
