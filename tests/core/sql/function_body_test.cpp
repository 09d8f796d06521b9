// Determinism by closure: the bodies of user-defined functions judged from their text (no server), as the node
// judges the functions a write runs (README "Determinism").
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "core/sql/function_body.hpp"

using kluster::sql::analyzeFunctionBody;
using kluster::sql::FunctionBody;

namespace {

// A PL/pgSQL function's definition as pg_get_functiondef() gives it.
std::string plpgsql(const std::string& body, const std::string& returns = "integer") {
  return "CREATE OR REPLACE FUNCTION public.f(a integer, b integer)\n RETURNS " + returns +
         "\n LANGUAGE plpgsql\n IMMUTABLE\nAS $function$\n" + body + "\n$function$\n";
}

FunctionBody pl(const std::string& body, const std::string& returns = "integer") {
  return analyzeFunctionBody("plpgsql", body, plpgsql(body, returns));
}

FunctionBody sqlFn(const std::string& source) { return analyzeFunctionBody("sql", source, ""); }

bool calls(const FunctionBody& b, const std::string& name) {
  return std::find(b.functions.begin(), b.functions.end(), name) != b.functions.end();
}

} // namespace

TEST_CASE("SQL bodies: the functions they call are listed for the node to judge, their statements judged as writes",
          "[sql][closure]") {
  // clock_timestamp() is judged by the node from pg_proc (volatile): the body lists it, whatever the function's
  // declared volatility.
  const auto clock = sqlFn("SELECT clock_timestamp()");
  CHECK_FALSE(clock.refusal);
  CHECK(calls(clock, "clock_timestamp"));
  // now() & co. inside a body are each node's own transaction time: refused from the text.
  for (const char* src : {"SELECT now()", "SELECT CURRENT_TIMESTAMP", "SELECT statement_timestamp()",
                          "SELECT 'now'::timestamptz", "INSERT INTO log VALUES (transaction_timestamp())"}) {
    INFO(src);
    const auto b = sqlFn(src);
    REQUIRE(b.refusal);
    CHECK_FALSE(b.opaque);
    CHECK(b.refusal->message.find("transaction time") != std::string::npos);
  }
  // Values drawn per call, in an order the calling statement decides: the node refuses them when the calls come
  // per row of a table. gen_random_uuid() draws from each node's own random source: refused.
  CHECK(sqlFn("SELECT random()").draws == "random()");
  CHECK(sqlFn("SELECT nextval('s')").draws == "nextval()");
  CHECK(sqlFn("SELECT setval('s', 1)").draws == "setval()");
  CHECK_FALSE(sqlFn("SELECT nextval('s')").refusal);
  CHECK(sqlFn("SELECT gen_random_uuid()").refusal);
  CHECK(sqlFn("SELECT $1 + 1").draws.empty());
  // The rules of a write apply even to a SELECT: it feeds one.
  CHECK(sqlFn("SELECT id FROM t LIMIT 1").orderRequirements.size() == 1);
  CHECK(sqlFn("SELECT ctid FROM t").refusal); // a system column
  CHECK(sqlFn("SELECT count(*) FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (1)").refusal);
  CHECK(sqlFn("SELECT relname FROM pg_class").refusal);
  // Harmless bodies.
  const auto plus = sqlFn("SELECT $1 + $2");
  CHECK_FALSE(plus.refusal);
  CHECK(plus.functions.empty());
  const auto lookup = sqlFn("SELECT name FROM customers WHERE id = $1");
  CHECK_FALSE(lookup.refusal);
  CHECK(lookup.orderRequirements.empty());
  // The tables a body writes, whose triggers run too.
  const auto audit = sqlFn("INSERT INTO audit(what) VALUES ($1); UPDATE totals SET n = n + 1");
  CHECK_FALSE(audit.refusal);
  REQUIRE(audit.writeTargets.size() == 2);
  CHECK(audit.writeTargets[0].name == "audit");
  CHECK(audit.writeTargets[1].name == "totals");
  // The tables it inserts into, with the columns given: the node checks their drawn DEFAULTs (SERIAL...).
  REQUIRE(audit.inserts.size() == 1);
  CHECK(audit.inserts[0].target.name == "audit");
  CHECK(audit.inserts[0].listed);
  CHECK(audit.inserts[0].given == std::vector<std::string>{"what"});
}

TEST_CASE("SQL-standard bodies (BEGIN ATOMIC, RETURN) are read from the definition", "[sql][closure]") {
  const std::string atomic = "CREATE OR REPLACE FUNCTION public.g()\n RETURNS timestamp with time zone\n LANGUAGE sql\n"
                             " IMMUTABLE\nBEGIN ATOMIC\n SELECT clock_timestamp() AS clock_timestamp;\nEND\n";
  const auto a = analyzeFunctionBody("sql", "", atomic);
  CHECK_FALSE(a.refusal);
  CHECK(calls(a, "clock_timestamp"));
  const std::string ret = "CREATE OR REPLACE FUNCTION public.g()\n RETURNS timestamp with time zone\n LANGUAGE sql\n"
                          " STABLE\nRETURN now()\n";
  CHECK(analyzeFunctionBody("sql", "", ret).refusal);
  const std::string harmless = "CREATE OR REPLACE FUNCTION public.g(a integer)\n RETURNS integer\n LANGUAGE sql\n"
                               " IMMUTABLE\nBEGIN ATOMIC\n SELECT (a * 2);\n INSERT INTO log (v) VALUES (a);\nEND\n";
  const auto h = analyzeFunctionBody("sql", "", harmless);
  CHECK_FALSE(h.refusal);
  REQUIRE(h.writeTargets.size() == 1);
  CHECK(h.writeTargets[0].name == "log");
}

TEST_CASE("PL/pgSQL bodies: every statement and expression is judged", "[sql][closure]") {
  // An assignment, a condition, a PERFORM, a statement, a loop's query, a variable's default.
  const auto clock = pl("BEGIN\n  RETURN extract(epoch FROM clock_timestamp())::int;\nEND");
  CHECK_FALSE(clock.refusal);
  CHECK(calls(clock, "clock_timestamp"));
  CHECK(pl("DECLARE t timestamptz := now();\nBEGIN\n  RETURN 1;\nEND").refusal);
  CHECK(pl("BEGIN\n  IF a > extract(hour FROM now()) THEN RETURN 1; END IF;\n  RETURN 0;\nEND").refusal);
  CHECK(pl("BEGIN\n  INSERT INTO log VALUES (CURRENT_TIMESTAMP);\n  RETURN 0;\nEND").refusal);
  const auto trig = pl("BEGIN\n  NEW.stamp := clock_timestamp();\n  RETURN NEW;\nEND", "trigger");
  CHECK_FALSE(trig.refusal);
  CHECK(calls(trig, "clock_timestamp"));
  CHECK(calls(pl("DECLARE r record;\nBEGIN\n  FOR r IN SELECT * FROM t WHERE v < timeofday()::timestamptz LOOP\n"
                 "  END LOOP;\n  RETURN 0;\nEND"),
              "timeofday"));
  CHECK(calls(pl("BEGIN\n  PERFORM pg_sleep(1);\n  RETURN 0;\nEND"), "pg_sleep"));
  CHECK(pl("DECLARE x float8;\nBEGIN\n  x := random();\n  RETURN x::int;\nEND").draws == "random()");
  CHECK(pl("DECLARE x int;\nBEGIN\n  SELECT id INTO x FROM t LIMIT 1;\n  RETURN x;\nEND").orderRequirements.size() ==
        1);
  // Harmless: arithmetic on the row, reads by key, writes to other tables.
  const auto total = pl("BEGIN\n  NEW.total := NEW.a + NEW.b;\n  RETURN NEW;\nEND", "trigger");
  CHECK_FALSE(total.refusal);
  CHECK(total.functions.empty());
  const auto audit = pl("DECLARE n int;\nBEGIN\n  SELECT count(*) INTO n FROM t WHERE id = a;\n"
                        "  INSERT INTO audit(v) VALUES (n + b);\n  n = n + 1;\n  RETURN n;\nEND");
  CHECK_FALSE(audit.refusal);
  REQUIRE(audit.writeTargets.size() == 1);
  CHECK(audit.writeTargets[0].name == "audit");
  CHECK(calls(audit, "count"));
}

TEST_CASE("PL/pgSQL FOR loops over a query and RETURN QUERY take rows in order: it must be total", "[sql][closure]") {
  const auto loop = pl("DECLARE r record; s text := '';\nBEGIN\n  FOR r IN SELECT v FROM t WHERE k = a LOOP\n"
                       "    s := s || r.v;\n  END LOOP;\n  INSERT INTO log VALUES (s);\n  RETURN 0;\nEND");
  REQUIRE(loop.orderRequirements.size() == 1);
  const auto& req = loop.orderRequirements[0];
  CHECK(req.what == "FOR ... IN query LOOP");
  REQUIRE(req.tables.size() == 1);
  CHECK(req.tables[0].name == "t");
  CHECK(req.columns.empty()); // no ORDER BY: the node refuses it, whatever t's keys
  CHECK_FALSE(req.why.empty());
  CHECK_FALSE(req.hint.empty());
  // Ordered by a key: the node checks the columns against t's unique keys.
  const auto ordered = pl("DECLARE r record;\nBEGIN\n  FOR r IN SELECT id, v FROM t ORDER BY id LOOP\n"
                          "    INSERT INTO log VALUES (r.v);\n  END LOOP;\n  RETURN 0;\nEND");
  REQUIRE(ordered.orderRequirements.size() == 1);
  CHECK(ordered.orderRequirements[0].columns == std::vector<std::pair<std::string, std::string>>{{"", "id"}});
  const auto returns = pl("BEGIN\n  RETURN QUERY SELECT id FROM t;\nEND", "SETOF integer");
  REQUIRE(returns.orderRequirements.size() == 1);
  CHECK(returns.orderRequirements[0].what == "RETURN QUERY");
  const auto unionLoop = pl("DECLARE r record;\nBEGIN\n  FOR r IN SELECT id FROM t UNION ALL SELECT id FROM u LOOP\n"
                            "  END LOOP;\n  RETURN 0;\nEND");
  REQUIRE(unionLoop.orderRequirements.size() == 1);
  CHECK(unionLoop.orderRequirements[0].unordered);
  // Rows that come in their own order: a function's, a VALUES list's, none at all; an integer loop has no query.
  CHECK(pl("DECLARE r record;\nBEGIN\n  FOR r IN SELECT * FROM generate_series(1, a) g LOOP\n  END LOOP;\n"
           "  RETURN 0;\nEND")
            .orderRequirements.empty());
  CHECK(pl("DECLARE i int;\nBEGIN\n  FOR i IN 1..a LOOP\n    INSERT INTO log VALUES (i);\n  END LOOP;\n"
           "  RETURN 0;\nEND")
            .orderRequirements.empty());
}

TEST_CASE("dynamic SQL, other languages and unreadable bodies are opaque", "[sql][closure]") {
  for (const char* body :
       {"BEGIN\n  EXECUTE 'INSERT INTO t VALUES (' || a || ')';\n  RETURN 0;\nEND",
        "DECLARE r record;\nBEGIN\n  FOR r IN EXECUTE 'SELECT 1' LOOP\n  END LOOP;\n  RETURN 0;\nEND",
        "BEGIN\n  IF a > 0 THEN\n    EXECUTE format('DELETE FROM %I', 't');\n  END IF;\n  RETURN 0;\nEND"}) {
    INFO(body);
    const auto b = pl(body);
    REQUIRE(b.refusal);
    CHECK(b.opaque);
    CHECK(b.refusal->message.find("EXECUTE") != std::string::npos);
    CHECK(b.refusal->hint.find("trust_function") != std::string::npos);
  }
  CHECK(pl("BEGIN\n  RETURN QUERY EXECUTE 'SELECT 1';\nEND", "SETOF integer").opaque);
  const auto py = analyzeFunctionBody("plpython3u", "return 1", "CREATE FUNCTION ...");
  CHECK(py.opaque);
  CHECK(py.refusal->message.find("plpython3u") != std::string::npos);
  CHECK(analyzeFunctionBody("plpgsql", "", "not a function").opaque);
  CHECK(analyzeFunctionBody("sql", "SELEC 1", "").opaque);
}

TEST_CASE("DO blocks are judged as the bodies they are", "[sql][closure]") {
  using kluster::sql::analyze;
  const auto clock = analyze("DO $$ BEGIN INSERT INTO t VALUES (clock_timestamp()); END $$");
  CHECK_FALSE(clock.nondeterministic); // clock_timestamp() is for the node to judge (volatile), as in a request
  CHECK(std::find(clock.functions.begin(), clock.functions.end(), "clock_timestamp") != clock.functions.end());
  REQUIRE(clock.writeTargets.size() == 1);
  CHECK(clock.writeTargets[0].name == "t");
  for (const char* sql :
       {"DO $$ BEGIN INSERT INTO t VALUES (now()); END $$", "DO $$ BEGIN EXECUTE 'DELETE FROM t'; END $$",
        "DO LANGUAGE plpgsql $body$ BEGIN UPDATE t SET v = random(); END $body$",
        "DO $$ BEGIN INSERT INTO t SELECT * FROM u TABLESAMPLE SYSTEM (5); END $$"}) {
    INFO(sql);
    const auto a = analyze(sql);
    REQUIRE(a.nondeterministic);
    CHECK(a.nondeterministic->message.rfind("in the DO block", 0) == 0);
  }
  const auto harmless = analyze("DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM t; INSERT INTO log VALUES "
                                "(n); END $$");
  CHECK_FALSE(harmless.nondeterministic);
  CHECK(analyze("DO $kluster_do$ BEGIN PERFORM 1; END $kluster_do$").nondeterministic == std::nullopt);
}
