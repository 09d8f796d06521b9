#pragma once
// A node's Prometheus metrics: counters and histograms that the apply loop, the ONE workers and the
// responder bump on their hot paths (relaxed atomics only, no lock and no allocation), rendered in the
// Prometheus text exposition format when scraped. docs/operations.md ("Metrics and health") documents each one.
#include "core/metrics/prometheus.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kluster::node {

/// A counter per stable result code (core/errors.hpp), plus one for any other code.
class CodeCounters {
public:
  CodeCounters();
  void add(std::string_view code);
  /// The codes counted at least once with their counts, in the documented order, "other" last.
  std::vector<std::pair<std::string_view, std::uint64_t>> nonZero() const;

private:
  std::unordered_map<std::string_view, std::size_t> index_; ///< read-only after construction
  std::vector<std::string_view> names_;
  std::vector<std::atomic<std::uint64_t>> counts_;
};

/// What a scrape reads from the node besides the counters.
struct NodeGauges {
  std::int64_t appliedOffset = -1;
  std::optional<std::int64_t> lagMessages; ///< unknown when Kafka did not answer
  double lagSeconds = 0;                   ///< NaN when unknown
  bool kafkaConnected = false;
  bool databaseConnected = false;
  bool ready = false;
};

class NodeMetrics {
public:
  NodeMetrics(std::string cluster, std::string nodeId);

  // Hot-path updates (any thread).
  void countRequest(std::string_view topic, std::string_view code); ///< topic "ALL" or "ONE"
  void countRetry() { retries_.fetch_add(1, std::memory_order_relaxed); }
  void countNodeError(std::string_view code) { nodeErrors_.add(code); }
  /// A speculation waited `waited` for the apply loop to run out of work (node.speculation_yield).
  void speculationYielded(std::chrono::steady_clock::duration waited) {
    speculationsYielded_.fetch_add(1, std::memory_order_relaxed);
    yieldMicros_.fetch_add(micros(waited), std::memory_order_relaxed);
  }
  /// A speculation was set aside to wait for node.speculation_budget.
  void speculationSetAside() { budgetWaiting_.fetch_add(1, std::memory_order_relaxed); }
  /// A speculation set aside waited `waited` for node.speculation_budget to have time left (admitted, or dropped when
  /// its client stopped waiting).
  void speculationBudgetWaited(std::chrono::steady_clock::duration waited) {
    budgetWaiting_.fetch_sub(1, std::memory_order_relaxed);
    budgetWaits_.fetch_add(1, std::memory_order_relaxed);
    budgetWaitMicros_.fetch_add(micros(waited), std::memory_order_relaxed);
  }
  /// A speculation ran for `took` (its database work), charged to node.speculation_budget when writes flowed.
  void speculationRan(std::chrono::steady_clock::duration took) {
    speculationMicros_.fetch_add(micros(took), std::memory_order_relaxed);
  }
  void countDivergence() { divergences_.fetch_add(1, std::memory_order_relaxed); }
  /// A continuous verification check finished at ALL offset `offset` in `durationMs`, having summed `summed` tables
  /// again and reused the previous sums of `reused`.
  void countCheck(std::int64_t offset, std::int64_t durationMs, std::size_t summed, std::size_t reused) {
    checks_.fetch_add(1, std::memory_order_relaxed);
    tablesSummed_.fetch_add(summed, std::memory_order_relaxed);
    tablesReused_.fetch_add(reused, std::memory_order_relaxed);
    lastCheckOffset_.store(offset, std::memory_order_relaxed);
    lastCheckMs_.store(durationMs, std::memory_order_relaxed);
  }
  /// An ALL batch committed: its size, how long it took, and the last request's Kafka timestamp (ms).
  void batchApplied(std::size_t requests, std::chrono::steady_clock::time_point started, std::int64_t lastTimestampMs);
  void setDatabaseConnected(bool connected) { databaseConnected_.store(connected, std::memory_order_relaxed); }

  bool databaseConnected() const { return databaseConnected_.load(std::memory_order_relaxed); }
  /// Kafka timestamp (ms) of the last ALL request applied since the node started; 0 when none was.
  std::int64_t lastAppliedTimestampMs() const { return lastTimestampMs_.load(std::memory_order_relaxed); }

  /// The whole exposition, in Prometheus text format 0.0.4.
  std::string render(const NodeGauges& gauges) const;

private:
  static std::uint64_t micros(std::chrono::steady_clock::duration d) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  }
  std::string labels_; ///< cluster="..",node=".."
  CodeCounters allRequests_;
  CodeCounters oneRequests_;
  CodeCounters nodeErrors_;
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::uint64_t> divergences_{0};
  std::atomic<std::uint64_t> speculationsYielded_{0};
  std::atomic<std::int64_t> budgetWaiting_{0};
  std::atomic<std::uint64_t> budgetWaits_{0};
  std::atomic<std::uint64_t> budgetWaitMicros_{0};
  std::atomic<std::uint64_t> speculationMicros_{0};
  std::atomic<std::uint64_t> yieldMicros_{0};
  std::atomic<std::uint64_t> checks_{0};
  std::atomic<std::uint64_t> tablesSummed_{0};
  std::atomic<std::uint64_t> tablesReused_{0};
  std::atomic<std::int64_t> lastCheckOffset_{-1};
  std::atomic<std::int64_t> lastCheckMs_{0};
  std::atomic<bool> databaseConnected_{false};
  std::atomic<std::int64_t> lastTimestampMs_{0};
  metrics::Histogram batchSize_;
  metrics::Histogram applySeconds_;
};

} // namespace kluster::node
