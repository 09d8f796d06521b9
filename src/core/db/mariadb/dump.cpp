// Backup of a MariaDB node: mariadb-dump --single-transaction, with the ALL position read from the dump itself.
//
// Why the position is the snapshot's: MariaDB cannot hand a snapshot from one connection to another (PostgreSQL's
// pg_export_snapshot), so the position is not read beside the dump but out of it. mariadb-dump starts its
// transaction WITH CONSISTENT SNAPSHOT before it lists the tables, and reads every table, Kluster's
// `_kluster_position` included, in that one snapshot; the node commits a batch's rows and its position in one
// transaction, so the position row in the dump is exactly the position of the data beside it.
//
// What a snapshot does not isolate is DDL (MariaDB's DDL is not transactional): a table created, rebuilt or
// truncated after the snapshot makes mariadb-dump fail (error 1412, "Table definition has changed"), but an
// ALTER that MariaDB does in place or instantly (ADD COLUMN, ADD INDEX), a view, trigger or routine changed after
// the snapshot, would be in the dump without its position. So the schema is digested before and after the dump,
// and a dump during which it changed is thrown away and taken again (three attempts).
#include "core/db/mariadb/operations.hpp"

#include "core/db/mariadb/mariadb.hpp"
#include "core/db/postgres/pg_tools.hpp" // runTool: a child process with its output read line by line
#include "core/errors.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace kluster::db::mariadb {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDumpFile = "database.sql";
constexpr int kAttempts = 3;

[[noreturn]] void refuse(std::string message, std::string hint) {
  throw KlusterError(kRefused, std::move(message), std::move(hint));
}

// A digest of everything DDL changes in the connection's database (not AUTO_INCREMENT, row counts or sizes).
constexpr const char* kSchemaDigest =
    "SELECT MD5(CONCAT_WS('|', "
    "(SELECT GROUP_CONCAT(MD5(CONCAT_WS(',', TABLE_NAME, TABLE_TYPE, ENGINE, CREATE_TIME, TABLE_COLLATION, "
    "CREATE_OPTIONS, TABLE_COMMENT)) ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
    "DATABASE()), "
    "(SELECT GROUP_CONCAT(MD5(CONCAT_WS(',', TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, "
    "IFNULL(COLUMN_DEFAULT, '~'), EXTRA, IFNULL(COLLATION_NAME, ''), COLUMN_COMMENT, IFNULL(GENERATION_EXPRESSION, "
    "''))) ORDER BY TABLE_NAME, ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()), "
    "(SELECT GROUP_CONCAT(MD5(CONCAT_WS(',', TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, "
    "IFNULL(SUB_PART, ''))) ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX) FROM information_schema.STATISTICS WHERE "
    "TABLE_SCHEMA = DATABASE()), "
    "(SELECT GROUP_CONCAT(MD5(CONCAT_WS(',', TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE)) ORDER BY TABLE_NAME, "
    "CONSTRAINT_NAME) FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()), "
    "(SELECT GROUP_CONCAT(MD5(CONCAT_WS(',', TABLE_NAME, VIEW_DEFINITION)) ORDER BY TABLE_NAME) FROM "
    "information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()), "
    "(SELECT GROUP_CONCAT(MD5(CONCAT_WS(',', TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, "
    "ACTION_STATEMENT, CREATED)) ORDER BY TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = "
    "DATABASE()), "
    "(SELECT GROUP_CONCAT(MD5(CONCAT_WS(',', ROUTINE_TYPE, ROUTINE_NAME, CREATED, LAST_ALTERED)) ORDER BY "
    "ROUTINE_TYPE, ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()), ''))";

std::string dumpLineOf(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "\n  " + l;
  return out;
}

// mariadb-dump's SQL values: 'text' with backslash escapes or doubled quotes, NULL, numbers, 0x... hex.
class ValueReader {
public:
  explicit ValueReader(std::string_view text) : s_(text) {}
  void skipSpace() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    skipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool atEnd() const { return i_ >= s_.size(); }
  std::optional<std::string> value() {
    skipSpace();
    if (i_ < s_.size() && s_[i_] == '\'') {
      std::string out;
      for (++i_; i_ < s_.size(); ++i_) {
        char c = s_[i_];
        if (c == '\\' && i_ + 1 < s_.size()) {
          const char e = s_[++i_];
          switch (e) {
          case '0': out += '\0'; break;
          case 'b': out += '\b'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'Z': out += '\x1a'; break;
          default: out += e;
          }
        } else if (c == '\'') {
          if (i_ + 1 < s_.size() && s_[i_ + 1] == '\'') {
            out += '\'';
            ++i_;
          } else {
            ++i_;
            return out;
          }
        } else {
          out += c;
        }
      }
      throw std::runtime_error("unterminated string");
    }
    const auto start = i_;
    while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != ')' && !std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    const std::string token(s_.substr(start, i_ - start));
    if (token.empty()) throw std::runtime_error("a value expected");
    if (token == "NULL") return std::nullopt;
    return token;
  }

private:
  std::string_view s_;
  std::size_t i_ = 0;
};

} // namespace

DumpedPosition findDumpedPosition(const std::function<std::optional<std::string>()>& readLine,
                                  const std::string& cluster) {
  const std::string create = "CREATE TABLE `_kluster_position` (";
  const std::string insert = "INSERT INTO `_kluster_position` ";
  DumpedPosition found;
  while (auto line = readLine()) {
    if (line->rfind(create, 0) == 0) found.tableSeen = true;
    if (line->rfind(insert, 0) != 0) continue;
    // The statement: this line and the next ones (one row per line) up to the line that ends it with ';'.
    std::string statement = *line;
    while (statement.empty() || statement.back() != ';') {
      auto next = readLine();
      if (!next) throw std::runtime_error("the INSERT into _kluster_position is cut short");
      statement += "\n" + *next;
    }
    // INSERT INTO `_kluster_position` (`cluster`, `all_offset`, ...) VALUES (...),(...);
    const auto open = statement.find('(', insert.size());
    const auto values = statement.find(") VALUES ", open);
    if (open == std::string::npos || values == std::string::npos)
      throw std::runtime_error("the INSERT into _kluster_position names no columns");
    std::vector<std::string> columns;
    for (std::size_t at = statement.find('`', open); at < values; at = statement.find('`', at)) {
      const auto end = statement.find('`', at + 1);
      columns.push_back(statement.substr(at + 1, end - at - 1));
      at = end + 1;
    }
    auto column = [&](const char* name) -> std::size_t {
      for (std::size_t i = 0; i < columns.size(); ++i)
        if (columns[i] == name) return i;
      throw std::runtime_error(fmt::format("the INSERT into _kluster_position has no column {}", name));
    };
    const auto clusterAt = column("cluster"), offsetAt = column("all_offset"), messageAt = column("message_id");
    ValueReader r(std::string_view(statement).substr(values + 9));
    do {
      if (!r.eat('(')) throw std::runtime_error("a row expected");
      std::vector<std::optional<std::string>> row;
      do row.push_back(r.value());
      while (r.eat(','));
      if (!r.eat(')') || row.size() != columns.size()) throw std::runtime_error("a row of the wrong width");
      if (row[clusterAt] == cluster) {
        found.offset = std::stoll(row[offsetAt].value_or("-1"));
        found.messageId = row[messageAt].value_or("");
      }
    } while (r.eat(','));
    if (!r.eat(';')) throw std::runtime_error("the INSERT into _kluster_position does not end");
  }
  return found;
}

std::array<int, 3> parseServerVersion(std::string_view version) {
  std::array<int, 3> out{0, 0, 0};
  std::size_t part = 0;
  for (std::size_t i = 0; i < version.size() && part < 3; ++i) {
    const char c = version[i];
    if (c >= '0' && c <= '9') {
      out[part] = out[part] * 10 + (c - '0');
    } else if (c == '.') {
      ++part;
    } else {
      break;
    }
  }
  return out;
}

ToolOptions::ToolOptions(const Url& url) {
  std::string pattern = (fs::temp_directory_path() / "kluster-mariadb-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data()); // mode 0600: the password stays the user's
  if (fd < 0) throw KlusterError(code::NodeError, "cannot create a temporary option file for the MariaDB tools");
  ::close(fd);
  path_ = pattern;
  // Values in double quotes, with the escapes MariaDB's option files read (\\ and \").
  auto quoted = [](const std::string& v) {
    std::string out = "\"";
    for (char c : v) {
      if (c == '\\' || c == '"') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  std::ofstream f(path_);
  f << "[client]\n";
  if (!url.user.empty()) f << "user=" << quoted(url.user) << "\n";
  if (!url.password.empty()) f << "password=" << quoted(url.password) << "\n";
  f << "host=" << quoted(url.host) << "\nport=" << url.port << "\n";
  if (!f.flush()) throw KlusterError(code::NodeError, "cannot write a temporary option file for the MariaDB tools");
}

ToolOptions::~ToolOptions() {
  std::error_code ec;
  fs::remove(path_, ec);
}

fs::path findTool(const std::vector<std::string>& names, const std::string& dir) {
  std::vector<fs::path> dirs;
  if (!dir.empty()) {
    dirs.push_back(dir);
  } else if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      if (colon != 0) dirs.emplace_back(std::string(rest.substr(0, colon)));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
  }
  for (const auto& name : names)
    for (const auto& d : dirs)
      if (::access((d / name).c_str(), X_OK) == 0) return d / name;
  throw UsageError(fmt::format("{} not found{} (hint: install the MariaDB client tools, e.g. apt-get install "
                               "mariadb-client, or point --pg-bindir at their directory)",
                               names.front(), dir.empty() ? " on PATH" : " in " + dir));
}

bool MariaDbOperations::reads(const std::string& method, const std::string& format) const {
  return method == "mariadb-dump" && format == "sql";
}

Dump MariaDbOperations::dump(const DumpRequest& o) const {
  Url url;
  try {
    url = Url::parse(o.url);
  } catch (const std::invalid_argument& e) {
    throw UsageError(fmt::format("bad MariaDB URL: {} (use mariadb://user[:password]@host:port/database)", e.what()));
  }
  if (url.database.empty()) throw UsageError("the database URL names no database (mariadb://user@host:3306/dbname)");
  std::unique_ptr<Client> c;
  try {
    c = std::make_unique<Client>(url);
    c->exec("SET SESSION group_concat_max_len = 104857600, time_zone = '+00:00'");
  } catch (const Error& e) {
    throw KlusterError(code::NodeError, fmt::format("cannot connect to the database: {}", e.what()),
                       "check [database] url in the node config and that the server runs");
  }
  Dump d;
  d.facts.method = "mariadb-dump";
  d.facts.format = "sql";
  d.facts.product = "MariaDB";
  const auto tool = findTool({"mariadb-dump", "mysqldump"}, o.toolDir);
  d.facts.toolVersion = runTool({tool.string(), "--version"}, {}).tail(1);

  Position before; // the position when the dump starts: the snapshot's can only be the same or later
  try {
    const auto info = c->query("SELECT VERSION(), DATABASE(), @@character_set_database, @@collation_database, "
                               "(SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES "
                               "WHERE TABLE_SCHEMA = DATABASE()), "
                               "(SELECT GROUP_CONCAT(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                               "DATABASE() AND TABLE_NAME IN ('_kluster_position', '_kluster_restoring'))")
                          .back()
                          .rows.at(0);
    const std::string version = info[0].value_or("");
    d.facts.serverVersion = version.substr(0, version.find('-'));
    d.facts.serverMajor = parseServerVersion(version)[0];
    d.facts.database = info[1].value_or("");
    d.facts.encoding = info[2].value_or("");
    d.facts.collation = info[3].value_or("");
    d.facts.databaseBytes = std::atoll(info[4].value_or("0").c_str());
    const std::string kluster = info[5].value_or("");
    if (kluster.find("_kluster_position") == std::string::npos)
      refuse(fmt::format("database {} has no table _kluster_position: it is not a Kluster node's database",
                         d.facts.database),
             "check [database] url in the node config; a node creates the table when it first starts");
    if (kluster.find(kRestoringTable) != std::string::npos)
      refuse(fmt::format("database {} holds an unfinished restore (table {}): it is not a node's data",
                         d.facts.database, kRestoringTable),
             "back up another node, or finish the restore (klusterctl restore --force)");
    auto p = c->query("SELECT all_offset, message_id FROM _kluster_position WHERE cluster = " + c->quote(o.cluster));
    if (!p.back().rows.empty()) {
      before.offset = std::atoll(p.back().rows[0][0].value_or("-1").c_str());
      before.messageId = p.back().rows[0][1].value_or("");
    }
  } catch (const Error& e) {
    throw KlusterError(code::SqlError, fmt::format("reading database {}: {}", url.database, e.what()),
                       "check the database user's privileges");
  }
  // The log must still hold everything after this position; it then holds everything after the snapshot's.
  if (o.ready) o.ready(before);

  const ToolOptions options(url);
  const auto dumpPath = o.dir / kDumpFile;
  auto schemaDigest = [&] {
    try {
      return c->scalar(kSchemaDigest).value_or("");
    } catch (const Error& e) {
      throw KlusterError(code::SqlError, fmt::format("reading the schema of database {}: {}", url.database, e.what()),
                         "check that the server runs and the database user's privileges");
    }
  };
  for (int attempt = 1;; ++attempt) {
    const auto schemaBefore = schemaDigest();
    // Routines and triggers are the database's; events are not dumped: they would run on each node's own clock.
    auto result = runTool({tool.string(), options.argument(), "--single-transaction", "--quick", "--routines",
                           "--triggers", "--skip-events", "--hex-blob", "--complete-insert", "--skip-dump-date",
                           "--default-character-set=utf8mb4", "--result-file=" + dumpPath.string(), url.database},
                          {}, {}, [&] {
                            std::error_code ec;
                            const auto size = fs::file_size(dumpPath, ec);
                            if (!ec && o.progress) o.progress(size);
                          });
    const auto schemaAfter = schemaDigest();
    const bool definitionChanged = result.tail().find("(1412)") != std::string::npos;
    if (result.exitCode != 0 && !(definitionChanged && attempt < kAttempts))
      throw KlusterError(code::SqlError,
                         fmt::format("{} failed (exit status {}):{}", tool.filename().string(), result.exitCode,
                                     dumpLineOf(result.lastLines)),
                         definitionChanged ? "a schema change was applied during each attempt; run backup again"
                                           : "see the tool's message above; nothing was kept in " + o.dir.string());
    if (result.exitCode == 0 && schemaBefore == schemaAfter) break;
    if (attempt == kAttempts)
      throw KlusterError(code::SqlError,
                         fmt::format("the schema of database {} changed during each of {} attempts to dump it (DDL "
                                     "requests were applied): a dump may hold a change without its position",
                                     url.database, kAttempts),
                         "run backup again when no schema change is under way");
  }

  // The position in the snapshot: the dump's own row of _kluster_position.
  std::ifstream in(dumpPath, std::ios::binary);
  std::string lastLine;
  auto readLine = [&]() -> std::optional<std::string> {
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    if (!line.empty()) lastLine = line;
    return line;
  };
  DumpedPosition dumped;
  try {
    dumped = findDumpedPosition(readLine, o.cluster);
  } catch (const std::exception& e) {
    throw KlusterError(code::SqlError, fmt::format("cannot read the position in {}: {}", dumpPath.string(), e.what()),
                       "this is a bug in klusterctl backup; please report it");
  }
  while (readLine()) {
  }
  if (!dumped.tableSeen || lastLine.rfind("-- Dump completed", 0) != 0)
    throw KlusterError(code::SqlError,
                       fmt::format("{} is incomplete: it lacks {}", dumpPath.string(),
                                   dumped.tableSeen ? "mariadb-dump's last line" : "the table _kluster_position"),
                       "run backup again");
  if (dumped.offset < before.offset)
    throw KlusterError(code::SqlError,
                       fmt::format("the dump holds ALL position {}, older than the position {} read before it started",
                                   dumped.offset, before.offset),
                       "was the database restored while the backup ran? run backup again");
  d.position.offset = dumped.offset;
  d.position.messageId = dumped.messageId;
  d.files.push_back(kDumpFile);
  return d;
}

} // namespace kluster::db::mariadb
