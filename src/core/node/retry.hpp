#pragma once
// Retrying database work: transient and node-level errors are retried with exponential back-off until
// they clear or last longer than the limit; node-level ones are reported on ERRORS as they start,
// transient ones once they have lasted 5 s.
#include "core/db/adapter.hpp"
#include "core/log.hpp"
#include "core/node/responder.hpp"

#include <atomic>
#include <chrono>
#include <thread>

namespace kluster::node {

/// Thrown out of a retry loop when the node is asked to stop meanwhile.
struct StopRequested {};

class Retrier {
public:
  Retrier(Responder& responder, const std::atomic<bool>& stop, std::chrono::milliseconds limit)
      : responder_(responder), stop_(stop), limit_(limit) {}

  /// Runs `work` until it succeeds. `onFailure` runs after each failure (e.g. drop the connection).
  /// Throws KlusterError(NODE_ERROR) when failures last past the limit, StopRequested on stop.
  static constexpr std::chrono::seconds kReportTransientAfter{5};

  template <typename Work, typename OnFailure> auto run(const char* what, Work&& work, OnFailure&& onFailure) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    auto backoff = std::chrono::milliseconds(100);
    bool reported = false;
    for (;;) {
      try {
        return work();
      } catch (const db::DbError& e) {
        onFailure();
        if (auto* m = responder_.metrics()) m->countRetry();
        const bool nodeLevel = e.kind() == db::ErrorKind::Node;
        KLOG(Warn, "node", "{} failed ({}, SQLSTATE {}): {}; retrying in {} ms", what,
             nodeLevel ? "node error" : "transient", e.sqlState(), e.what(), backoff.count());
        // A transient failure that lasts (the database down, not a deadlock) is the operator's business too.
        if (!reported && (nodeLevel || clock::now() - start >= kReportTransientAfter)) {
          responder_.reportError(
              {responder_.nodeId(), std::string(code::NodeError), e.what(), {}, {}, {}, e.sqlState(), "warning", 0});
          reported = true;
        }
        if (clock::now() - start > limit_) {
          responder_.reportError(
              {responder_.nodeId(),
               std::string(code::NodeError),
               fmt::format("{} kept failing for {} s, stopping: {}", what,
                           std::chrono::duration_cast<std::chrono::seconds>(limit_).count(), e.what()),
               {},
               {},
               {},
               e.sqlState(),
               "fatal",
               0});
          throw KlusterError(code::NodeError, fmt::format("{} kept failing: {}", what, e.what()),
                             "fix the database, then start the node again: it resumes where it stopped");
        }
        sleepInterruptibly(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      }
    }
  }

private:
  void sleepInterruptibly(std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      if (stop_.load()) throw StopRequested{};
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  Responder& responder_;
  const std::atomic<bool>& stop_;
  std::chrono::milliseconds limit_;
};

} // namespace kluster::node
