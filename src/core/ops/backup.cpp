#include "core/ops/backup.hpp"

#include "core/db/operations.hpp"
#include "core/errors.hpp"
#include "core/topics.hpp"
#include "core/util.hpp"
#include "core/version.hpp"

#include <fmt/format.h>

namespace kluster::ops {
namespace fs = std::filesystem;

namespace {

// Removes what a failed backup wrote: the directory when the backup created it, else the files in it.
class PartialBackup {
public:
  explicit PartialBackup(fs::path dir) : dir_(std::move(dir)), created_(!fs::exists(dir_)) {}
  ~PartialBackup() {
    if (done_) return;
    std::error_code ec;
    if (created_) {
      fs::remove_all(dir_, ec);
    } else {
      // It was empty: what is in it now, the backup wrote.
      for (const auto& entry : fs::directory_iterator(dir_, ec)) fs::remove_all(entry.path(), ec);
    }
  }
  PartialBackup(const PartialBackup&) = delete;
  PartialBackup& operator=(const PartialBackup&) = delete;
  void create() { fs::create_directories(dir_); }
  void keep() { done_ = true; }

private:
  fs::path dir_;
  bool created_;
  bool done_ = false;
};

[[noreturn]] void refuse(const Refusal& r) { throw KlusterError(kRefused, r.message, r.hint); }

} // namespace

NodeTarget NodeTarget::fromSettings(const Settings& s) {
  NodeTarget t{s.get("cluster.name"), s.get("cluster.brokers"), s.kafka(),
               s.get("node.id"),      s.get("database.type"),   s.get("database.url")};
  if (t.nodeId.empty()) throw UsageError("no node id: set [node] id in the node config (or KLUSTER_NODE_ID)");
  db::adapter(t.databaseType); // an unknown type fails here
  if (t.databaseUrl.empty())
    throw UsageError("no database URL: set [database] url in the node config (or KLUSTER_DATABASE_URL)");
  return t;
}

LogFacts readLogFacts(kafka::Admin& admin, const std::string& allTopic) {
  LogFacts facts;
  auto config = admin.topicConfig(allTopic, {"retention.ms", "retention.bytes"});
  facts.retentionMs = config.count("retention.ms") ? config["retention.ms"] : "";
  facts.retentionBytes = config.count("retention.bytes") ? config["retention.bytes"] : "";
  auto w = admin.watermarks(allTopic, 0);
  facts.logStart = w.low;
  facts.logEnd = w.high;
  return facts;
}

std::optional<Refusal> positionRefusal(const std::string& allTopic, const std::string& brokers, const LogFacts& facts,
                                       std::int64_t replayFrom) {
  if (facts.logStart > replayFrom)
    return Refusal{
        fmt::format("{} no longer holds the requests this copy needs: replay would start at offset {}, but the log "
                    "starts at offset {} (Kafka deleted offsets {}..{})",
                    allTopic, replayFrom, facts.logStart, replayFrom, facts.logStart - 1),
        fmt::format("use a backup taken from a node that is up to date (klusterctl backup on a running node), and "
                    "keep {} forever: kafka-configs.sh --bootstrap-server {} --alter --entity-type topics "
                    "--entity-name {} --add-config retention.ms=-1,retention.bytes=-1",
                    allTopic, brokers, allTopic)};
  if (facts.logEnd < replayFrom)
    return Refusal{fmt::format("the position {} is past the end of {} (offset {}): it belongs to another {} "
                               "(was the topic deleted and created again?)",
                               replayFrom - 1, allTopic, facts.logEnd, allTopic),
                   "check --cluster and --brokers in the node config; a backup only fits the ALL topic it was taken "
                   "from"};
  return std::nullopt;
}

std::optional<Refusal> retentionRefusal(const std::string& allTopic, const std::string& brokers,
                                        const LogFacts& facts) {
  std::vector<std::string> limited;
  if (facts.retentionMs != "-1") limited.push_back("retention.ms=" + facts.retentionMs);
  if (facts.retentionBytes != "-1") limited.push_back("retention.bytes=" + facts.retentionBytes);
  if (limited.empty()) return std::nullopt;
  std::string what;
  for (const auto& l : limited) what += (what.empty() ? "" : ", ") + l;
  return Refusal{fmt::format("{} has limited retention ({}): Kafka will delete the requests a restore of this backup "
                             "must replay, so the backup could not be restored",
                             allTopic, what),
                 fmt::format("keep ALL forever (klusterctl init creates it so): kafka-configs.sh --bootstrap-server {} "
                             "--alter --entity-type topics --entity-name {} --add-config "
                             "retention.ms=-1,retention.bytes=-1",
                             brokers, allTopic)};
}

std::optional<kafka::GroupListing> findGroup(kafka::Admin& admin, const std::string& group) {
  for (auto& g : admin.listGroups())
    if (g.groupId == group) return g;
  return std::nullopt;
}

void requireEmptyDirectory(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) throw UsageError(fmt::format("{} exists and is not a directory", dir.string()));
  if (!fs::is_empty(dir, ec))
    throw UsageError(fmt::format("{} is not empty: refusing to mix this backup with other files (hint: give a new "
                                 "or empty directory, e.g. {}-{})",
                                 dir.string(), dir.string(), util::isoMillis(util::nowMillis()).substr(0, 10)));
}

Manifest backup(const BackupOptions& o) {
  const auto started = util::nowMillis();
  const Topics topics{o.target.cluster};
  const auto group = topics.nodeGroup(o.target.nodeId);
  requireEmptyDirectory(o.outDir);

  kafka::Admin admin(kafka::clientProperties(o.target.brokers, o.target.kafka));
  if (!admin.partitionCount(topics.all()))
    throw KlusterError(code::NodeError, fmt::format("topic {} does not exist", topics.all()),
                       "check [cluster] name and brokers in the node config");
  if (auto r = retentionRefusal(topics.all(), o.target.brokers, readLogFacts(admin, topics.all()))) refuse(*r);
  if (o.stopNode) {
    if (auto g = findGroup(admin, group); g && g->active())
      refuse({fmt::format("node {} is running (its group {} is {}); --stop-node backs up a stopped node",
                          o.target.nodeId, group, g->state),
              fmt::format("stop it with its service manager first (e.g. systemctl stop kluster-node@{}), or back up "
                          "without --stop-node: the snapshot is consistent while the node runs",
                          o.target.nodeId)});
  }

  PartialBackup partial(o.outDir);
  Manifest m;
  db::DumpRequest request{o.target.databaseUrl, o.target.cluster, o.outDir, o.pgBindir, {}, o.progress};
  request.ready = [&](const db::Position& position) { // the snapshot is taken: its position must be replayable
    m.allOffset = position.offset;
    if (auto r = positionRefusal(topics.all(), o.target.brokers, readLogFacts(admin, topics.all()), m.replayFrom()))
      refuse(*r);
    partial.create();
  };
  const db::Dump dump = db::adapter(o.target.databaseType).operations().dump(request);
  static_cast<db::DumpFacts&>(m) = dump.facts;
  m.cluster = o.target.cluster;
  m.node = o.target.nodeId;
  m.allOffset = dump.position.offset;
  m.messageId = dump.position.messageId;
  m.timeMs = util::nowMillis();
  m.nodeStopped = o.stopNode;
  m.klusterctlVersion = std::string(kVersion);
  for (const auto& name : dump.files) {
    syncFile(o.outDir / name);
    m.files.push_back(hashFile(o.outDir / name));
  }
  if (o.progress) o.progress(m.totalBytes());
  m.durationMs = util::nowMillis() - started;
  writeManifest(o.outDir, m);
  partial.keep();
  return m;
}

} // namespace kluster::ops
