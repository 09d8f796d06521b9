#include "core/bench/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace kluster::bench {

int Histogram::bucketOf(std::int64_t value) {
  if (value < kLinear) return static_cast<int>(std::max<std::int64_t>(value, 0));
  const int magnitude = 63 - std::countl_zero(static_cast<std::uint64_t>(value)); // >= 7
  const int shift = magnitude - 6;                                                // value >> shift in [64, 128)
  const int octave = std::min(shift - 1, kOctaves - 1);
  const auto sub = std::min<std::int64_t>(value >> (octave + 1), 2 * kPerOctave - 1);
  return kLinear + octave * kPerOctave + static_cast<int>(sub - kPerOctave);
}

std::int64_t Histogram::bucketTop(int bucket) {
  if (bucket < kLinear) return bucket;
  const int octave = (bucket - kLinear) / kPerOctave;
  const std::int64_t sub = (bucket - kLinear) % kPerOctave + kPerOctave;
  return ((sub + 1) << (octave + 1)) - 1;
}

void Histogram::record(std::int64_t value) {
  value = std::max<std::int64_t>(value, 0);
  ++counts_[static_cast<std::size_t>(bucketOf(value))];
  min_ = count_ ? std::min(min_, value) : value;
  max_ = std::max(max_, value);
  sum_ += value;
  ++count_;
}

void Histogram::merge(const Histogram& other) {
  if (!other.count_) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ ? std::min(min_, other.min_) : other.min_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  count_ += other.count_;
}

std::int64_t Histogram::percentile(double q) const {
  if (!count_) return 0;
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(bucketTop(static_cast<int>(i)), max_);
  }
  return max_;
}

} // namespace kluster::bench
