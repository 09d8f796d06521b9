#pragma once
// A small RAII wrapper over MariaDB Connector/C (libmariadb): a connection from a mariadb:// URL, text-protocol
// queries (one statement or several in one round trip), results with column names, types and NULLs, and errors
// with the server's error number, SQLSTATE and message. Kluster's $1..$n parameters are bound on the client side
// (bindParams), see docs/mariadb.md for why.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct st_mysql;

namespace kluster::db::mariadb {

/// mariadb://user[:password]@host[:port]/database (percent-escapes decoded; port 3306 when absent).
struct Url {
  std::string user, password, host, database;
  unsigned port = 3306;
  /// Throws std::invalid_argument with what is wrong.
  static Url parse(const std::string& url);
};

/// An error from the server or the client library: error number (1xxx: the server's, 2xxx: the client
/// library's, such as 2013 "lost connection"), SQLSTATE and message.
class Error : public std::runtime_error {
public:
  Error(unsigned number, std::string sqlState, const std::string& message)
      : std::runtime_error(message), number_(number), sqlState_(std::move(sqlState)) {}
  unsigned number() const { return number_; }
  const std::string& sqlState() const { return sqlState_; }
  /// The client library's own errors (2000..2999): the connection failed or was lost.
  bool clientSide() const { return number_ >= 2000 && number_ < 3000; }

private:
  unsigned number_;
  std::string sqlState_;
};

/// A result column: its name and the server's type.
struct Column {
  std::string name;
  int type = 0;         ///< enum_field_types
  unsigned flags = 0;   ///< BINARY_FLAG, UNSIGNED_FLAG, ENUM_FLAG...
  unsigned charset = 0; ///< 63: binary
  unsigned decimals = 0;
  /// A readable SQL type name: "int", "bigint unsigned", "decimal", "varchar", "varbinary", "datetime"...
  std::string typeName() const;
};

using Row = std::vector<std::optional<std::string>>; ///< text values, nullopt for NULL

/// One statement's result: rows (hasRows) or rows affected.
struct Result {
  bool hasRows = false;
  std::vector<Column> columns;
  std::vector<Row> rows;
  std::uint64_t affectedRows = 0; ///< matched rows for UPDATE (CLIENT_FOUND_ROWS), as PostgreSQL counts
  std::uint64_t insertId = 0;
  unsigned warnings = 0;
};

/// Where a multi-statement query stopped: the results of the statements before the failing one, and its error.
struct Partial {
  std::vector<Result> results;
  std::optional<Error> error;
};

class Client {
public:
  /// Connects (utf8mb4, multi-statements, found rows). Throws Error.
  explicit Client(const Url& url, unsigned connectTimeoutSeconds = 10);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Runs `sql` (one statement or several separated by ';') in one round trip; throws Error at the first failing
  /// statement (the ones before it ran).
  std::vector<Result> query(std::string_view sql);
  /// As query(), but answers where it stopped instead of throwing a statement's error; client-side errors (lost
  /// connection) still throw.
  Partial run(std::string_view sql);
  /// Runs and throws away the results.
  void exec(std::string_view sql) { query(sql); }
  /// The value of the first column of the first row of the last statement (nullopt: NULL or no row).
  std::optional<std::string> scalar(std::string_view sql);

  /// A string literal for `value` ('...' escaped for the connection's character set and sql_mode).
  std::string quote(std::string_view value);
  /// `sql` with every $n outside quotes, identifiers and comments replaced by the literal of params[n-1] (NULL
  /// for nullopt). Throws std::invalid_argument for $n with n = 0 or beyond params.
  std::string bind(std::string_view sql, const std::vector<std::optional<std::string>>& params);

  bool alive();
  std::string serverVersion() const;
  st_mysql* handle() { return mysql_; }

private:
  [[noreturn]] void fail();
  Error lastError() const;
  st_mysql* mysql_ = nullptr;
};

/// The positions of $n placeholders in `sql` under MariaDB's lexical rules ('...' and "..." strings with
/// backslash escapes, `identifiers`, -- and # comments, /* */ comments; $ inside an identifier is not one):
/// {offset, length, n} each.
struct Placeholder {
  std::size_t offset, length;
  unsigned n;
};
std::vector<Placeholder> findPlaceholders(std::string_view sql);

/// A string literal under the sql_mode Kluster pins (backslash escapes on), for SQL built without a connection
/// (Client::quote escapes for the connection's character set).
std::string literal(std::string_view text);
/// A `backquoted` identifier.
std::string ident(std::string_view name);

} // namespace kluster::db::mariadb
