#pragma once
// Writes first: how a node's speculations (the statements of interactive transactions, run on ONE) give way to its
// apply loop, the cluster's critical path (every write waits for it on every node), where a speculation is one
// client's latency. Two rules, each off at 0 (docs/transactions.md, "Writes first"):
// - node.speculation_yield: a speculation waits, that long at most, for the apply loop to run out of work
//   (ApplyActivity);
// - node.speculation_budget: while writes flow, a node's speculations take at most that much time per second, in
//   all (SpeculationBudget), as a Kafka request quota bounds a client's share of a broker's threads.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace kluster::node {

/// Whether the apply loop has ALL requests to apply.
class ApplyActivity {
public:
  using Clock = std::chrono::steady_clock;
  /// How long the apply loop must have had nothing to apply to count as idle: between two batches of a steady
  /// write load it waits for the next requests for a moment (their clients' round trip), which is not a lull.
  static constexpr std::chrono::milliseconds kQuiet{2};
  /// How recently the apply loop must have applied writes for them to count as flowing (the budget's condition): a
  /// steady write load leaves gaps of a few milliseconds between batches.
  static constexpr std::chrono::milliseconds kFlowing{100};
  /// The apply loop took a batch (true) or found nothing to apply (false).
  void set(bool busy);
  /// The batch the apply loop took holds writes other than interactive transactions' commits (true) or none (false).
  /// A node whose only writes are those commits has nothing for the budget to protect: holding speculations back
  /// would only slow the transactions that make those writes.
  void writes(bool others);
  /// Waits until the apply loop has had nothing to apply for kQuiet, or until `deadline`; true when it waited.
  bool waitIdle(Clock::time_point deadline);
  /// Whether writes flow: the apply loop applies writes other than transactions' commits now, or did within kFlowing
  /// of `now`.
  bool flowing(Clock::time_point now);

private:
  std::atomic<bool> busy_{false};
  std::atomic<bool> writing_{false};
  bool everWrote_ = false;          ///< under mutex_
  Clock::time_point idleSince_{};   ///< under mutex_
  Clock::time_point writesEnded_{}; ///< under mutex_
  std::mutex mutex_;
  std::condition_variable idle_;
};

/// node.speculation_budget: the time a node's speculations may take per second while writes flow, kept as a token
/// bucket of time. Each speculation is charged the time it ran (its database round trip: mostly its backend's CPU)
/// over the budget's share of a second; one that finds the budget spent waits until it has been earned back. A
/// quiet second earns at most one second's budget ahead, so a burst after a pause is bounded too.
class SpeculationBudget {
public:
  using Clock = std::chrono::steady_clock;
  /// `perSecond` of zero (or less): no budget, admit() never waits.
  explicit SpeculationBudget(std::chrono::milliseconds perSecond);
  bool limited() const { return perSecondMs_ > 0; }
  /// When a speculation may start: `now` when the budget has time left, else when it has earned it back.
  Clock::time_point admitAt(Clock::time_point now);
  /// A speculation that ran for `took`, ending at `now`.
  void charge(Clock::duration took, Clock::time_point now);

private:
  std::int64_t perSecondMs_; ///< 1 to 1000 when limited, else 0
  std::mutex mutex_;
  Clock::time_point free_; ///< under mutex_: from this time on the budget has time left
  bool started_ = false;   ///< under mutex_: free_ has been set
};

} // namespace kluster::node
