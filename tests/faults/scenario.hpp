#pragma once
// What the fault suite's scenarios share (faults_test.cpp, faults_kafka_test.cpp): the fault schedule's randomness,
// progress checks with diagnostics, the step lines on stdout, and the final check of a scenario.
#include "core/errors.hpp"
#include "faults/faults.hpp"
#include "faults/workload.hpp"
#include "support/topic_reader.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace kluster::test::faults {

using namespace std::chrono_literals;

inline int scale() {
  const char* s = std::getenv("KLUSTER_FAULTS_SCALE");
  return s ? std::max(1, std::atoi(s)) : 1;
}

/// A random number below n (the fault schedule's randomness; the suite's threads do not share it).
inline unsigned roll(unsigned n) {
  static std::mt19937 engine(std::random_device{}());
  return static_cast<unsigned>(engine() % n);
}

/// A random pause of the fault schedule (when the next fault strikes), not a wait for a condition.
inline void randomPause(int minMs, int maxMs) {
  std::this_thread::sleep_for(
      std::chrono::milliseconds(minMs + static_cast<int>(roll(static_cast<unsigned>(maxMs - minMs)))));
}

/// Holds a fault for `duration` while checking the workload keeps going on the other nodes.
inline void holdFor(std::chrono::milliseconds duration) {
  const auto until = std::chrono::steady_clock::now() + duration;
  waitUntil([&] { return std::chrono::steady_clock::now() >= until; }, duration + 1s, 200ms);
}

/// Seconds since the scenario began, for the step lines on stdout.
inline double elapsed() {
  static const auto start = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline void requireProgress(Workload& w, std::int64_t more, std::chrono::milliseconds timeout,
                            const std::string& when) {
  INFO("the workload made no progress " << when << " (acked " << w.acked() << ")");
  const bool progressed = w.waitForProgress(more, timeout);
  if (!progressed) std::cout << w.diagnostics() << std::endl;
  REQUIRE(progressed);
  std::cout << fmt::format("[faults] {:7.1f}s progress {}: acked {}\n", elapsed(), when, w.acked()) << std::flush;
}

inline void step(const std::string& what) {
  std::cout << fmt::format("[faults] {:7.1f}s {}\n", elapsed(), what) << std::flush;
}

inline void finish(Workload& w, const std::string& scenario) {
  w.stop();
  std::cout << fmt::format("[faults] {:7.1f}s workload stopped\n", elapsed()) << std::flush;
  auto result = check(w, scenario);
  std::cout << fmt::format("[faults] {:7.1f}s checked\n", elapsed()) << std::flush;
  std::string anomalies;
  for (const auto& a : result.anomalies) anomalies += "\n  " + a;
  INFO(result.summary() << anomalies);
  CHECK(result.acked > 0);
  CHECK(result.ok());
}

/// Reports on ERRORS by `node` from offset 0, waiting until one with `sqlStatePrefix` (or any) appears.
inline bool nodeReported(TestCluster& c, const std::string& node, const std::string& sqlStatePrefix,
                         std::chrono::milliseconds timeout) {
  auto match = [&](const Record& r) {
    auto j = nlohmann::json::parse(r.payload, nullptr, false);
    return !j.is_discarded() && j.value("nodeId", "") == node && j.value("sqlState", "").rfind(sqlStatePrefix, 0) == 0;
  };
  auto records = readTopic(
      c.brokers(), c.name() + ".ERRORS", 0, 0,
      [&](const std::vector<Record>& rs) { return std::any_of(rs.begin(), rs.end(), match); }, timeout);
  return std::any_of(records.begin(), records.end(), match);
}

inline void replaceInFile(const std::string& path, const std::string& from, const std::string& to) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  std::ofstream(path) << text;
}

/// Brokers a scenario stopped are started again whatever happens, so the next scenario has all three.
struct BrokersBack {
  std::set<int> down;
  ~BrokersBack() {
    for (int k : down) try {
        startBroker(k);
      } catch (const std::exception& e) {
        std::cerr << "restarting broker " << k << ": " << e.what() << "\n";
      }
  }
};

} // namespace kluster::test::faults
