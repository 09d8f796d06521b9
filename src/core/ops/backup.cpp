#include "core/ops/backup.hpp"

#include "core/errors.hpp"
#include "core/ops/pg_tools.hpp"
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
      for (const auto* name : {kDumpFile, kManifestFile}) fs::remove(dir_ / name, ec);
      fs::remove(dir_ / (std::string(kManifestFile) + ".tmp"), ec);
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
  NodeTarget t{s.get("cluster.name"), s.get("cluster.brokers"), s.kafka(), s.get("node.id"), s.get("database.url")};
  if (t.nodeId.empty()) throw UsageError("no node id: set [node] id in the node config (or KLUSTER_NODE_ID)");
  if (s.get("database.type") != "postgresql")
    throw UsageError(fmt::format("database type '{}' is not supported (only postgresql)", s.get("database.type")));
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

  const auto params = ConnParams::parse(o.target.databaseUrl);
  PgSession db(params.conninfo(true));
  const int major = db.serverVersionNum() / 10000;
  const auto pgDump = findPgTool("pg_dump", major, o.pgBindir);
  const auto toolVersion = runTool({pgDump.string(), "--version"}, {}).tail(1);

  // The snapshot: the position read here and everything pg_dump reads are the same instant of the database.
  db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const auto snapshot = db.scalar("SELECT pg_export_snapshot()");
  auto info = db.query("SELECT current_database(), current_setting('server_version'), pg_encoding_to_char(encoding), "
                       "datcollate, datctype, pg_database_size(current_database()) FROM pg_database "
                       "WHERE datname = current_database()");
  if (db.scalar("SELECT to_regclass('_kluster.position') IS NOT NULL") != "t")
    refuse({fmt::format("database {} has no table _kluster.position: it is not a Kluster node's database",
                        info.at(0)[0].value_or("")),
            "check [database] url in the node config; a node creates the table when it first starts"});
  Manifest m;
  auto position =
      db.query("SELECT all_offset, message_id FROM _kluster.position WHERE cluster = $1", {o.target.cluster});
  if (!position.empty()) {
    m.allOffset = std::stoll(position[0][0].value_or("-1"));
    m.messageId = position[0][1].value_or("");
  }
  if (auto r = positionRefusal(topics.all(), o.target.brokers, readLogFacts(admin, topics.all()), m.replayFrom()))
    refuse(*r);

  m.cluster = o.target.cluster;
  m.node = o.target.nodeId;
  m.timeMs = util::nowMillis();
  m.nodeStopped = o.stopNode;
  m.serverVersion = info.at(0)[1].value_or("");
  m.serverMajor = major;
  m.database = info.at(0)[0].value_or("");
  m.encoding = info.at(0)[2].value_or("");
  m.collation = info.at(0)[3].value_or("");
  m.ctype = info.at(0)[4].value_or("");
  m.databaseBytes = std::stoll(info.at(0)[5].value_or("0"));
  m.toolVersion = toolVersion;
  m.klusterctlVersion = std::string(kVersion);

  PartialBackup partial(o.outDir);
  partial.create();
  const auto dumpPath = o.outDir / kDumpFile;
  // Custom format to a file (not a pipe), so the archive has its table of contents with data offsets and
  // pg_restore can restore selectively or in parallel (-j).
  auto result = runTool({pgDump.string(), "--format=custom", "--snapshot=" + snapshot, "--no-password",
                         "--file=" + dumpPath.string(), "--dbname=" + params.conninfo(false)},
                        toolEnvironment(params), {}, [&] {
                          std::error_code ec;
                          auto size = fs::file_size(dumpPath, ec);
                          if (!ec && o.progress) o.progress(size);
                        });
  db.exec("COMMIT"); // the snapshot may go now
  if (result.exitCode != 0)
    throw KlusterError(code::SqlError,
                       fmt::format("pg_dump failed (exit status {}):\n{}", result.exitCode, result.tail()),
                       "see pg_dump's message above; nothing was kept in " + o.outDir.string());
  syncFile(dumpPath);
  m.files.push_back(hashFile(dumpPath));
  if (o.progress) o.progress(m.files.back().bytes);
  m.durationMs = util::nowMillis() - started;
  writeManifest(o.outDir, m);
  partial.keep();
  return m;
}

} // namespace kluster::ops
