#pragma once
// What the node's and the proxy's Prometheus metrics share: a histogram with fixed bounds whose updates are
// relaxed atomic adds (no lock, no allocation on a hot path), and the pieces of the text exposition format.
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::metrics {

/// The Content-Type of the Prometheus text format 0.0.4.
inline constexpr const char* kTextFormat = "text/plain; version=0.0.4; charset=utf-8";

/// A histogram with fixed upper bounds. Values are kept as integers in a unit (`scale` per rendered unit,
/// e.g. 1e6 for seconds observed in microseconds) so that every update is a plain atomic add.
class Histogram {
public:
  /// `bounds` ascending, in rendered units; +Inf is implicit.
  Histogram(std::vector<double> bounds, double scale);
  void observe(std::uint64_t value); ///< in integer units (value / scale rendered units)
  /// Appends `name_bucket`, `name_sum` and `name_count` lines (cumulative buckets) with `labels`.
  void render(std::string& out, std::string_view name, std::string_view labels) const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> scaledBounds_;
  double scale_;
  std::vector<std::atomic<std::uint64_t>> buckets_; ///< per bucket, not cumulative; the last one is +Inf
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

/// Bounds in seconds for request and apply latencies, from 0.5 ms to 10 s.
const std::vector<double>& latencyBounds();

/// Escapes a Prometheus label value (backslash, double quote, newline).
std::string escapeLabel(std::string_view value);

/// Appends a family's `# HELP` and `# TYPE` lines.
void header(std::string& out, std::string_view name, std::string_view type, std::string_view help);

/// A sample's value: NaN as Prometheus spells it, other numbers in their shortest form.
std::string number(double v);

} // namespace kluster::metrics
