#pragma once
// What the nodes said recently, as read from RESPONSES and ERRORS: per node the latest ALL answer and
// response/error counts over a sliding window, ALL requests answered differently, and the newest error
// reports. Fed message by message; memory stays bounded however long it runs.
#include "core/checks.hpp"
#include "core/message.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::ops {

/// One report read from ERRORS.
struct ErrorEvent {
  std::string nodeId;
  std::string code;
  std::string severity;
  std::string message;
  std::string requestId;
  std::string requestTopic;
  std::optional<std::int64_t> offset;
  std::string sqlState;
  std::int64_t timestampMs = 0;
};

/// Parses an ERRORS payload (a NodeErrorReport); nullopt when it is not one. `fallbackMs` is used when the
/// payload has no timestamp.
std::optional<ErrorEvent> parseErrorReport(std::string_view payload, std::int64_t fallbackMs);

/// An ALL request that nodes answered with different outcomes.
struct Divergence {
  std::string requestId;
  std::int64_t allOffset = -1;
  /// Each distinct resultHash with the nodes that answered it, largest group first.
  std::vector<std::pair<std::string, std::vector<std::string>>> hashes;
  std::string majorityHash;               ///< empty when no hash has more nodes than every other
  std::vector<std::string> divergedNodes; ///< nodes outside the majority (every node involved when there is none)
  std::int64_t detectedMs = 0;
  /// Found by continuous verification (the nodes' table sums at a checkpoint), not by a request's answers.
  bool check = false;
  std::vector<std::string> tables; ///< check: per table that differs, how (checks::Verdict::tables)
};

/// Counts of events per one-second bucket over a sliding window.
class RateWindow {
public:
  void add(std::int64_t timestampMs, std::int64_t count = 1);
  /// Drops buckets older than `fromMs`.
  void expire(std::int64_t fromMs);
  /// Events at or after `fromMs`.
  std::int64_t countSince(std::int64_t fromMs) const;

private:
  std::deque<std::pair<std::int64_t, std::int64_t>> buckets_; // (second, count), ascending
};

/// What a node did, as far as RESPONSES and ERRORS tell.
struct NodeActivity {
  std::optional<std::int64_t> lastAllResponseMs; ///< when it last answered an ALL request
  std::optional<std::int64_t> lastAllOffset;     ///< the highest ALL offset it answered
  std::int64_t responses = 0;                    ///< responses (ALL and ONE) in the window
  std::int64_t errors = 0;                       ///< reports on ERRORS in the window
};

class ActivityTracker {
public:
  struct Limits {
    std::chrono::milliseconds window{std::chrono::seconds(60)}; ///< rates are counted over this
    std::size_t trackedRequests = 50'000;                       ///< ALL requests remembered for comparing answers
    std::size_t errors = 20;                                    ///< newest ERRORS reports kept for the feed
    std::size_t divergences = 50;                               ///< divergent requests kept
  };

  /// `startMs`: when the observed history begins (rates over a shorter history use its length).
  ActivityTracker(Limits limits, std::int64_t startMs);

  /// Takes a response read from RESPONSES; `timestampMs` is its time (the Kafka message timestamp).
  void addResponse(const Response& response, std::int64_t timestampMs);
  void addError(ErrorEvent event);
  /// Forgets counts that fell out of the window ending at `nowMs`.
  void expire(std::int64_t nowMs);

  NodeActivity node(const std::string& nodeId, std::int64_t nowMs) const;
  /// Every node that sent a response or an error report.
  std::vector<std::string> nodesSeen() const;
  /// The window rates are measured over at `nowMs` (shorter while less history was observed), at least 1 s.
  std::chrono::milliseconds observedWindow(std::int64_t nowMs) const;
  /// Requests answered differently, newest ALL offset first, after the latest complete continuous verification
  /// check when it found a difference.
  std::vector<Divergence> divergences() const;
  /// The newest error reports, newest first.
  const std::deque<ErrorEvent>& recentErrors() const { return errors_; }
  const Limits& limits() const { return limits_; }
  /// When the observed history begins.
  std::int64_t startMs() const { return startMs_; }

private:
  struct Answers {
    std::string requestId;
    std::vector<std::pair<std::uint16_t, std::string>> byNode; // (node index, resultHash)
    std::int64_t firstSeenMs = 0;
    bool divergent = false;
  };
  struct PerNode {
    std::string id;
    NodeActivity latest; // lastAll* only; counts come from the windows
    RateWindow responses;
    RateWindow errors;
  };
  PerNode& perNode(const std::string& nodeId);
  Divergence describe(std::int64_t offset, const Answers& answers) const;

  Limits limits_;
  std::int64_t startMs_;
  std::vector<PerNode> nodes_;
  std::map<std::string, std::uint16_t> index_;
  std::map<std::int64_t, Answers> answers_;   // by ALL offset, bounded by limits_.trackedRequests
  std::map<std::int64_t, Answers> divergent_; // by ALL offset, bounded by limits_.divergences
  std::deque<ErrorEvent> errors_;             // newest first
  checks::Rounds checks_;                     // continuous verification results
  std::int64_t checkSeenMs_ = 0;              // when the newest check result came
};

} // namespace kluster::ops
