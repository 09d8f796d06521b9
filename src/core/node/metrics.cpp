#include "core/node/metrics.hpp"

#include "core/codes.hpp"
#include "core/version.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kluster::node {

CodeCounters::CodeCounters() : counts_(resultCodes().size() + 1) {
  for (const auto& c : resultCodes()) {
    index_.emplace(c.code, names_.size());
    names_.push_back(c.code);
  }
  names_.push_back("OTHER");
}

void CodeCounters::add(std::string_view code) {
  auto it = index_.find(code);
  counts_[it == index_.end() ? counts_.size() - 1 : it->second].fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::pair<std::string_view, std::uint64_t>> CodeCounters::nonZero() const {
  std::vector<std::pair<std::string_view, std::uint64_t>> out;
  for (std::size_t i = 0; i < counts_.size(); ++i)
    if (auto n = counts_[i].load(std::memory_order_relaxed)) out.emplace_back(names_[i], n);
  return out;
}

NodeMetrics::NodeMetrics(std::string cluster, std::string nodeId)
    : labels_(fmt::format("cluster=\"{}\",node=\"{}\"", metrics::escapeLabel(cluster), metrics::escapeLabel(nodeId))),
      batchSize_({1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}, 1),
      applySeconds_(metrics::latencyBounds(), 1e6) {}

void NodeMetrics::countRequest(std::string_view topic, std::string_view code) {
  (topic == "ALL" ? allRequests_ : oneRequests_).add(code);
}

void NodeMetrics::batchApplied(std::size_t requests, std::chrono::steady_clock::time_point started,
                               std::int64_t lastTimestampMs) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  batchSize_.observe(requests);
  applySeconds_.observe(static_cast<std::uint64_t>(std::max<std::int64_t>(micros, 0)));
  if (lastTimestampMs > 0) lastTimestampMs_.store(lastTimestampMs, std::memory_order_relaxed);
}

using metrics::header;
using metrics::number;

std::string NodeMetrics::render(const NodeGauges& g) const {
  std::string out;
  out.reserve(8192);
  auto sample = [&](std::string_view name, std::string_view type, std::string_view help, const std::string& value) {
    header(out, name, type, help);
    fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", name, labels_, value);
  };
  header(out, "kluster_build_info", "gauge", "Always 1; the labels tell the version of klusterctl.");
  fmt::format_to(std::back_inserter(out), "kluster_build_info{{{},version=\"{}\"}} 1\n", labels_, kVersion);
  sample("kluster_node_applied_offset", "gauge", "The last ALL offset this node applied (-1: none yet).",
         std::to_string(g.appliedOffset));
  sample("kluster_node_lag_messages", "gauge", "ALL messages in the log that this node has not applied yet.",
         g.lagMessages ? std::to_string(*g.lagMessages) : std::string("NaN"));
  sample("kluster_node_lag_seconds", "gauge",
         "Seconds since the last request this node applied was published, while it is behind; 0 when caught up.",
         number(g.lagSeconds));
  sample("kluster_node_ready", "gauge", "1 when /ready answers 200.", g.ready ? "1" : "0");
  sample("kluster_node_kafka_connected", "gauge", "1 when the scrape could read ALL's watermarks from Kafka.",
         g.kafkaConnected ? "1" : "0");
  sample("kluster_node_database_connected", "gauge", "1 while the apply loop holds a working database connection.",
         g.databaseConnected ? "1" : "0");

  header(out, "kluster_requests_total", "counter", "Requests this node answered, by topic and result code.");
  for (const auto& [topic, counters] : {std::pair{"ALL", &allRequests_}, std::pair{"ONE", &oneRequests_}})
    for (const auto& [code, n] : counters->nonZero())
      fmt::format_to(std::back_inserter(out), "kluster_requests_total{{{},topic=\"{}\",code=\"{}\"}} {}\n", labels_,
                     topic, code, n);

  header(out, "kluster_apply_batch_size", "histogram", "ALL requests per applied database transaction.");
  batchSize_.render(out, "kluster_apply_batch_size", labels_);
  header(out, "kluster_apply_duration_seconds", "histogram",
         "Time to apply one ALL batch: statements, record and commit.");
  applySeconds_.render(out, "kluster_apply_duration_seconds", labels_);

  sample("kluster_retries_total", "counter", "Failed attempts at database work that the node retried.",
         std::to_string(retries_.load(std::memory_order_relaxed)));
  sample("kluster_speculations_yielded_total", "counter",
         "Speculations (statements of interactive transactions) that waited for the apply loop to run out of work.",
         std::to_string(speculationsYielded_.load(std::memory_order_relaxed)));
  sample("kluster_speculation_yield_seconds_total", "counter", "The time those speculations waited, in all.",
         number(static_cast<double>(yieldMicros_.load(std::memory_order_relaxed)) / 1e6));
  sample("kluster_speculation_seconds_total", "counter",
         "The time this node's speculations took at its database, in all (node.speculation_budget counts it).",
         number(static_cast<double>(speculationMicros_.load(std::memory_order_relaxed)) / 1e6));
  sample("kluster_speculations_waiting_for_budget", "gauge",
         "Speculations set aside now, waiting for node.speculation_budget (they hold no worker).",
         std::to_string(budgetWaiting_.load(std::memory_order_relaxed)));
  sample("kluster_speculation_budget_waits_total", "counter",
         "Speculations that waited for node.speculation_budget to have time left.",
         std::to_string(budgetWaits_.load(std::memory_order_relaxed)));
  sample("kluster_speculation_budget_wait_seconds_total", "counter", "The time those speculations waited, in all.",
         number(static_cast<double>(budgetWaitMicros_.load(std::memory_order_relaxed)) / 1e6));
  header(out, "kluster_node_errors_total", "counter", "Reports this node published on ERRORS, by code.");
  for (const auto& [code, n] : nodeErrors_.nonZero())
    fmt::format_to(std::back_inserter(out), "kluster_node_errors_total{{{},code=\"{}\"}} {}\n", labels_, code, n);
  sample("kluster_divergences_total", "counter",
         "Checks at which continuous verification found this node's tables outside the majority's.",
         std::to_string(divergences_.load(std::memory_order_relaxed)));
  sample("kluster_checks_total", "counter", "Continuous verification checks this node computed.",
         std::to_string(checks_.load(std::memory_order_relaxed)));
  sample("kluster_check_tables_summed_total", "counter",
         "Tables continuous verification summed (full checks: all; incremental ones: those written since the last).",
         std::to_string(tablesSummed_.load(std::memory_order_relaxed)));
  sample("kluster_check_tables_reused_total", "counter",
         "Tables whose sums an incremental check reused from the previous check (not written since).",
         std::to_string(tablesReused_.load(std::memory_order_relaxed)));
  sample("kluster_check_last_offset", "gauge", "ALL offset of the last check this node computed (-1: none yet).",
         std::to_string(lastCheckOffset_.load(std::memory_order_relaxed)));
  sample("kluster_check_last_duration_seconds", "gauge", "How long the last check took.",
         number(static_cast<double>(lastCheckMs_.load(std::memory_order_relaxed)) / 1000.0));
  return out;
}

} // namespace kluster::node
