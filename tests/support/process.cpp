#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace kluster::test {
namespace {

std::vector<std::string> mergedEnv(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> cstrs(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

} // namespace

CommandResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                  const std::map<std::string, std::string>& env, const std::string& input) {
  int out[2], err[2], in[2];
  // Close-on-exec: a command run from another thread at the same moment must not inherit these pipe ends (its
  // daemon would hold this command's output open, and this wait would last until the timeout). dup2() below
  // clears the flag on the child's own 0, 1 and 2.
  if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(in, O_CLOEXEC)) throw std::runtime_error("pipe failed");
  auto args = argv;
  auto envs = mergedEnv(env);
  auto argp = cstrs(args);
  auto envp = cstrs(envs);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    // Only 0, 1 and 2 stay open (the pipes are close-on-exec): a daemon the command starts (a database
    // server, a broker) must not inherit a pipe end, or the output would never end.
    execve(argp[0], argp.data(), envp.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (!input.empty()) {
    ssize_t ignored = write(in[1], input.data(), input.size());
    (void)ignored;
  }
  close(in[1]);
  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool openOut = true, openErr = true;
  char buf[65536];
  while (openOut || openErr) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      result.err += "\n[test harness: killed at timeout]";
      break;
    }
    pollfd fds[2] = {{openOut ? out[0] : -1, POLLIN, 0}, {openErr ? err[0] : -1, POLLIN, 0}};
    if (poll(fds, 2, static_cast<int>(std::min<long>(left.count(), 1000))) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0)
        (i == 0 ? openOut : openErr) = false;
      else
        (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
    }
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exitCode = decode(status);
  return result;
}

Process::Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                 const std::string& logFile) {
  auto args = argv;
  auto envs = mergedEnv(env);
  auto argp = cstrs(args);
  auto envp = cstrs(envs);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execve(argp[0], argp.data(), envp.data());
    _exit(127);
  }
  if (pid_ < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
}

Process::~Process() { kill(); }

Process::Process(Process&& other) noexcept : pid_(other.pid_), status_(other.status_) { other.pid_ = -1; }

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    kill();
    pid_ = other.pid_;
    status_ = other.status_;
    other.pid_ = -1;
  }
  return *this;
}

bool Process::running() {
  if (pid_ <= 0 || status_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = decode(status);
    return false;
  }
  return true;
}

void Process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return status_;
  waitUntil([&] { return !running(); }, timeout, std::chrono::milliseconds(20));
  return status_;
}

int Process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  signal(SIGCONT); // a stopped process cannot handle SIGTERM
  signal(SIGTERM);
  if (!wait(grace)) kill();
  return status_.value_or(-1);
}

void Process::kill() {
  if (pid_ <= 0) return;
  if (running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    status_ = decode(status);
  }
  pid_ = -1;
}

} // namespace kluster::test
