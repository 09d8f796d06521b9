// Determinism by closure against a database that answers what the test says (tests/support/fake_connection.hpp):
// the views a write reads, refreshes or writes through, the rules of the tables it writes, and the PL/pgSQL
// statements whose rows come in order (cursors, SELECT ... INTO), judged with the catalog's definitions and keys.
#include "core/node/prepare.hpp"
#include "support/fake_connection.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace kluster;
using db::Volatility;

namespace {

std::string request(const std::string& sql) {
  return fmt::format(R"({{"messageId":"m","clientId":"c","sqlString":{},"params":[]}})", ojson(sql).dump());
}

struct Fixture {
  test::FakeConnection db;
  node::Preparer prep{db::adapter("postgresql"), 1 << 20};
  node::FunctionCheck check{db::adapter("postgresql"), &db};

  Fixture() { db.volatility["clock_timestamp"] = {Volatility::Volatile, Volatility::None}; }

  node::Prepared all(const std::string& sql) {
    auto p = prep.forAll(request(sql), 1, 1000);
    INFO((p.refusal ? p.refusal->errorMessage : std::string()));
    REQUIRE_FALSE(p.refusal);
    check.apply(p);
    return p;
  }
  // The refusal's message, "" when the write is applied.
  std::string refusal(const std::string& sql) {
    check.invalidate(); // as after the DDL that changed the catalog
    auto p = all(sql);
    return p.refusal ? p.refusal->errorMessage : std::string();
  }
  void view(const std::string& name, const std::string& query, char kind = 'v', bool floatAggregates = false) {
    db.views["public." + name] = {kind, query, floatAggregates};
  }
};

db::FunctionDefinition plpgsql(const std::string& signature, const std::string& body,
                               const std::string& returns = "integer") {
  db::FunctionDefinition def;
  def.signature = "public." + signature;
  def.language = "plpgsql";
  def.volatility = Volatility::Immutable;
  def.source = body;
  def.definition = "CREATE OR REPLACE FUNCTION public." + signature + "\n RETURNS " + returns +
                   "\n LANGUAGE plpgsql\n" + "AS $function$" + body + "$function$\n";
  return def;
}

} // namespace

TEST_CASE("a write reading a view is judged as if the view's query were written in its place") {
  Fixture f;
  const std::string insert = "INSERT INTO log SELECT id FROM v";
  CHECK(f.refusal(insert).empty()); // v is a table: nothing runs
  f.view("v", " SELECT t.id FROM t LIMIT 1;");
  const std::string limited = f.refusal(insert);
  CHECK_THAT(limited, Catch::Contains("view") && Catch::Contains("LIMIT"));
  f.db.keys["public.t"] = {{"id"}};
  f.view("v", " SELECT t.id FROM t ORDER BY t.id LIMIT 1;");
  CHECK(f.refusal(insert).empty());
  // In a subquery, a CTE, UPDATE ... FROM, and views over views: the functions they call are judged.
  f.view("w", " SELECT t.id, clock_timestamp() AS at FROM t;");
  f.view("v", " SELECT w.id FROM w;");
  for (const char* sql : {"INSERT INTO log SELECT id FROM v", "INSERT INTO log SELECT 1 WHERE 1 IN (SELECT id FROM v)",
                          "WITH c AS (SELECT id FROM v) INSERT INTO log SELECT id FROM c",
                          "UPDATE log SET id = v.id FROM v WHERE v.id = log.id"}) {
    INFO(sql);
    CHECK_THAT(f.refusal(sql), Catch::Contains("view w (used by view v)") && Catch::Contains("clock_timestamp"));
  }
  // A view a function body reads.
  db::FunctionDefinition reader;
  reader.signature = "public.first_id()";
  reader.language = "sql";
  reader.volatility = Volatility::Stable;
  reader.source = "SELECT id FROM w LIMIT 1";
  f.db.functions["first_id"] = {reader};
  f.db.keys["public.w"] = {};
  CHECK_THAT(f.refusal("INSERT INTO log VALUES (first_id())"),
             Catch::Contains("view w (used by function public.first_id())") && Catch::Contains("clock_timestamp"));
  // The current time in a view is each node's own transaction time.
  f.view("v", " SELECT t.id FROM t WHERE (t.at < now());");
  CHECK_THAT(f.refusal(insert), Catch::Contains("inside a view"));
  // A read is not judged: its answers are compared, not stored.
  f.check.invalidate();
  CHECK_FALSE(f.all("SELECT id FROM v").refusal);
  // A materialized view read by a write gives the rows it stored when refreshed: nothing runs.
  f.view("v", " SELECT t.id FROM t LIMIT 1;", 'm');
  CHECK(f.refusal(insert).empty());
}

TEST_CASE("order-sensitive float aggregates in a view read by a write are refused: the view cannot be rewritten") {
  Fixture f;
  const std::string insert = "INSERT INTO totals SELECT s FROM v";
  f.view("v", " SELECT sum(t.n) AS s FROM t;"); // the catalog: an integer sum, whatever its order
  CHECK(f.refusal(insert).empty());
  f.view("v", " SELECT sum(t.f) AS s FROM t;", 'v', true); // the catalog: a float8 sum
  const std::string refused = f.refusal(insert);
  CHECK_THAT(refused, Catch::Contains("view v") && Catch::Contains("float"));
  f.view("v", " SELECT sum(t.f ORDER BY ((t.f)::text)) AS s FROM t;", 'v', true);
  CHECK(f.refusal(insert).empty());
}

TEST_CASE("REFRESH MATERIALIZED VIEW runs the view's query: judged as a write's") {
  Fixture f;
  f.view("mv", " SELECT t.id FROM t LIMIT 1;", 'm');
  CHECK_THAT(f.refusal("REFRESH MATERIALIZED VIEW mv"),
             Catch::Contains("materialized view mv, refreshed by this write") && Catch::Contains("LIMIT"));
  f.view("mv", " SELECT t.id, clock_timestamp() AS at FROM t;", 'm');
  CHECK_THAT(f.refusal("REFRESH MATERIALIZED VIEW mv"), Catch::Contains("clock_timestamp"));
  f.view("mv", " SELECT t.id FROM t;", 'm');
  CHECK(f.refusal("REFRESH MATERIALIZED VIEW mv").empty());
}

TEST_CASE("a write into a view runs the triggers and rules of the view and of the tables under it") {
  Fixture f;
  db::FunctionDefinition stamp =
      plpgsql("stamp()", "\nBEGIN\n  NEW.at := clock_timestamp();\n  RETURN NEW;\nEND\n", "trigger");
  f.db.triggers["public.base"] = {stamp};
  CHECK(f.refusal("INSERT INTO v (id) VALUES (1)").empty()); // v is a table without triggers
  f.view("v", " SELECT base.id, base.at FROM base;");
  CHECK_THAT(f.refusal("INSERT INTO v (id) VALUES (1)"), Catch::Contains("table base") &&
                                                             Catch::Contains("written by view v") &&
                                                             Catch::Contains("clock_timestamp"));
  CHECK_THAT(f.refusal("UPDATE v SET at = NULL WHERE id = 1"), Catch::Contains("table base"));
}

TEST_CASE("the rules of a table a write touches are judged as its triggers are") {
  Fixture f;
  db::FunctionDefinition rule;
  rule.signature = "rule log_it on public.t";
  rule.language = "rule";
  rule.volatility = Volatility::None;
  rule.definition = "CREATE RULE log_it AS\n    ON UPDATE TO public.t DO  INSERT INTO log (id, n)\n  VALUES (new.id, "
                    "nextval('s'::regclass));";
  f.db.rules["public.t"] = {rule};
  // Per row of an UPDATE, in each node's own row order: refused. Rows in the request's order draw alike.
  const std::string update = f.refusal("UPDATE t SET v = 1");
  CHECK_THAT(update, Catch::Contains("rule log_it on public.t") && Catch::Contains("nextval()"));
  CHECK(f.refusal("INSERT INTO t (id) VALUES (1), (2)").empty());
  // The tables its actions write run their triggers too.
  f.db.rules["public.t"][0].definition =
      "CREATE RULE log_it AS\n    ON UPDATE TO public.t DO  INSERT INTO log (id)\n  VALUES (new.id);";
  CHECK(f.refusal("UPDATE t SET v = 1").empty());
  f.db.triggers["public.log"] = {
      plpgsql("stamp()", "\nBEGIN\n  NEW.at := clock_timestamp();\n  RETURN NEW;\nEND\n", "trigger")};
  CHECK_THAT(f.refusal("UPDATE t SET v = 1"), Catch::Contains("table log") && Catch::Contains("rule log_it"));
  // An UPDATE action copying NEW's values.
  f.db.triggers.clear();
  f.db.rules["public.t"][0].definition =
      "CREATE RULE log_it AS\n    ON UPDATE TO public.t DO  UPDATE totals SET v = new.v\n  WHERE (totals.k = new.k);";
  CHECK_THAT(f.refusal("UPDATE t SET v = 1"), Catch::Contains("NEW or OLD"));
}

TEST_CASE("PL/pgSQL cursors and SELECT ... INTO are judged against the catalog's unique keys") {
  Fixture f;
  f.db.functions["pick"] = {plpgsql("pick(p integer)", "\nDECLARE x int;\nBEGIN\n  SELECT v INTO x FROM t WHERE id "
                                                       "= p;\n  RETURN x;\nEND\n")};
  const std::string call = "INSERT INTO log VALUES (pick(1))";
  CHECK_THAT(f.refusal(call), Catch::Contains("SELECT ... INTO") && Catch::Contains("first row"));
  f.db.keys["public.t"] = {{"id"}}; // id is t's primary key: one row at most
  CHECK(f.refusal(call).empty());
  f.db.functions["pick"] = {plpgsql("pick(p integer)", "\nDECLARE c CURSOR FOR SELECT v FROM t; x int;\nBEGIN\n"
                                                       "  FOR r IN c LOOP\n    x := r.v;\n  END LOOP;\n"
                                                       "  RETURN x;\nEND\n")};
  CHECK_THAT(f.refusal(call), Catch::Contains("a cursor's query"));
  f.db.functions["pick"] = {plpgsql("pick(p integer)", "\nDECLARE c refcursor; x int;\nBEGIN\n"
                                                       "  OPEN c FOR SELECT v FROM t ORDER BY id;\n"
                                                       "  FETCH c INTO x;\n  RETURN x;\nEND\n")};
  CHECK(f.refusal(call).empty());
}

TEST_CASE("a view or rule defined in a request refuses the statements after it that could use it") {
  Fixture f;
  const auto prepared = [&](const std::string& sql) { return f.prep.forAll(request(sql), 1, 1000); };
  // Used after it is defined: it would run unjudged.
  for (const char* sql : {"CREATE VIEW v AS SELECT id FROM t LIMIT 1; INSERT INTO log SELECT id FROM v",
                          "CREATE RULE r AS ON INSERT TO t DO ALSO DELETE FROM log; INSERT INTO t VALUES (1)",
                          "CREATE VIEW v AS SELECT id FROM t; CREATE TABLE x AS SELECT id FROM v"}) {
    INFO(sql);
    const auto p = prepared(sql);
    REQUIRE(p.refusal);
    CHECK(p.refusal->resultCode == code::Nondeterministic);
    CHECK_THAT(p.refusal->hint, Catch::Contains("VIEW / RULE"));
  }
  // A schema script whose writes come before the view: they read what is in place.
  CHECK_FALSE(prepared("CREATE TABLE t (id int); INSERT INTO t VALUES (1); CREATE VIEW v AS SELECT id FROM t").refusal);
}
