// The SQL `verify` sends through ALL on a MariaDB cluster. Functions that give the same answer on every node for
// the same data (MD5, HEX, CONV, CONCAT, NTILE, ROW_NUMBER, LAG, JSON_ARRAYAGG) and DATABASE(), only to find the
// node's own tables in information_schema (each node's database has its own name, which no answer contains).
//
// A row's text: MariaDB cannot name a whole row as PostgreSQL's (r.*)::text does, so the catalog lists every
// column and each row is the hex of each value's text form (NULL as N) joined by commas: no separator can occur
// inside a value, and binary values, collations and character sets play no part. Keys are compared in a way every
// node agrees on whatever its collation: text byte-wise in utf8mb4, binary strings byte-wise, numbers, dates and
// times as themselves; boundary keys travel as text (binary ones as hex) and are cast back to the key's type.
#include "core/db/mariadb/operations.hpp"

#include "core/db/mariadb/client.hpp"

#include <fmt/format.h>

#include <cctype>

namespace kluster::db::mariadb {
namespace {

enum class Kind { Integer, Unsigned, Bit, Decimal, Float, Date, DateTime, Time, Binary, Text, Other };

// What a column's type (information_schema.COLUMNS.COLUMN_TYPE, e.g. "bigint(20) unsigned") is for ordering.
Kind kindOf(const KeyColumn& c) {
  std::string base;
  for (char ch : c.type) {
    if (!std::isalpha(static_cast<unsigned char>(ch))) break;
    base += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  const bool isUnsigned = c.type.find("unsigned") != std::string::npos;
  if (base == "tinyint" || base == "smallint" || base == "mediumint" || base == "int" || base == "integer" ||
      base == "bigint")
    return isUnsigned ? Kind::Unsigned : Kind::Integer;
  if (base == "year") return Kind::Integer;
  if (base == "bit") return Kind::Bit;
  if (base == "decimal" || base == "numeric" || base == "dec" || base == "fixed") return Kind::Decimal;
  if (base == "float" || base == "double" || base == "real") return Kind::Float;
  if (base == "date") return Kind::Date;
  if (base == "datetime" || base == "timestamp") return Kind::DateTime;
  if (base == "time") return Kind::Time;
  if (base == "binary" || base == "varbinary" || base.find("blob") != std::string::npos) return Kind::Binary;
  if (c.collatable) return Kind::Text;
  return Kind::Other; // uuid, inet4, inet6...: compared as themselves, their text cast back by the comparison
}

// DECIMAL(p,s) from "decimal(10,2) unsigned"; the widest decimal when the type gives none.
std::string decimalCast(const std::string& type) {
  const auto open = type.find('('), close = type.find(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return "DECIMAL(65,30)";
  return "DECIMAL" + type.substr(open, close - open + 1);
}

// The row's values in `alias`, hashed as the comment at the top says.
std::string rowHash(const TableInfo& t, const std::string& alias) {
  std::string values;
  for (const auto& c : t.columns)
    values += fmt::format("{}IFNULL(HEX(CONCAT({}.{})), 'N')", values.empty() ? "" : ", ", alias, ident(c.name));
  return fmt::format("MD5(CONCAT_WS(',', {}))", values.empty() ? "''" : values);
}

// The whole row as readable text, the key of a table without a primary key: '(1,'text',0x00ff,NULL)'.
std::string rowText(const TableInfo& t, const std::string& alias) {
  std::string values;
  for (const auto& c : t.columns) {
    const std::string col = alias + "." + ident(c.name);
    std::string one;
    switch (kindOf(c)) {
    case Kind::Integer:
    case Kind::Unsigned:
    case Kind::Decimal:
    case Kind::Float: one = fmt::format("IFNULL(CONCAT({}), 'NULL')", col); break;
    case Kind::Bit: one = fmt::format("IFNULL(CONCAT({} + 0), 'NULL')", col); break;
    case Kind::Binary: one = fmt::format("IFNULL(CONCAT('0x', HEX({})), 'NULL')", col); break;
    default: one = fmt::format("QUOTE(CONVERT({} USING utf8mb4))", col);
    }
    values += (values.empty() ? "" : ", ") + one;
  }
  return fmt::format("CONCAT('(', CONCAT_WS(',', {}), ')')", values.empty() ? "''" : values);
}

// A key column's value in a row of `alias`, as it is ordered and compared.
std::string orderExpr(const TableInfo& t, const KeyColumn& c, const std::string& alias) {
  if (c.name.empty()) return fmt::format("CAST({} AS BINARY)", rowText(t, alias));
  const std::string col = alias + "." + ident(c.name);
  switch (kindOf(c)) {
  case Kind::Bit: return col + " + 0";
  case Kind::Text: return fmt::format("CAST(CONVERT({} USING utf8mb4) AS BINARY)", col);
  default: return col;
  }
}

// The same value as text, as verify receives it (k0, k1...): never a binary string, which would come back as hex.
std::string textExpr(const TableInfo& t, const KeyColumn& c, const std::string& alias) {
  if (c.name.empty()) return rowText(t, alias);
  const std::string col = alias + "." + ident(c.name);
  switch (kindOf(c)) {
  case Kind::Bit: return fmt::format("CONCAT({} + 0)", col);
  case Kind::Binary: return fmt::format("HEX({})", col);
  case Kind::Text: return fmt::format("CONVERT({} USING utf8mb4)", col);
  default: return fmt::format("CONCAT({})", col);
  }
}

// A key value received as text, back in the form orderExpr() compares.
std::string literalExpr(const KeyColumn& c, const std::string& value) {
  if (c.name.empty()) return fmt::format("CAST({} AS BINARY)", literal(value));
  switch (kindOf(c)) {
  case Kind::Integer: return fmt::format("CAST({} AS SIGNED)", literal(value));
  case Kind::Unsigned:
  case Kind::Bit: return fmt::format("CAST({} AS UNSIGNED)", literal(value));
  case Kind::Decimal: return fmt::format("CAST({} AS {})", literal(value), decimalCast(c.type));
  case Kind::Float: return fmt::format("CAST({} AS DOUBLE)", literal(value));
  case Kind::Date: return fmt::format("CAST({} AS DATE)", literal(value));
  case Kind::DateTime: return fmt::format("CAST({} AS DATETIME(6))", literal(value));
  case Kind::Time: return fmt::format("CAST({} AS TIME(6))", literal(value));
  case Kind::Binary: return fmt::format("UNHEX({})", literal(value));
  case Kind::Text: return fmt::format("CAST({} AS BINARY)", literal(value));
  case Kind::Other: break;
  }
  return literal(value);
}

std::string keyTuple(const TableInfo& t, const std::string& alias) {
  std::string out;
  for (const auto& c : t.key) out += (out.empty() ? "" : ", ") + orderExpr(t, c, alias);
  return "(" + out + ")";
}

std::string literalTuple(const TableInfo& t, const std::vector<std::string>& values) {
  std::string out;
  for (std::size_t i = 0; i < t.key.size(); ++i) out += (i ? ", " : "") + literalExpr(t.key[i], values.at(i));
  return "(" + out + ")";
}

std::string orderList(const TableInfo& t, const std::string& alias) {
  std::string out;
  for (const auto& c : t.key) out += (out.empty() ? "" : ", ") + orderExpr(t, c, alias);
  return out;
}

std::string textKeys(const TableInfo& t, const std::string& alias) {
  std::string out;
  for (std::size_t i = 0; i < t.key.size(); ++i)
    out += fmt::format("{}{} AS k{}", i ? ", " : "", textExpr(t, t.key[i], alias), i);
  return out;
}

std::string rangeCondition(const TableInfo& t, const KeyRange& range, const std::string& alias) {
  std::vector<std::string> parts;
  if (!range.lo.empty()) parts.push_back(keyTuple(t, alias) + " >= " + literalTuple(t, range.lo));
  if (!range.hi.empty()) parts.push_back(keyTuple(t, alias) + " < " + literalTuple(t, range.hi));
  if (parts.empty()) return "TRUE";
  return parts.size() == 1 ? parts[0] : parts[0] + " AND " + parts[1];
}

// Rows and an order-independent digest of the rows' hashes `h`: two 64-bit sums of their halves, as the
// continuous checker's (catalog.cpp).
std::string rowsDigest() {
  return "MD5(CONCAT(COUNT(*), ':', COALESCE(SUM(CAST(CONV(LEFT(h, 16), 16, 10) AS UNSIGNED)), 0), ':', "
         "COALESCE(SUM(CAST(CONV(RIGHT(h, 16), 16, 10) AS UNSIGNED)), 0)))";
}

std::string columnsJson(const char* alias) {
  return fmt::format("JSON_OBJECT('name', {0}.COLUMN_NAME, 'type', {0}.COLUMN_TYPE, 'collatable', {0}.COLLATION_NAME "
                     "IS NOT NULL)",
                     alias);
}

} // namespace

std::string MariaDbVerifyQueries::catalog() const {
  return fmt::format(
      "SELECT '' AS `schema`, t.TABLE_NAME AS `name`, "
      "(SELECT MD5(GROUP_CONCAT(CONCAT(c.COLUMN_NAME, ' ', c.COLUMN_TYPE) ORDER BY c.ORDINAL_POSITION SEPARATOR ', ')) "
      "FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME) AS "
      "`definition`, "
      "(SELECT JSON_ARRAYAGG({0} ORDER BY c.ORDINAL_POSITION) FROM information_schema.COLUMNS c "
      "WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME) AS `columns`, "
      "(SELECT JSON_ARRAYAGG({0} ORDER BY k.ORDINAL_POSITION) FROM information_schema.KEY_COLUMN_USAGE k "
      "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND "
      "c.COLUMN_NAME = k.COLUMN_NAME WHERE k.TABLE_SCHEMA = t.TABLE_SCHEMA AND k.TABLE_NAME = t.TABLE_NAME AND "
      "k.CONSTRAINT_NAME = 'PRIMARY') AS `key` "
      "FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' "
      "AND t.TABLE_NAME NOT LIKE '\\_kluster\\_%' ORDER BY CAST(t.TABLE_NAME AS BINARY)",
      columnsJson("c"));
}

std::string MariaDbVerifyQueries::checksums(const std::vector<TableInfo>& tables) const {
  std::string sql;
  for (const auto& t : tables) {
    if (!sql.empty()) sql += "\nUNION ALL\n";
    sql += fmt::format("SELECT {} AS `schema`, {} AS `name`, COUNT(*) AS `rows`, {} AS `checksum` "
                       "FROM (SELECT {} AS h FROM {} r) s",
                       literal(t.schema), literal(t.name), rowsDigest(), rowHash(t, "r"), ident(t.name));
  }
  return sql;
}

std::string MariaDbVerifyQueries::boundaries(const TableInfo& t, const KeyRange& range, int parts) const {
  std::string cols;
  for (std::size_t i = 0; i < t.key.size(); ++i) cols += fmt::format("{}k{}", i ? ", " : "", i);
  // The first row of each tile: where the tile number changes in key order.
  return fmt::format("SELECT {0} FROM (SELECT {0}, rn, tile, LAG(tile) OVER (ORDER BY rn) AS prev FROM ("
                     "SELECT {1}, NTILE({2}) OVER w AS tile, ROW_NUMBER() OVER w AS rn FROM {3} r WHERE {4} "
                     "WINDOW w AS (ORDER BY {5})) s) s2 WHERE NOT (prev <=> tile) ORDER BY rn",
                     cols, textKeys(t, "r"), parts, ident(t.name), rangeCondition(t, range, "r"), orderList(t, "r"));
}

std::string MariaDbVerifyQueries::rangeChecksums(const TableInfo& t, const KeyRange& range,
                                                 const std::vector<std::vector<std::string>>& bounds) const {
  std::string part = "0";
  if (bounds.size() > 1) {
    part = "CASE";
    for (std::size_t i = 1; i < bounds.size(); ++i)
      part += fmt::format(" WHEN {} < {} THEN {}", keyTuple(t, "r"), literalTuple(t, bounds[i]), i - 1);
    part += fmt::format(" ELSE {} END", bounds.size() - 1);
  }
  return fmt::format("SELECT part, COUNT(*) AS `rows`, {} AS `checksum` FROM (SELECT {} AS part, {} AS h FROM {} r "
                     "WHERE {}) s GROUP BY part ORDER BY part",
                     rowsDigest(), part, rowHash(t, "r"), ident(t.name), rangeCondition(t, range, "r"));
}

std::string MariaDbVerifyQueries::rows(const TableInfo& t, const KeyRange& range, int limit) const {
  return fmt::format("SELECT {}, {} AS h FROM {} r WHERE {} ORDER BY {} LIMIT {}", textKeys(t, "r"), rowHash(t, "r"),
                     ident(t.name), rangeCondition(t, range, "r"), orderList(t, "r"), limit);
}

} // namespace kluster::db::mariadb
