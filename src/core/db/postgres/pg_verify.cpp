// The SQL `verify` sends through ALL. Only immutable or stable functions (md5, substr, sum, count, ntile,
// row_number, lag, format_type, json_agg): a node refuses volatile ones on ALL. Text keys are compared with
// COLLATE "C", so nodes whose databases have different collations still cut the same ranges.
#include "core/db/postgres/pg_operations.hpp"
#include "core/db/postgres/pg_tools.hpp"
#include "core/db/postgres/postgres.hpp"

#include <fmt/format.h>

namespace kluster::db {
namespace {

std::string tableRef(const TableInfo& t) { return quoteIdent(t.schema) + "." + quoteIdent(t.name); }

// The key column's value in a row of `alias`.
std::string keyExpr(const KeyColumn& c, const std::string& alias) {
  return c.name.empty() ? "(" + alias + ".*)::text" : alias + "." + quoteIdent(c.name);
}

std::string ordered(const KeyColumn& c, const std::string& expr) {
  return c.collatable ? expr + " COLLATE \"C\"" : expr;
}

std::string literal(const KeyColumn& c, const std::string& value) {
  return ordered(c, fmt::format("CAST({} AS {})", quoteLiteral(value), c.type));
}

// ROW(key...) as it is compared and sorted; `exprs` are the key columns' expressions.
std::string keyRow(const TableInfo& t, const std::vector<std::string>& exprs) {
  std::string out = "ROW(";
  for (std::size_t i = 0; i < t.key.size(); ++i) out += (i ? ", " : "") + ordered(t.key[i], exprs[i]);
  return out + ")";
}

std::string literalRow(const TableInfo& t, const std::vector<std::string>& values) {
  std::string out = "ROW(";
  for (std::size_t i = 0; i < t.key.size(); ++i) out += (i ? ", " : "") + literal(t.key[i], values.at(i));
  return out + ")";
}

std::vector<std::string> keyExprs(const TableInfo& t, const std::string& alias) {
  std::vector<std::string> out;
  for (const auto& c : t.key) out.push_back(keyExpr(c, alias));
  return out;
}

std::string orderList(const TableInfo& t, const std::vector<std::string>& exprs) {
  std::string out;
  for (std::size_t i = 0; i < t.key.size(); ++i) out += (i ? ", " : "") + ordered(t.key[i], exprs[i]);
  return out;
}

std::string rangeCondition(const TableInfo& t, const KeyRange& range, const std::string& alias) {
  const auto exprs = keyExprs(t, alias);
  std::vector<std::string> parts;
  if (!range.lo.empty()) parts.push_back(keyRow(t, exprs) + " >= " + literalRow(t, range.lo));
  if (!range.hi.empty()) parts.push_back(keyRow(t, exprs) + " < " + literalRow(t, range.hi));
  if (parts.empty()) return "true";
  return parts.size() == 1 ? parts[0] : parts[0] + " AND " + parts[1];
}

std::string textKeys(const std::vector<std::string>& exprs) {
  std::string out;
  for (std::size_t i = 0; i < exprs.size(); ++i) out += fmt::format("{}({})::text AS k{}", i ? ", " : "", exprs[i], i);
  return out;
}

} // namespace

std::string PgVerifyQueries::catalog() const {
  return "SELECT n.nspname AS schema, c.relname AS name, "
         "(SELECT md5(string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)) "
         "FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS definition, "
         "(SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), "
         "'collatable', a.attcollation <> 0) ORDER BY k.ord) "
         "FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
         "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
         "WHERE i.indrelid = c.oid AND i.indisprimary) AS key "
         "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
         "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
         "AND n.nspname NOT IN ('information_schema', '_kluster') AND n.nspname NOT LIKE 'pg\\_%' "
         "ORDER BY 1, 2";
}

std::string PgVerifyQueries::checksums(const std::vector<TableInfo>& tables) const {
  std::string sql;
  for (const auto& t : tables) {
    if (!sql.empty()) sql += "\nUNION ALL\n";
    sql += fmt::format("SELECT {} AS schema, {} AS name, count(*) AS rows, {} AS checksum "
                       "FROM (SELECT md5((r.*)::text) AS h FROM {} r OFFSET 0) s",
                       quoteLiteral(t.schema), quoteLiteral(t.name), pgRowsDigestSql("s.h"), tableRef(t));
  }
  return sql;
}

std::string PgVerifyQueries::boundaries(const TableInfo& t, const KeyRange& range, int parts) const {
  const auto exprs = keyExprs(t, "r");
  std::string cols;
  for (std::size_t i = 0; i < t.key.size(); ++i) cols += fmt::format("{}k{}", i ? ", " : "", i);
  // The first row of each tile: where the tile number changes in key order.
  return fmt::format("SELECT {0} FROM (SELECT {0}, rn, tile, lag(tile) OVER (ORDER BY rn) AS prev FROM ("
                     "SELECT {1}, ntile({2}) OVER w AS tile, row_number() OVER w AS rn FROM {3} r WHERE {4} "
                     "WINDOW w AS (ORDER BY {5})) s) s2 WHERE prev IS DISTINCT FROM tile ORDER BY rn",
                     cols, textKeys(exprs), parts, tableRef(t), rangeCondition(t, range, "r"), orderList(t, exprs));
}

std::string PgVerifyQueries::rangeChecksums(const TableInfo& t, const KeyRange& range,
                                            const std::vector<std::vector<std::string>>& bounds) const {
  std::vector<std::string> inner;
  for (std::size_t i = 0; i < t.key.size(); ++i) inner.push_back(fmt::format("s.k{}", i));
  std::string part = "0";
  if (bounds.size() > 1) {
    part = "CASE";
    for (std::size_t i = 1; i < bounds.size(); ++i)
      part += fmt::format(" WHEN {} < {} THEN {}", keyRow(t, inner), literalRow(t, bounds[i]), i - 1);
    part += fmt::format(" ELSE {} END", bounds.size() - 1);
  }
  std::string keys;
  const auto exprs = keyExprs(t, "r");
  for (std::size_t i = 0; i < exprs.size(); ++i) keys += fmt::format("{} AS k{}, ", exprs[i], i);
  return fmt::format("SELECT {} AS part, count(*) AS rows, {} AS checksum FROM (SELECT {}md5((r.*)::text) AS h "
                     "FROM {} r WHERE {} OFFSET 0) s GROUP BY 1 ORDER BY 1",
                     part, pgRowsDigestSql("s.h"), keys, tableRef(t), rangeCondition(t, range, "r"));
}

std::string PgVerifyQueries::rows(const TableInfo& t, const KeyRange& range, int limit) const {
  const auto exprs = keyExprs(t, "r");
  return fmt::format("SELECT {}, md5((r.*)::text) AS h FROM {} r WHERE {} ORDER BY {} LIMIT {}", textKeys(exprs),
                     tableRef(t), rangeCondition(t, range, "r"), orderList(t, exprs), limit);
}

} // namespace kluster::db
