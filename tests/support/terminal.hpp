#pragma once
// A child process on a pseudo-terminal, driven like a person at a keyboard (the interactive prompt of exec,
// the password prompt of passwd).
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kluster::test {

class Terminal {
public:
  Terminal(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env);
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  /// Sends keys as typed ("\x03" is Ctrl-C, through the terminal's line discipline).
  void type(const std::string& keys);
  /// Waits until `text` appears after what earlier expectations consumed.
  bool expect(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// Waits for the process to end; returns its exit status (128 + the signal when a signal ended it).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// Everything the process wrote to the terminal so far (with what the terminal echoed).
  const std::string& screen() const { return screen_; }
  /// Whether the terminal echoes what is typed now.
  bool echoing() const;

private:
  bool readSome(std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  int fd_ = -1;
  std::optional<int> status_;
  std::string screen_;
  std::size_t mark_ = 0;
};

} // namespace kluster::test
