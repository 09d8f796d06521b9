#include "core/kafka/admin.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <thread>

namespace kluster::kafka {
namespace {

// Owns a C object with its destroy function.
template <typename T, void (*Destroy)(T*)> struct Owned {
  T* ptr;
  explicit Owned(T* p) : ptr(p) {}
  ~Owned() {
    if (ptr) Destroy(ptr);
  }
  Owned(Owned&& other) noexcept : ptr(other.ptr) { other.ptr = nullptr; }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
};
using Queue = Owned<rd_kafka_queue_t, rd_kafka_queue_destroy>;
using Event = Owned<rd_kafka_event_t, rd_kafka_event_destroy>;
using Options = Owned<rd_kafka_AdminOptions_t, rd_kafka_AdminOptions_destroy>;
using PartitionList = Owned<rd_kafka_topic_partition_list_t, rd_kafka_topic_partition_list_destroy>;

[[noreturn]] void fail(const std::string& what, const std::string& detail) {
  throw KlusterError(code::NodeError, fmt::format("{}: {}", what, detail),
                     "check that the Kafka brokers are reachable");
}

Options makeOptions(rd_kafka_t* rk, rd_kafka_admin_op_t op, std::chrono::milliseconds timeout) {
  Options options(rd_kafka_AdminOptions_new(rk, op));
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(options.ptr, static_cast<int>(timeout.count()), err, sizeof err);
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS)
    rd_kafka_AdminOptions_set_operation_timeout(options.ptr, static_cast<int>(timeout.count()), err, sizeof err);
  return options;
}

// Waits for the single result event of an admin call on its own queue.
rd_kafka_event_t* waitEvent(rd_kafka_queue_t* queue, std::chrono::milliseconds timeout, const std::string& what) {
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count() + 2000));
  if (!ev) fail(what, "timed out");
  if (rd_kafka_event_error(ev)) {
    std::string msg = rd_kafka_event_error_string(ev);
    rd_kafka_event_destroy(ev);
    fail(what, msg);
  }
  return ev;
}

// Throws the first error in the results of a call that changes groups: a group's own, or a partition's.
void checkGroupResults(const rd_kafka_group_result_t** groups, size_t count, const std::string& what) {
  for (size_t i = 0; i < count; ++i) {
    std::string error;
    if (const auto* e = rd_kafka_group_result_error(groups[i])) error = rd_kafka_error_string(e);
    const auto* parts = rd_kafka_group_result_partitions(groups[i]);
    for (int k = 0; error.empty() && parts && k < parts->cnt; ++k)
      if (parts->elems[k].err != RD_KAFKA_RESP_ERR_NO_ERROR) error = rd_kafka_err2str(parts->elems[k].err);
    if (!error.empty())
      throw KlusterError(code::NodeError, fmt::format("{}: {}", what, error),
                         "stop the node that uses this group first");
  }
}

const char* stateName(rd_kafka_consumer_group_state_t state) {
  switch (state) {
  case RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE: return "PreparingRebalance";
  case RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE: return "CompletingRebalance";
  case RD_KAFKA_CONSUMER_GROUP_STATE_STABLE: return "Stable";
  case RD_KAFKA_CONSUMER_GROUP_STATE_DEAD: return "Dead";
  case RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY: return "Empty";
  default: return "Unknown";
  }
}

} // namespace

Admin::Admin(const Properties& props, std::chrono::milliseconds timeout) : timeout_(timeout) {
  auto conf = makeConf(props);
  std::string err;
  client_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!client_) throw KlusterError(code::NodeError, "cannot create Kafka admin client: " + err);
}

Admin::~Admin() = default;

std::vector<CreateOutcome> Admin::createTopics(const std::vector<TopicSpec>& topics) {
  rd_kafka_t* rk = client_->c_ptr();
  char err[512];
  std::vector<rd_kafka_NewTopic_t*> newTopics;
  for (const auto& spec : topics) {
    auto* nt = rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, spec.replicationFactor, err, sizeof err);
    if (!nt) fail("create topic " + spec.name, err);
    for (const auto& [k, v] : spec.configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    newTopics.push_back(nt);
  }
  Queue queue(rd_kafka_queue_new(rk));
  Options options = makeOptions(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_);
  rd_kafka_CreateTopics(rk, newTopics.data(), newTopics.size(), options.ptr, queue.ptr);
  rd_kafka_NewTopic_destroy_array(newTopics.data(), newTopics.size());
  Event ev(waitEvent(queue.ptr, timeout_, "create topics"));
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.ptr), &count);
  std::vector<CreateOutcome> outcomes;
  for (size_t i = 0; i < count; ++i) {
    auto code = rd_kafka_topic_result_error(results[i]);
    if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
      outcomes.push_back(CreateOutcome::Created);
    else if (code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      outcomes.push_back(CreateOutcome::AlreadyExists);
    else {
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      fail(std::string("create topic ") + rd_kafka_topic_result_name(results[i]), msg ? msg : rd_kafka_err2str(code));
    }
  }
  return outcomes;
}

std::optional<int> Admin::partitionCount(const std::string& topic) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(client_.get(), topic, nullptr, err));
  RdKafka::Metadata* raw = nullptr;
  check(client_->metadata(false, t.get(), &raw, static_cast<int>(timeout_.count())), "metadata of " + topic);
  std::unique_ptr<RdKafka::Metadata> md(raw);
  for (const auto* tm : *md->topics()) {
    if (tm->topic() != topic) continue;
    if (tm->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) return std::nullopt;
    if (tm->err() != RdKafka::ERR_NO_ERROR) check(tm->err(), "metadata of " + topic);
    return static_cast<int>(tm->partitions()->size());
  }
  return std::nullopt;
}

int Admin::brokerCount() {
  RdKafka::Metadata* raw = nullptr;
  check(client_->metadata(false, nullptr, &raw, static_cast<int>(timeout_.count())), "cluster metadata");
  std::unique_ptr<RdKafka::Metadata> md(raw);
  return static_cast<int>(md->brokers()->size());
}

std::vector<GroupListing> Admin::listGroups() {
  rd_kafka_t* rk = client_->c_ptr();
  Queue queue(rd_kafka_queue_new(rk));
  Options options = makeOptions(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, timeout_);
  rd_kafka_ListConsumerGroups(rk, options.ptr, queue.ptr);
  Event ev(waitEvent(queue.ptr, timeout_, "list consumer groups"));
  const auto* result = rd_kafka_event_ListConsumerGroups_result(ev.ptr);
  size_t count = 0;
  const auto** listings = rd_kafka_ListConsumerGroups_result_valid(result, &count);
  std::vector<GroupListing> groups;
  for (size_t i = 0; i < count; ++i)
    groups.push_back({rd_kafka_ConsumerGroupListing_group_id(listings[i]),
                      stateName(rd_kafka_ConsumerGroupListing_state(listings[i]))});
  size_t errCount = 0;
  const auto** errors = rd_kafka_ListConsumerGroups_result_errors(result, &errCount);
  if (count == 0 && errCount > 0) fail("list consumer groups", rd_kafka_error_string(errors[0]));
  return groups;
}

std::vector<std::string> Admin::groupMembers(const std::string& group) {
  rd_kafka_t* rk = client_->c_ptr();
  Queue queue(rd_kafka_queue_new(rk));
  Options options = makeOptions(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout_);
  const char* groups[] = {group.c_str()};
  rd_kafka_DescribeConsumerGroups(rk, groups, 1, options.ptr, queue.ptr);
  Event ev(waitEvent(queue.ptr, timeout_, "describe consumer group " + group));
  size_t count = 0;
  const auto** descriptions =
      rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(ev.ptr), &count);
  std::vector<std::string> members;
  for (size_t i = 0; i < count; ++i) {
    if (const auto* e = rd_kafka_ConsumerGroupDescription_error(descriptions[i]))
      fail("describe consumer group " + group, rd_kafka_error_string(e));
    const auto n = rd_kafka_ConsumerGroupDescription_member_count(descriptions[i]);
    for (size_t k = 0; k < n; ++k)
      members.emplace_back(
          rd_kafka_MemberDescription_client_id(rd_kafka_ConsumerGroupDescription_member(descriptions[i], k)));
  }
  return members;
}

std::vector<std::int64_t> Admin::committedOffsets(const std::string& group, const std::string& topic, int partitions) {
  rd_kafka_t* rk = client_->c_ptr();
  PartitionList list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list.ptr, topic.c_str(), p);
  auto* request = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), list.ptr);
  Queue queue(rd_kafka_queue_new(rk));
  Options options = makeOptions(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_);
  rd_kafka_ListConsumerGroupOffsets(rk, &request, 1, options.ptr, queue.ptr);
  rd_kafka_ListConsumerGroupOffsets_destroy(request);
  Event ev(waitEvent(queue.ptr, timeout_, "committed offsets of " + group));
  size_t count = 0;
  const auto** groups =
      rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(ev.ptr), &count);
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(partitions), -1);
  for (size_t i = 0; i < count; ++i) {
    if (const auto* e = rd_kafka_group_result_error(groups[i]))
      fail("committed offsets of " + group, rd_kafka_error_string(e));
    const auto* parts = rd_kafka_group_result_partitions(groups[i]);
    for (int k = 0; parts && k < parts->cnt; ++k) {
      const auto& tp = parts->elems[k];
      if (tp.partition >= 0 && tp.partition < partitions && tp.err == RD_KAFKA_RESP_ERR_NO_ERROR)
        offsets[static_cast<std::size_t>(tp.partition)] = tp.offset;
    }
  }
  return offsets;
}

void Admin::setCommittedOffsets(const std::string& group, const std::string& topic,
                                const std::vector<std::int64_t>& offsets) {
  rd_kafka_t* rk = client_->c_ptr();
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (std::size_t p = 0; p < offsets.size(); ++p)
    rd_kafka_topic_partition_list_add(list.ptr, topic.c_str(), static_cast<int>(p))->offset = offsets[p];
  auto* request = rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list.ptr);
  Queue queue(rd_kafka_queue_new(rk));
  Options options = makeOptions(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, timeout_);
  rd_kafka_AlterConsumerGroupOffsets(rk, &request, 1, options.ptr, queue.ptr);
  rd_kafka_AlterConsumerGroupOffsets_destroy(request);
  Event ev(waitEvent(queue.ptr, timeout_, "set offsets of " + group));
  size_t count = 0;
  const auto** groups =
      rd_kafka_AlterConsumerGroupOffsets_result_groups(rd_kafka_event_AlterConsumerGroupOffsets_result(ev.ptr), &count);
  checkGroupResults(groups, count, "set offsets of " + group);
}

void Admin::deleteGroup(const std::string& group) {
  rd_kafka_t* rk = client_->c_ptr();
  auto* request = rd_kafka_DeleteGroup_new(group.c_str());
  Queue queue(rd_kafka_queue_new(rk));
  Options options = makeOptions(rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS, timeout_);
  rd_kafka_DeleteGroups(rk, &request, 1, options.ptr, queue.ptr);
  rd_kafka_DeleteGroup_destroy(request);
  Event ev(waitEvent(queue.ptr, timeout_, "delete group " + group));
  size_t count = 0;
  const auto** groups = rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev.ptr), &count);
  checkGroupResults(groups, count, "delete group " + group);
}

Watermarks Admin::watermarks(const std::string& topic, int partition) {
  Watermarks w;
  // Right after a topic is created its leader may not be known everywhere yet: retry those answers.
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    auto err = client_->query_watermark_offsets(topic, partition, &w.low, &w.high, static_cast<int>(timeout_.count()));
    const bool retriable = err == RdKafka::ERR_NOT_LEADER_FOR_PARTITION || err == RdKafka::ERR_LEADER_NOT_AVAILABLE ||
                           err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART || err == RdKafka::ERR__TRANSPORT;
    if (!retriable || std::chrono::steady_clock::now() >= deadline) {
      check(err, fmt::format("watermarks of {}[{}]", topic, partition));
      return w;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::int64_t Admin::offsetForTime(const std::string& topic, int partition, std::int64_t timestampMs) {
  std::vector<RdKafka::TopicPartition*> parts{RdKafka::TopicPartition::create(topic, partition, timestampMs)};
  auto err = client_->offsetsForTimes(parts, static_cast<int>(timeout_.count()));
  std::int64_t offset = parts[0]->offset();
  RdKafka::TopicPartition::destroy(parts);
  check(err, "offsets for time on " + topic);
  if (offset < 0) return watermarks(topic, partition).high;
  return offset;
}

std::map<std::string, std::string> Admin::topicConfig(const std::string& topic, const std::vector<std::string>& names) {
  rd_kafka_t* rk = client_->c_ptr();
  auto* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  Queue queue(rd_kafka_queue_new(rk));
  Options options = makeOptions(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_);
  rd_kafka_DescribeConfigs(rk, &resource, 1, options.ptr, queue.ptr);
  rd_kafka_ConfigResource_destroy(resource);
  Event ev(waitEvent(queue.ptr, timeout_, "configuration of " + topic));
  size_t count = 0;
  const auto** resources =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev.ptr), &count);
  std::map<std::string, std::string> values;
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_ConfigResource_error(resources[i]))
      fail("configuration of " + topic, rd_kafka_ConfigResource_error_string(resources[i]));
    size_t n = 0;
    const auto** entries = rd_kafka_ConfigResource_configs(resources[i], &n);
    for (size_t k = 0; k < n; ++k) {
      std::string name = rd_kafka_ConfigEntry_name(entries[k]);
      const char* value = rd_kafka_ConfigEntry_value(entries[k]);
      for (const auto& wanted : names)
        if (wanted == name) values[name] = value ? value : "";
    }
  }
  return values;
}

} // namespace kluster::kafka
