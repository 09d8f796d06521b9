// What the determinism rules and continuous verification ask of a MariaDB database: function volatility, unique
// keys, columns that draw values, per-table checksums in one snapshot. docs/mariadb.md says what is missing.
#include "core/db/mariadb/mariadb.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace kluster::db::mariadb {
namespace {

// MariaDB's built-in functions whose result depends on more than their arguments and the database's contents,
// lower case. RAND() is seeded per request (randSeeds), NOW() & co. read the pinned timestamp: both are left
// out. SYSDATE() reads the clock unless the server runs with --sysdate-is-now, which Kluster does not require.
const std::set<std::string, std::less<>> kVolatileBuiltins = {"uuid",
                                                              "uuid_short",
                                                              "sys_guid",
                                                              "sysdate",
                                                              "connection_id",
                                                              "current_user",
                                                              "user",
                                                              "session_user",
                                                              "system_user",
                                                              "current_role",
                                                              "version",
                                                              "benchmark",
                                                              "sleep",
                                                              "get_lock",
                                                              "release_lock",
                                                              "release_all_locks",
                                                              "is_free_lock",
                                                              "is_used_lock",
                                                              "master_pos_wait",
                                                              "master_gtid_wait",
                                                              "load_file",
                                                              "found_rows",
                                                              "row_count",
                                                              "last_insert_id",
                                                              "random_bytes",
                                                              "nextval",
                                                              "lastval",
                                                              "setval",
                                                              "last_value",
                                                              "binlog_gtid_pos",
                                                              "encrypt",
                                                              "rownum",
                                                              "wsrep_last_seen_gtid",
                                                              "wsrep_last_written_gtid",
                                                              "wsrep_sync_wait_upto_gtid"};

std::string tableFilter(Client& client, const std::string& schema, const std::string& table, const char* prefix = "") {
  return fmt::format("{0}TABLE_SCHEMA = {1} AND {0}TABLE_NAME = {2}", prefix,
                     schema.empty() ? "DATABASE()" : client.quote(schema), client.quote(table));
}

} // namespace

std::map<std::string, FunctionVolatility> MariaDbConnection::functionVolatility(const std::vector<std::string>& names) {
  std::map<std::string, FunctionVolatility> out;
  if (names.empty()) return out;
  std::string in;
  for (const auto& n : names) in += (in.empty() ? "" : ", ") + client_->quote(n);
  // User-defined functions are volatile to Kluster whatever they declare: MariaDB does not check DETERMINISTIC.
  auto r = run("SELECT DISTINCT lower(ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = "
               "'FUNCTION' AND ROUTINE_SCHEMA = DATABASE() AND lower(ROUTINE_NAME) IN (" +
                   in + ")",
               "looking up functions");
  for (const auto& row : r.back().rows)
    if (row[0]) out[*row[0]].user = Volatility::Volatile;
  for (const auto& n : names) {
    std::string lower = n;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    out[n].builtin = kVolatileBuiltins.count(lower) ? Volatility::Volatile : Volatility::Immutable;
    // The database's name is each node's own, constant within a session, as PostgreSQL's current_database() is
    // STABLE: refused in writes, allowed in reads (verify's catalog finds the node's tables with it).
    if (lower == "database" || lower == "schema") out[n].builtin = Volatility::Stable;
  }
  return out;
}

std::vector<std::vector<std::string>> MariaDbConnection::uniqueKeys(const std::string& schema,
                                                                    const std::string& table) {
  // Unique indexes on whole columns (no prefix) that are all NOT NULL (a unique index allows many NULLs).
  auto r = run(fmt::format("SELECT s.INDEX_NAME, lower(s.COLUMN_NAME), s.SUB_PART IS NULL AND c.IS_NULLABLE = 'NO' "
                           "FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c "
                           "ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = "
                           "s.COLUMN_NAME WHERE s.NON_UNIQUE = 0 AND {} ORDER BY s.INDEX_NAME = 'PRIMARY' DESC, "
                           "s.INDEX_NAME, s.SEQ_IN_INDEX",
                           tableFilter(*client_, schema, table, "s.")),
               "reading unique keys");
  std::vector<std::vector<std::string>> keys;
  std::string current;
  bool usable = false;
  for (const auto& row : r.back().rows) {
    if (row[0] != current || keys.empty()) {
      if (!keys.empty() && !usable) keys.pop_back();
      current = row[0].value_or("");
      keys.emplace_back();
      usable = true;
    }
    keys.back().push_back(row[1].value_or(""));
    usable = usable && row[2] == "1";
  }
  if (!keys.empty() && !usable) keys.pop_back();
  return keys;
}

std::vector<std::string> MariaDbConnection::immediateUniqueColumns(const std::string& schema,
                                                                   const std::string& table) {
  // MariaDB has no deferrable constraints: every unique index is checked row by row, prefixes and nullable
  // columns included.
  auto r =
      run(fmt::format("SELECT DISTINCT lower(s.COLUMN_NAME) FROM information_schema.STATISTICS s WHERE s.NON_UNIQUE "
                      "= 0 AND {} ORDER BY 1",
                      tableFilter(*client_, schema, table, "s.")),
          "reading unique columns");
  std::vector<std::string> columns;
  for (const auto& row : r.back().rows) columns.push_back(row[0].value_or(""));
  return columns;
}

std::vector<std::string> MariaDbConnection::drawnDefaults(const std::string& schema, const std::string& table) {
  // AUTO_INCREMENT draws the next value per row; so do defaults that call UUID() or RAND() or read a sequence.
  auto r = run(fmt::format("SELECT lower(COLUMN_NAME) FROM information_schema.COLUMNS WHERE {} AND (EXTRA LIKE "
                           "'%auto_increment%' OR lower(COLUMN_DEFAULT) REGEXP 'uuid|rand|nextval|sys_guid') "
                           "ORDER BY ORDINAL_POSITION",
                           tableFilter(*client_, schema, table)),
               "reading column defaults");
  std::vector<std::string> out;
  for (const auto& row : r.back().rows) out.push_back(row[0].value_or(""));
  return out;
}

RequestInputs MariaDbConnection::requestInputs() {
  // Every write gets its pinned time (SET timestamp) and its seed (rand_seed1/2): NOW(), CURRENT_TIMESTAMP
  // defaults and RAND() need no rewriting of the SQL.
  return {true, false, true};
}

std::vector<FunctionDefinition> MariaDbConnection::userFunctions(const std::string&) {
  return {}; // the bodies of stored functions are not judged yet (docs/mariadb.md)
}

std::vector<FunctionDefinition> MariaDbConnection::triggerFunctions(const std::string&, const std::string&) {
  return {}; // triggers are not judged yet (docs/mariadb.md)
}

std::vector<std::string> MariaDbConnection::tableFunctions(const std::string&, const std::string&) {
  return {}; // stored functions are not judged yet (docs/mariadb.md)
}

ViewDefinition MariaDbConnection::viewDefinition(const std::string&, const std::string&) {
  return {}; // views are not judged yet (docs/mariadb.md)
}

std::vector<FunctionDefinition> MariaDbConnection::ruleDefinitions(const std::string&, const std::string&) {
  return {}; // MariaDB has no rules
}

std::int64_t MariaDbConnection::openSnapshot(const std::string& cluster) {
  auto r = run("SET timestamp = DEFAULT; START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY; SELECT coalesce(("
               "SELECT all_offset FROM _kluster_position WHERE cluster = " +
                   client_->quote(cluster) + "), -1)",
               "opening a snapshot");
  return std::atoll(r.back().rows.at(0).at(0).value_or("-1").c_str());
}

std::vector<std::string> MariaDbConnection::snapshotTables() {
  auto tables = run("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
                    "TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME NOT LIKE '\\_kluster\\_%' ORDER BY TABLE_NAME",
                    "listing tables");
  std::vector<std::string> out;
  for (const auto& t : tables.back().rows) out.push_back(t[0].value_or(""));
  return out;
}

TableChecksum MariaDbConnection::snapshotChecksum(const std::string& name) {
  // Not split into buckets, and every check sums every table (snapshotWritten() is the default's): docs/mariadb.md.
  auto cols = run(fmt::format("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                              "AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
                              client_->quote(name)),
                  "listing columns");
  // Each row's md5 over its values in hex (NULL apart from every value); the digest sums two 64-bit halves of
  // the md5s, so it needs no sort and does not depend on the order rows are read in.
  std::string row;
  for (const auto& c : cols.back().rows) // CONCAT: HEX() of a number alone is of its integer part (HEX(1.5) is 2)
    row += fmt::format("{}IFNULL(HEX(CONCAT({})), 'N')", row.empty() ? "" : ", ", ident(c[0].value_or("")));
  auto sums = run(fmt::format("SELECT COUNT(*), md5(concat(COUNT(*), ':', COALESCE(SUM(CAST(CONV(LEFT(h, 16), 16, 10) "
                              "AS UNSIGNED)), 0), ':', COALESCE(SUM(CAST(CONV(RIGHT(h, 16), 16, 10) AS UNSIGNED)), "
                              "0))) FROM (SELECT md5(concat_ws(',', {})) AS h FROM {}) AS x",
                              row.empty() ? "''" : row, ident(name)),
                  "summing a table");
  TableChecksum out;
  out.table = name;
  out.rows = std::atoll(sums.back().rows[0][0].value_or("0").c_str());
  out.checksum = sums.back().rows[0][1].value_or("");
  return out;
}

std::unique_ptr<Connection> MariaDbAdapter::connect(const std::string& url) const {
  if (url.rfind("mariadb://", 0) != 0)
    throw UsageError(fmt::format("unsupported database URL '{}' for a MariaDB database: use "
                                 "mariadb://user[:password]@host:port/database",
                                 url.substr(0, url.find(':'))));
  return std::make_unique<MariaDbConnection>(url);
}

std::string MariaDbAdapter::sqlStateFor(std::string_view resultCode) const {
  if (resultCode == code::SyntaxError) return "42000"; // ER_PARSE_ERROR's
  if (resultCode == code::FeatureNotSupported)
    return "0A000";                                  // MariaDB's ER_NOT_SUPPORTED_YET is 42000; 0A000 is SQL's
  if (resultCode == code::Duplicate) return "23000"; // ER_DUP_ENTRY's, _kluster_applied's primary key
  return {};
}

} // namespace kluster::db::mariadb

namespace kluster::db {

const Adapter& mariadbAdapter() {
  static const mariadb::MariaDbAdapter instance;
  return instance;
}

} // namespace kluster::db
