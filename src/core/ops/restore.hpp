#pragma once
// `klusterctl restore`: loads a backup into a stopped node's database (an empty one, a broken one with
// --force, or the new database of a node joining the cluster) and points the node's ALL group at the
// backup's position. Started again, the node resumes from the position stored in the restored database.
#include "core/ops/backup.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace kluster::ops {

struct RestoreOptions {
  NodeTarget target;
  std::filesystem::path from;
  bool force = false;   ///< replace what the database holds
  std::string pgBindir; ///< where pg_restore is; empty: found from the server's major version
  std::function<void(const std::string& activity)> progress; ///< what pg_restore is doing, as it goes
};

/// What a restore did.
struct RestoreReport {
  Manifest manifest;
  std::string database;                ///< the node's database
  bool createdDatabase = false;        ///< it did not exist
  std::vector<std::string> dropped;    ///< schemas dropped (--force)
  std::int64_t previousCommitted = -1; ///< the ALL group's committed offset before (-1: none)
  std::int64_t committed = -1;         ///< and after: the backup's replayFrom
  LogFacts log;
  std::vector<std::string> warnings;
  std::int64_t durationMs = 0;
};

using db::describeContents;

/// Restores; checks everything it can first (checksums, node stopped, log still holds the position, database
/// empty or --force) and throws KlusterError(kRefused) when one fails, before changing anything.
RestoreReport restore(const RestoreOptions& options);

} // namespace kluster::ops
