#pragma once
// The node's side of continuous verification (core/checks.hpp): a thread with a database connection of its
// own that checksums the tables in a snapshot the apply loop takes right after a checkpoint's commit, while
// the apply loop goes on; it publishes the sums, reads the other nodes' sums, and reports this node on ERRORS
// (DIVERGED) when its sums are outside the majority's. It also publishes a tick on ALL when ALL has been
// quiet for a check period, so that an idle cluster is checked too.
#include "core/checks.hpp"
#include "core/kafka/kafka.hpp"
#include "core/node/metrics.hpp"
#include "core/node/responder.hpp"
#include "core/topics.hpp"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace kluster::node {

class Checker {
public:
  struct Options {
    std::string cluster;
    std::string nodeId;
    std::string databaseType;
    std::string databaseUrl;
    std::chrono::milliseconds interval{0};
    int responsePartitions = 1;
  };
  Checker(Options options, const kafka::Properties& base, Responder& responder, NodeMetrics& metrics);
  ~Checker();

  /// The apply loop, right after committing the batch that ends with the checkpoint at `offset`: takes the
  /// snapshot (one round trip) and hands it to the thread. Skipped, with a log line, while the previous
  /// check still runs or when the database cannot be reached: the other nodes' sums for it go unmatched.
  void checkpoint(std::int64_t offset);
  /// The reader: an ALL message with this Kafka timestamp was read (ALL is not quiet).
  void seen(std::int64_t timestampMs) { lastSeenMs_.store(timestampMs, std::memory_order_relaxed); }

private:
  void loop();
  void read(); ///< the other nodes' sums, from RESPONSES
  void compute(std::int64_t offset);
  void judge(std::int64_t offset);
  void tickIfQuiet();

  Options options_;
  Topics topics_;
  Responder& responder_;
  NodeMetrics& metrics_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<db::Connection> db_; ///< the snapshot's connection: the apply loop's while it takes one
  checks::Rounds rounds_{32};
  std::map<std::int64_t, std::int64_t> own_; ///< offsets this node computed -> when (steady ms)
  std::set<std::int64_t> judged_;
  std::atomic<std::int64_t> lastSeenMs_{0};
  std::int64_t lastTickMs_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<std::int64_t> pending_; ///< a snapshot taken and not yet checksummed
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace kluster::node
