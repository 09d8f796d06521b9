#include "core/bench/stats.hpp"

#include <algorithm>
#include <cmath>

namespace kluster::bench {

Summary summarize(std::vector<double> samples) {
  Summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  const auto n = samples.size();
  s.min = samples.front();
  s.max = samples.back();
  s.median = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  // Nearest rank: the smallest sample with at least 95% of the samples at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(n)));
  s.p95 = samples[std::max<std::size_t>(rank, 1) - 1];
  return s;
}

} // namespace kluster::bench
