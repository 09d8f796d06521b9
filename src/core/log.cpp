#include "core/log.hpp"

#include "core/errors.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace kluster::log {
namespace {
std::atomic<Level> g_level{Level::Info};
std::atomic<Format> g_format{Format::Text};
std::mutex g_mutex;
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
} // namespace

Level level() { return g_level.load(); }
void setLevel(Level lvl) { g_level.store(lvl); }
bool enabled(Level lvl) { return lvl >= g_level.load(std::memory_order_relaxed); }

void setFormat(Format format) { g_format.store(format); }

Format parseFormat(std::string_view text) {
  if (text == "text") return Format::Text;
  if (text == "json") return Format::Json;
  throw UsageError(fmt::format("unknown log format '{}' (use text or json)", text));
}

namespace {
constexpr const char* kJsonNames[] = {"debug", "info", "warn", "error", "off"};
} // namespace

std::string formatLine(Format format, std::string_view time, Level lvl, std::string_view module,
                       std::string_view message) {
  if (format == Format::Text)
    return fmt::format("{} {:<5} [{}] {}\n", time, kNames[static_cast<int>(lvl)], module, message);
  const nlohmann::ordered_json line = {
      {"time", time}, {"level", kJsonNames[static_cast<int>(lvl)]}, {"module", module}, {"message", message}};
  // Invalid UTF-8 (from a broker or a database message) becomes U+FFFD instead of losing the line.
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Level parseLevel(std::string_view text) {
  if (text == "debug") return Level::Debug;
  if (text == "info") return Level::Info;
  if (text == "warn" || text == "warning") return Level::Warn;
  if (text == "error") return Level::Error;
  if (text == "off") return Level::Off;
  throw UsageError(fmt::format("unknown log level '{}' (use debug, info, warn, error or off)", text));
}

void write(Level lvl, std::string_view module, std::string_view message) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  const auto line = formatLine(g_format.load(), fmt::format("{}.{:03}Z", stamp, ms), lvl, module, message);
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace kluster::log
