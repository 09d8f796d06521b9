#pragma once
// Minimal leveled logging to stderr. KLOG checks the level before formatting anything.
#include <fmt/format.h>

#include <atomic>
#include <string_view>

namespace kluster::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

Level level();
void setLevel(Level level);
/// Parses "debug|info|warn|error|off"; throws UsageError on anything else.
Level parseLevel(std::string_view text);
bool enabled(Level level);
void write(Level level, std::string_view module, std::string_view message);

} // namespace kluster::log

#define KLOG(lvl, module, ...)                                                                                         \
  do {                                                                                                                 \
    if (::kluster::log::enabled(::kluster::log::Level::lvl))                                                           \
      ::kluster::log::write(::kluster::log::Level::lvl, module, fmt::format(__VA_ARGS__));                             \
  } while (0)
