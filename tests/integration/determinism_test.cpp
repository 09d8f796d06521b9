// Determinism (issue 10): on a cluster where one node's database has other default settings and another
// stores its rows in another physical order, every hazardous statement is either refused by every node with
// NONDETERMINISTIC or applied with identical data everywhere.
#include "determinism_support.hpp"

#include "core/db/adapter.hpp"
#include "core/db/postgres/pg_settings.hpp"
#include "core/db/postgres/pg_tools.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <random>
#include <thread>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;
using namespace kluster::test::determinism;

TEST_CASE("a node whose database has other default settings stores and answers exactly what the others do",
          "[determinism][settings]") {
  ClusterOptions options;
  options.start = false;
  TestCluster cluster(options);
  startWithUnusualSettings(cluster, 2);
  REQUIRE(cluster.scalar(2, "SHOW TimeZone") == "Pacific/Chatham"); // the setting is in force on node2's server

  allOk(cluster, "CREATE TABLE sink (tag text, v text)");
  allOk(cluster, "CREATE TABLE typed (id int PRIMARY KEY, at timestamptz, d date, iv interval, f float8, b bytea)");
  allOk(cluster, "INSERT INTO typed VALUES (1, '2026-03-04 05:06:07', '03/04/2026', '1 day 02:03:04', 0.1, '\\x0102')");
  for (const char* sql : {
           "INSERT INTO sink VALUES ('now', now()::text)",
           "INSERT INTO sink VALUES ('timestamptz', timestamptz '2026-03-04 05:06:07'::text)",
           "INSERT INTO sink VALUES ('date', '03/04/2026'::date::text)",
           "INSERT INTO sink VALUES ('interval', interval '1 day 02:03:04'::text)",
           "INSERT INTO sink VALUES ('float', (0.1::float8 + 0.2)::text)",
           "INSERT INTO sink VALUES ('bytea', '\\x0102'::bytea::text)",
           "INSERT INTO sink VALUES ('tsvector', to_tsvector('The quick foxes are running')::text)",
           "INSERT INTO sink VALUES ('to_char', to_char(timestamptz '2026-05-06 07:08:09+00', 'Day DD Mon HH24:MI "
           "TZ'))",
           "INSERT INTO sink VALUES ('null-equals', (NULL::int = NULL)::text)",
           "INSERT INTO sink SELECT 'typed', t::text FROM typed t",
           "INSERT INTO sink VALUES ('quote_all_identifiers', format('%I', 'typed') || quote_ident('sink'))",
           "INSERT INTO sink VALUES ('backslash_quote', E'it\\'s')",
       }) {
    allOk(cluster, sql);
  }
  // Everything went to public.sink, not node2's shadow.sink.
  CHECK(cluster.scalar(2, "SELECT count(*) FROM shadow.sink") == "0");
  const auto reference = checksum(cluster, 1, "sink", "tag, v");
  CHECK(reference.rfind("12:", 0) == 0); // the twelve INSERTs above

  // session_replication_role = replica would turn triggers and foreign keys' actions off on node2.
  allOk(cluster, "CREATE TABLE parent (id int PRIMARY KEY, changes int NOT NULL DEFAULT 0)");
  allOk(cluster, "CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent ON DELETE CASCADE)");
  allOk(cluster, "CREATE FUNCTION count_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "NEW.changes := OLD.changes + 1; RETURN NEW; END $$");
  allOk(cluster, "CREATE TRIGGER count_change BEFORE UPDATE ON parent FOR EACH ROW EXECUTE FUNCTION count_change()");
  allOk(cluster, "INSERT INTO parent (id) VALUES (1), (2); INSERT INTO child VALUES (10, 1), (20, 2)");
  allOk(cluster, "UPDATE parent SET changes = changes");
  allOk(cluster, "DELETE FROM parent WHERE id = 1");
  expectEverywhere(cluster, "INSERT INTO child VALUES (30, 3)", "CONSTRAINT_VIOLATION");
  // check_function_bodies = off would accept on node2 what the others refuse.
  {
    auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json",
                           "CREATE FUNCTION broken() RETURNS int LANGUAGE sql AS 'SELECT no_such_column FROM typed'"});
    INFO(r.out << r.err);
    const auto responses = parseJson(r.out);
    REQUIRE(responses.size() == 3);
    for (const auto& response : responses) CHECK(response["sqlState"] == "42703");
  }
  for (int i = 2; i <= 3; ++i) {
    CHECK(checksum(cluster, i, "sink", "tag, v") == reference);
    CHECK(checksum(cluster, i, "typed", "id") == checksum(cluster, 1, "typed", "id"));
    CHECK(checksum(cluster, i, "parent", "id") == checksum(cluster, 1, "parent", "id"));
    CHECK(checksum(cluster, i, "child", "id") == checksum(cluster, 1, "child", "id"));
  }
  // A read on ALL gets the same answer from every node (exit 4 would be a divergence).
  allOk(cluster, "SELECT at, d, iv, f, b, at::text AS t, to_char(at, 'TZ') AS zone FROM typed");
  allOk(cluster, "SELECT tag, v FROM sink ORDER BY tag, v");
}

TEST_CASE("hazardous statements are refused everywhere or leave identical data, whatever each node's row order and "
          "settings",
          "[determinism][acceptance]") {
  ClusterOptions options;
  options.start = false;
  TestCluster cluster(options);
  startWithUnusualSettings(cluster, 3);

  allOk(cluster, "CREATE TABLE items (id int PRIMARY KEY, grp int NOT NULL, name text NOT NULL, price numeric NOT "
                 "NULL, UNIQUE (grp, name))");
  allOk(cluster, "INSERT INTO items SELECT g, g % 7, 'item' || g, g * 1.5 FROM generate_series(1, 200) g");
  allOk(cluster, "CREATE TABLE sink (tag text NOT NULL, v text)");
  // Node2 rewrites a third of its rows (they move to the end of the heap) and compacts; the data is unchanged.
  cluster.query(2, "UPDATE items SET name = name WHERE id % 3 = 0");
  cluster.query(2, "VACUUM FULL items");
  const std::string firstRows = "SELECT string_agg(id::text, ',') FROM (SELECT id FROM items LIMIT 20) s";
  REQUIRE(cluster.scalar(1, firstRows) != cluster.scalar(2, firstRows)); // the hazard is real
  REQUIRE(checksum(cluster, 1, "items", "id") == checksum(cluster, 2, "items", "id"));

  const std::string refused = "NONDETERMINISTIC", ok = "OK";
  const std::vector<std::pair<std::string, std::string>> statements = {
      // Row order: LIMIT / OFFSET / FETCH FIRST / DISTINCT ON.
      {"INSERT INTO sink SELECT 'limit', name FROM items LIMIT 5", refused},
      {"INSERT INTO sink SELECT 'limit-ordered', name FROM items ORDER BY id LIMIT 5", ok},
      {"INSERT INTO sink SELECT 'offset', name FROM items ORDER BY grp OFFSET 190", refused},
      {"INSERT INTO sink SELECT 'offset-ordered', name FROM items ORDER BY grp, name OFFSET 190", ok},
      {"INSERT INTO sink SELECT 'fetch', name FROM items FETCH FIRST 3 ROWS ONLY", refused},
      {"INSERT INTO sink SELECT 'ties', name FROM items ORDER BY grp FETCH FIRST 3 ROWS WITH TIES", ok},
      {"INSERT INTO sink SELECT DISTINCT ON (grp) 'distinct-on', name FROM items", refused},
      {"INSERT INTO sink SELECT DISTINCT ON (grp) 'distinct-on', name FROM items ORDER BY grp", refused},
      {"INSERT INTO sink SELECT DISTINCT ON (grp) 'distinct-on-ordered', name FROM items ORDER BY grp, id", ok},
      {"DELETE FROM items WHERE id IN (SELECT id FROM items WHERE grp = 3 LIMIT 2)", refused},
      {"DELETE FROM items WHERE id IN (SELECT id FROM items WHERE grp = 3 ORDER BY id LIMIT 2)", ok},
      {"UPDATE items SET price = price + 1 WHERE id = (SELECT id FROM items WHERE grp = 4 LIMIT 1)", refused},
      {"CREATE TABLE snapshot AS SELECT id, name FROM items LIMIT 10", refused},
      {"CREATE TABLE snapshot2 AS SELECT id, name FROM items ORDER BY id LIMIT 10", ok},
      {"INSERT INTO sink SELECT 'subquery', name FROM (SELECT name, grp FROM items) s ORDER BY grp LIMIT 3", refused},
      {"WITH gone AS (DELETE FROM items WHERE id IN (SELECT id FROM items LIMIT 3) RETURNING name) "
       "INSERT INTO sink SELECT 'cte', name FROM gone",
       refused},
      {"INSERT INTO sink SELECT 'join', i.name FROM items i JOIN items j ON j.id = i.id + 1 ORDER BY i.id, j.id LIMIT "
       "4",
       ok},
      // Window functions and order-sensitive aggregates.
      {"INSERT INTO sink SELECT 'row_number', name || row_number() OVER () FROM items", refused},
      {"INSERT INTO sink SELECT 'row_number', name || row_number() OVER (ORDER BY grp) FROM items", refused},
      {"INSERT INTO sink SELECT 'row_number-ordered', name || row_number() OVER (ORDER BY grp, name) FROM items", ok},
      {"INSERT INTO sink SELECT 'lag', lag(name) OVER (PARTITION BY grp ORDER BY price) FROM items", refused},
      {"INSERT INTO sink SELECT 'rank', name || rank() OVER (ORDER BY grp) FROM items", ok},
      {"INSERT INTO sink SELECT 'string_agg', string_agg(name, ',') FROM items", refused},
      {"INSERT INTO sink SELECT 'string_agg-ordered', string_agg(name, ',' ORDER BY id) FROM items", ok},
      {"INSERT INTO sink SELECT 'array_agg', array_agg(name)::text FROM items GROUP BY grp", refused},
      {"INSERT INTO sink SELECT 'json_agg', json_agg(name ORDER BY grp)::text FROM items", refused},
      {"INSERT INTO sink SELECT 'jsonb_agg', jsonb_agg(name ORDER BY grp, name)::text FROM items", ok},
      // random() per scanned row, and over the request's own rows.
      {"UPDATE items SET price = random() WHERE grp = 5", refused},
      {"INSERT INTO sink SELECT 'random-scan', random()::text FROM items WHERE grp = 1", refused},
      {"INSERT INTO sink VALUES ('random-values', random()::text), ('random-values', random()::text)", ok},
      {"INSERT INTO sink SELECT 'random-series', random()::text FROM generate_series(1, 5)", ok},
      // System columns, object ids, catalogs and statistics.
      {"INSERT INTO sink SELECT 'ctid', ctid::text FROM items WHERE id = 1", refused},
      {"INSERT INTO sink SELECT 'xmin', xmin::text FROM items WHERE id = 1", refused},
      {"INSERT INTO sink SELECT 'tableoid', tableoid::text FROM items WHERE id = 1", refused},
      {"INSERT INTO sink VALUES ('regclass', 'items'::regclass::oid::text)", refused},
      {"INSERT INTO sink SELECT 'pg_class', relpages::text FROM pg_class WHERE relname = 'items'", refused},
      {"INSERT INTO sink SELECT 'stats', n_tup_upd::text FROM pg_stat_user_tables WHERE relname = 'items'", refused},
      {"INSERT INTO sink SELECT 'to_regclass', to_regclass('items')::text", refused},
      // The backend, the server, the transaction.
      {"INSERT INTO sink VALUES ('txid', txid_current()::text)", refused},
      {"INSERT INTO sink VALUES ('pid', pg_backend_pid()::text)", refused},
      {"INSERT INTO sink VALUES ('port', inet_server_port()::text)", refused},
      {"INSERT INTO sink VALUES ('start', pg_postmaster_start_time()::text)", refused},
      {"INSERT INTO sink VALUES ('wal', pg_current_wal_lsn()::text)", refused},
      {"INSERT INTO sink VALUES ('db', current_database())", refused},
      {"INSERT INTO sink VALUES ('user', current_user)", refused},
      {"INSERT INTO sink VALUES ('version', version())", refused},
      {"INSERT INTO sink VALUES ('age', age(timestamp '2020-01-01')::text)", refused},
      {"INSERT INTO sink VALUES ('clock', clock_timestamp()::text)", refused},
      {"INSERT INTO sink VALUES ('uuid', gen_random_uuid()::text)", ok},
      {"INSERT INTO sink SELECT 'uuid-scan', gen_random_uuid()::text FROM items", refused},
      {"INSERT INTO sink SELECT 'uuid-scan', gen_random_uuid()::text FROM items ORDER BY id", ok},
      {"UPDATE items SET name = gen_random_uuid()::text WHERE grp = 2", refused},
      {"ALTER TABLE items ADD COLUMN u uuid DEFAULT gen_random_uuid()", refused},
      {"ALTER TABLE items ADD COLUMN n serial", refused},
      {"ALTER TABLE items ADD COLUMN r float8 DEFAULT random()", refused},
      {"INSERT INTO sink SELECT 'xml', table_to_xml('items', false, false, '')::text", refused},
      // Settings: unpinned ones are refused, pinned ones read alike.
      {"INSERT INTO sink VALUES ('setting', current_setting('port'))", refused},
      {"INSERT INTO sink VALUES ('setting', current_setting('statement_timeout'))", refused},
      {"INSERT INTO sink VALUES ('setting-pinned', current_setting('TimeZone') || current_setting('DateStyle'))", ok},
      {"SET TimeZone = 'Asia/Tokyo'", refused},
      {"SELECT set_config('TimeZone', 'Asia/Tokyo', false)", refused},
      {"SET LOCAL TimeZone = 'Asia/Tokyo'; INSERT INTO sink VALUES ('set-local', now()::text)", ok},
      // A timeout would fail the write on a slower node only (or, met everywhere, retry forever): refused.
      {"SET LOCAL statement_timeout = '1ms'; INSERT INTO sink SELECT 'slow', g::text FROM generate_series(1, 300000) g",
       refused},
      {"SET LOCAL lock_timeout = '1ms'; UPDATE items SET price = price + 1 WHERE id = 1", refused},
      {"CREATE FUNCTION bounded() RETURNS int LANGUAGE sql SET statement_timeout = '1ms' AS 'SELECT 1'", refused},
      {"INSERT INTO sink VALUES ('now', now()::text)", ok},
      {"INSERT INTO sink VALUES ('date', '03/04/2026'::date::text)", ok},
      {"INSERT INTO sink VALUES ('interval', interval '1 day 02:00'::text)", ok},
      {"INSERT INTO sink VALUES ('float', (0.1::float8 + 0.2)::text)", ok},
      {"INSERT INTO sink VALUES ('tsvector', to_tsvector('The quick foxes are running')::text)", ok},
      {"UPDATE items SET price = price * 2 WHERE grp = 6", ok},
      // A unique key updated row by row (found by the random differential test): refused unless one row.
      {"UPDATE items SET id = id + 1 WHERE id > 190", refused},
      {"UPDATE items SET name = name || '!' WHERE grp = 5", refused},
      {"UPDATE items SET id = 1200 WHERE id = 200", ok},
      {"UPDATE items SET name = 'renamed' WHERE grp = 1 AND name = 'item1'", ok},
  };
  REQUIRE(statements.size() >= 40);
  int refusals = 0;
  for (const auto& [sql, code] : statements) {
    expectEverywhere(cluster, sql, code);
    refusals += code == refused;
  }
  CHECK(refusals >= 30);
  CHECK(statements.size() - static_cast<std::size_t>(refusals) >= 15);

  // 0 divergences: every table is identical on every node.
  identicalEverywhere(cluster, {{"items", "id"}, {"sink", "tag, v"}, {"snapshot2", "id"}});
  CHECK(cluster.scalar(1, "SELECT count(*) FROM pg_tables WHERE tablename = 'snapshot'") == "0");
  CHECK(cluster.scalar(1, "SELECT count(*) FROM items") == "198");
  // The tables written through ALL (node2 also has a shadow schema made by hand, which verify rightly reports).
  auto verify = TestCluster::klusterctl({"verify", "--brokers", cluster.brokers(), "--cluster", cluster.name(),
                                         "--table", "items", "--table", "sink", "--table", "snapshot2"},
                                        std::chrono::seconds(120));
  INFO(verify.out << verify.err);
  CHECK(verify.exitCode == 0);
}

TEST_CASE("DEFAULT now(), SERIAL, IDENTITY, nextval() and gen_random_uuid() columns written through ALL while nodes "
          "are SIGKILLed end identical",
          "[determinism][crash][sequences]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE events (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), "
                 "day date DEFAULT CURRENT_DATE, at0 timestamp(0) DEFAULT LOCALTIMESTAMP(0), note text)");
  allOk(cluster, "CREATE SEQUENCE tickets; CREATE TABLE serials (id bigserial PRIMARY KEY, n int NOT NULL, "
                 "ticket bigint DEFAULT nextval('tickets')); CREATE TABLE idents (id int GENERATED ALWAYS AS "
                 "IDENTITY PRIMARY KEY, n int NOT NULL)");
  allOk(cluster, "CREATE TABLE uuids (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), n int NOT NULL, other uuid)");

  std::atomic<bool> done{false};
  std::atomic<int> kills{0};
  std::thread killer([&] {
    std::mt19937 rng(4242);
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 400));
      if (done.load()) break;
      const int victim = 1 + static_cast<int>(rng() % 3);
      cluster.killNode(victim);
      ++kills;
      cluster.startNode(victim);
    }
  });
  auto client = makeClient(cluster);
  std::vector<std::future<client::Result>> futures;
  constexpr int kRows = 600;
  for (int i = 0; i < kRows; ++i) {
    Request r;
    r.statements = {fmt::format("INSERT INTO events (id, note) VALUES ({}, 'n{}')", i, i % 10),
                    fmt::format("INSERT INTO serials (n) VALUES ({})", i),
                    fmt::format("INSERT INTO idents (n) VALUES ({})", i),
                    fmt::format("INSERT INTO uuids (n, other) VALUES ({}, gen_random_uuid())", i)};
    futures.push_back(
        client.send(r, client::Target::All, client::WaitPolicy::parse("first"), std::chrono::seconds(120)));
    if (i % 9 == 4) { // draws, then fails: each node draws nothing for it, in whatever batch it comes
      Request bad;
      bad.statements = {fmt::format("INSERT INTO serials (n) VALUES ({})", -i),
                        fmt::format("INSERT INTO uuids (n) VALUES ({})", -i), "INSERT INTO idents (n) VALUES (NULL)"};
      futures.push_back(
          client.send(bad, client::Target::All, client::WaitPolicy::parse("first"), std::chrono::seconds(120)));
    }
    if (i % 40 == 39) std::this_thread::sleep_for(std::chrono::milliseconds(150)); // spread over the kills
  }
  for (auto& f : futures) f.wait();
  done.store(true);
  killer.join();
  CHECK(kills.load() >= 3);
  for (int i = 1; i <= 3; ++i)
    if (!cluster.nodeRunning(i)) cluster.startNode(i);
  // A column added later is filled, for the existing rows, with the time of the request that adds it. The
  // restarted nodes may still be catching up: wait for all three, with room to catch up.
  REQUIRE(cluster.waitForMembers(3, std::chrono::seconds(60)));
  {
    auto r = cluster.exec({"--to", "ALL", "--wait", "all", "--timeout", "120s", "-o", "json",
                           "ALTER TABLE events ADD COLUMN added timestamptz DEFAULT CURRENT_TIMESTAMP"},
                          std::chrono::seconds(150));
    INFO(r.out << r.err);
    REQUIRE(r.exitCode == 0);
  }

  for (int i = 1; i <= 3; ++i) {
    INFO("node" << i);
    CHECK(waitUntil([&] { return cluster.scalar(i, "SELECT count(added) FROM events") == std::to_string(kRows); },
                    std::chrono::seconds(90)));
  }
  const auto reference = checksum(cluster, 1, "events", "id");
  for (int i = 2; i <= 3; ++i) CHECK(checksum(cluster, i, "events", "id") == reference);
  // Every request drew exactly one value from each sequence, in log order: no gaps, and the same rows.
  for (const char* table : {"serials", "idents"}) {
    INFO(table);
    const auto rows = checksum(cluster, 1, table, "id");
    for (int i = 2; i <= 3; ++i) CHECK(checksum(cluster, i, table, "id") == rows);
    CHECK(cluster.scalar(1, fmt::format("SELECT count(*) || '/' || max(id) || '/' || count(*) FILTER (WHERE n < 0) "
                                        "FROM {}",
                                        table)) == fmt::format("{0}/{0}/0", kRows));
  }
  {
    const auto rows = checksum(cluster, 1, "uuids", "n");
    for (int i = 2; i <= 3; ++i) CHECK(checksum(cluster, i, "uuids", "n") == rows);
    CHECK(cluster.scalar(1, "SELECT count(*) || '/' || count(DISTINCT id) || '/' || count(DISTINCT other) || '/' || "
                            "count(*) FILTER (WHERE n < 0) FROM uuids") == fmt::format("{0}/{0}/{0}/0", kRows));
  }
  for (int i = 1; i <= 3; ++i) {
    INFO("node" << i);
    CHECK(cluster.scalar(i, "SELECT last_value FROM tickets") == std::to_string(kRows));
    CHECK(cluster.scalar(i, "SELECT last_value FROM serials_id_seq") == std::to_string(kRows));
  }
  CHECK(cluster.scalar(1, "SELECT count(*) FROM events WHERE at IS NULL OR day IS NULL OR at0 IS NULL") == "0");
  CHECK(std::stoi(cluster.scalar(1, "SELECT count(DISTINCT at) FROM events")) > 1); // each request's own time
  CHECK(cluster.scalar(1, "SELECT count(DISTINCT added) FROM events") == "1");
  // Written by hand on one node, outside Kluster, such a default is an error rather than that node's clock.
  CHECK_THROWS(cluster.query(2, "INSERT INTO events (id) VALUES (-1)"));
}

TEST_CASE("the functions and triggers a write runs are judged by their bodies, whatever their declared volatility",
          "[determinism][closure]") {
  TestCluster cluster;
  const std::string refused = "NONDETERMINISTIC";
  allOk(cluster, "CREATE TABLE t (id int PRIMARY KEY, a int, b int, total int, at text)");
  allOk(cluster, "CREATE TABLE stamped (id int PRIMARY KEY, at text)");
  allOk(cluster, "CREATE TABLE parent (id int PRIMARY KEY)");
  allOk(cluster, "CREATE TABLE audit_log (id int, at text)");

  // An SQL function declared IMMUTABLE that reads the clock; a PL/pgSQL one reading now() (each node's own
  // transaction time inside a body, not the request's) or calling the first.
  allOk(cluster,
        "CREATE FUNCTION sql_clock() RETURNS timestamptz LANGUAGE sql IMMUTABLE AS 'SELECT clock_timestamp()'");
  allOk(cluster,
        "CREATE FUNCTION pl_now() RETURNS text LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN now()::text; END $$");
  allOk(cluster, "CREATE FUNCTION pl_clock(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN x + "
                 "extract(microseconds FROM sql_clock())::int; END $$");
  refusedWith(cluster, "INSERT INTO t (id, at) VALUES (1, sql_clock()::text)",
              "function public.sql_clock(), run by this write, calls clock_timestamp()");
  refusedWith(cluster, "INSERT INTO t (id, at) VALUES (2, pl_now())",
              "function public.pl_now(), run by this write: the current time");
  refusedWith(cluster, "INSERT INTO t (id, a) VALUES (3, pl_clock(1))",
              "function public.sql_clock() (called by function public.pl_clock(integer))");
  expectEverywhere(cluster, "UPDATE t SET a = pl_clock(a)", refused);

  // A trigger that stamps rows with the clock: every write to its table is refused, and so is a write whose
  // trigger writes that table.
  allOk(cluster, "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.at := "
                 "clock_timestamp()::text; RETURN NEW; END $$");
  allOk(cluster, "CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON stamped FOR EACH ROW EXECUTE FUNCTION stamp()");
  allOk(cluster, "CREATE TRIGGER stamp BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION stamp()");
  allOk(cluster, "CREATE FUNCTION log_parent() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit_log "
                 "(id) VALUES (NEW.id); RETURN NEW; END $$");
  allOk(cluster, "CREATE TRIGGER log_parent AFTER INSERT ON parent FOR EACH ROW EXECUTE FUNCTION log_parent()");
  refusedWith(cluster, "INSERT INTO stamped (id) VALUES (1)",
              "trigger function public.stamp() of table stamped, run by this "
              "write, calls clock_timestamp()");
  refusedWith(cluster, "INSERT INTO parent VALUES (1)", "trigger function public.stamp() of table audit_log");
  // A trigger's WHEN condition is judged too (one calling clock_timestamp() is refused when created; a function that
  // reads the clock only after it was replaced is caught when a write runs it).
  allOk(cluster, "CREATE TABLE guarded (id int PRIMARY KEY)");
  allOk(cluster, "CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$");
  allOk(cluster,
        "CREATE FUNCTION epoch() RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$SELECT 'epoch'::timestamptz$$");
  expectEverywhere(cluster,
                   "CREATE TRIGGER guard BEFORE INSERT ON guarded FOR EACH ROW WHEN (clock_timestamp() > "
                   "'2000-01-01') EXECUTE FUNCTION keep()",
                   refused);
  allOk(cluster, "CREATE TRIGGER guard BEFORE INSERT ON guarded FOR EACH ROW WHEN (epoch() < '2000-01-01') EXECUTE "
                 "FUNCTION keep()");
  expectEverywhere(cluster, "INSERT INTO guarded VALUES (1)", "OK");
  allOk(cluster, "CREATE OR REPLACE FUNCTION epoch() RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$SELECT "
                 "clock_timestamp()$$");
  refusedWith(cluster, "INSERT INTO guarded VALUES (2)",
              "function public.epoch() (called by the WHEN condition of the "
              "trigger function public.keep() of table guarded)");
  // A disabled trigger does not run.
  allOk(cluster, "ALTER TABLE audit_log DISABLE TRIGGER stamp");
  expectEverywhere(cluster, "INSERT INTO parent VALUES (2)", "OK");

  // TABLESAMPLE picks rows by their physical place.
  expectEverywhere(cluster, "INSERT INTO t (id, a) SELECT id + 100, a FROM t TABLESAMPLE SYSTEM (50) REPEATABLE (1)",
                   refused);

  // Dynamic SQL cannot be judged: refused as opaque until an operator vouches for it through ALL, for this very
  // definition.
  const std::string dynamic = "CREATE OR REPLACE FUNCTION dyn(x int) RETURNS int LANGUAGE plpgsql STABLE AS $$ DECLARE "
                              "r int; BEGIN EXECUTE 'SELECT $1 * {}' INTO r USING x; RETURN r; END $$";
  allOk(cluster, fmt::format(fmt::runtime(dynamic), 2));
  auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "INSERT INTO t (id, a) VALUES (4, dyn(21))"});
  INFO(r.out << r.err);
  const auto opaque = parseJson(r.out);
  REQUIRE(opaque.is_array());
  REQUIRE(opaque.size() == 3);
  for (const auto& response : opaque) {
    CHECK(response["resultCode"] == refused);
    CHECK(response.value("errorMessage", std::string()).find("EXECUTE") != std::string::npos);
    CHECK(response.value("hint", std::string()).find("_kluster.trust_function('public.dyn(integer)')") !=
          std::string::npos);
  }
  allOk(cluster, "CALL _kluster.trust_function('dyn(int)')");
  expectEverywhere(cluster, "INSERT INTO t (id, a) VALUES (4, dyn(21))", "OK");
  allOk(cluster, fmt::format(fmt::runtime(dynamic), 3)); // a new definition is not trusted
  expectEverywhere(cluster, "INSERT INTO t (id, a) VALUES (5, dyn(21))", refused);
  allOk(cluster, "CALL _kluster.trust_function('dyn(int)')");
  allOk(cluster, "CALL _kluster.distrust_function('dyn(int)')");
  expectEverywhere(cluster, "INSERT INTO t (id, a) VALUES (5, dyn(21))", refused);

  // Harmless bodies are applied, with identical data everywhere: a PL/pgSQL function of its arguments, a trigger
  // computing a column from the row, an SQL function reading a table by key.
  allOk(cluster,
        "CREATE FUNCTION twice(x int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN x * 2; END $$");
  allOk(cluster, "CREATE FUNCTION a_of(k int) RETURNS int LANGUAGE sql STABLE AS 'SELECT a FROM t WHERE id = k'");
  allOk(cluster, "CREATE FUNCTION totals() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.total := NEW.a + NEW.b; "
                 "RETURN NEW; END $$");
  allOk(cluster, "CREATE TRIGGER totals BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION totals()");
  expectEverywhere(cluster, "INSERT INTO t (id, a, b) VALUES (6, twice(3), 4), (7, a_of(4), 1)", "OK");
  expectEverywhere(cluster, "UPDATE t SET b = coalesce(b, 0) + twice(id)", "OK");
  expectEverywhere(cluster, "INSERT INTO t (id, a, b) SELECT 8, twice(a), b FROM t WHERE id = 6", "OK");

  CHECK(cluster.scalar(1,
                       "SELECT string_agg(id || ':' || coalesce(a, -1) || ':' || coalesce(b, -1) || ':' || "
                       "coalesce(total, -1), ',' ORDER BY id) FROM t") == "4:42:8:50,6:6:16:22,7:42:15:57,8:12:16:28");
  // Values drawn per call by a row-level trigger: the same on every node for rows in the request's order (random()
  // seeded from the request, sequences in step with the log), refused for rows read from a table.
  allOk(cluster, "CREATE TABLE rnd (id int PRIMARY KEY, r float8)");
  allOk(cluster, "CREATE TABLE audit_seq (n bigserial PRIMARY KEY, row_id int)");
  allOk(cluster, "CREATE FUNCTION draw() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.r := random(); INSERT INTO "
                 "audit_seq (row_id) VALUES (NEW.id); RETURN NEW; END $$");
  allOk(cluster, "CREATE TRIGGER draw BEFORE INSERT OR UPDATE ON rnd FOR EACH ROW EXECUTE FUNCTION draw()");
  expectEverywhere(cluster, "INSERT INTO rnd (id) VALUES (1), (2), (3)", "OK");
  refusedWith(cluster, "UPDATE rnd SET id = id + 10",
              "trigger function public.draw() of table rnd, run by this write for each "
              "row it reads, draws a value per call with random()");
  allOk(cluster, "CREATE OR REPLACE FUNCTION draw() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO "
                 "audit_seq (row_id) VALUES (NEW.id); RETURN NEW; END $$");
  refusedWith(cluster, "INSERT INTO rnd (id) SELECT id + 100 FROM rnd", "with the DEFAULT of audit_seq.n");
  expectEverywhere(cluster, "INSERT INTO rnd (id) VALUES (4)", "OK");
  CHECK(cluster.scalar(1, "SELECT count(DISTINCT r) || ':' || count(*) FROM rnd") == "3:4");
  CHECK(cluster.scalar(1, "SELECT string_agg(n || '=' || row_id, ',' ORDER BY n) FROM audit_seq") == "1=1,2=2,3=3,4=4");

  CHECK(cluster.scalar(1, "SELECT count(*) FROM stamped") == "0");
  CHECK(cluster.scalar(1, "SELECT string_agg(id::text, ',' ORDER BY id) FROM parent") == "2");
  identicalEverywhere(cluster, {{"t", "id"},
                                {"stamped", "id"},
                                {"parent", "id"},
                                {"audit_log", "id"},
                                {"rnd", "id"},
                                {"audit_seq", "n"},
                                {"guarded", "id"}});
}

TEST_CASE("every setting a database or role can change is judged, from the server's own pg_settings",
          "[determinism][settings]") {
  // A setting missing from db::settingClass() (a new PostgreSQL release's) fails here until it is judged.
  const auto& urls = Services::get().pgUrls;
  REQUIRE_FALSE(urls.empty());
  const auto rows = db::PgSession(urls.front())
                        .query("SELECT name, context FROM pg_settings WHERE context IN ('user', 'superuser') "
                               "ORDER BY name");
  REQUIRE(rows.size() > 150);
  std::vector<std::string> unjudged;
  for (const auto& row : rows)
    if (!db::settingClass(*row[0])) unjudged.push_back(*row[0]);
  INFO("not judged: " << fmt::format("{}", fmt::join(unjudged, ", ")));
  CHECK(unjudged.empty());
  // What is said to be pinned is pinned: in the options of every node connection, or by libpq (client_encoding), or
  // after connecting (restrict_nonsystem_relation_kind, which older servers lack: checked below).
  std::string options = db::sessionOptions();
  std::transform(options.begin(), options.end(), options.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& row : rows)
    if (db::settingClass(*row[0]) == db::SettingClass::Pinned && *row[0] != "client_encoding" &&
        *row[0] != "restrict_nonsystem_relation_kind") {
      std::string name = *row[0];
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      INFO(name);
      CHECK(options.find("-c " + name + "=") != std::string::npos);
    }
  // And a node's connection has them, whatever its database says: max_stack_depth included when it may.
  ClusterOptions options1;
  options1.start = false;
  TestCluster cluster(options1);
  for (const char* setting : {"max_stack_depth = '200kB'", "allow_system_table_mods = on",
                              "restrict_nonsystem_relation_kind = 'view, foreign-table'"})
    cluster.serverExec(1, fmt::format("ALTER DATABASE \"{}_n1\" SET {}", cluster.name(), setting));
  auto conn = db::connect("postgresql", cluster.databaseUrl(1));
  db::Work show;
  show.statements.emplace_back();
  show.statements.back().sql = "SELECT current_setting('max_stack_depth') || ',' || "
                               "current_setting('allow_system_table_mods') || ',' || "
                               "current_setting('restrict_nonsystem_relation_kind', true) AS d";
  const auto out = conn->query(show, nullptr);
  INFO(out.errorMessage);
  CHECK(out.result.dump().find("\"2MB,off,\"") != std::string::npos);
}
