// Continuous verification on PostgreSQL: a REPEATABLE READ snapshot taken right after a checkpoint's commit,
// and each user table's row count and digest in it. The row text (r.*)::text depends on the session's
// DateStyle, TimeZone and extra_float_digits, which every Kluster connection pins to the same values.
#include "core/db/postgres/postgres.hpp"

#include <fmt/format.h>

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

std::vector<TableChecksum> PgConnection::snapshotChecksums() {
  std::vector<std::pair<std::string, std::string>> tables; // (quoted reference, schema.name as shown)
  {
    ResultGuard g{
        execParams("SELECT format('%I.%I', n.nspname, c.relname), n.nspname, c.relname "
                   "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p' "
                   "AND n.nspname NOT IN ('information_schema', '_kluster') "
                   "AND n.nspname NOT LIKE 'pg\\_%' ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
                   {})};
    for (int i = 0; i < PQntuples(g.res); ++i)
      tables.emplace_back(PQgetvalue(g.res, i, 0),
                          std::string(PQgetvalue(g.res, i, 1)) + "." + PQgetvalue(g.res, i, 2));
  }
  std::vector<TableChecksum> sums;
  sums.reserve(tables.size());
  for (const auto& [ref, name] : tables) {
    // One table per query: a large database is read table by table, in the same snapshot.
    ResultGuard g{execParams(
        fmt::format("SELECT count(*), {} FROM (SELECT md5((r.*)::text) AS h FROM {} r) s", pgRowsDigestSql("s.h"), ref),
        {})};
    sums.push_back({name, std::atoll(PQgetvalue(g.res, 0, 0)), PQgetvalue(g.res, 0, 1)});
  }
  return sums;
}

} // namespace kluster::db
