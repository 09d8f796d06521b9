#pragma once
// Continuous verification (docs/operations.md): at checkpoints that every node picks alike from
// ALL, each node checksums its tables in a snapshot taken right after the checkpoint's commit and publishes
// the sums as a response on RESPONSES (client id kluster.checks, request topic CHECK). Nodes and `monitor`
// compare the sums of one ALL offset: a node outside the majority has diverged.
#include "core/db/adapter.hpp"
#include "core/message.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kluster::checks {

/// The client id (and message key) of check results on RESPONSES: one partition holds them all.
inline constexpr const char* kClientId = "kluster.checks";
/// The requestTopic of a check result.
inline constexpr const char* kTopic = "CHECK";

/// The buckets a table is split into (db::kCheckBuckets).
inline constexpr int kBuckets = db::kCheckBuckets;

/// Picks checkpoints from ALL messages' Kafka timestamps, the same on every node: a message is a checkpoint
/// when its timestamp falls in a later period (timestamp / interval) than every message before it. A node
/// that starts (or reads again) does not know the messages before: the first one it reads is never one.
/// A checkpoint is full (every table summed again, not only those written since the previous check) when its
/// period is in a later group of `fullEvery` periods (period / fullEvery) than the message before it: at most
/// every fullEvery periods, the same checkpoints on every node (fullEvery 1: every checkpoint is full).
class Schedule {
public:
  /// interval 0: never.
  explicit Schedule(std::chrono::milliseconds interval, int fullEvery = 1)
      : interval_(interval.count()), fullEvery_(fullEvery < 1 ? 1 : fullEvery) {}
  bool at(std::int64_t timestampMs);
  /// Whether the checkpoint at() found last is a full one.
  bool full() const { return full_; }
  void forget() { period_.reset(); }

private:
  std::int64_t interval_;
  std::int64_t fullEvery_;
  std::optional<std::int64_t> period_; ///< the latest period seen
  bool full_ = false;
};

/// One node's sums at one ALL offset.
struct Result {
  std::string nodeId;
  std::int64_t allOffset = -1;
  std::vector<db::TableChecksum> tables; ///< in name order
  bool full = false;                     ///< every table was summed again (else: those written since the last)
  std::int64_t durationMs = 0;
  std::int64_t timestampMs = 0;
  /// A digest of every table's name, rows and checksum (buckets and summedAt left out).
  std::string digest() const;
  Response toResponse() const;
  /// nullopt when `r` is not a check result.
  static std::optional<Result> fromResponse(const Response& r);
};

/// How the nodes' results at one offset compare.
struct Verdict {
  std::int64_t allOffset = -1;
  std::vector<std::string> nodes;     ///< every node with a result, in natural order
  std::vector<std::string> differing; ///< outside the largest group (everyone when no group is the largest)
  bool majority = true;               ///< one group is larger than every other
  /// Per table that differs: "public.t: node1, node3 10 rows (a1b2c3d4); node2 11 rows (e5f6a7b8)", and when the
  /// nodes split it into buckets, "; first differing key range: bucket 5 of 32 (hashtextextended(ROW(id)::text,
  /// 0) & 31 = 5), 1 of 32 buckets differ".
  std::vector<std::string> tables;
  std::vector<std::string> tableNames;
  std::vector<int> firstBuckets; ///< per table in tableNames: its first differing bucket (-1: not known)
  bool identical() const { return differing.empty(); }
};
Verdict compare(const std::vector<Result>& results);

/// The buckets (db::TableChecksum::buckets) of one table on several nodes: the first bucket whose digests are not
/// all the same (-1: none, or a node without buckets of the expected size), and how many differ.
struct BucketDifference {
  int first = -1;
  int count = 0;
};
BucketDifference differingBuckets(const std::vector<std::string>& buckets);

/// The results of the latest checkpoints, by ALL offset (a bounded number of them).
class Rounds {
public:
  explicit Rounds(std::size_t keep = 16) : keep_(keep) {}
  void add(Result r);
  /// The results at `offset` (empty when none).
  std::vector<Result> at(std::int64_t offset) const;
  /// Whether every node expected has answered at `offset`: as many results as the most any kept round holds.
  bool complete(std::int64_t offset) const;
  /// The newest complete round with results from two nodes or more, compared.
  std::optional<Verdict> latest() const;

private:
  std::size_t keep_;
  std::size_t most_ = 0;
  std::map<std::int64_t, std::map<std::string, Result>> rounds_;
};

} // namespace kluster::checks
