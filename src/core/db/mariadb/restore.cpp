// Restore of a MariaDB node from a mariadb-dump backup (dump.cpp), with the mariadb client.
//
// MariaDB's DDL commits implicitly, so a dump cannot be loaded in one transaction as pg_restore
// --single-transaction does. Instead the database is loaded empty and fenced: the table `_kluster_restoring` is
// created before the load and dropped only once the whole dump is in. A failed load empties the database again; a
// load cut short (klusterctl or the server killed) leaves the fence, and a node refuses to start on a database
// that holds it (MariaDbConnection::ensureSchema), so a half-loaded database is never taken for a node's data.
#include "core/db/mariadb/operations.hpp"

#include "core/db/mariadb/mariadb.hpp"
#include "core/db/postgres/pg_tools.hpp" // runTool
#include "core/errors.hpp"

#include <fmt/format.h>

namespace kluster::db::mariadb {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDumpFile = "database.sql"; // dump.cpp writes it

[[noreturn]] void refuse(std::string message, std::string hint) {
  throw KlusterError(kRefused, std::move(message), std::move(hint));
}

std::string createDatabase(const std::string& name, const std::string& charset, const std::string& collation) {
  std::string sql = "CREATE DATABASE " + ident(name);
  if (!charset.empty()) sql += " CHARACTER SET " + charset;
  if (!collation.empty()) sql += " COLLATE " + collation;
  return sql;
}

// What a database holds that a restore would overwrite.
struct Contents {
  std::vector<std::string> tables; // tables and views, Kluster's own left out
  std::int64_t position = -1;
  bool restoring = false; // an earlier restore did not finish
  std::string charset, collation;
  bool empty() const { return tables.empty() && position < 0 && !restoring; }
};

Contents readContents(Client& server, const std::string& database, const std::string& cluster) {
  Contents c;
  const auto db = server.quote(database);
  auto r = server.query(fmt::format(
      "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = "
      "{0}; SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {0} ORDER BY TABLE_NAME",
      db));
  c.charset = r[0].rows.at(0)[0].value_or("");
  c.collation = r[0].rows.at(0)[1].value_or("");
  bool hasPosition = false;
  for (const auto& row : r[1].rows) {
    const auto name = row[0].value_or("");
    if (name == "_kluster_position") hasPosition = true;
    if (name == kRestoringTable) c.restoring = true;
    if (name.rfind("_kluster_", 0) != 0) c.tables.push_back(name);
  }
  if (hasPosition) {
    auto p = server.scalar(fmt::format("SELECT all_offset FROM {}.`_kluster_position` WHERE cluster = {}",
                                       ident(database), server.quote(cluster)));
    if (p) c.position = std::atoll(p->c_str());
  }
  return c;
}

} // namespace

RestoreResult MariaDbOperations::restore(const RestoreRequest& o) const {
  RestoreResult report;
  Url url;
  try {
    url = Url::parse(o.url);
  } catch (const std::invalid_argument& e) {
    throw UsageError(fmt::format("bad MariaDB URL: {} (use mariadb://user[:password]@host:port/database)", e.what()));
  }
  report.database = url.database;
  if (report.database.empty())
    throw UsageError("the database URL names no database (e.g. mariadb://user@host:3306/dbname)");
  const auto dumpPath = o.dir / kDumpFile;
  if (!fs::exists(dumpPath)) throw UsageError(fmt::format("{} not found", dumpPath.string()));

  // The server, without the database (which may not exist yet).
  Url serverUrl = url;
  serverUrl.database.clear();
  std::unique_ptr<Client> server;
  try {
    server = std::make_unique<Client>(serverUrl);
  } catch (const Error& e) {
    throw KlusterError(code::NodeError, fmt::format("cannot connect to the database server: {}", e.what()),
                       "check [database] url in the node config and that the server runs");
  }
  const auto tool = findTool({"mariadb", "mysql"}, o.toolDir);
  try {
    const std::string version = server->scalar("SELECT VERSION()").value_or("");
    const auto have = parseServerVersion(version), need = parseServerVersion(o.dump.serverVersion);
    if (have[0] < need[0] || (have[0] == need[0] && have[1] < need[1]))
      refuse(fmt::format("the backup comes from MariaDB {} but node {}'s server is MariaDB {}", o.dump.serverVersion,
                         o.node, version.substr(0, version.find('-'))),
             "restore into a server of the same or a newer version");

    // The database: create it when missing; refuse to overwrite data without force.
    const bool exists =
        server->query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = " + server->quote(report.database))
            .back()
            .rows.size() == 1;
    std::string charset = o.dump.encoding, collation = o.dump.collation;
    if (exists) {
      const auto contents = readContents(*server, report.database, o.cluster);
      if (!contents.empty() && !o.force)
        refuse(fmt::format("database {} already holds {}; restore does not overwrite data", report.database,
                           contents.restoring ? std::string("an unfinished restore")
                                              : describeContents(contents.tables, contents.position)),
               "add --force to drop everything in it and restore the backup");
      if (!o.dump.collation.empty() && contents.collation != o.dump.collation)
        report.warnings.push_back(fmt::format("database {} has collation {} but the backup's had {}: tables that DDL "
                                              "creates without a collation may sort text differently than on the "
                                              "other nodes",
                                              report.database, contents.collation, o.dump.collation));
      charset = contents.charset;
      collation = contents.collation;
      if (o.force && !contents.empty()) {
        // Dropping the database drops its routines, triggers and events too; its grants stay.
        server->exec("DROP DATABASE " + ident(report.database));
        server->exec(createDatabase(report.database, charset, collation));
        report.dropped.push_back(report.database);
      }
    } else {
      try {
        server->exec(createDatabase(report.database, charset, collation));
      } catch (const Error& e) {
        throw KlusterError(
            code::SqlError, fmt::format("cannot create database {}: {}", report.database, e.what()),
            fmt::format("create it yourself (CREATE DATABASE {} ...) and run restore again", ident(report.database)));
      }
      report.createdDatabase = true;
    }
    server->exec(fmt::format("CREATE TABLE {}.{} (started_at DATETIME(6) NOT NULL, backup_of VARCHAR(255) NOT NULL) "
                             "ENGINE = InnoDB; INSERT INTO {}.{} VALUES (UTC_TIMESTAMP(6), {})",
                             ident(report.database), kRestoringTable, ident(report.database), kRestoringTable,
                             server->quote(o.dump.database)));

    // The dump, statement by statement as mariadb-dump wrote it; the client stops at the first error. Binary mode:
    // no client command but DELIMITER is run from the file.
    if (o.progress) o.progress(fmt::format("loading {} into {}", dumpPath.filename().string(), report.database));
    const ToolOptions options(url);
    auto result = runTool({tool.string(), options.argument(), "--binary-mode", "--batch",
                           "--default-character-set=utf8mb4", report.database},
                          {}, {}, {}, dumpPath.string());
    if (result.exitCode != 0) {
      std::string errors;
      for (const auto& line : result.lastLines) errors += "\n  " + line;
      std::string state;
      try {
        server->exec("DROP DATABASE " + ident(report.database));
        if (!report.createdDatabase) server->exec(createDatabase(report.database, charset, collation));
        state = report.createdDatabase ? "database " + report.database + " was dropped again"
                                       : "database " + report.database + " was emptied again";
      } catch (const std::exception& e) {
        state = fmt::format("database {} holds part of the backup and the table {} ({}); a node refuses to start "
                            "on it",
                            report.database, kRestoringTable, e.what());
      }
      throw KlusterError(
          code::SqlError,
          fmt::format("{} failed (exit status {}); {}:{}", tool.filename().string(), result.exitCode, state, errors),
          "fix the cause above and run restore again (with --force if the database is not empty)");
    }
    server->exec(fmt::format("DROP TABLE {}.{}", ident(report.database), kRestoringTable));
    report.restoredOffset = readContents(*server, report.database, o.cluster).position;
  } catch (const Error& e) {
    throw KlusterError(code::SqlError, fmt::format("restoring database {}: {}", report.database, e.what()),
                       "check the database user's privileges (it creates and drops the node's database)");
  }
  return report;
}

} // namespace kluster::db::mariadb
