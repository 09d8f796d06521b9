#include "core/kafka/kafka.hpp"
#include "core/kafka/statistics.hpp"

#include "core/errors.hpp"
#include "core/log.hpp"

#include <future>
#include <mutex>
#include <thread>

namespace kluster::kafka {

std::unique_ptr<RdKafka::Conf> makeConf(const Properties& props) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [key, value] : props) {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK)
      throw UsageError(fmt::format("Kafka property '{}': {}", key, err));
  }
  if (auto it = props.find("statistics.interval.ms"); it != props.end() && it->second != "0")
    conf->set("event_cb", statisticsCollector(), err); // requestCounts() sums the reports
  return conf;
}

Properties clientProperties(const std::string& brokers, const Properties& user) {
  Properties props{{"bootstrap.servers", brokers}, {"client.software.name", "klusterctl"}};
  for (const auto& [k, v] : user) props[k] = v;
  return props;
}

void check(RdKafka::ErrorCode err, const std::string& what) {
  if (err != RdKafka::ERR_NO_ERROR)
    throw KlusterError(code::NodeError, fmt::format("{}: {}", what, RdKafka::err2str(err)));
}

class Producer::Reporter : public RdKafka::DeliveryReportCb {
public:
  Reporter(std::atomic<std::uint64_t>& failed, DeliveryCallback onDelivery)
      : failed_(failed), onDelivery_(std::move(onDelivery)) {}
  void dr_cb(RdKafka::Message& message) override {
    if (onDelivery_) onDelivery_(message);
    if (message.err() == RdKafka::ERR_NO_ERROR) return;
    failed_.fetch_add(1);
    std::lock_guard lock(mutex_);
    last_ = message.errstr();
    KLOG(Error, "kafka", "delivery to {} failed: {}", message.topic_name(), message.errstr());
  }
  std::string last() const {
    std::lock_guard lock(mutex_);
    return last_;
  }

private:
  std::atomic<std::uint64_t>& failed_;
  DeliveryCallback onDelivery_;
  mutable std::mutex mutex_;
  std::string last_;
};

Producer::Producer(const Properties& userProps, bool idempotent, DeliveryCallback onDelivery)
    : reporter_(std::make_unique<Reporter>(failed_, std::move(onDelivery))) {
  Properties props = userProps;
  if (idempotent) {
    // Exactly-once apply relies on ALL holding each request once and in order through broker failovers
    // and retries: a user property that would weaken that is refused, not silently obeyed or dropped.
    if (auto it = props.find("enable.idempotence"); it != props.end() && it->second != "true")
      throw UsageError("Kafka property 'enable.idempotence': Kluster's producers are always idempotent "
                       "(requests must never be duplicated or reordered); remove the setting");
    if (auto it = props.find("acks"); it != props.end() && it->second != "all" && it->second != "-1")
      throw UsageError("Kafka property 'acks': Kluster's producers always use acks=all (an acknowledged "
                       "request must survive a broker's loss); remove the setting");
    props["enable.idempotence"] = "true";
    props["acks"] = "all";
  }
  auto conf = makeConf(props);
  std::string err;
  conf->set("dr_cb", reporter_.get(), err);
  producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!producer_) throw KlusterError(code::NodeError, "cannot create Kafka producer: " + err);
}

Producer::~Producer() {
  if (producer_) producer_->flush(5000);
}

void Producer::produce(const std::string& topic, int partition, const std::string& key, const std::string& payload) {
  for (;;) {
    auto err = producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(payload.data()),
                                  payload.size(), key.empty() ? nullptr : key.data(), key.size(), 0, nullptr, nullptr);
    if (err == RdKafka::ERR__QUEUE_FULL) {
      producer_->poll(50); // back-pressure: wait for deliveries to make room
      continue;
    }
    check(err, "produce to " + topic);
    producer_->poll(0);
    return;
  }
}

bool Producer::flush(std::chrono::milliseconds timeout) {
  return producer_->flush(static_cast<int>(timeout.count())) == RdKafka::ERR_NO_ERROR;
}

void Producer::warmUp(const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
  for (const auto& name : topics) {
    std::string err;
    std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(producer_.get(), name, nullptr, err));
    RdKafka::Metadata* md = nullptr;
    if (topic &&
        producer_->metadata(false, topic.get(), &md, static_cast<int>(timeout.count())) == RdKafka::ERR_NO_ERROR)
      delete md;
  }
}

std::string Producer::lastDeliveryError() const { return reporter_->last(); }

std::unique_ptr<RdKafka::KafkaConsumer> makeConsumer(const Properties& props, RdKafka::RebalanceCb* rebalance) {
  auto conf = makeConf(props);
  std::string err;
  if (rebalance && conf->set("rebalance_cb", rebalance, err) != RdKafka::Conf::CONF_OK)
    throw KlusterError(code::NodeError, "cannot set rebalance callback: " + err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) throw KlusterError(code::NodeError, "cannot create Kafka consumer: " + err);
  return consumer;
}

void leaveAndDestroy(std::unique_ptr<RdKafka::KafkaConsumer> consumer, std::chrono::milliseconds leaveWait,
                     std::chrono::milliseconds destroyWait) {
  if (!consumer) return;
  std::string fatal;
  if (consumer->fatal_error(fatal) == RdKafka::ERR_NO_ERROR && consumer->unsubscribe() == RdKafka::ERR_NO_ERROR) {
    // librdkafka clears the member id when it sends LeaveGroup (the id is then void), so an empty id means
    // the request is on its way (or the consumer had not joined): close() waits for the broker's answer.
    const auto deadline = std::chrono::steady_clock::now() + leaveWait;
    while (!consumer->memberid().empty() && std::chrono::steady_clock::now() < deadline)
      delete consumer->consume(20); // serves the revocation; a message read now is dropped (read again later)
  }
  consumer->close();
  const auto name = consumer->name();
  auto destroyed = std::make_shared<std::promise<void>>();
  auto done = destroyed->get_future();
  std::thread([c = std::move(consumer), destroyed]() mutable {
    c.reset();
    destroyed->set_value();
  }).detach();
  if (done.wait_for(destroyWait) != std::future_status::ready)
    KLOG(Info, "kafka", "{}: librdkafka has not released the closed consumer after {} ms; going on without it", name,
         destroyWait.count());
}

} // namespace kluster::kafka
