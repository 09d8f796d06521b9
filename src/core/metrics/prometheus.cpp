#include "core/metrics/prometheus.hpp"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

namespace kluster::metrics {

Histogram::Histogram(std::vector<double> bounds, double scale)
    : bounds_(std::move(bounds)), scale_(scale), buckets_(bounds_.size() + 1) {
  for (double b : bounds_) scaledBounds_.push_back(static_cast<std::uint64_t>(std::llround(b * scale_)));
}

void Histogram::observe(std::uint64_t value) {
  std::size_t i = 0;
  while (i < scaledBounds_.size() && value > scaledBounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  // _count is the +Inf bucket, so the two agree even when a scrape races an update.
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    const std::string le = i < bounds_.size() ? fmt::format("{}", bounds_[i]) : std::string("+Inf");
    fmt::format_to(std::back_inserter(out), "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le, cumulative);
  }
  fmt::format_to(std::back_inserter(out), "{}_sum{{{}}} {}\n", name, labels,
                 static_cast<double>(sum_.load(std::memory_order_relaxed)) / scale_);
  fmt::format_to(std::back_inserter(out), "{}_count{{{}}} {}\n", name, labels, cumulative);
}

const std::vector<double>& latencyBounds() {
  static const std::vector<double> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return bounds;
}

std::string escapeLabel(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

} // namespace kluster::metrics
