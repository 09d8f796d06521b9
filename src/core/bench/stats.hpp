#pragma once
// Summary statistics of a benchmark's samples.
#include <vector>

namespace kluster::bench {

/// min, median, 95th percentile (nearest rank) and max of some samples, in their unit.
struct Summary {
  std::size_t count = 0;
  double min = 0, median = 0, p95 = 0, max = 0;
};

/// Summarizes samples (in any order); all zero when there are none.
Summary summarize(std::vector<double> samples);

} // namespace kluster::bench
