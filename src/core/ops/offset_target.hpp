#pragma once
// Where `klusterctl offsets set --to` moves a group: earliest, latest, an offset, or the first message at or
// after a point in time.
#include "core/kafka/admin.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace kluster::ops {

/// Parses a point in time into epoch milliseconds: ISO-8601 with a zone ("2026-11-26T07:00:00Z",
/// "2026-11-26T08:00:00.250+01:00"; a space may replace the T) or "@<epoch ms>". A time without a zone is
/// refused rather than guessed. Throws UsageError.
std::int64_t parseTimestamp(std::string_view text);

/// Numbers this large are epoch milliseconds (2001-09-09 onwards), not offsets: no log holds 10^12 messages.
inline constexpr std::int64_t kEpochMsThreshold = 1'000'000'000'000;

struct OffsetTarget {
  enum class Kind { Earliest, Latest, Offset, Timestamp };
  Kind kind = Kind::Latest;
  std::int64_t value = 0; ///< the offset, or the epoch ms of a Timestamp

  /// Parses "earliest", "latest", an offset, an ISO-8601 time, "@<epoch ms>", or a bare number of 13+ digits
  /// (epoch ms). Throws UsageError.
  static OffsetTarget parse(std::string_view text);
  /// How the target reads back to a person, e.g. "the first message at or after 2026-11-26T07:00:00.000Z".
  std::string describe() const;
};

/// The offset a partition is set to for a target, given its watermarks. `offsetForTime` maps epoch ms to the
/// first offset at or after it (the log end when there is none). An offset outside [logStart, logEnd] is a
/// UsageError.
std::int64_t resolveTarget(const OffsetTarget& target, const kafka::Watermarks& watermarks,
                           const std::function<std::int64_t(std::int64_t)>& offsetForTime);

} // namespace kluster::ops
