// Kluster's own schema in each database (_kluster: position, applied requests, the cluster's record, the
// functions rewritten SQL calls) and the catalog look-ups the determinism rules need.
#include "core/db/postgres/postgres.hpp"

namespace kluster::db {
namespace {

constexpr const char* kSchema = R"(
CREATE SCHEMA IF NOT EXISTS _kluster;
CREATE TABLE IF NOT EXISTS _kluster.position (
  cluster     text PRIMARY KEY,
  all_offset  bigint NOT NULL,
  message_id  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS _kluster.applied (
  message_id    text COLLATE "C" PRIMARY KEY,
  all_offset    bigint NOT NULL,
  result_code   text NOT NULL,
  result_hash   text NOT NULL,
  rows_affected bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS _kluster.cluster_info (
  cluster      text PRIMARY KEY,
  fingerprint  jsonb NOT NULL,
  recorded_at  bigint NOT NULL
);
-- Which node process serves the cluster with this database (its token, written when it starts): a process
-- fenced out of its Kafka groups stops only when another one claimed the node since (Node::replacedByAnother).
CREATE TABLE IF NOT EXISTS _kluster.node_process (
  cluster     text PRIMARY KEY,
  token       text NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS _kluster.security (
  cluster     text PRIMARY KEY,
  digest      text NOT NULL,   -- of the clients file in effect (klusterctl security publish)
  all_offset  bigint NOT NULL  -- where it took effect
);
-- What DEFAULT now() & co. become (sql::pinDefaultTime): the pinned time of the request writing the row,
-- which the node sets per request. Outside a Kluster request it is an error, never a node's own clock.
CREATE OR REPLACE FUNCTION _kluster.request_time() RETURNS timestamptz LANGUAGE plpgsql STABLE AS $f$
DECLARE ms text := current_setting('kluster.request_time', true);
BEGIN
  IF ms IS NULL OR ms = '' THEN
    RAISE EXCEPTION 'a DEFAULT of the current time was evaluated outside a Kluster request'
      USING HINT = 'write this table through Kluster (klusterctl exec --to ALL), or give the column a value';
  END IF;
  RETURN timestamptz 'epoch' + ms::bigint * interval '1 millisecond';
END $f$;
-- What gen_random_uuid() becomes (sql::pinRandomUuid): the n-th UUID a request draws is md5('<ALL offset>/
-- <messageId>/<n>') with the version (4) and variant bits set; the node sets the key per request. Outside a
-- Kluster request it is an error.
CREATE OR REPLACE FUNCTION _kluster.gen_random_uuid() RETURNS uuid LANGUAGE plpgsql VOLATILE AS $f$
DECLARE
  key text := current_setting('kluster.uuid_key', true);
  n bigint;
  h text;
BEGIN
  IF key IS NULL OR key = '' THEN
    RAISE EXCEPTION 'a UUID was drawn outside a Kluster request'
      USING HINT = 'write this table through Kluster (klusterctl exec --to ALL), or give the column a value';
  END IF;
  n := coalesce(nullif(current_setting('kluster.uuid_count', true), ''), '0')::bigint + 1;
  PERFORM set_config('kluster.uuid_count', n::text, true);
  h := md5(key || '/' || n);
  RETURN (substr(h, 1, 12) || '4' || substr(h, 14, 3) ||
          substr('89ab', (position(substr(h, 17, 1) IN '0123456789abcdef') - 1) % 4 + 1, 1) || substr(h, 18))::uuid;
END $f$;
)";

} // namespace

void PgConnection::ensureSchema() {
  // Only create what is missing, so a node whose database went read-only still starts and reports why it
  // cannot apply, instead of failing here.
  ResultGuard g{execParams("SELECT to_regclass('_kluster.cluster_info') IS NOT NULL", {})};
  if (std::string(PQgetvalue(g.res, 0, 0)) != "t") {
    exec(kSchema);
    exec(kSequenceSchema);
    exec(kTrustSchema);
    exec(kStagedSchema);
    return;
  }
  // (databases from before a speculation restarted only the sequences it may draw from lack sequences_in_scope)
  ResultGuard s{execParams("SELECT to_regprocedure('_kluster.sequences_in_scope(text[],text[])') IS NOT NULL, "
                           "to_regprocedure('_kluster.gen_random_uuid()') IS NOT NULL, "
                           "to_regclass('_kluster.security') IS NOT NULL, "
                           "to_regprocedure('_kluster.distrust_function(regprocedure)') IS NOT NULL, "
                           "to_regclass('_kluster.node_process') IS NOT NULL, "
                           "to_regclass('_kluster.staged') IS NOT NULL",
                           {})};
  if (std::string(PQgetvalue(s.res, 0, 5)) != "t") exec(kStagedSchema); // databases from before COPY in BEGIN
  if (std::string(PQgetvalue(s.res, 0, 0)) != "t") exec(kSequenceSchema);
  if (std::string(PQgetvalue(s.res, 0, 3)) != "t") exec(kTrustSchema); // databases from before the closure
  // Databases from before UUIDs were drawn, before signed requests, or before node processes were claimed.
  if (std::string(PQgetvalue(s.res, 0, 1)) != "t" || std::string(PQgetvalue(s.res, 0, 2)) != "t" ||
      std::string(PQgetvalue(s.res, 0, 4)) != "t")
    exec(kSchema);
  // Databases created before message ids were compared bytewise: a collation-aware text key made every
  // batch's bookkeeping several times slower.
  ResultGuard c{execParams("SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
                           "WHERE a.attrelid = '_kluster.applied'::regclass AND a.attname = 'message_id'",
                           {})};
  if (PQntuples(c.res) == 1 && std::string(PQgetvalue(c.res, 0, 0)) != "C")
    exec("ALTER TABLE _kluster.applied ALTER COLUMN message_id TYPE text COLLATE \"C\"");
}

Volatility volatilityOf(char provolatile) {
  switch (provolatile) {
  case 'i': return Volatility::Immutable;
  case 's': return Volatility::Stable;
  case 'v': return Volatility::Volatile;
  default: return Volatility::None;
  }
}

std::map<std::string, FunctionVolatility> PgConnection::functionVolatility(const std::vector<std::string>& names) {
  std::map<std::string, FunctionVolatility> found;
  if (names.empty()) return found;
  // Built-in objects have oids below FirstNormalObjectId (16384); 'v' > 's' > 'i' as text. Kluster's own functions
  // (_kluster: trust_function(), request_time()...) are the same on every node and counted as neither.
  ResultGuard g{execParams("SELECT proname, coalesce(max(provolatile::text) FILTER (WHERE oid < 16384), ''), "
                           "coalesce(max(provolatile::text) FILTER (WHERE oid >= 16384 AND pronamespace IS DISTINCT "
                           "FROM to_regnamespace('_kluster')::oid), '') FROM pg_proc "
                           "WHERE proname IN (SELECT json_array_elements_text($1::json)) GROUP BY proname",
                           {nlohmann::json(names).dump()})};
  for (int r = 0; r < PQntuples(g.res); ++r)
    found[PQgetvalue(g.res, r, 0)] = {volatilityOf(PQgetvalue(g.res, r, 1)[0]),
                                      volatilityOf(PQgetvalue(g.res, r, 2)[0])};
  return found;
}

std::vector<std::vector<std::string>> PgConnection::uniqueKeys(const std::string& schema, const std::string& table) {
  ResultGuard g{execParams(
      "SELECT i.indexrelid::bigint, a.attname::text FROM pg_index i "
      "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, n) "
      "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att "
      "WHERE i.indrelid = to_regclass(CASE WHEN $1 = '' THEN quote_ident($2) ELSE quote_ident($1) || '.' || "
      "quote_ident($2) END) AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL "
      "AND k.n <= i.indnkeyatts AND (i.indnullsnotdistinct OR NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) "
      "WITH ORDINALITY AS k2(att, n) JOIN pg_attribute a2 ON a2.attrelid = i.indrelid AND a2.attnum = k2.att "
      "WHERE k2.n <= i.indnkeyatts AND NOT a2.attnotnull)) ORDER BY 1, k.n",
      {schema, table})};
  std::vector<std::vector<std::string>> keys;
  std::string last;
  for (int r = 0; r < PQntuples(g.res); ++r) {
    if (keys.empty() || last != PQgetvalue(g.res, r, 0)) keys.emplace_back();
    last = PQgetvalue(g.res, r, 0);
    keys.back().emplace_back(PQgetvalue(g.res, r, 1));
  }
  return keys;
}

std::vector<std::string> PgConnection::immediateUniqueColumns(const std::string& schema, const std::string& table) {
  // Key columns from indkey; what expressions and predicates read from pg_depend (where a constraint's index,
  // whose columns are plain, records none).
  ResultGuard g{execParams(
      "SELECT DISTINCT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0 "
      "AND (a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]) OR a.attnum IN (SELECT d.refobjsubid FROM "
      "pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid AND d.refclassid = "
      "'pg_class'::regclass AND d.refobjid = i.indrelid)) WHERE i.indrelid = to_regclass(CASE WHEN $1 = '' THEN "
      "quote_ident($2) ELSE quote_ident($1) || '.' || quote_ident($2) END) AND i.indisunique AND i.indimmediate "
      "ORDER BY 1",
      {schema, table})};
  std::vector<std::string> columns;
  for (int r = 0; r < PQntuples(g.res); ++r) columns.emplace_back(PQgetvalue(g.res, r, 0));
  return columns;
}

RequestInputs PgConnection::requestInputs() {
  // Kluster's own functions are recorded in pg_depend; built-ins such as random() are pinned and never are, so
  // DEFAULTs that call random() are found by their text (column and domain defaults).
  ResultGuard g{execParams(
      "SELECT EXISTS (SELECT 1 FROM pg_depend WHERE refclassid = 'pg_proc'::regclass AND refobjid = "
      "to_regprocedure('_kluster.request_time()')), EXISTS (SELECT 1 FROM pg_depend WHERE refclassid = "
      "'pg_proc'::regclass AND refobjid = to_regprocedure('_kluster.gen_random_uuid()')), EXISTS (SELECT 1 FROM "
      "pg_attrdef WHERE pg_get_expr(adbin, adrelid) ~ '\\mrandom\\(') OR EXISTS (SELECT 1 FROM pg_type WHERE "
      "typdefaultbin IS NOT NULL AND pg_get_expr(typdefaultbin, 0) ~ '\\mrandom\\(')",
      {})};
  auto flag = [&](int column) { return PQgetvalue(g.res, 0, column)[0] == 't'; };
  return {flag(0), flag(1), flag(2)};
}

std::vector<std::string> PgConnection::drawnDefaults(const std::string& schema, const std::string& table) {
  ResultGuard g{
      execParams("SELECT a.attname::text FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND "
                 "d.adnum = a.attnum WHERE a.attrelid = to_regclass(CASE WHEN $1 = '' THEN quote_ident($2) ELSE "
                 "quote_ident($1) || '.' || quote_ident($2) END) AND a.attnum > 0 AND NOT a.attisdropped AND "
                 "(a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) ~ "
                 "'\\m(nextval|setval|random|gen_random_uuid)\\(') ORDER BY a.attnum",
                 {schema, table})};
  std::vector<std::string> columns;
  for (int r = 0; r < PQntuples(g.res); ++r) columns.emplace_back(PQgetvalue(g.res, r, 0));
  return columns;
}

} // namespace kluster::db
