#include "support/topic_reader.hpp"

#include "core/kafka/kafka.hpp"

namespace kluster::test {

std::vector<Record> readTopic(const std::string& brokers, const std::string& topic, int partition, long long from,
                              const std::function<bool(const std::vector<Record>&)>& done,
                              std::chrono::milliseconds timeout) {
  auto props = kafka::clientProperties(brokers, {});
  props["group.id"] = "kluster-test-reader";
  props["enable.auto.commit"] = "false";
  auto consumer = kafka::makeConsumer(props);
  std::vector<RdKafka::TopicPartition*> parts{RdKafka::TopicPartition::create(topic, partition, from)};
  consumer->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  std::vector<Record> records;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done(records) && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(100));
    if (msg->err() != RdKafka::ERR_NO_ERROR) continue;
    records.push_back({msg->key() ? *msg->key() : "", std::string(static_cast<const char*>(msg->payload()), msg->len()),
                       msg->offset()});
  }
  consumer->close();
  return records;
}

} // namespace kluster::test
