#include "support/terminal.hpp"

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace kluster::test {

Terminal::Terminal(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  winsize size{};
  size.ws_row = 40;
  size.ws_col = 200;
  pid_ = forkpty(&fd_, nullptr, nullptr, &size);
  if (pid_ < 0) throw std::runtime_error("forkpty failed");
  if (pid_ == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
}

Terminal::~Terminal() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ::close(fd_);
}

void Terminal::type(const std::string& keys) {
  if (::write(fd_, keys.data(), keys.size()) != static_cast<ssize_t>(keys.size())) throw std::runtime_error("write");
}

bool Terminal::expect(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto at = screen_.find(text, mark_);
    if (at != std::string::npos) {
      mark_ = at + text.size();
      return true;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !readSome(left)) return false;
  }
}

int Terminal::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_ && std::chrono::steady_clock::now() < deadline) {
    readSome(std::chrono::milliseconds(100));
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  return status_.value_or(-1);
}

bool Terminal::echoing() const {
  termios t{};
  return ::tcgetattr(fd_, &t) == 0 && (t.c_lflag & ECHO) != 0;
}

bool Terminal::readSome(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(std::min<long>(timeout.count(), 200))) <= 0) return true;
  char buf[4096];
  const auto n = ::read(fd_, buf, sizeof buf);
  if (n <= 0) return false; // the terminal closed
  screen_.append(buf, static_cast<std::size_t>(n));
  return true;
}

} // namespace kluster::test
