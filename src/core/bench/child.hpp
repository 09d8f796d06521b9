#pragma once
// Child processes for the benchmarks: a short-lived one run to completion and timed (klusterctl exec), and a
// long-lived one stopped by signal (klusterctl node run). Plain posix_spawn, so the timing measures the child,
// not a shell.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace kluster::bench {

/// What a finished child did.
struct ChildResult {
  int exitCode = -1; ///< 128+signal when killed
  std::string err;   ///< its standard error
  std::chrono::nanoseconds wall{0};
};

/// Runs argv to completion (stdout discarded, stderr captured, killed at the timeout) and times it.
ChildResult runChild(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

/// A background child whose output goes to a log file; stopped (SIGTERM, then SIGKILL) when destroyed.
class BackgroundChild {
public:
  BackgroundChild(const std::vector<std::string>& argv, const std::string& logFile);
  ~BackgroundChild();
  BackgroundChild(const BackgroundChild&) = delete;
  BackgroundChild& operator=(const BackgroundChild&) = delete;

  /// The exit status when it has exited, without waiting.
  std::optional<int> exited();
  /// SIGTERM, then SIGKILL after `grace`; returns the exit status.
  int stop(std::chrono::milliseconds grace);

private:
  int pid_ = -1;
  std::optional<int> status_;
};

} // namespace kluster::bench
