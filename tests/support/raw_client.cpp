#include "support/raw_client.hpp"

#include "core/kafka/kafka.hpp"
#include "core/util.hpp"
#include "support/topic_reader.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace kluster::test {

RawClient::RawClient(const TestCluster& cluster, std::string clientId)
    : cluster_(cluster), clientId_(std::move(clientId)),
      partition_(util::responsePartition(clientId_, 6)) { // 6: klusterctl init's default for RESPONSES
  auto start = readTopic(
      cluster_.brokers(), topic(), partition_, 0, [](const auto&) { return false; }, std::chrono::milliseconds(500));
  from_ = start.empty() ? 0 : start.back().offset + 1;
}

void RawClient::send(const std::vector<std::string>& payloads, const std::string& topic) const {
  kafka::Producer raw(kafka::clientProperties(cluster_.brokers(), {}), false);
  int next = 0;
  for (const auto& p : payloads) {
    // ONE has 3 partitions (klusterctl init's default); ALL has one.
    const int partition = topic == "ONE" ? next++ % 3 : 0;
    raw.produce(cluster_.name() + "." + topic, partition, "", p);
  }
  REQUIRE(raw.flush(std::chrono::seconds(30)));
}

std::string RawClient::request(const std::string& messageId, const std::string& sql) const {
  return fmt::format(R"({{"messageId":"{}","clientId":"{}","sqlString":"{}"}})", messageId, clientId_, sql);
}

std::map<std::string, std::multiset<std::string>> RawClient::codes(std::size_t count) const {
  std::map<std::string, std::multiset<std::string>> out;
  for (const auto& j : responses(count)) out[j["requestId"]].insert(j["resultCode"].get<std::string>());
  return out;
}

std::vector<nlohmann::json>
RawClient::responsesUntil(const std::function<bool(const std::vector<nlohmann::json>&)>& done,
                          std::chrono::milliseconds timeout) const {
  const auto mine = [&](const std::vector<Record>& rs) {
    std::vector<nlohmann::json> out;
    for (const auto& rec : rs)
      if (rec.key == clientId_) out.push_back(nlohmann::json::parse(rec.payload));
    return out;
  };
  return mine(readTopic(
      cluster_.brokers(), topic(), partition_, from_, [&](const std::vector<Record>& rs) { return done(mine(rs)); },
      timeout));
}

std::vector<nlohmann::json> RawClient::responses(std::size_t count, std::chrono::milliseconds timeout) const {
  auto records = readTopic(
      cluster_.brokers(), topic(), partition_, from_,
      [&](const std::vector<Record>& rs) {
        return std::count_if(rs.begin(), rs.end(), [&](const Record& r) { return r.key == clientId_; }) >=
               static_cast<long>(count);
      },
      timeout);
  std::vector<nlohmann::json> out;
  for (const auto& rec : records)
    if (rec.key == clientId_) out.push_back(nlohmann::json::parse(rec.payload));
  return out;
}

} // namespace kluster::test
