#include "core/sql/dialect.hpp"

#include <stdexcept>

namespace kluster::sql {

bool Dialect::isReadOnly(std::string_view sql) const noexcept {
  try {
    return analyze(sql).readOnly;
  } catch (...) {
    return false;
  }
}

namespace {

class PostgresDialect final : public Dialect {
public:
  std::string_view type() const override { return "postgresql"; }
  Analysis analyze(std::string_view sql) const override { return sql::analyze(sql); }
  std::string pinCurrentTime(std::string_view sql, std::int64_t epochMillis) const override {
    return sql::pinCurrentTime(sql, epochMillis);
  }
  std::string pinDefaultTime(std::string_view sql) const override { return sql::pinDefaultTime(sql); }
};

} // namespace

const Dialect& postgresDialect() {
  static const PostgresDialect instance;
  return instance;
}

const Dialect& dialect(std::string_view databaseType) {
  if (databaseType == "postgresql") return postgresDialect();
  if (databaseType == "mariadb") return mariadbDialect();
  throw std::invalid_argument("no SQL dialect for database type '" + std::string(databaseType) + "'");
}

} // namespace kluster::sql
