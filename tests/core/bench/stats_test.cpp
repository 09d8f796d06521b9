#include "core/bench/stats.hpp"

#include <catch2/catch.hpp>

using kluster::bench::summarize;

TEST_CASE("summarize gives min, median, nearest-rank p95 and max") {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i); // unsorted on purpose
  const auto s = summarize(samples);
  CHECK(s.count == 100);
  CHECK(s.min == 1);
  CHECK(s.median == 50.5);
  CHECK(s.p95 == 95);
  CHECK(s.max == 100);
}

TEST_CASE("summarize handles one sample, an odd count and none") {
  CHECK(summarize({7}).p95 == 7);
  CHECK(summarize({7}).median == 7);
  const auto odd = summarize({3, 1, 2});
  CHECK(odd.median == 2);
  CHECK(odd.p95 == 3);
  CHECK(summarize({}).count == 0);
}
