#pragma once
// A latency histogram in the manner of HdrHistogram: log-linear buckets (64 per power of two above 128), so
// every recorded value is kept to within 1/64 of itself in constant memory, from 1 to 2^40 (microseconds:
// up to 12 days). Percentiles are read from the buckets, never from a sample.
#include <array>
#include <cstdint>

namespace kluster::bench {

class Histogram {
public:
  /// Records a value (negative values count as 0).
  void record(std::int64_t value);
  /// Adds every value recorded in `other`.
  void merge(const Histogram& other);
  std::uint64_t count() const { return count_; }
  std::int64_t min() const { return count_ ? min_ : 0; }
  std::int64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0; }
  /// The value at or below which `q` (0..1) of the recorded values lie: the highest value of the bucket that
  /// holds that rank (never above the largest value recorded). 0 when empty.
  std::int64_t percentile(double q) const;

  static constexpr int kLinear = 128;   ///< values below this have a bucket each
  static constexpr int kPerOctave = 64; ///< buckets per power of two above kLinear
  static constexpr int kOctaves = 34;   ///< 2^7 .. 2^40
  static int bucketOf(std::int64_t value);
  /// The highest value that falls into a bucket.
  static std::int64_t bucketTop(int bucket);

private:
  std::array<std::uint64_t, kLinear + kPerOctave * kOctaves> counts_{};
  std::uint64_t count_ = 0;
  std::int64_t min_ = 0, max_ = 0;
  std::int64_t sum_ = 0;
};

} // namespace kluster::bench
