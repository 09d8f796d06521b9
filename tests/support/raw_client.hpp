#pragma once
// A client that is not klusterctl: publishes raw payloads (any bytes) to ALL or ONE with a plain Kafka
// producer, and reads the responses addressed to its clientId from RESPONSES.
#include "support/cluster.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace kluster::test {

class RawClient {
public:
  RawClient(const TestCluster& cluster, std::string clientId);
  const std::string& id() const { return clientId_; }

  /// Publishes `payloads` as they are to ALL (partition 0), or to ONE's partitions in turn.
  void send(const std::vector<std::string>& payloads, const std::string& topic = "ALL") const;

  /// A request of this client's with the given messageId (the SQL must need no JSON escaping).
  std::string request(const std::string& messageId, const std::string& sql) const;

  /// Waits for `count` responses and gives the result codes each request got, by request id.
  std::map<std::string, std::multiset<std::string>> codes(std::size_t count) const;

  /// Waits (up to `timeout`) for `count` responses to this client, from every node, and returns those read.
  std::vector<nlohmann::json> responses(std::size_t count,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  /// Reads responses to this client until `done(responses so far)` holds or `timeout` passes; returns them.
  std::vector<nlohmann::json> responsesUntil(const std::function<bool(const std::vector<nlohmann::json>&)>& done,
                                             std::chrono::milliseconds timeout) const;

private:
  std::string topic() const { return cluster_.name() + ".RESPONSES"; }
  const TestCluster& cluster_;
  std::string clientId_;
  int partition_;
  std::int64_t from_ = 0;
};

} // namespace kluster::test
