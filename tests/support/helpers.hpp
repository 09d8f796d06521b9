#pragma once
// Small helpers shared by the integration tests.
#include "core/client/client.hpp"
#include "support/cluster.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace kluster::test {

/// Parses a command's JSON output; on failure the test report shows the text.
inline nlohmann::json parseJson(const std::string& text) {
  INFO(text);
  return nlohmann::json::parse(text);
}

/// A client of the test cluster (a little producer batching: tests send many requests at once).
inline client::Client makeClient(const TestCluster& c, bool readerThread = true) {
  client::ClientOptions o;
  o.brokers = c.brokers();
  o.cluster = c.name();
  o.lingerMs = 5;
  o.readerThread = readerThread;
  return client::Client(o);
}

} // namespace kluster::test
