#include "commands/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <iostream>

namespace kluster::commands {

std::string withThousands(std::int64_t n) {
  auto digits = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
  return (n < 0 ? "-" : "") + digits;
}

std::string shortDuration(double seconds) {
  const auto s = static_cast<std::int64_t>(std::llround(std::max(0.0, seconds)));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s / 60) % 60);
}

Progress::Progress(std::string label)
    : label_(std::move(label)), enabled_(isatty(STDERR_FILENO) != 0), started_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { clear(); }

void Progress::show(const std::string& text, bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && shown_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  shown_ = true;
  // \r and erase-line: the line is rewritten in place; cut to keep it on one terminal line
  std::cerr << "\r\x1b[K" << label_ << ": " << text.substr(0, 150) << std::flush;
}

void Progress::count(const std::string& verb, std::int64_t done, std::optional<std::int64_t> total) {
  if (!enabled_) return;
  if (firstCount_ < 0) firstCount_ = done;
  const double elapsed = seconds();
  const double rate = elapsed > 0.5 ? static_cast<double>(done - firstCount_) / elapsed : 0.0;
  std::string text = verb + " " + withThousands(done);
  if (total) text += " / " + withThousands(*total);
  if (rate > 0) text += fmt::format(", {}/s", withThousands(static_cast<std::int64_t>(rate)));
  if (total && rate > 0 && *total > done) text += ", eta " + shortDuration(static_cast<double>(*total - done) / rate);
  show(text);
}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void Progress::clear() {
  if (enabled_ && shown_) std::cerr << "\r\x1b[K" << std::flush;
  shown_ = false;
}

} // namespace kluster::commands
