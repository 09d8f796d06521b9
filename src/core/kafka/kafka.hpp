#pragma once
// Thin RAII wrappers over librdkafka: configuration from a property map, a producer with delivery tracking,
// and a consumer factory. Properties from the user's [kafka] table pass straight through to librdkafka.
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kluster::kafka {

using Properties = std::map<std::string, std::string>;

/// Builds a librdkafka configuration; an unknown or invalid property throws UsageError naming it.
std::unique_ptr<RdKafka::Conf> makeConf(const Properties& props);

/// Properties for a client of `brokers`, overlaid with the user's pass-through properties.
Properties clientProperties(const std::string& brokers, const Properties& user);

/// A producer. Idempotent producers use acks=all and never reorder or duplicate on retry.
class Producer {
public:
  using DeliveryCallback = std::function<void(const RdKafka::Message&)>;
  /// `onDelivery`, when set, sees every delivery report (on the thread that polls: produce, poll, flush).
  Producer(const Properties& props, bool idempotent, DeliveryCallback onDelivery = {});
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  /// Queues a message (partition -1: chosen by the partitioner). Blocks while the local queue is full.
  void produce(const std::string& topic, int partition, const std::string& key, const std::string& payload);
  /// Waits until every queued message is delivered or failed; returns false on timeout.
  bool flush(std::chrono::milliseconds timeout);
  /// Loads the topics' metadata now, so the first produce to each does not wait for librdkafka's
  /// 1-second metadata timer (librdkafka <= 2.10 can delay a first message by up to a second).
  void warmUp(const std::vector<std::string>& topics, std::chrono::milliseconds timeout);
  /// Serves delivery reports without blocking.
  void poll() { producer_->poll(0); }
  /// Serves delivery reports, waiting up to `timeoutMs` for one.
  void poll(int timeoutMs) { producer_->poll(timeoutMs); }
  /// Messages whose delivery failed for good since the start.
  std::uint64_t failedDeliveries() const { return failed_.load(); }
  std::string lastDeliveryError() const;
  RdKafka::Producer& handle() { return *producer_; }

private:
  class Reporter;
  std::unique_ptr<Reporter> reporter_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<std::uint64_t> failed_{0};
};

/// Creates a KafkaConsumer; `rebalance` may be null.
std::unique_ptr<RdKafka::KafkaConsumer> makeConsumer(const Properties& props,
                                                     RdKafka::RebalanceCb* rebalance = nullptr);

/// Leaves the consumer's group now, closes the consumer and destroys it. close() alone does not make a
/// static member (group.instance.id) leave: it keeps its place for a restart until its session times out
/// (KIP-345). Unsubscribing first does: librdkafka revokes the partitions (rebalance callbacks are served
/// here) and then sends LeaveGroup, which close() waits for; it is waited for at most `leaveWait`.
/// The destruction is waited for at most `destroyWait`: librdkafka 2.0 can hang in it after close() (a leaked
/// partition reference keeps a broker thread alive; librdkafka issue 4674), when the group is already left
/// and the offsets committed. The handle is then left to a detached thread, so a stop never hangs on it.
void leaveAndDestroy(std::unique_ptr<RdKafka::KafkaConsumer> consumer,
                     std::chrono::milliseconds leaveWait = std::chrono::seconds(5),
                     std::chrono::milliseconds destroyWait = std::chrono::seconds(2));

/// Throws KlusterError(NODE_ERROR) when `err` is not NO_ERROR.
void check(RdKafka::ErrorCode err, const std::string& what);

} // namespace kluster::kafka
