// PostgreSQL's operations: backup through pg_dump in an exported REPEATABLE READ snapshot that also gives the ALL
// position, restore through pg_restore in one transaction, and the bench's baseline.
#include "core/db/postgres/pg_operations.hpp"

#include "core/db/postgres/pg_tools.hpp"
#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <array>
#include <chrono>

namespace kluster::db {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDumpFile = "database.dump"; // the name docs/operations.md gives (ops::kDumpFile)

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

// libpq's result of the next query in a pipeline, which must have `status`.
void expect(pg_conn* conn, ExecStatusType status, const char* what) {
  PGresult* r = PQgetResult(conn);
  const bool ok = r && PQresultStatus(r) == status;
  std::string err = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
  PQclear(r);
  if (!ok) throw KlusterError(code::SqlError, fmt::format("baseline: {}: {}", what, err));
}

} // namespace

Dump PgOperations::dump(const DumpRequest& o) const {
  const auto params = ConnParams::parse(o.url);
  PgSession db(params.conninfo(true));
  const int major = db.serverVersionNum() / 10000;
  const auto pgDump = findPgTool("pg_dump", major, o.toolDir);
  Dump d;
  d.facts.method = "pg_dump";
  d.facts.format = "custom";
  d.facts.product = "PostgreSQL";
  d.facts.toolVersion = runTool({pgDump.string(), "--version"}, {}).tail(1);

  // The snapshot: the position read here and everything pg_dump reads are the same instant of the database.
  db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const auto snapshot = db.scalar("SELECT pg_export_snapshot()");
  auto info = db.query("SELECT current_database(), current_setting('server_version'), pg_encoding_to_char(encoding), "
                       "datcollate, datctype, pg_database_size(current_database()) FROM pg_database "
                       "WHERE datname = current_database()");
  if (db.scalar("SELECT to_regclass('_kluster.position') IS NOT NULL") != "t")
    refuse(fmt::format("database {} has no table _kluster.position: it is not a Kluster node's database",
                       info.at(0)[0].value_or("")),
           "check [database] url in the node config; a node creates the table when it first starts");
  auto position = db.query("SELECT all_offset, message_id FROM _kluster.position WHERE cluster = $1", {o.cluster});
  if (!position.empty()) {
    d.position.offset = std::stoll(position[0][0].value_or("-1"));
    d.position.messageId = position[0][1].value_or("");
  }
  d.facts.serverVersion = info.at(0)[1].value_or("");
  d.facts.serverMajor = major;
  d.facts.database = info.at(0)[0].value_or("");
  d.facts.encoding = info.at(0)[2].value_or("");
  d.facts.collation = info.at(0)[3].value_or("");
  d.facts.ctype = info.at(0)[4].value_or("");
  d.facts.databaseBytes = std::stoll(info.at(0)[5].value_or("0"));
  if (o.ready) o.ready(d.position);

  const auto dumpPath = o.dir / kDumpFile;
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
                       "see pg_dump's message above; nothing was kept in " + o.dir.string());
  d.files.push_back(kDumpFile);
  return d;
}

bool PgOperations::reads(const std::string& method, const std::string& format) const {
  return method == "pg_dump" && format == "custom";
}

RestoreResult PgOperations::restore(const RestoreRequest& o) const {
  RestoreResult report;
  // The database: create it when missing; refuse to overwrite data without force.
  const auto params = ConnParams::parse(o.url);
  report.database = params.database();
  if (report.database.empty())
    throw UsageError("the database URL names no database (e.g. postgresql://user@host:5432/dbname)");
  auto maintenance = openMaintenance(params);
  const int major = maintenance.serverVersionNum() / 10000;
  if (major < o.dump.serverMajor)
    refuse(fmt::format("the backup comes from PostgreSQL {} but node {}'s server is PostgreSQL {}", o.dump.serverMajor,
                       o.node, major),
           "restore into a server of the same or a newer major version");
  const auto pgRestore = findPgTool("pg_restore", major, o.toolDir);
  const bool exists = !maintenance.query("SELECT 1 FROM pg_database WHERE datname = $1", {report.database}).empty();
  if (exists) {
    PgSession db(params.conninfo(true));
    const auto contents = readContents(db, o.cluster);
    if (!contents.empty() && !o.force)
      refuse(fmt::format("database {} already holds {}; restore does not overwrite data", report.database,
                         describeContents(contents.tables, contents.position)),
             "add --force to drop everything in it and restore the backup");
    if (!o.dump.collation.empty() && contents.collation != o.dump.collation)
      report.warnings.push_back(fmt::format("database {} has collation {} but the backup's had {}: text may sort "
                                            "differently than on the other nodes",
                                            report.database, contents.collation, o.dump.collation));
    if (o.force) report.dropped = emptyDatabase(db);
  } else {
    std::string sql = fmt::format("CREATE DATABASE {} TEMPLATE template0", quoteIdent(report.database));
    // The same encoding and locale as the backed-up database, so text compares and sorts as on the other nodes.
    if (!o.dump.encoding.empty()) sql += " ENCODING " + quoteLiteral(o.dump.encoding);
    if (!o.dump.collation.empty()) sql += " LC_COLLATE " + quoteLiteral(o.dump.collation);
    if (!o.dump.ctype.empty()) sql += " LC_CTYPE " + quoteLiteral(o.dump.ctype);
    try {
      maintenance.exec(sql);
    } catch (const KlusterError& e) {
      throw KlusterError(code::SqlError, fmt::format("cannot create database {}: {}", report.database, e.what()),
                         fmt::format("create it yourself (CREATE DATABASE {} ...) and run restore again",
                                     quoteIdent(report.database)));
    }
    report.createdDatabase = true;
  }

  // Load the archive in one transaction: it is restored whole or not at all. Objects are owned by the
  // restoring role, as the node's own role owns what it creates when it applies ALL.
  auto result = runTool({pgRestore.string(), "--exit-on-error", "--single-transaction", "--no-owner", "--verbose",
                         "--no-password", "--dbname=" + params.conninfo(false), (o.dir / kDumpFile).string()},
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
  PgSession db(params.conninfo(true));
  report.restoredOffset = readContents(db, o.cluster).position;
  return report;
}

double PgOperations::timeInserts(const std::string& url, const std::string& table, int rows, int txSize) const {
  PgSession session(url);
  pg_conn* c = session.native();
  session.exec(fmt::format("CREATE TABLE {} (id uuid PRIMARY KEY, n integer NOT NULL, note text NOT NULL)", table));
  const std::string insert = fmt::format("INSERT INTO {} (id, n, note) VALUES ($1, $2, $3)", table);
  std::vector<std::array<std::string, 3>> values;
  for (int i = 0; i < rows; ++i) values.push_back({util::uuid4(), std::to_string(i), fmt::format("row {}", i)});

  const auto started = std::chrono::steady_clock::now();
  for (int done = 0; done < rows; done += txSize) {
    const int n = std::min(txSize, rows - done);
    // One round trip per transaction: BEGIN, the INSERTs and COMMIT go out together, then the results come back.
    if (!PQenterPipelineMode(c)) throw KlusterError(code::NodeError, "baseline: cannot enter pipeline mode");
    PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0);
    for (int i = done; i < done + n; ++i) {
      const auto& v = values[static_cast<std::size_t>(i)];
      const char* p[] = {v[0].c_str(), v[1].c_str(), v[2].c_str()};
      PQsendQueryParams(c, insert.c_str(), 3, nullptr, p, nullptr, nullptr, 0);
    }
    PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0);
    if (!PQpipelineSync(c)) throw KlusterError(code::NodeError, "baseline: pipeline sync failed");
    for (int q = 0; q < n + 2; ++q) {
      expect(c, PGRES_COMMAND_OK, "pipelined INSERT");
      PQclear(PQgetResult(c)); // the NULL that ends each query's results
    }
    expect(c, PGRES_PIPELINE_SYNC, "pipeline sync");
    PQexitPipelineMode(c);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  session.exec(fmt::format("DROP TABLE {}", table));
  return seconds;
}

std::string PgOperations::flushBuffers(const std::string& url) const {
  // Needs superuser or pg_checkpoint; without it the phases simply run as they are.
  try {
    PgSession(url).exec("CHECKPOINT");
  } catch (const KlusterError& e) {
    return e.what();
  }
  return {};
}

} // namespace kluster::db
