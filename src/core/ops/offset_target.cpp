#include "core/ops/offset_target.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

namespace kluster::ops {
namespace {

const char* const kTimestampHelp = "use ISO-8601 with a zone, e.g. 2026-11-26T07:00:00Z, or @<epoch ms>";

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::int64_t toInt(std::string_view s, std::string_view whole) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size())
    throw UsageError(fmt::format("invalid number '{}' in '{}'", s, whole));
  return v;
}

// Reads `n` digits at `pos` (advancing it); throws on anything else.
int digits(std::string_view text, std::size_t& pos, std::size_t n) {
  if (pos + n > text.size() || !allDigits(text.substr(pos, n)))
    throw UsageError(fmt::format("invalid time '{}': {}", text, kTimestampHelp));
  int v = static_cast<int>(toInt(text.substr(pos, n), text));
  pos += n;
  return v;
}

void expect(std::string_view text, std::size_t& pos, std::string_view chars) {
  if (pos >= text.size() || chars.find(text[pos]) == std::string_view::npos)
    throw UsageError(fmt::format("invalid time '{}': {}", text, kTimestampHelp));
  ++pos;
}

} // namespace

std::int64_t parseTimestamp(std::string_view text) {
  if (!text.empty() && text[0] == '@') {
    if (!allDigits(text.substr(1))) throw UsageError(fmt::format("invalid time '{}': {}", text, kTimestampHelp));
    return toInt(text.substr(1), text);
  }
  std::size_t pos = 0;
  std::tm tm{};
  tm.tm_year = digits(text, pos, 4) - 1900;
  expect(text, pos, "-");
  tm.tm_mon = digits(text, pos, 2) - 1;
  expect(text, pos, "-");
  tm.tm_mday = digits(text, pos, 2);
  expect(text, pos, "T ");
  tm.tm_hour = digits(text, pos, 2);
  expect(text, pos, ":");
  tm.tm_min = digits(text, pos, 2);
  int seconds = 0;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    seconds = digits(text, pos, 2);
  }
  tm.tm_sec = seconds;
  std::int64_t millis = 0;
  if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
    ++pos;
    std::size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos == start) throw UsageError(fmt::format("invalid time '{}': {}", text, kTimestampHelp));
    auto frac = std::string(text.substr(start, pos - start)) + "00";
    millis = toInt(std::string_view(frac).substr(0, 3), text);
  }
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      seconds > 60)
    throw UsageError(fmt::format("invalid time '{}': a field is out of range", text));
  if (pos >= text.size())
    throw UsageError(fmt::format("time '{}' has no zone: add Z for UTC or an offset such as +01:00", text));
  std::int64_t offsetMinutes = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else {
    const int sign = text[pos] == '-' ? -1 : 1;
    expect(text, pos, "+-");
    int hours = digits(text, pos, 2);
    if (pos < text.size() && text[pos] == ':') ++pos;
    int minutes = pos < text.size() ? digits(text, pos, 2) : 0;
    if (hours > 23 || minutes > 59) throw UsageError(fmt::format("invalid zone offset in '{}'", text));
    offsetMinutes = sign * (hours * 60 + minutes);
  }
  if (pos != text.size()) throw UsageError(fmt::format("invalid time '{}': {}", text, kTimestampHelp));
  // timegm normalizes impossible dates (Feb 30 -> Mar 2), in place; refuse them instead.
  const int day = tm.tm_mday, month = tm.tm_mon;
  const std::time_t secs = timegm(&tm);
  if (tm.tm_mday != day || tm.tm_mon != month) throw UsageError(fmt::format("invalid time '{}': no such date", text));
  return (static_cast<std::int64_t>(secs) - offsetMinutes * 60) * 1000 + millis;
}

OffsetTarget OffsetTarget::parse(std::string_view text) {
  if (text == "earliest" || text == "beginning") return {Kind::Earliest, 0};
  if (text == "latest" || text == "end") return {Kind::Latest, 0};
  if (allDigits(text)) {
    const auto n = toInt(text, text);
    if (n >= kEpochMsThreshold) return {Kind::Timestamp, n};
    return {Kind::Offset, n};
  }
  if (!text.empty() && (text[0] == '@' || std::isdigit(static_cast<unsigned char>(text[0]))))
    return {Kind::Timestamp, parseTimestamp(text)};
  throw UsageError(fmt::format("invalid --to '{}': use earliest, latest, an offset, an ISO-8601 time such as "
                               "2026-11-26T07:00:00Z, or @<epoch ms>",
                               text));
}

std::string OffsetTarget::describe() const {
  switch (kind) {
  case Kind::Earliest: return "the earliest offset";
  case Kind::Latest: return "the log end (latest)";
  case Kind::Offset: return fmt::format("offset {}", value);
  case Kind::Timestamp: return fmt::format("the first message at or after {}", util::isoMillis(value));
  }
  return {};
}

std::int64_t resolveTarget(const OffsetTarget& target, const kafka::Watermarks& watermarks,
                           const std::function<std::int64_t(std::int64_t)>& offsetForTime) {
  switch (target.kind) {
  case OffsetTarget::Kind::Earliest: return watermarks.low;
  case OffsetTarget::Kind::Latest: return watermarks.high;
  case OffsetTarget::Kind::Timestamp: return std::clamp(offsetForTime(target.value), watermarks.low, watermarks.high);
  case OffsetTarget::Kind::Offset:
    if (target.value < watermarks.low || target.value > watermarks.high)
      throw UsageError(
          fmt::format("offset {} is outside the log [{}, {}]", target.value, watermarks.low, watermarks.high));
    return target.value;
  }
  return watermarks.high;
}

} // namespace kluster::ops
