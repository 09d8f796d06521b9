// Determinism by closure (issue 26): what a write runs besides function bodies and triggers. The queries of the views
// it reads (in FROM, a subquery, a CTE, UPDATE ... FROM, views over views), refreshes (REFRESH MATERIALIZED VIEW) or
// writes through (the triggers of the tables under an auto-updatable view); the rules (CREATE RULE) of the tables it
// writes; PL/pgSQL cursors and SELECT ... INTO, whose rows come in order. Each hazard is first run by hand on two
// nodes' own databases, where it gives different results (node 2 stores its rows in another physical order); through
// ALL it is refused by every node with NONDETERMINISTIC and a hint, and its deterministic form is applied with
// identical data everywhere (node 3 has another default for every setting).
#include "determinism_support.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <string>
#include <vector>

using namespace kluster;
using namespace kluster::test;
using namespace kluster::test::determinism;

namespace {

// `write` (run by hand, rolled back) leaves `read` different on nodes 1 and 2: the hazard is real.
void differsByHand(const TestCluster& cluster, const std::string& write, const std::string& read) {
  INFO(write << "; " << read);
  const auto one = byHand(cluster, 1, write, read), two = byHand(cluster, 2, write, read);
  CHECK(one.rfind("got:", 0) == 0);
  CHECK(two.rfind("got:", 0) == 0);
  CHECK(one != two);
}

} // namespace

TEST_CASE("views, rules and PL/pgSQL cursors a write runs are judged: hazards refused everywhere, their "
          "deterministic forms applied alike",
          "[determinism][closure][views]") {
  ClusterOptions options;
  options.start = false;
  TestCluster cluster(options);
  startWithUnusualSettings(cluster, 3);

  for (const char* sql : {
           "CREATE TABLE src (id int PRIMARY KEY, k int NOT NULL, v text NOT NULL)", // 10 rows per k
           "INSERT INTO src SELECT g, g % 20, 'v' || g FROM generate_series(1, 200) g",
           "CREATE TABLE rsrc (id int PRIMARY KEY, k int NOT NULL, v text NOT NULL)", // src's rows, with rules
           "INSERT INTO rsrc SELECT id, k, v FROM src ORDER BY id",
           "CREATE TABLE dst (k int PRIMARY KEY, v text)",
           "INSERT INTO dst SELECT g, 'd' || g FROM generate_series(0, 19) g",
           "CREATE TABLE sink (tag text NOT NULL, v text)",
           // 1e16 + -1e16 + 1 = 1, but -1e16 + 1 + 1e16 = 0 (1e16 is past 2^53); 1.5 = 1.50 print apart.
           "CREATE TABLE floats (id int PRIMARY KEY, f float8 NOT NULL, n numeric NOT NULL)",
           "INSERT INTO floats VALUES (1, 1e16, 1.5), (2, -1e16, 1.50), (3, 1, 1.500)",
       })
    allOk(cluster, sql);
  // Node 2 rewrites a third of its rows (they move to the end of the heap) and compacts; the data is unchanged.
  for (const char* table : {"src", "rsrc"}) {
    cluster.query(2, fmt::format("UPDATE {} SET id = id WHERE id % 3 = 0", table));
    cluster.query(2, fmt::format("VACUUM FULL {}", table));
  }
  cluster.query(2, "UPDATE floats SET id = id WHERE id = 1");

  // 1. Views read by a write: judged as if their query were written in its place.
  for (const char* sql : {
           "CREATE VIEW v_first AS SELECT v FROM src WHERE k = 3 LIMIT 3",
           "CREATE VIEW v_first_ordered AS SELECT v FROM src WHERE k = 3 ORDER BY id LIMIT 3",
           "CREATE VIEW v_over AS SELECT v FROM v_first", // a view over a view
           "CREATE FUNCTION h_val(x int) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT 'h' || x$$",
           "CREATE VIEW v_called AS SELECT id, h_val(id) AS h FROM src",
           // Replaced: it reads the clock whatever it declares (a view calling it from the start is refused when
           // created).
           "CREATE OR REPLACE FUNCTION h_val(x int) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT x || "
           "clock_timestamp()::text$$",
           "CREATE VIEW v_sum AS SELECT sum(f) AS s, max(n) AS m FROM floats",
           "CREATE VIEW v_sum_ordered AS SELECT sum(f ORDER BY f::text) AS s, max(n ORDER BY n::text) AS m FROM floats",
           "CREATE VIEW v_int_sum AS SELECT k, sum(id) AS s FROM src GROUP BY k",
       })
    allOk(cluster, sql);
  differsByHand(cluster, "INSERT INTO sink SELECT 'view', v FROM v_first",
                "SELECT string_agg(v, ',' ORDER BY v) FROM sink");
  differsByHand(cluster, "INSERT INTO sink SELECT 'view-sum', s::text || '/' || m::text FROM v_sum",
                "SELECT string_agg(v, ',') FROM sink");
  refusedWith(cluster, "INSERT INTO sink SELECT 'view', v FROM v_first", "view v_first, read by this write: LIMIT");
  refusedWith(cluster, "INSERT INTO sink SELECT 'over', v FROM v_over", "view v_first (used by view v_over)");
  refusedWith(cluster, "INSERT INTO sink SELECT 'sub', v FROM src WHERE v IN (SELECT v FROM v_first)", "v_first");
  refusedWith(cluster, "WITH c AS (SELECT v FROM v_first) INSERT INTO sink SELECT 'cte', v FROM c", "v_first");
  refusedWith(cluster, "UPDATE dst SET v = x.v FROM (SELECT min(v) AS v FROM v_over) x WHERE dst.k = 1", "v_first");
  refusedWith(cluster, "INSERT INTO sink SELECT 'called', h FROM v_called WHERE id = 1",
              "(called by view v_called), run by this write, calls clock_timestamp()");
  refusedWith(cluster, "INSERT INTO sink SELECT 'view-sum', s::text || '/' || m::text FROM v_sum",
              "view v_sum, read by this write");
  expectEverywhere(cluster, "INSERT INTO sink SELECT 'view-ordered', v FROM v_first_ordered", "OK");
  expectEverywhere(cluster, "INSERT INTO sink SELECT 'view-sum-ordered', s::text || '/' || m::text FROM v_sum_ordered",
                   "OK");
  expectEverywhere(cluster, "INSERT INTO sink SELECT 'view-int-sum', s::text FROM v_int_sum WHERE k = 3", "OK");
  CHECK(cluster.scalar(1, "SELECT v FROM sink WHERE tag = 'view-sum-ordered'").rfind("0/", 0) == 0);

  // 2. REFRESH MATERIALIZED VIEW runs the view's query.
  allOk(cluster, "CREATE VIEW v_mv AS SELECT v FROM src WHERE k = 3 ORDER BY id LIMIT 3");
  allOk(cluster, "CREATE MATERIALIZED VIEW mv AS SELECT v FROM v_mv WITH NO DATA");
  allOk(cluster, "CREATE OR REPLACE VIEW v_mv AS SELECT v FROM src WHERE k = 3 LIMIT 3");
  differsByHand(cluster, "REFRESH MATERIALIZED VIEW mv", "SELECT string_agg(v, ',' ORDER BY v) FROM mv");
  refusedWith(cluster, "REFRESH MATERIALIZED VIEW mv", "view v_mv (used by materialized view mv)");
  allOk(cluster, "CREATE OR REPLACE VIEW v_mv AS SELECT v FROM src WHERE k = 3 ORDER BY id LIMIT 3");
  expectEverywhere(cluster, "REFRESH MATERIALIZED VIEW mv", "OK");
  expectEverywhere(cluster, "INSERT INTO sink SELECT 'mv', v FROM mv", "OK"); // its stored rows: nothing runs

  // 3. A write into an auto-updatable view runs the triggers of the table under it.
  for (const char* sql : {
           "CREATE TABLE stamped (id int PRIMARY KEY, at text)",
           "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.at := timeofday(); RETURN NEW; "
           "END $$",
           "CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON stamped FOR EACH ROW EXECUTE FUNCTION stamp()",
           "CREATE VIEW stamped_view AS SELECT id, at FROM stamped",
           "CREATE VIEW dst_view AS SELECT k, v FROM dst WHERE k < 100",
       })
    allOk(cluster, sql);
  refusedWith(cluster, "INSERT INTO stamped_view (id) VALUES (1)",
              "of table stamped (table written by view stamped_view)");
  expectEverywhere(cluster, "UPDATE dst_view SET v = 'through' WHERE k = 2", "OK");

  // 4. Rules: an ALSO INSERT into a table with a bigserial key numbers the changed rows in scan order; an UPDATE action
  // copying NEW's values keeps whichever changed row its join meets first.
  for (const char* sql : {
           "CREATE TABLE rule_log (n bigserial PRIMARY KEY, id int)",
           "CREATE RULE log_rsrc AS ON UPDATE TO rsrc DO ALSO INSERT INTO rule_log (id) VALUES (new.id)",
       })
    allOk(cluster, sql);
  differsByHand(cluster, "UPDATE rsrc SET v = v || '+' WHERE k = 3",
                "SELECT string_agg(n || '=' || id, ',' ORDER BY n) FROM rule_log");
  refusedWith(cluster, "UPDATE rsrc SET v = v || '+' WHERE k = 3",
              "rule log_rsrc on public.rsrc, run by this write for each row it reads, draws a value per call with "
              "the DEFAULT of rule_log.n");
  // Rows in the request's own order draw alike (and an ON UPDATE rule does not run for an INSERT).
  expectEverywhere(cluster, "INSERT INTO rsrc VALUES (1000, 50, 'new')", "OK");
  allOk(cluster, "CREATE TABLE rule_log2 (id int, v text)");
  allOk(cluster, "CREATE OR REPLACE RULE log_rsrc AS ON UPDATE TO rsrc DO ALSO INSERT INTO rule_log2 VALUES (new.id, "
                 "new.v)");
  expectEverywhere(cluster, "UPDATE rsrc SET v = v || '+' WHERE k = 3", "OK");
  allOk(cluster, "DROP RULE log_rsrc ON rsrc");
  allOk(cluster, "CREATE RULE copy_v AS ON UPDATE TO rsrc DO ALSO UPDATE dst SET v = new.v WHERE dst.k = new.k");
  differsByHand(cluster, "UPDATE rsrc SET v = v || '!' WHERE k = 3", "SELECT v FROM dst WHERE k = 3");
  refusedWith(cluster, "UPDATE rsrc SET v = v || '!' WHERE k = 3",
              "rule copy_v on public.rsrc, run by this write: an "
              "UPDATE in a rule runs joined");
  allOk(cluster, "CREATE OR REPLACE RULE copy_v AS ON UPDATE TO rsrc DO ALSO UPDATE dst SET v = (SELECT max(r.v) FROM "
                 "rsrc r WHERE r.k = dst.k) WHERE dst.k = new.k");
  expectEverywhere(cluster, "UPDATE rsrc SET v = v || '!' WHERE k = 3", "OK");

  // 5. PL/pgSQL cursors and SELECT ... INTO: the rows come in each node's own order unless the query's ORDER BY
  // covers a unique key, or the query finds one row at most.
  for (const char* sql : {
           "CREATE FUNCTION c_loop(key int) RETURNS text LANGUAGE plpgsql STABLE AS $$ DECLARE c CURSOR FOR SELECT v "
           "FROM src WHERE k = key; s text := ''; BEGIN FOR r IN c LOOP s := s || r.v; END LOOP; RETURN s; END $$",
           "CREATE FUNCTION c_loop_ordered(key int) RETURNS text LANGUAGE plpgsql STABLE AS $$ DECLARE c CURSOR FOR "
           "SELECT v FROM src WHERE k = key ORDER BY id; s text := ''; BEGIN FOR r IN c LOOP s := s || r.v; END LOOP; "
           "RETURN s; END $$",
           "CREATE FUNCTION c_fetch(key int) RETURNS text LANGUAGE plpgsql STABLE AS $$ DECLARE c refcursor; x text; "
           "BEGIN OPEN c FOR SELECT v FROM src WHERE k = key; FETCH c INTO x; CLOSE c; RETURN x; END $$",
           "CREATE FUNCTION c_fetch_ordered(key int) RETURNS text LANGUAGE plpgsql STABLE AS $$ DECLARE c refcursor; x "
           "text; BEGIN OPEN c FOR SELECT v FROM src WHERE k = key ORDER BY id DESC; FETCH c INTO x; CLOSE c; RETURN "
           "x; END $$",
           "CREATE FUNCTION c_into(key int) RETURNS text LANGUAGE plpgsql STABLE AS $$ DECLARE x text; BEGIN SELECT v "
           "INTO x FROM src WHERE k = key; RETURN x; END $$",
           "CREATE FUNCTION c_into_key(key int) RETURNS text LANGUAGE plpgsql STABLE AS $$ DECLARE x text; BEGIN "
           "SELECT v INTO x FROM src WHERE id = key; RETURN x; END $$",
           "CREATE FUNCTION c_into_count(key int) RETURNS text LANGUAGE plpgsql STABLE AS $$ DECLARE n int; BEGIN "
           "SELECT count(*) INTO n FROM src WHERE k = key; RETURN n::text; END $$",
           "CREATE FUNCTION c_into_strict(key int) RETURNS text LANGUAGE plpgsql STABLE AS $$ DECLARE x text; BEGIN "
           "SELECT v INTO STRICT x FROM src WHERE k = key; RETURN x; END $$",
       })
    allOk(cluster, sql);
  for (const char* call : {"c_loop(3)", "c_fetch(3)", "c_into(3)"}) {
    INFO(call);
    CHECK(cluster.scalar(1, std::string("SELECT ") + call) != cluster.scalar(2, std::string("SELECT ") + call));
  }
  refusedWith(cluster, "INSERT INTO sink VALUES ('c_loop', c_loop(3))", "a cursor's query");
  refusedWith(cluster, "INSERT INTO sink VALUES ('c_fetch', c_fetch(3))", "OPEN ... FOR query");
  refusedWith(cluster, "INSERT INTO sink VALUES ('c_into', c_into(3))", "SELECT ... INTO");
  for (const char* call : {"c_loop_ordered(3)", "c_fetch_ordered(3)", "c_into_key(3)", "c_into_count(3)"})
    expectEverywhere(cluster, fmt::format("INSERT INTO sink VALUES ('{}', {})", call, call), "OK");
  failsEverywhere(cluster, "INSERT INTO sink VALUES ('c_into_strict', c_into_strict(3))", "P0003"); // too many rows
  CHECK(cluster.scalar(1, "SELECT v FROM sink WHERE tag = 'c_fetch_ordered(3)'") == "v183");

  identicalEverywhere(cluster, {{"sink", "tag, v"},
                                {"dst", "k"},
                                {"rsrc", "id"},
                                {"rule_log", "n"},
                                {"rule_log2", "id, v"},
                                {"mv", "v"},
                                {"stamped", "id"}});
  CHECK(cluster.scalar(1, "SELECT count(*) FROM rule_log") == "0");
  CHECK(cluster.scalar(1, "SELECT count(*) FROM rule_log2") == "10");
}
