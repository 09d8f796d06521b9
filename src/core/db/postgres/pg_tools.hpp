#pragma once
// PostgreSQL outside the hot path: a plain libpq session for administrative SQL (backup and restore, the
// bench's baseline, the tests' support; the node's own connection is PgConnection), connection parameters
// split so that a password never reaches a command line, and PostgreSQL's client tools (pg_dump, pg_restore)
// of the server's major version run as children.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;

namespace kluster::db {

/// A result row as text; SQL NULL is nullopt.
using TextRow = std::vector<std::optional<std::string>>;

/// Connection parameters parsed from a URL or conninfo string (libpq's own parser).
class ConnParams {
public:
  /// Throws UsageError when libpq cannot parse `url`.
  static ConnParams parse(const std::string& url);
  /// The same parameters with another database.
  ConnParams withDatabase(const std::string& dbname) const;
  /// A conninfo string ("host='h' port='5432' ..."); without the password unless asked for.
  std::string conninfo(bool withPassword) const;
  /// The database named by the parameters (dbname, else user, as libpq does); empty when neither is set.
  std::string database() const;
  const std::string& password() const { return password_; }

private:
  std::map<std::string, std::string> values_; // every set keyword except the password
  std::string password_;
};

/// Quotes an SQL identifier ("name", with embedded quotes doubled).
std::string quoteIdent(std::string_view name);
/// Quotes an SQL string literal ('text', quotes doubled; standard_conforming_strings on).
std::string quoteLiteral(std::string_view text);

/// One libpq connection for administrative SQL. Connection failures throw KlusterError(NODE_ERROR),
/// SQL errors KlusterError(SQL_ERROR), both with a hint.
class PgSession {
public:
  explicit PgSession(const std::string& conninfo);
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  /// Runs one statement with text parameters and returns its rows (without parameters, the text may hold several
  /// statements: the last one's rows).
  std::vector<TextRow> query(const std::string& sql, const std::vector<std::string>& params = {});
  /// The first column of the first row ("" when there is none or it is NULL).
  std::string scalar(const std::string& sql, const std::vector<std::string>& params = {});
  /// Runs one or more statements without parameters.
  void exec(const std::string& sql);
  /// server_version_num, e.g. 150018.
  int serverVersionNum();
  /// The libpq connection, for what this class does not wrap (the bench's pipelined baseline).
  pg_conn* native() { return conn_; }

private:
  pg_conn* conn_ = nullptr;
};

/// Opens a session on the server's maintenance database (postgres, else template1) with `params`' host,
/// port and user, for CREATE DATABASE and look-ups in pg_database.
PgSession openMaintenance(const ConnParams& params);

/// Finds a PostgreSQL client tool for a server of major version `major`: in `bindir` when given, else
/// /usr/lib/postgresql/<major>/bin, /usr/pgsql-<major>/bin, then PATH. Throws UsageError when not found
/// or older than the server.
std::filesystem::path findPgTool(const std::string& name, int major, const std::string& bindir);
/// "pg_dump (PostgreSQL) 15.18" -> 15 (0 when it cannot be read).
int toolMajorVersion(std::string_view versionLine);

/// What a child process left behind: its exit status and the last lines of its output (stdout+stderr).
struct ToolResult {
  int exitCode = -1;
  std::vector<std::string> lastLines;
  std::string tail(std::size_t lines = 20) const;
};

/// Runs argv (argv[0] a path) with `extraEnv` added to the environment, calling `onLine` for each output
/// line and `onTick` about four times a second until it exits. Nothing is kept in memory but the last lines.
/// Its standard input is `input` (a file to read; /dev/null by default).
ToolResult runTool(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extraEnv,
                   const std::function<void(const std::string&)>& onLine = {}, const std::function<void()>& onTick = {},
                   const std::string& input = "/dev/null");

/// The environment a tool needs to connect with `params` (PGPASSWORD when there is a password).
std::map<std::string, std::string> toolEnvironment(const ConnParams& params);

} // namespace kluster::db
