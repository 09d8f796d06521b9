#pragma once
// `klusterctl backup`: a consistent logical snapshot of one node's database that knows its ALL position.
// The position is read in the same REPEATABLE READ snapshot that pg_dump dumps (pg_export_snapshot), so the
// dump holds exactly the effects of ALL up to that offset, and replay from the next offset makes it current.
#include "core/config.hpp"
#include "core/db/operations.hpp"
#include "core/kafka/admin.hpp"
#include "core/ops/manifest.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kluster::ops {

/// Code of a refusal: doing what was asked would be unsafe, and nothing was changed (exit status 1).
using db::kRefused;

/// The node a backup or restore is about, from its node config.
struct NodeTarget {
  std::string cluster;
  std::string brokers;
  kafka::Properties kafka; ///< pass-through librdkafka properties
  std::string nodeId;
  std::string databaseType; ///< picks the adapter whose operations back up and restore
  std::string databaseUrl;
  /// From a node's settings (cluster.name, cluster.brokers, [kafka], node.id, database.url); throws UsageError
  /// when the node id or database URL is missing.
  static NodeTarget fromSettings(const Settings& settings);
};

/// What decides whether the ALL topic can replay from an offset.
struct LogFacts {
  std::string retentionMs;    ///< "-1": kept forever
  std::string retentionBytes; ///< "-1": no size limit
  std::int64_t logStart = 0;  ///< low watermark: the oldest offset Kafka still has
  std::int64_t logEnd = 0;    ///< high watermark: the next offset to be written
};

/// Why something was refused, and what to do about it.
struct Refusal {
  std::string message;
  std::string hint;
};

/// The retention settings and watermarks of ALL (partition 0).
LogFacts readLogFacts(kafka::Admin& admin, const std::string& allTopic);

/// Why ALL could not replay every request from `replayFrom` on (Kafka deleted some, or the position is past
/// the log's end); nullopt when it can.
std::optional<Refusal> positionRefusal(const std::string& allTopic, const std::string& brokers, const LogFacts& facts,
                                       std::int64_t replayFrom);
/// Why ALL's retention would later delete requests a restore must replay (retention.ms or retention.bytes is
/// not -1); nullopt when ALL is kept forever.
std::optional<Refusal> retentionRefusal(const std::string& allTopic, const std::string& brokers, const LogFacts& facts);

/// The state of a consumer group ("Stable", "Empty", ...), or nullopt when Kafka does not know it.
std::optional<kafka::GroupListing> findGroup(kafka::Admin& admin, const std::string& group);

/// Refuses (throws KlusterError kRefused) when `dir` exists and is not an empty directory.
void requireEmptyDirectory(const std::filesystem::path& dir);

struct BackupOptions {
  NodeTarget target;
  std::filesystem::path outDir;
  bool stopNode = false; ///< the node must be stopped (its ALL group without active members)
  std::string pgBindir;  ///< where pg_dump is; empty: found from the server's major version
  std::function<void(std::uint64_t bytesWritten)> progress; ///< called a few times a second while dumping
};

/// Takes the backup into options.outDir and returns its manifest (also written there, last). Throws
/// KlusterError(kRefused) before writing anything when the backup could not be replayed from later, and
/// removes what it wrote when it fails half-way.
Manifest backup(const BackupOptions& options);

} // namespace kluster::ops
