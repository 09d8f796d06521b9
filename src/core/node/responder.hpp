#pragma once
// Publishes a node's responses on RESPONSES (keyed by clientId, on the client's partition) and its own
// failures on ERRORS. Thread-safe: the ALL applier and every ONE worker share one idempotent producer.
#include "core/db/adapter.hpp"
#include "core/kafka/kafka.hpp"
#include "core/message.hpp"
#include "core/topics.hpp"

#include <atomic>

namespace kluster::node {

class Responder {
public:
  Responder(const Topics& topics, std::string nodeId, const kafka::Properties& props, int responsePartitions);

  /// Builds the response to a request from its outcome.
  Response build(const ParsedRequest& request, const std::string& requestTopic, const db::Outcome& outcome,
                 std::int64_t startedMs) const;
  void send(const Response& response);
  void reportError(const NodeErrorReport& report);
  /// Publishes any message with the node's producer (e.g. its fingerprint on ALL).
  void publish(const std::string& topic, int partition, const std::string& key, const std::string& payload) {
    producer_.produce(topic, partition, key, payload);
  }
  bool flush(std::chrono::milliseconds timeout) { return producer_.flush(timeout); }
  void poll() { producer_.poll(); }
  const std::string& nodeId() const { return nodeId_; }

private:
  Topics topics_;
  std::string nodeId_;
  kafka::Producer producer_;
  int responsePartitions_;
  mutable std::atomic<std::uint64_t> sequence_{0};
};

} // namespace kluster::node
