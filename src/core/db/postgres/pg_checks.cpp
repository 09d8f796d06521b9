// Continuous verification on PostgreSQL: a REPEATABLE READ snapshot taken right after a checkpoint's commit,
// and each user table's row count and digest in it, with the digests of its key buckets (the rows split by the
// hash of their primary key, or of the whole row without one). The row text (r.*)::text depends on the session's
// DateStyle, TimeZone and extra_float_digits, which every Kluster connection pins to the same values.
#include "core/db/postgres/postgres.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

namespace kluster::db {

std::string pgRowsDigestSql(const std::string& md5Column) {
  return fmt::format(
      "md5(count(*)::text || ':' || coalesce(sum(('x' || substr({0}, 1, 16))::bit(64)::bigint::numeric), "
      "0)::text || ':' || coalesce(sum(('x' || substr({0}, 17, 16))::bit(64)::bigint::numeric), 0)::text)",
      md5Column);
}

std::int64_t PgConnection::openSnapshot(const std::string& cluster) {
  // The snapshot is taken by the first statement of a REPEATABLE READ transaction: the position query.
  exec("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    ResultGuard g{
        execParams("SELECT coalesce((SELECT all_offset FROM _kluster.position WHERE cluster = $1), -1)", {cluster})};
    return std::atoll(PQgetvalue(g.res, 0, 0));
  } catch (...) {
    rollback();
    throw;
  }
}

std::vector<std::string> PgConnection::snapshotTables() {
  // A row's bucket key: its primary key's columns as a row, or the whole row when the table has none.
  ResultGuard g{execParams(
      "SELECT n.nspname || '.' || c.relname, format('%I.%I', n.nspname, c.relname), "
      "coalesce((SELECT 'ROW(' || string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) || ')' FROM pg_index i "
      "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = "
      "i.indrelid AND a.attnum = k.attnum WHERE i.indrelid = c.oid AND i.indisprimary), "
      "'(' || quote_ident(c.relname) || '.*)') "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p' "
      "AND n.nspname NOT IN ('information_schema', '_kluster') "
      "AND n.nspname NOT LIKE 'pg\\_%' ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
      {})};
  std::vector<std::string> names;
  snapshotTables_.clear();
  for (int i = 0; i < PQntuples(g.res); ++i) {
    names.emplace_back(PQgetvalue(g.res, i, 0));
    snapshotTables_[names.back()] = {PQgetvalue(g.res, i, 1), PQgetvalue(g.res, i, 2)};
  }
  return names;
}

TableChecksum PgConnection::snapshotChecksum(const std::string& table) {
  const auto it = snapshotTables_.find(table);
  if (it == snapshotTables_.end())
    throw DbError(ErrorKind::Node, code::NodeError,
                  "checksumming " + table + ": not among the tables listed in the snapshot", "");
  const auto& [ref, key] = it->second;
  TableChecksum out;
  out.table = table;
  out.bucketOf = fmt::format("hashtextextended({}::text, 0) & {}", key, kCheckBuckets - 1);
  // One table per query (a large database is read table by table, in the same snapshot), one scan: the buckets'
  // digests and the table's (the same as `verify`'s) from grouping sets. No sort, a hash table of a few groups.
  ResultGuard g{execParams(fmt::format("SELECT grouping(b), b, count(*), {} FROM (SELECT md5(({}.*)::text) AS h, {} "
                                       "AS b FROM {}) s GROUP BY GROUPING SETS ((b), ())",
                                       pgRowsDigestSql("s.h"), ref, out.bucketOf, ref),
                           {})};
  std::string buckets(static_cast<std::size_t>(kCheckBuckets) * 8, '0');
  out.checksum.clear();
  for (int i = 0; i < PQntuples(g.res); ++i) {
    if (std::string_view(PQgetvalue(g.res, i, 0)) == "1") { // the whole table
      out.rows = std::atoll(PQgetvalue(g.res, i, 2));
      out.checksum = PQgetvalue(g.res, i, 3);
      continue;
    }
    const auto bucket = std::atoi(PQgetvalue(g.res, i, 1));
    if (bucket >= 0 && bucket < kCheckBuckets)
      buckets.replace(static_cast<std::size_t>(bucket) * 8, 8, std::string(PQgetvalue(g.res, i, 3)).substr(0, 8));
  }
  out.buckets = std::move(buckets);
  return out;
}

std::optional<std::set<std::string>> PgConnection::snapshotWritten(const Writes& writes) {
  if (writes.everything) return std::nullopt;
  // Whether a volatile user-defined function runs: only a volatile function may write (PostgreSQL refuses writes in
  // STABLE and IMMUTABLE SQL and PL/pgSQL functions), and what it writes is not in the request's text.
  constexpr const char* kUserVolatile = "p.provolatile = 'v' AND p.pronamespace NOT IN ('pg_catalog'::regnamespace, "
                                        "'information_schema'::regnamespace)";
  {
    // A volatile user-defined function the request names, or one that runs without being named: behind an operator,
    // a cast or a type's input function (each a catalog query's worth, whatever the request).
    ResultGuard g{execParams(
        fmt::format(
            "SELECT EXISTS (SELECT 1 FROM pg_proc p WHERE p.proname IN (SELECT "
            "json_array_elements_text($1::json)) AND {0}) OR EXISTS (SELECT 1 FROM pg_operator o JOIN pg_proc p "
            "ON p.oid = o.oprcode WHERE {0}) OR EXISTS (SELECT 1 FROM pg_cast c JOIN pg_proc p ON p.oid = "
            "c.castfunc WHERE {0}) OR EXISTS (SELECT 1 FROM pg_type t JOIN pg_proc p ON p.oid IN (t.typinput, "
            "t.typreceive) WHERE {0})",
            kUserVolatile),
        {nlohmann::json(writes.functions).dump()})};
    if (std::string_view(PQgetvalue(g.res, 0, 0)) == "t") return std::nullopt;
  }
  std::set<std::string> out;
  if (writes.tables.empty()) return out;
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& [schema, name] : writes.tables) targets.push_back({schema, name});
  // Per table named: the table whose checksum covers it (a partition's root), and whether the write may reach
  // further: a name that is not a plain or partitioned table now (a view, gone), rules, old-style inheritance, a
  // trigger other than the foreign key triggers that only check (a cascading foreign key writes the referencing
  // table), a DEFAULT, CHECK, policy or domain that calls a volatile user function; the last two looked for in the
  // table and its partitions (pg_partition_tree() has no rows for a table that is not partitioned).
  ResultGuard g{execParams(
      fmt::format(
          "WITH t AS (SELECT to_regclass(CASE WHEN e->>0 = '' THEN quote_ident(e->>1) ELSE quote_ident(e->>0) || '.' "
          "|| quote_ident(e->>1) END) AS oid FROM json_array_elements($1::json) e), "
          "r AS (SELECT t.oid, c.relkind, c.relhasrules, CASE WHEN c.relispartition THEN pg_partition_root(c.oid) "
          "ELSE c.oid END AS root FROM t LEFT JOIN pg_class c ON c.oid = t.oid) "
          "SELECT (SELECT n.nspname || '.' || rc.relname FROM pg_class rc JOIN pg_namespace n ON n.oid = "
          "rc.relnamespace WHERE rc.oid = r.root), "
          "r.relkind IS NULL OR r.relkind NOT IN ('r', 'p') OR r.relhasrules "
          "OR EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class ic ON ic.oid = i.inhrelid WHERE (i.inhrelid = r.oid "
          "OR i.inhparent = r.oid) AND NOT ic.relispartition) "
          "OR EXISTS (SELECT 1 FROM (SELECT r.root AS relid UNION SELECT relid FROM pg_partition_tree(r.root)) pt JOIN "
          "pg_trigger tg ON tg.tgrelid = pt.relid JOIN "
          "pg_proc tf ON tf.oid = tg.tgfoid WHERE NOT (tf.pronamespace = 'pg_catalog'::regnamespace AND tf.proname "
          "IN ('RI_FKey_check_ins', 'RI_FKey_check_upd', 'RI_FKey_noaction_del', 'RI_FKey_noaction_upd', "
          "'RI_FKey_restrict_del', 'RI_FKey_restrict_upd'))) "
          "OR EXISTS (SELECT 1 FROM (SELECT r.root AS relid UNION SELECT relid FROM pg_partition_tree(r.root)) pt JOIN "
          "pg_depend d ON d.refclassid = "
          "'pg_proc'::regclass JOIN pg_proc p ON p.oid = d.refobjid AND {} WHERE d.classid IN "
          "('pg_attrdef'::regclass, 'pg_constraint'::regclass, 'pg_policy'::regclass, 'pg_type'::regclass) AND "
          "d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid = pt.relid UNION ALL SELECT oid FROM pg_constraint "
          "WHERE conrelid = pt.relid UNION ALL SELECT oid FROM pg_policy WHERE polrelid = pt.relid UNION ALL SELECT "
          "a.atttypid FROM pg_attribute a WHERE a.attrelid = pt.relid UNION ALL SELECT co.oid FROM pg_attribute a "
          "JOIN pg_constraint co ON co.contypid = a.atttypid WHERE a.attrelid = pt.relid)) "
          "FROM r",
          kUserVolatile),
      {targets.dump()})};
  for (int i = 0; i < PQntuples(g.res); ++i) {
    if (std::string_view(PQgetvalue(g.res, i, 1)) != "f") return std::nullopt;
    out.insert(PQgetvalue(g.res, i, 0));
  }
  return out;
}

} // namespace kluster::db
