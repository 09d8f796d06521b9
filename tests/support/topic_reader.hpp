#pragma once
// Reads a topic partition directly (no consumer group), for tests that check what nodes published.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace kluster::test {

struct Record {
  std::string key;
  std::string payload;
  long long offset = 0;
};

/// Reads `topic`[`partition`] from `from` until `done(records)` holds or the timeout passes; returns what it read.
std::vector<Record> readTopic(const std::string& brokers, const std::string& topic, int partition, long long from,
                              const std::function<bool(const std::vector<Record>&)>& done,
                              std::chrono::milliseconds timeout);

} // namespace kluster::test
