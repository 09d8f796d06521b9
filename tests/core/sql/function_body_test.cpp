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

// The names of relations, sorted.
std::vector<std::string> names(const std::vector<kluster::sql::TableRef>& refs) {
  std::vector<std::string> out;
  for (const auto& r : refs) out.push_back(r.name);
  std::sort(out.begin(), out.end());
  return out;
}

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
  // LIMIT, and SELECT ... INTO keeping the first row.
  CHECK(pl("DECLARE x int;\nBEGIN\n  SELECT id INTO x FROM t LIMIT 1;\n  RETURN x;\nEND").orderRequirements.size() ==
        2);
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
  // A DO block's cursors are judged as a function's.
  const auto cursor = analyze("DO $$ DECLARE c CURSOR FOR SELECT v FROM t; BEGIN FOR r IN c LOOP INSERT INTO log "
                              "VALUES (r.v); END LOOP; END $$");
  CHECK_FALSE(cursor.nondeterministic);
  REQUIRE(cursor.orderRequirements.size() == 1);
  CHECK(cursor.orderRequirements[0].what == "a cursor's query");
  const auto harmless = analyze("DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM t; INSERT INTO log VALUES "
                                "(n); END $$");
  CHECK_FALSE(harmless.nondeterministic);
  CHECK(analyze("DO $kluster_do$ BEGIN PERFORM 1; END $kluster_do$").nondeterministic == std::nullopt);
}

TEST_CASE("PL/pgSQL cursors: their queries give rows in order, which must be total", "[sql][closure]") {
  // A bound cursor's query, read by FOR ... IN cursor or FETCH: libpg_query's PL/pgSQL parser cannot read cursor
  // statements, which are replaced before parsing (plpgsql_cursors.cpp), so the body is judged, not opaque.
  const auto bound = pl("DECLARE c CURSOR FOR SELECT v FROM t; s text := '';\nBEGIN\n  FOR r IN c LOOP\n"
                        "    s := s || r.v;\n  END LOOP;\n  INSERT INTO log VALUES (s);\n  RETURN 0;\nEND");
  CHECK_FALSE(bound.refusal);
  REQUIRE(bound.orderRequirements.size() == 1);
  CHECK(bound.orderRequirements[0].what == "a cursor's query");
  CHECK(bound.orderRequirements[0].columns.empty());
  REQUIRE(bound.writeTargets.size() == 1);
  CHECK(bound.writeTargets[0].name == "log");
  // OPEN ... FOR query, then FETCH, MOVE, CLOSE: the query is judged; ordered by a key, the node checks the key.
  const auto opened = pl("DECLARE c refcursor; x int;\nBEGIN\n  OPEN c FOR SELECT v FROM t ORDER BY id;\n"
                         "  MOVE NEXT FROM c;\n  FETCH c INTO x;\n  CLOSE c;\n  INSERT INTO log VALUES (x);\n"
                         "  RETURN x;\nEND");
  CHECK_FALSE(opened.refusal);
  REQUIRE(opened.orderRequirements.size() == 1);
  CHECK(opened.orderRequirements[0].what == "OPEN ... FOR query (a cursor's rows)");
  CHECK(opened.orderRequirements[0].columns == std::vector<std::pair<std::string, std::string>>{{"", "id"}});
  // What cursor statements run is judged: a bound cursor's arguments, a FETCH count.
  const auto args = pl("DECLARE c CURSOR (k timestamptz) FOR SELECT v FROM t WHERE at < k ORDER BY id;\nBEGIN\n"
                       "  FOR r IN c(clock_timestamp()) LOOP\n  END LOOP;\n  RETURN 0;\nEND");
  CHECK_FALSE(args.refusal);
  CHECK(calls(args, "clock_timestamp"));
  CHECK(pl("DECLARE c refcursor; x int;\nBEGIN\n  OPEN c FOR SELECT v FROM t ORDER BY id;\n"
           "  FETCH RELATIVE extract(hour FROM now())::int FROM c INTO x;\n  RETURN x;\nEND")
            .refusal);
  CHECK(pl("DECLARE c refcursor;\nBEGIN\n  OPEN c FOR SELECT now();\n  RETURN 0;\nEND").refusal);
  // Dynamic SQL, and a cursor the body does not declare (an argument's): opaque.
  CHECK(pl("DECLARE c refcursor;\nBEGIN\n  OPEN c FOR EXECUTE 'SELECT 1';\n  RETURN 0;\nEND").opaque);
  CHECK(pl("DECLARE x int;\nBEGIN\n  FETCH other INTO x;\n  RETURN x;\nEND").opaque);
  // Words that look like cursor statements inside queries are left alone.
  const auto fetchFirst = pl("DECLARE c refcursor; x int;\nBEGIN\n"
                             "  SELECT v INTO x FROM t ORDER BY id FETCH FIRST 1 ROWS ONLY;\n  RETURN x;\nEND");
  CHECK_FALSE(fetchFirst.refusal);
}

TEST_CASE("PL/pgSQL SELECT ... INTO keeps the first row: several rows need a total order", "[sql][closure]") {
  const auto first = [](const std::string& statement, const std::string& returns = "integer") {
    return pl("DECLARE x int;\nBEGIN\n  " + statement + "\n  RETURN x;\nEND", returns).orderRequirements;
  };
  const auto any = first("SELECT v INTO x FROM t;");
  REQUIRE(any.size() == 1);
  CHECK(any[0].what == "SELECT ... INTO");
  CHECK(any[0].columns.empty());
  CHECK(any[0].hint.find("STRICT") != std::string::npos);
  // A unique key equated with values (arguments, variables, NEW's fields, constants) is for the node to check.
  const auto byKey = first("SELECT v INTO x FROM t WHERE id = a AND k = 'x';");
  REQUIRE(byKey.size() == 1);
  CHECK(byKey[0].columns == std::vector<std::pair<std::string, std::string>>{{"", "id"}, {"", "k"}});
  const auto byNew = first("SELECT v INTO x FROM t WHERE t.id = NEW.id;", "trigger");
  REQUIRE(byNew.size() == 1);
  CHECK(byNew[0].columns == std::vector<std::pair<std::string, std::string>>{{"t", "id"}});
  // Compared with another column, or under OR: not constant over the rows found.
  CHECK(first("SELECT v INTO x FROM t WHERE id = other;")[0].columns.empty());
  CHECK(first("SELECT v INTO x FROM t WHERE id = a OR k = b;")[0].columns.empty());
  // One row whatever the table holds, STRICT, no table: nothing to check.
  CHECK(first("SELECT count(*) INTO x FROM t;").empty());
  CHECK(first("SELECT coalesce(max(v), 0) + 1 INTO x FROM t WHERE k = a;").empty());
  CHECK(first("SELECT v INTO STRICT x FROM t;").empty());
  CHECK(first("SELECT a + b INTO x;").empty());
  CHECK(first("INSERT INTO t (v) VALUES (a) RETURNING id INTO x;").empty()); // several rows: an error everywhere
  // Aggregates that still give several rows.
  CHECK(first("SELECT max(v) INTO x FROM t GROUP BY k;").size() == 1);
  const auto multiplied = first("SELECT unnest(array_agg(v)) INTO x FROM t;");
  CHECK(std::any_of(multiplied.begin(), multiplied.end(), [](const auto& r) { return r.what == "SELECT ... INTO"; }));
}

TEST_CASE("a view's query is judged as if written in the write's place", "[sql][closure]") {
  using kluster::sql::analyzeViewQuery;
  const auto limited = analyzeViewQuery(" SELECT t.id,\n    t.v\n   FROM t\n LIMIT 1;");
  CHECK_FALSE(limited.refusal);
  REQUIRE(limited.orderRequirements.size() == 1);
  CHECK(limited.orderRequirements[0].what == "LIMIT/OFFSET/FETCH FIRST");
  const auto now = analyzeViewQuery(" SELECT t.id FROM t WHERE t.at < now();");
  REQUIRE(now.refusal);
  CHECK(now.refusal->message.find("inside a view") != std::string::npos);
  CHECK(analyzeViewQuery(" SELECT t.id, random() AS r FROM t;").refusal);  // per row, in each node's order
  CHECK(analyzeViewQuery(" SELECT nextval('s'::regclass) AS n;").refusal); // drawn each time a plan reads it
  CHECK(analyzeViewQuery(" SELECT gen_random_uuid() AS u;").refusal);      // each node's own random source
  CHECK(analyzeViewQuery(" SELECT t.ctid FROM t;").refusal);               // a system column
  CHECK(analyzeViewQuery(" SELECT string_agg(t.v, ',') AS s FROM t;").orderRequirements.size() == 1);
  // Functions it calls, for the node to judge; relations it reads, views among them in turn.
  const auto joined = analyzeViewQuery(" SELECT a.id, clock_timestamp() AS c FROM (v2 a JOIN t ON ((t.id = a.id)));");
  CHECK_FALSE(joined.refusal);
  CHECK(calls(joined, "clock_timestamp"));
  CHECK(names(joined.reads) == std::vector<std::string>{"t", "v2"});
  // Order-sensitive aggregates without an order of their own: the node refuses them when the catalog says the types
  // make the order matter.
  CHECK(analyzeViewQuery(" SELECT sum(t.f) AS s FROM t;").ordersAggregates);
  CHECK_FALSE(analyzeViewQuery(" SELECT sum(t.f ORDER BY ((t.f)::text)) AS s FROM t;").ordersAggregates);
  CHECK(analyzeViewQuery("not a query").refusal);
}

TEST_CASE("a rule's condition and actions are judged as a trigger's body", "[sql][closure]") {
  using kluster::sql::analyzeRule;
  const auto audit = analyzeRule("CREATE RULE r AS\n    ON INSERT TO public.t DO  INSERT INTO log (id)\n  VALUES "
                                 "(new.id);");
  CHECK_FALSE(audit.refusal);
  REQUIRE(audit.writeTargets.size() == 1);
  CHECK(audit.writeTargets[0].name == "log");
  REQUIRE(audit.inserts.size() == 1); // the node checks log's drawn DEFAULTs (a bigserial key)
  CHECK(audit.inserts[0].given == std::vector<std::string>{"id"});
  CHECK(analyzeRule("CREATE RULE r AS ON INSERT TO public.t DO INSERT INTO log (id, n) VALUES (new.id, "
                    "nextval('s'::regclass));")
            .draws == "nextval()");
  CHECK(analyzeRule("CREATE RULE r AS ON INSERT TO public.t DO INSERT INTO log (at) VALUES (now());").refusal);
  const auto when = analyzeRule("CREATE RULE r AS ON UPDATE TO public.t WHERE (new.at < clock_timestamp()) DO "
                                "INSTEAD NOTHING;");
  CHECK_FALSE(when.refusal);
  CHECK(calls(when, "clock_timestamp"));
  // An UPDATE action takes NEW/OLD from whichever changed row its join meets first.
  const auto copy = analyzeRule("CREATE RULE r AS ON UPDATE TO public.t DO  UPDATE totals SET v = new.v\n  WHERE "
                                "(totals.k = new.k);");
  REQUIRE(copy.refusal);
  CHECK(copy.refusal->message.find("NEW or OLD") != std::string::npos);
  CHECK_FALSE(analyzeRule("CREATE RULE r AS ON UPDATE TO public.t DO  UPDATE totals SET n = (totals.n + 1)\n  WHERE "
                          "(totals.k = new.k);")
                  .refusal);
  const auto limited =
      analyzeRule("CREATE RULE r AS ON INSERT TO public.t DO INSERT INTO log SELECT id FROM u LIMIT 1;");
  CHECK(std::any_of(limited.orderRequirements.begin(), limited.orderRequirements.end(),
                    [](const auto& r) { return r.what == "LIMIT/OFFSET/FETCH FIRST"; }));
  CHECK(analyzeRule("SELECT 1").refusal);
}

TEST_CASE("the relations a write reads and the materialized views it refreshes", "[sql][closure]") {
  using kluster::sql::analyze;
  const auto insert = analyze("INSERT INTO x SELECT * FROM v WHERE id IN (SELECT id FROM w)");
  CHECK(names(insert.reads) == std::vector<std::string>{"v", "w"});
  CHECK(analyze("WITH c AS (SELECT 1 AS id) INSERT INTO x SELECT id FROM c").reads.empty());
  const auto update = analyze("UPDATE t SET v = s.v FROM public.s WHERE s.id = t.id");
  REQUIRE(update.reads.size() == 1);
  CHECK(update.reads[0].schema == "public");
  CHECK(names(analyze("MERGE INTO t USING v ON t.id = v.id WHEN MATCHED THEN DELETE").reads) ==
        std::vector<std::string>{"v"});
  CHECK(analyze("SELECT * FROM v").reads.empty()); // a read writes nothing
  const auto refresh = analyze("REFRESH MATERIALIZED VIEW mv");
  REQUIRE(refresh.refreshes.size() == 1);
  CHECK(refresh.refreshes[0].name == "mv");
}
