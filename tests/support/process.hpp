#pragma once
// Child processes for integration tests: started with argv and environment, stopped by pid, always
// reaped. A Process that goes out of scope is killed, so no test leaves a node running.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kluster::test {

struct CommandResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

/// Runs a command to completion (killed at the timeout) and captures its output.
CommandResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(60),
                  const std::map<std::string, std::string>& env = {}, const std::string& input = {});

class Process {
public:
  Process() = default;
  /// Starts argv with extra environment; stdout and stderr go to `logFile`.
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
          const std::string& logFile);
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;

  int pid() const { return pid_; }
  bool running();
  void signal(int sig);
  /// Waits for exit; returns the exit status (128+signal when killed), or nullopt at the timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  /// SIGTERM, then SIGKILL after the grace period. Returns the exit status.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(15));
  void kill();

private:
  int pid_ = -1;
  std::optional<int> status_;
};

/// Polls `condition` until it holds or the deadline passes.
template <typename F>
bool waitUntil(F&& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every = std::chrono::milliseconds(100));

} // namespace kluster::test

#include <thread>
template <typename F>
bool kluster::test::waitUntil(F&& condition, std::chrono::milliseconds timeout, std::chrono::milliseconds every) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}
