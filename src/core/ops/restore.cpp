#include "core/ops/restore.hpp"

#include "core/db/operations.hpp"
#include "core/errors.hpp"
#include "core/topics.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kluster::ops {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void refuse(std::string message, std::string hint) {
  throw KlusterError(kRefused, std::move(message), std::move(hint));
}

} // namespace

RestoreReport restore(const RestoreOptions& o) {
  const auto started = util::nowMillis();
  RestoreReport report;
  const Topics topics{o.target.cluster};
  const auto group = topics.nodeGroup(o.target.nodeId);

  // 1. The backup itself: complete, and every byte as the backup wrote it.
  const Manifest m = readManifest(o.from);
  report.manifest = m;
  const db::Operations& operations = db::adapter(o.target.databaseType).operations();
  if (!operations.reads(m.method, m.format))
    throw UsageError(fmt::format("the backup in {} was made with {} ({}), which this klusterctl cannot restore",
                                 o.from.string(), m.method, m.format));
  if (auto problems = verifyFiles(o.from, m); !problems.empty()) {
    std::string list;
    for (const auto& p : problems) list += "\n  " + p;
    refuse(fmt::format("the backup in {} is damaged; nothing was restored:{}", o.from.string(), list),
           "restore another backup, or take a new one (klusterctl backup)");
  }
  if (m.cluster != o.target.cluster)
    refuse(fmt::format("the backup belongs to cluster {}, but the node config says cluster {}", m.cluster,
                       o.target.cluster),
           "a backup can only be replayed against the ALL topic of its own cluster; check [cluster] name");

  // 2. Kafka: the node is stopped and the log still holds everything after the backup's position.
  kafka::Admin admin(kafka::clientProperties(o.target.brokers, o.target.kafka));
  if (!admin.partitionCount(topics.all()))
    throw KlusterError(code::NodeError, fmt::format("topic {} does not exist", topics.all()),
                       "check [cluster] name and brokers in the node config");
  if (auto g = findGroup(admin, group); g && g->active())
    refuse(fmt::format("node {} is running (its group {} is {}); restore replaces its database", o.target.nodeId, group,
                       g->state),
           fmt::format("stop the node with its service manager first (e.g. systemctl stop kluster-node@{}), then run "
                       "restore again",
                       o.target.nodeId));
  report.log = readLogFacts(admin, topics.all());
  if (auto r = positionRefusal(topics.all(), o.target.brokers, report.log, m.replayFrom()))
    refuse(r->message + "; nothing was restored", r->hint);
  if (auto r = retentionRefusal(topics.all(), o.target.brokers, report.log))
    report.warnings.push_back(r->message + " (" + r->hint + ")");

  // 3. The database: created when missing, refused when it holds data without --force; then the archive, loaded
  // all or nothing.
  auto restored = operations.restore(
      {o.target.nodeId, o.target.databaseUrl, o.target.cluster, o.from, m, o.force, o.pgBindir, o.progress});
  report.database = restored.database;
  report.createdDatabase = restored.createdDatabase;
  report.dropped = std::move(restored.dropped);
  for (auto& w : restored.warnings) report.warnings.push_back(std::move(w));

  // 5. The restored position must be the manifest's: the node resumes from it.
  if (restored.restoredOffset != m.allOffset)
    throw KlusterError(code::SqlError,
                       fmt::format("the restored database is at ALL offset {}, but the manifest says {}",
                                   restored.restoredOffset, m.allOffset),
                       "the backup does not match its manifest; restore another backup");

  // 6. Point the node's ALL group at the first request to replay, for tools that read committed offsets (the
  // node itself resumes from the database). ONE needs nothing: its group is shared by all nodes.
  report.previousCommitted = std::max<std::int64_t>(-1, admin.committedOffsets(group, topics.all(), 1).at(0));
  if (auto g = findGroup(admin, group); g && g->active())
    refuse(fmt::format("node {} was started during the restore (group {} is {}); its database is restored but its "
                       "group offset was not set",
                       o.target.nodeId, group, g->state),
           "nothing else is needed: the node resumes from the position in its database");
  admin.setCommittedOffsets(group, topics.all(), {m.replayFrom()});
  report.committed = m.replayFrom();
  report.log = readLogFacts(admin, topics.all());
  report.durationMs = util::nowMillis() - started;
  return report;
}

} // namespace kluster::ops
