#pragma once
// Minimal leveled logging to stderr, as text lines or JSON objects (one a line, for log collectors).
// KLOG checks the level before formatting anything.
#include <fmt/format.h>

#include <atomic>
#include <string>
#include <string_view>

namespace kluster::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };
enum class Format { Text, Json };

Level level();
void setLevel(Level level);
/// Parses "debug|info|warn|error|off"; throws UsageError on anything else.
Level parseLevel(std::string_view text);
bool enabled(Level level);
void setFormat(Format format);
/// Parses "text|json"; throws UsageError on anything else.
Format parseFormat(std::string_view text);
/// One line as written: `2026-12-02T03:50:03.123Z INFO  [node] message`, or
/// `{"time":"2026-12-02T03:50:03.123Z","level":"info","module":"node","message":"..."}`.
std::string formatLine(Format format, std::string_view time, Level level, std::string_view module,
                       std::string_view message);
void write(Level level, std::string_view module, std::string_view message);

} // namespace kluster::log

#define KLOG(lvl, module, ...)                                                                                         \
  do {                                                                                                                 \
    if (::kluster::log::enabled(::kluster::log::Level::lvl))                                                           \
      ::kluster::log::write(::kluster::log::Level::lvl, module, fmt::format(__VA_ARGS__));                             \
  } while (0)
