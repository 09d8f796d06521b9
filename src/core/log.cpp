#include "core/log.hpp"

#include "core/errors.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace kluster::log {
namespace {
std::atomic<Level> g_level{Level::Info};
std::mutex g_mutex;
constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
} // namespace

Level level() { return g_level.load(); }
void setLevel(Level lvl) { g_level.store(lvl); }
bool enabled(Level lvl) { return lvl >= g_level.load(std::memory_order_relaxed); }

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
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s.%03dZ %-5s [%.*s] %.*s\n", stamp, static_cast<int>(ms), kNames[static_cast<int>(lvl)],
               static_cast<int>(module.size()), module.data(), static_cast<int>(message.size()), message.data());
}

} // namespace kluster::log
