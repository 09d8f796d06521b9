#include "core/node/writes_first.hpp"

#include <algorithm>

namespace kluster::node {

void ApplyActivity::set(bool busy) {
  if (!busy) writes(false);
  if (busy_.load(std::memory_order_relaxed) == busy) return; // most batches: no change, no lock
  {
    std::lock_guard lock(mutex_);
    busy_.store(busy);
    if (!busy) idleSince_ = Clock::now();
  }
  if (!busy) idle_.notify_all();
}

void ApplyActivity::writes(bool others) {
  if (writing_.load(std::memory_order_relaxed) == others) return; // most batches: no change, no lock
  std::lock_guard lock(mutex_);
  writing_.store(others);
  if (others)
    everWrote_ = true;
  else
    writesEnded_ = Clock::now();
}

bool ApplyActivity::waitIdle(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  bool waited = false;
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) return waited;
    if (!busy_.load()) {
      const auto quietAt = idleSince_ + kQuiet;
      if (now >= quietAt) return waited;
      waited = true;
      idle_.wait_until(lock, std::min(deadline, quietAt));
    } else {
      waited = true;
      idle_.wait_until(lock, deadline);
    }
  }
}

bool ApplyActivity::flowing(Clock::time_point now) {
  if (writing_.load()) return true;
  std::lock_guard lock(mutex_);
  return writing_.load() || (everWrote_ && now < writesEnded_ + kFlowing);
}

SpeculationBudget::SpeculationBudget(std::chrono::milliseconds perSecond)
    : perSecondMs_(std::clamp<std::int64_t>(perSecond.count(), 0, 1000)) {}

SpeculationBudget::Clock::time_point SpeculationBudget::admitAt(Clock::time_point now) {
  if (!limited()) return now;
  std::lock_guard lock(mutex_);
  return started_ ? std::max(now, free_) : now;
}

void SpeculationBudget::charge(Clock::duration took, Clock::time_point now) {
  if (!limited()) return;
  std::lock_guard lock(mutex_);
  // A quiet second earns a second's budget at most: the bucket holds no more than that.
  const auto full = now - std::chrono::seconds(1);
  if (!started_ || free_ < full) free_ = full;
  started_ = true;
  free_ += took * 1000 / perSecondMs_; // `took` at the budget's share of each second
}

} // namespace kluster::node
