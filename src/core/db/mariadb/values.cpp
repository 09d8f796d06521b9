// MariaDB results as JSON, as the PostgreSQL adapter gives them: rows as objects in column order, SQL NULL as null,
// numbers as JSON numbers only when they fit exactly, binary values as \x-prefixed hex, everything else as the
// server's text.
#include "core/db/values.hpp"
#include "core/db/mariadb/mariadb.hpp"

#include <mysql.h>

#include <algorithm>

namespace kluster::db::mariadb {
namespace {

std::string hex(std::string_view bytes) {
  static const char* const digits = "0123456789abcdef";
  std::string out = "\\x";
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

} // namespace

ojson valueToJson(const Column& column, const std::string& text) {
  const std::string_view v = text;
  switch (static_cast<enum_field_types>(column.type)) {
  case MYSQL_TYPE_TINY:
  case MYSQL_TYPE_SHORT:
  case MYSQL_TYPE_INT24:
  case MYSQL_TYPE_LONG:
  case MYSQL_TYPE_LONGLONG:
  case MYSQL_TYPE_YEAR: return integerValue(v);
  case MYSQL_TYPE_FLOAT:
  case MYSQL_TYPE_DOUBLE: return floatValue(v);
  case MYSQL_TYPE_DECIMAL:
  case MYSQL_TYPE_NEWDECIMAL: return decimalValue(v);
  case MYSQL_TYPE_BIT: { // the text protocol sends a BIT's bytes, most significant first
    if (v.size() > 6) return hex(v);
    std::int64_t n = 0;
    for (unsigned char b : v) n = (n << 8) | b;
    return n;
  }
  case MYSQL_TYPE_NULL: return nullptr;
  default:
    if (column.charset == 63 && !(column.flags & (ENUM_FLAG | SET_FLAG))) {
      // Binary strings and blobs; dates and times are reported with the binary charset too, but are text.
      switch (static_cast<enum_field_types>(column.type)) {
      case MYSQL_TYPE_VARCHAR:
      case MYSQL_TYPE_VAR_STRING:
      case MYSQL_TYPE_STRING:
      case MYSQL_TYPE_TINY_BLOB:
      case MYSQL_TYPE_MEDIUM_BLOB:
      case MYSQL_TYPE_LONG_BLOB:
      case MYSQL_TYPE_BLOB:
      case MYSQL_TYPE_GEOMETRY: return hex(v);
      default: break;
      }
    }
    return text;
  }
}

ojson resultToJson(const Result& result, ojson* columns) {
  if (!result.hasRows) {
    *columns = nullptr;
    return ojson{{"rowsAffected", static_cast<std::int64_t>(result.affectedRows)}};
  }
  // Column names become object keys; a repeated name gets a suffix so no value is lost.
  std::vector<std::string> keys;
  *columns = ojson::array();
  for (const auto& c : result.columns) {
    std::string key = c.name;
    for (int n = 2; std::find(keys.begin(), keys.end(), key) != keys.end(); ++n) key = c.name + "_" + std::to_string(n);
    keys.push_back(key);
    columns->push_back({{"name", key}, {"type", c.typeName()}});
  }
  ojson data = ojson::array();
  for (const auto& row : result.rows) {
    ojson object = ojson::object();
    for (std::size_t c = 0; c < keys.size() && c < row.size(); ++c)
      object[keys[c]] = row[c] ? valueToJson(result.columns[c], *row[c]) : ojson(nullptr);
    data.push_back(std::move(object));
  }
  return data;
}

} // namespace kluster::db::mariadb
