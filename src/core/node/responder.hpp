#pragma once
// Publishes a node's responses on RESPONSES (keyed by clientId, on the client's partition) and its own
// failures on ERRORS. Thread-safe: the ALL applier and every ONE worker share one idempotent producer.
// The ALL applier hands a committed batch's responses to the responder's own thread (sendLater), which
// serializes and produces them in order while the applier goes on with the next batch.
#include "core/db/adapter.hpp"
#include "core/kafka/kafka.hpp"
#include "core/message.hpp"
#include "core/node/metrics.hpp"
#include "core/topics.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace kluster::node {

/// The response of node `nodeId` to a request, from its outcome (`startedMs`: when it began, for its duration).
Response buildResponse(const std::string& nodeId, const ParsedRequest& request, const std::string& requestTopic,
                       db::Outcome outcome, std::int64_t startedMs);

class Responder {
public:
  Responder(const Topics& topics, std::string nodeId, const kafka::Properties& props, int responsePartitions);
  /// Sends what sendLater() queued, then stops its thread.
  ~Responder();

  /// Builds the response to a request from its outcome.
  Response build(const ParsedRequest& request, const std::string& requestTopic, db::Outcome outcome,
                 std::int64_t startedMs) const;
  /// Produces a response now (a traced one gets its produce time).
  void send(Response& response);
  /// Queues responses to be sent in order on the responder's thread. Blocks while a few batches are
  /// queued already, so a slow broker slows the applier down instead of filling memory.
  void sendLater(std::vector<Response> responses);
  void reportError(const NodeErrorReport& report);
  /// Publishes any message with the node's producer (e.g. its fingerprint on ALL).
  void publish(const std::string& topic, int partition, const std::string& key, const std::string& payload) {
    producer_.produce(topic, partition, key, payload);
  }
  /// Waits until what sendLater() queued is produced and every message is delivered; false on timeout.
  bool flush(std::chrono::milliseconds timeout);
  void poll() { producer_.poll(); }
  const std::string& nodeId() const { return nodeId_; }
  /// Counts every response built and error reported into `metrics` (may be null).
  void countInto(NodeMetrics* metrics) { metrics_ = metrics; }
  NodeMetrics* metrics() const { return metrics_; }

private:
  Topics topics_;
  std::string nodeId_;
  kafka::Producer producer_;
  int responsePartitions_;
  std::size_t maxResponseBytes_; ///< what one Kafka message may carry: a larger response is answered TOO_LARGE
  mutable std::atomic<std::uint64_t> sequence_{0};
  NodeMetrics* metrics_ = nullptr;

  void sendLoop();
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::vector<Response>> outbox_;
  bool sending_ = false; ///< the thread holds a batch taken from the outbox
  bool closing_ = false;
  std::thread sender_;
};

} // namespace kluster::node
