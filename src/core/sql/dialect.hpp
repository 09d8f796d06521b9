#pragma once
// The SQL analysis per database dialect: what a request does (routing, refusals, determinism) decided from its
// text, in Kluster's own vocabulary (sql::Analysis), whatever the DBMS. PostgreSQL's dialect is libpg_query's
// parser (analyzer.hpp); MariaDB's is a conservative lexer-based classifier (mariadb/analyzer.hpp) that refuses
// what it does not recognise. The node, the client's `--to auto` routing and `exec` ask the dialect of the
// cluster's database type; the proxy speaks PostgreSQL's wire protocol and uses PostgreSQL's dialect.
//
// Statement::kind is Kluster's statement vocabulary. It borrows PostgreSQL's parse-tree node names
// ("SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "CreateStmt", "TruncateStmt", "VariableSetStmt"...);
// another dialect maps its statements onto them (isPlainDml() decides DML against schema changes from them).
#include "core/sql/analyzer.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace kluster::sql {

class Dialect {
public:
  virtual ~Dialect() = default;
  /// The database type it serves, as `[database] type` names it ("postgresql", "mariadb").
  virtual std::string_view type() const = 0;
  /// What `sql` does; throws SyntaxError when the dialect cannot read it, std::length_error above kMaxSqlBytes.
  virtual Analysis analyze(std::string_view sql) const = 0;
  /// The text to run on ALL: current-time expressions pinned to the request's time (PostgreSQL; see
  /// sql::pinCurrentTime). A dialect whose adapter pins the clock per session (MariaDB's `SET timestamp`)
  /// never reports Analysis::usesCurrentTime and returns `sql` unchanged.
  virtual std::string pinCurrentTime(std::string_view sql, std::int64_t epochMillis) const = 0;
  /// Column DEFAULTs of the current time made the request's time (see sql::pinDefaultTime); likewise.
  virtual std::string pinDefaultTime(std::string_view sql) const = 0;

  /// Routing for `--to auto`: true when analyze(sql).readOnly; false when it cannot be analyzed.
  bool isReadOnly(std::string_view sql) const noexcept;
};

/// PostgreSQL 15's dialect (libpg_query).
const Dialect& postgresDialect();
/// MariaDB 10.11's dialect (mariadb/analyzer.cpp).
const Dialect& mariadbDialect();
/// The dialect of a `[database] type`; throws std::invalid_argument for a type without one.
const Dialect& dialect(std::string_view databaseType);

} // namespace kluster::sql
