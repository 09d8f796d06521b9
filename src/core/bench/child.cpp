#include "core/bench/child.hpp"

#include "core/errors.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace kluster::bench {
namespace {

using Clock = std::chrono::steady_clock;

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int spawn(const std::vector<std::string>& argv, posix_spawn_file_actions_t* actions) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], actions, nullptr, args.data(), environ);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

} // namespace

ChildResult runChild(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  int errPipe[2];
  if (pipe2(errPipe, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, errPipe[1], STDERR_FILENO);
  ChildResult result;
  const auto started = Clock::now();
  int pid = -1;
  try {
    pid = spawn(argv, &actions);
  } catch (...) {
    posix_spawn_file_actions_destroy(&actions);
    close(errPipe[0]);
    close(errPipe[1]);
    throw;
  }
  posix_spawn_file_actions_destroy(&actions);
  close(errPipe[1]);
  // Read stderr until the child closes it (it exits), or kill it at the deadline.
  const auto deadline = started + timeout;
  bool killed = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    pollfd pfd{errPipe[0], POLLIN, 0};
    const int ready = ::poll(&pfd, 1, killed ? 1000 : static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buf[4096];
    const auto n = ::read(errPipe[0], buf, sizeof buf);
    if (n <= 0) break;
    result.err.append(buf, static_cast<std::size_t>(n));
  }
  close(errPipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.wall = Clock::now() - started;
  result.exitCode = decodeStatus(status);
  if (killed) result.err += "\n(killed after " + std::to_string(timeout.count()) + " ms)";
  return result;
}

BackgroundChild::BackgroundChild(const std::vector<std::string>& argv, const std::string& logFile) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  try {
    pid_ = spawn(argv, &actions);
  } catch (...) {
    posix_spawn_file_actions_destroy(&actions);
    throw;
  }
  posix_spawn_file_actions_destroy(&actions);
}

BackgroundChild::~BackgroundChild() {
  try {
    stop(std::chrono::seconds(10));
  } catch (...) {
  }
}

std::optional<int> BackgroundChild::exited() {
  if (!status_ && pid_ > 0) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = decodeStatus(status);
  }
  return status_;
}

int BackgroundChild::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (exited()) return *status_;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + grace;
  while (!exited() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = decodeStatus(status);
  }
  return *status_;
}

} // namespace kluster::bench
