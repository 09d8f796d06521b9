#include "core/bench/histogram.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using kluster::bench::Histogram;

namespace {

std::int64_t exact(std::vector<std::int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::max(1.0, std::ceil(q * static_cast<double>(v.size()))));
  return v[rank - 1];
}

} // namespace

TEST_CASE("histogram percentiles are within 1/64 of the exact nearest-rank values") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(7.5, 1.0); // microseconds: a few hundred to tens of thousands
  std::vector<std::int64_t> values;
  Histogram h;
  for (int i = 0; i < 200000; ++i) {
    const auto v = static_cast<std::int64_t>(latency(rng));
    values.push_back(v);
    h.record(v);
  }
  CHECK(h.count() == values.size());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const auto want = exact(values, q);
    const auto got = h.percentile(q);
    INFO("q=" << q << " exact=" << want << " histogram=" << got);
    CHECK(got >= want);
    CHECK(static_cast<double>(got - want) <= static_cast<double>(want) / 64.0 + 1);
  }
  CHECK(h.percentile(1.0) == *std::max_element(values.begin(), values.end()));
  CHECK(h.max() == *std::max_element(values.begin(), values.end()));
  CHECK(h.min() == *std::min_element(values.begin(), values.end()));
}

TEST_CASE("histogram buckets cover every value once, small values exactly") {
  for (std::int64_t v = 0; v < 128; ++v) CHECK(Histogram::bucketTop(Histogram::bucketOf(v)) == v);
  for (std::int64_t v : {128LL, 129LL, 255LL, 256LL, 1000LL, 123456LL, 1LL << 30, (1LL << 40) - 1}) {
    const int b = Histogram::bucketOf(v);
    INFO("value " << v << " bucket " << b);
    CHECK(Histogram::bucketTop(b) >= v);
    CHECK(Histogram::bucketTop(b - 1) < v); // the bucket before ends below it
  }
}

TEST_CASE("histograms merge, and an empty one reads as zero") {
  Histogram a, b, empty;
  CHECK(empty.percentile(0.5) == 0);
  CHECK(empty.count() == 0);
  for (int i = 1; i <= 100; ++i) a.record(i);
  for (int i = 101; i <= 200; ++i) b.record(i);
  b.record(-5); // negative durations (clock steps) count as 0
  a.merge(b);
  a.merge(empty);
  CHECK(a.count() == 201);
  CHECK(a.min() == 0);
  CHECK(a.max() == 200);
  CHECK(a.percentile(0.5) == 100);
}
