#pragma once
// Small helpers shared by the core: ids, time, durations, hashing, UTF-8.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace kluster::util {

/// A random (version 4) UUID in canonical text form.
std::string uuid4();
/// Milliseconds since the Unix epoch, wall clock.
std::int64_t nowMillis();
/// Microseconds since the Unix epoch, wall clock (request traces compare them between processes).
std::int64_t nowMicros();
/// Parses "250ms", "10s", "2m", "1h" or a bare number of seconds. Throws UsageError.
std::chrono::milliseconds parseDuration(std::string_view text);
/// FNV-1a 32-bit hash: the documented function that maps a clientId to its RESPONSES partition.
std::uint32_t fnv1a(std::string_view data);
/// The RESPONSES partition on which a client with this id receives its responses.
int responsePartition(std::string_view clientId, int partitionCount);
/// True when the bytes are well-formed UTF-8.
bool validUtf8(std::string_view text);
/// Hex SHA-256 digest.
std::string sha256Hex(std::string_view data);
/// An ISO-8601 UTC rendering of epoch milliseconds, e.g. 2026-11-26T07:00:00.123Z.
std::string isoMillis(std::int64_t epochMillis);
/// The whole of a file that holds secrets (`what` names it in errors); refuses one that others than its owner
/// may read (mode & 077) with a hint to chmod 600. Throws UsageError.
std::string readSecretFile(const std::string& path, std::string_view what);
/// The last `lines` lines of a text file (for error messages about a child process's log); empty when unreadable.
std::string tailFile(const std::string& path, int lines);

} // namespace kluster::util
