#pragma once
// Progress lines for people: one line on standard error, rewritten in place, only when standard error is a
// terminal (nothing at all on a pipe or in a log). Used by node run (catch-up), backup, restore and bench.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace kluster::commands {

class Progress {
public:
  /// `label` starts every line ("backup", "node1"); enabled only when stderr is a terminal.
  explicit Progress(std::string label);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool enabled() const { return enabled_; }
  /// Shows `text` (at most ten times a second; `force` shows it now).
  void show(const std::string& text, bool force = false);
  /// Shows a count with its rate and, with a total, what is left: `applied 40,000 / 120,000, 25,000/s, eta 3s`.
  /// `verb` names what is counted.
  void count(const std::string& verb, std::int64_t done, std::optional<std::int64_t> total);
  /// Seconds since it was made.
  double seconds() const;
  /// Clears the line (nothing stays on the terminal).
  void clear();

private:
  std::string label_;
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_{};
  std::int64_t firstCount_ = -1;
};

/// 120000 -> "120,000".
std::string withThousands(std::int64_t n);
/// 3.2 -> "3s", 125 -> "2m05s".
std::string shortDuration(double seconds);

} // namespace kluster::commands
