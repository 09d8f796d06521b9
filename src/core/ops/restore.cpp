#include "core/ops/restore.hpp"

#include "core/errors.hpp"
#include "core/ops/pg_tools.hpp"
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

// User relations and the Kluster position a database holds (what a restore would overwrite).
struct Contents {
  std::vector<std::string> tables;
  std::int64_t position = -1;
  std::string collation;
  bool empty() const { return tables.empty() && position < 0; }
};

Contents readContents(PgSession& db, const std::string& cluster) {
  Contents c;
  for (const auto& row :
       db.query("SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname NOT IN ('information_schema', "
                "'_kluster') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1"))
    c.tables.push_back(row[0].value_or(""));
  if (db.scalar("SELECT to_regclass('_kluster.position') IS NOT NULL") == "t") {
    auto p = db.scalar("SELECT all_offset FROM _kluster.position WHERE cluster = $1", {cluster});
    if (!p.empty()) c.position = std::stoll(p);
  }
  c.collation = db.scalar("SELECT datcollate FROM pg_database WHERE datname = current_database()");
  return c;
}

// Drops every schema but PostgreSQL's own and recreates an empty `public` as initdb makes it, so the database
// is what a new node starts from: pg_restore --clean would only drop the objects that are in the archive.
std::vector<std::string> emptyDatabase(PgSession& db) {
  std::vector<std::string> schemas;
  for (const auto& row : db.query("SELECT nspname FROM pg_namespace WHERE nspname <> 'information_schema' AND "
                                  "nspname NOT LIKE 'pg\\_%' ORDER BY 1"))
    schemas.push_back(row[0].value_or(""));
  std::string sql = "BEGIN;\n";
  for (const auto& s : schemas) sql += fmt::format("DROP SCHEMA {} CASCADE;\n", quoteIdent(s));
  sql += "CREATE SCHEMA public;\n";
  if (db.serverVersionNum() >= 150000)
    sql += "ALTER SCHEMA public OWNER TO pg_database_owner;\nGRANT USAGE ON SCHEMA public TO PUBLIC;\n";
  else
    sql += "GRANT ALL ON SCHEMA public TO PUBLIC;\n";
  sql += "COMMIT;";
  try {
    db.exec(sql);
  } catch (...) {
    db.exec("ROLLBACK");
    throw;
  }
  return schemas;
}

bool isChatter(const std::string& line) {
  // pg_restore --verbose reports each step; errors are the other lines.
  for (const char* prefix : {"pg_restore: creating ", "pg_restore: processing ", "pg_restore: connecting ",
                             "pg_restore: executing ", "pg_restore: implied data-only", "pg_restore: dropping "})
    if (line.rfind(prefix, 0) == 0) return true;
  return false;
}

} // namespace

std::string describeContents(const std::vector<std::string>& tables, std::int64_t position) {
  std::string out;
  if (!tables.empty()) {
    std::string names;
    for (std::size_t i = 0; i < tables.size() && i < 3; ++i) names += (i ? ", " : "") + tables[i];
    out = fmt::format("{} table{} ({}{})", tables.size(), tables.size() == 1 ? "" : "s", names,
                      tables.size() > 3 ? ", ..." : "");
  }
  if (position >= 0) out += fmt::format("{}Kluster position {}", out.empty() ? "" : " and ", position);
  return out;
}

RestoreReport restore(const RestoreOptions& o) {
  const auto started = util::nowMillis();
  RestoreReport report;
  const Topics topics{o.target.cluster};
  const auto group = topics.nodeGroup(o.target.nodeId);

  // 1. The backup itself: complete, and every byte as the backup wrote it.
  const Manifest m = readManifest(o.from);
  report.manifest = m;
  if (m.method != "pg_dump" || m.format != "custom")
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

  // 3. The database: create it when missing; refuse to overwrite data without --force.
  const auto params = ConnParams::parse(o.target.databaseUrl);
  report.database = params.database();
  if (report.database.empty())
    throw UsageError("the database URL names no database (e.g. postgresql://user@host:5432/dbname)");
  auto maintenance = openMaintenance(params);
  const int major = maintenance.serverVersionNum() / 10000;
  if (major < m.serverMajor)
    refuse(fmt::format("the backup comes from PostgreSQL {} but node {}'s server is PostgreSQL {}", m.serverMajor,
                       o.target.nodeId, major),
           "restore into a server of the same or a newer major version");
  const auto pgRestore = findPgTool("pg_restore", major, o.pgBindir);
  const bool exists = !maintenance.query("SELECT 1 FROM pg_database WHERE datname = $1", {report.database}).empty();
  if (exists) {
    PgSession db(params.conninfo(true));
    const auto contents = readContents(db, o.target.cluster);
    if (!contents.empty() && !o.force)
      refuse(fmt::format("database {} already holds {}; restore does not overwrite data", report.database,
                         describeContents(contents.tables, contents.position)),
             "add --force to drop everything in it and restore the backup");
    if (!m.collation.empty() && contents.collation != m.collation)
      report.warnings.push_back(fmt::format("database {} has collation {} but the backup's had {}: text may sort "
                                            "differently than on the other nodes",
                                            report.database, contents.collation, m.collation));
    if (o.force) report.dropped = emptyDatabase(db);
  } else {
    std::string sql = fmt::format("CREATE DATABASE {} TEMPLATE template0", quoteIdent(report.database));
    // The same encoding and locale as the backed-up database, so text compares and sorts as on the other nodes.
    if (!m.encoding.empty()) sql += " ENCODING " + quoteLiteral(m.encoding);
    if (!m.collation.empty()) sql += " LC_COLLATE " + quoteLiteral(m.collation);
    if (!m.ctype.empty()) sql += " LC_CTYPE " + quoteLiteral(m.ctype);
    try {
      maintenance.exec(sql);
    } catch (const KlusterError& e) {
      throw KlusterError(code::SqlError, fmt::format("cannot create database {}: {}", report.database, e.what()),
                         fmt::format("create it yourself (CREATE DATABASE {} ...) and run restore again",
                                     quoteIdent(report.database)));
    }
    report.createdDatabase = true;
  }

  // 4. Load the archive in one transaction: it is restored whole or not at all. Objects are owned by the
  // restoring role, as the node's own role owns what it creates when it applies ALL.
  auto result = runTool({pgRestore.string(), "--exit-on-error", "--single-transaction", "--no-owner", "--verbose",
                         "--no-password", "--dbname=" + params.conninfo(false), (o.from / kDumpFile).string()},
                        toolEnvironment(params), [&](const std::string& line) {
                          if (o.progress && line.rfind("pg_restore: ", 0) == 0 && isChatter(line))
                            o.progress(line.substr(12));
                        });
  if (result.exitCode != 0) {
    std::string errors;
    for (const auto& line : result.lastLines)
      if (!isChatter(line)) errors += "\n  " + line;
    throw KlusterError(code::SqlError,
                       fmt::format("pg_restore failed (exit status {}); it ran in one transaction, so database {} "
                                   "holds nothing of the backup:{}",
                                   result.exitCode, report.database, errors),
                       "fix the cause above and run restore again (with --force if the database is not empty)");
  }

  // 5. The restored position must be the manifest's: the node resumes from it.
  {
    PgSession db(params.conninfo(true));
    const auto restored = readContents(db, o.target.cluster);
    if (restored.position != m.allOffset)
      throw KlusterError(code::SqlError,
                         fmt::format("the restored database is at ALL offset {}, but the manifest says {}",
                                     restored.position, m.allOffset),
                         "the backup does not match its manifest; restore another backup");
  }

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
