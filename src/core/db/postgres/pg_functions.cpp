// The catalog side of determinism by closure (README "Determinism"): the user-defined functions a write runs
// (called by name, or as triggers of the tables it writes), with their bodies for sql::analyzeFunctionBody(),
// and the functions an operator vouched for through ALL (_kluster.trusted_functions).
#include "core/db/postgres/postgres.hpp"

namespace kluster::db {

// A trust is recorded for one definition: replacing the function (CREATE OR REPLACE) ends it. Signatures are
// schema-qualified names with argument types, never oids, which differ between nodes.
const char* const kTrustSchema = R"(
CREATE TABLE IF NOT EXISTS _kluster.trusted_functions (
  signature      text PRIMARY KEY, -- schema.name(argument types)
  definition_md5 text NOT NULL     -- md5 of the definition vouched for (pg_get_functiondef)
);
CREATE OR REPLACE PROCEDURE _kluster.trust_function(f regprocedure) LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO _kluster.trusted_functions (signature, definition_md5)
  SELECT format('%I.%I(%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)),
         md5(CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) ELSE '' END)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = f
  ON CONFLICT (signature) DO UPDATE SET definition_md5 = EXCLUDED.definition_md5;
END $f$;
CREATE OR REPLACE PROCEDURE _kluster.distrust_function(f regprocedure) LANGUAGE plpgsql AS $f$
BEGIN
  DELETE FROM _kluster.trusted_functions t USING pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.oid = f AND t.signature = format('%I.%I(%s)', n.nspname, p.proname,
                                            oidvectortypes(p.proargtypes));
END $f$;
)";

namespace {

// The columns of FunctionDefinition for `p` (pg_proc) joined with `n` (pg_namespace) and `l` (pg_language).
constexpr const char* kDefinitionColumns =
    "d.signature, l.lanname::text, p.provolatile::text, p.prosrc, d.definition, "
    "EXISTS (SELECT 1 FROM _kluster.trusted_functions t WHERE t.signature = d.signature AND "
    "t.definition_md5 = md5(d.definition)), "
    "coalesce((SELECT json_agg(x.proname::text ORDER BY x.proname) FROM pg_aggregate a JOIN pg_proc x ON x.oid IN "
    "(a.aggtransfn::oid, a.aggfinalfn::oid, a.aggcombinefn::oid, a.aggmtransfn::oid, a.aggminvtransfn::oid, "
    "a.aggmfinalfn::oid) WHERE a.aggfnoid = p.oid), '[]')";
constexpr const char* kDefinitionJoins =
    "JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang "
    "CROSS JOIN LATERAL (SELECT format('%I.%I(%s)', n.nspname, p.proname, "
    "oidvectortypes(p.proargtypes)) AS signature, CASE WHEN p.prokind IN ('f', 'p') THEN "
    "pg_get_functiondef(p.oid) ELSE '' END AS definition) d ";
constexpr const char* kUserNamespaces = "n.nspname NOT IN ('pg_catalog', 'information_schema', '_kluster') ";

std::vector<FunctionDefinition> definitions(PGresult* res) {
  std::vector<FunctionDefinition> out;
  for (int r = 0; r < PQntuples(res); ++r) {
    FunctionDefinition f;
    f.signature = PQgetvalue(res, r, 0);
    f.language = PQgetvalue(res, r, 1);
    f.volatility = volatilityOf(PQgetvalue(res, r, 2)[0]);
    f.source = PQgetvalue(res, r, 3);
    f.definition = PQgetvalue(res, r, 4);
    f.trusted = PQgetvalue(res, r, 5)[0] == 't';
    for (const auto& name : nlohmann::json::parse(PQgetvalue(res, r, 6))) f.calls.push_back(name.get<std::string>());
    f.perRow = PQgetvalue(res, r, 7)[0] == 't';
    f.trigger = PQgetvalue(res, r, 8);
    out.push_back(std::move(f));
  }
  return out;
}

} // namespace

std::vector<FunctionDefinition> PgConnection::userFunctions(const std::string& name) {
  ResultGuard g{execParams(std::string("SELECT ") + kDefinitionColumns + ", true, '' FROM pg_proc p " +
                               kDefinitionJoins + "WHERE p.proname = $1 AND " + kUserNamespaces + "ORDER BY 1",
                           {name})};
  return definitions(g.res);
}

std::vector<FunctionDefinition> PgConnection::triggerFunctions(const std::string& schema, const std::string& table) {
  // Internal triggers (foreign keys) are PostgreSQL's own; 'D': disabled. 'R' (replica only) is counted too.
  ResultGuard g{execParams(std::string("SELECT ") + kDefinitionColumns +
                               ", (tg.tgtype::int & 1) = 1, pg_get_triggerdef(tg.oid) FROM pg_trigger tg JOIN pg_proc "
                               "p ON p.oid = tg.tgfoid " +
                               kDefinitionJoins +
                               "WHERE tg.tgrelid = to_regclass(CASE WHEN $1 = '' THEN quote_ident($2) ELSE "
                               "quote_ident($1) || '.' || quote_ident($2) END) AND NOT tg.tgisinternal AND "
                               "tg.tgenabled <> 'D' AND " +
                               kUserNamespaces + "ORDER BY tg.tgname",
                           {schema, table})};
  return definitions(g.res);
}

std::vector<std::string> PgConnection::tableFunctions(const std::string& schema, const std::string& table) {
  // PostgreSQL records the functions an expression calls in pg_depend, from the object that stores it: pg_attrdef
  // (DEFAULTs and generated columns), pg_constraint (CHECKs, also a domain's), pg_type (a domain's DEFAULT), pg_policy.
  ResultGuard g{execParams(
      "WITH rel AS (SELECT to_regclass(CASE WHEN $1 = '' THEN quote_ident($2) ELSE quote_ident($1) || '.' || "
      "quote_ident($2) END) AS oid), doms AS (SELECT a.atttypid AS oid FROM pg_attribute a, rel WHERE a.attrelid = "
      "rel.oid AND a.attnum > 0 AND NOT a.attisdropped) SELECT DISTINCT p.proname::text FROM pg_depend d JOIN pg_proc "
      "p ON d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid, rel WHERE p.oid >= 16384 AND p.pronamespace "
      "IS DISTINCT FROM to_regnamespace('_kluster')::oid AND ((d.classid = 'pg_attrdef'::regclass AND d.objid IN "
      "(SELECT oid FROM pg_attrdef WHERE adrelid = rel.oid)) OR (d.classid = 'pg_constraint'::regclass AND d.objid "
      "IN (SELECT oid FROM pg_constraint WHERE conrelid = rel.oid OR contypid IN (SELECT oid FROM doms))) OR "
      "(d.classid = 'pg_type'::regclass AND d.objid IN (SELECT oid FROM doms)) OR (d.classid = "
      "'pg_policy'::regclass AND d.objid IN (SELECT oid FROM pg_policy WHERE polrelid = rel.oid))) ORDER BY 1",
      {schema, table})};
  std::vector<std::string> names;
  for (int r = 0; r < PQntuples(g.res); ++r) names.emplace_back(PQgetvalue(g.res, r, 0));
  return names;
}

namespace {

constexpr const char* kRelation =
    "to_regclass(CASE WHEN $1 = '' THEN quote_ident($2) ELSE quote_ident($1) || '.' || quote_ident($2) END)";

} // namespace

ViewDefinition PgConnection::viewDefinition(const std::string& schema, const std::string& name) {
  // The aggregates whose result depends on their input's order for these types (float rounding, equal values that
  // print differently) are found in the view's stored query tree (pg_rewrite.ev_action, one Aggref per call), by oid;
  // whether a call has an ORDER BY of its own is read from the query's text (sql::analyzeViewQuery).
  ResultGuard g{execParams(
      std::string("SELECT c.relkind::text, pg_get_viewdef(c.oid), EXISTS (SELECT 1 FROM pg_rewrite r, pg_aggregate a "
                  "JOIN pg_proc p ON p.oid = a.aggfnoid WHERE r.ev_class = c.oid AND r.rulename = '_RETURN' AND "
                  "p.oid < 16384 AND ((p.proname IN ('sum', 'avg', 'stddev', 'stddev_pop', 'stddev_samp', "
                  "'variance', 'var_pop', 'var_samp', 'corr', 'covar_pop', 'covar_samp', 'regr_avgx', 'regr_avgy', "
                  "'regr_intercept', 'regr_r2', 'regr_slope', 'regr_sxx', 'regr_sxy', 'regr_syy') AND "
                  "p.proargtypes[0] IN ('float4'::regtype::oid, 'float8'::regtype::oid)) OR (p.proname IN ('max', "
                  "'min') AND p.proargtypes[0] IN ('float4'::regtype::oid, 'float8'::regtype::oid, "
                  "'numeric'::regtype::oid, 'interval'::regtype::oid))) AND r.ev_action::text ~ (':aggfnoid ' || "
                  "p.oid || ' ')) FROM pg_class c WHERE c.oid = ") +
          kRelation + " AND c.relkind IN ('v', 'm')",
      {schema, name})};
  ViewDefinition view;
  if (PQntuples(g.res) == 1) {
    view.kind = PQgetvalue(g.res, 0, 0)[0];
    view.query = PQgetvalue(g.res, 0, 1);
    view.orderSensitiveAggregates = PQgetvalue(g.res, 0, 2)[0] == 't';
  }
  return view;
}

std::vector<FunctionDefinition> PgConnection::ruleDefinitions(const std::string& schema, const std::string& table) {
  // '_RETURN' is a view's own SELECT rule (its query, judged as the view's); 'D': disabled.
  ResultGuard g{execParams(std::string("SELECT format('rule %I on %I.%I', r.rulename, n.nspname, c.relname), "
                                       "pg_get_ruledef(r.oid) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class "
                                       "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE r.ev_class = ") +
                               kRelation + " AND r.rulename <> '_RETURN' AND r.ev_enabled <> 'D' ORDER BY r.rulename",
                           {schema, table})};
  std::vector<FunctionDefinition> rules;
  for (int r = 0; r < PQntuples(g.res); ++r) {
    FunctionDefinition rule;
    rule.signature = PQgetvalue(g.res, r, 0);
    rule.language = "rule";
    rule.volatility = Volatility::None;
    rule.definition = PQgetvalue(g.res, r, 1);
    rule.perRow = true; // its actions run joined with the rows the write changes
    rules.push_back(std::move(rule));
  }
  return rules;
}

} // namespace kluster::db
