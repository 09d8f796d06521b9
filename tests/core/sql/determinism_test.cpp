// The determinism rules of docs/determinism.md, one section per rule: what analyze() refuses from syntax
// alone, the row orders it leaves to the catalog check, and the function classes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/sql/analyzer.hpp"
#include "core/sql/determinism.hpp"

using kluster::sql::analyze;
using kluster::sql::FunctionKind;
using kluster::sql::functionRefusal;
using kluster::sql::orderIsTotal;
using kluster::sql::OrderRequirement;
using kluster::sql::TableRef;

namespace {

bool refused(const std::string& sql) { return analyze(sql).nondeterministic.has_value(); }

// Unique keys of the tables these tests use: t(id) primary key, u(a, b) unique; n has none.
std::vector<std::vector<std::string>> keysOf(const TableRef& t) {
  if (t.name == "t") return {{"id"}};
  if (t.name == "u") return {{"a", "b"}};
  return {};
}

// Whether every row order the SQL's writes depend on is total (with keysOf), and how many there are.
std::pair<bool, std::size_t> orders(const std::string& sql) {
  const auto a = analyze(sql);
  INFO(sql);
  REQUIRE_FALSE(a.nondeterministic);
  bool total = true;
  std::size_t count = 0;
  for (const auto& r : a.orderRequirements) {
    if (r.onlyIfDrawnDefaults) continue; // see "sequences" below
    total = total && orderIsTotal(r, keysOf);
    ++count;
  }
  return {total, count};
}

// The INSERT ... SELECT requirements that apply when the target's DEFAULTs draw from a sequence.
std::vector<OrderRequirement> drawn(const std::string& sql) {
  std::vector<OrderRequirement> out;
  for (const auto& r : analyze(sql).orderRequirements)
    if (r.onlyIfDrawnDefaults) out.push_back(r);
  return out;
}

} // namespace

TEST_CASE("system columns, object ids and catalogs read by a write are refused", "[sql][determinism]") {
  for (const char* sql : {
           "INSERT INTO log SELECT ctid::text FROM t",
           "UPDATE t SET v = xmin::text::int",
           "DELETE FROM t WHERE ctid = '(0,1)'",
           "INSERT INTO log SELECT tableoid FROM t",
           "INSERT INTO log SELECT t.xmax FROM t",
           "INSERT INTO log VALUES ('t'::regclass::oid)",
           "INSERT INTO log VALUES ('int4'::regtype)",
           "INSERT INTO log SELECT relname FROM pg_class",
           "INSERT INTO log SELECT n_live_tup FROM pg_stat_user_tables",
           "INSERT INTO log SELECT table_name FROM information_schema.tables",
           "CREATE TABLE c AS SELECT oid FROM pg_catalog.pg_type",
           "UPDATE t SET v = (SELECT count(*) FROM pg_locks)",
       }) {
    INFO(sql);
    CHECK(refused(sql));
    CHECK(analyze(sql).nondeterministic->hint.size() > 0);
  }
  // Reads are answered by each node; they change nothing (a differing answer is reported as a divergence).
  CHECK_FALSE(refused("SELECT ctid, xmin FROM t"));
  CHECK_FALSE(refused("SELECT relname FROM pg_class"));
  // A CTE named like a catalog is the request's own.
  CHECK_FALSE(refused("WITH pg_x AS (SELECT 1 AS a) INSERT INTO log SELECT a FROM pg_x"));
  CHECK_FALSE(refused("INSERT INTO log SELECT id FROM t WHERE id = 1"));
}

TEST_CASE("the node's own role and database names are refused; pinned settings may be read", "[sql][determinism]") {
  CHECK(refused("INSERT INTO log VALUES (current_user)"));
  CHECK(refused("INSERT INTO log VALUES (session_user)"));
  CHECK(refused("SELECT current_catalog"));
  CHECK(refused("INSERT INTO log VALUES (current_setting('port'))"));
  CHECK(refused("INSERT INTO log VALUES (current_setting('work_mem'))"));
  CHECK(refused("INSERT INTO log VALUES (current_setting($1))"));
  CHECK_FALSE(refused("INSERT INTO log VALUES (current_setting('TimeZone'))"));
  CHECK_FALSE(refused("INSERT INTO log VALUES (current_setting('datestyle'))"));
  CHECK_FALSE(refused("INSERT INTO log VALUES (current_schema)"));
}

// Found by the random differential test: settings a node's database may default otherwise, which change what a
// write stores (format('%I') with quote_all_identifiers, triggers and foreign keys with session_replication_role)
// or whether it runs; the node pins them, so reading them is deterministic.
TEST_CASE("settings pinned after the differential test's findings may be read", "[sql][determinism][differential]") {
  for (const char* name : {"quote_all_identifiers", "session_replication_role", "check_function_bodies", "row_security",
                           "backslash_quote", "exit_on_error", "default_transaction_isolation",
                           // found by giving a node another default for every setting (odd_settings.cpp)
                           "restrict_nonsystem_relation_kind"}) {
    INFO(name);
    CHECK_FALSE(refused(std::string("INSERT INTO log VALUES (current_setting('") + name + "'))"));
  }
  CHECK(refused("INSERT INTO log VALUES (current_setting('enable_hashjoin'))"));
}

TEST_CASE("session SET, RESET and set_config() are refused; SET LOCAL is the request's own", "[sql][determinism]") {
  CHECK(refused("SET TimeZone = 'Europe/Paris'"));
  CHECK(refused("SET search_path = other"));
  CHECK(refused("RESET TimeZone"));
  CHECK(refused("RESET ALL"));
  CHECK(refused("SET LOCAL TimeZone TO DEFAULT"));
  CHECK(refused("SELECT set_config('TimeZone', 'Europe/Paris', false)"));
  CHECK(refused("SELECT set_config('TimeZone', 'Europe/Paris', true)"));
  CHECK_FALSE(refused("SET LOCAL TimeZone = 'Europe/Paris'"));
  // Other session state: prepared statements and temporary tables that outlive the request.
  CHECK(refused("PREPARE p AS SELECT 1"));
  CHECK(refused("EXECUTE p"));
  CHECK(refused("CREATE TEMP TABLE tt (a int)"));
  CHECK(refused("CREATE TEMPORARY TABLE tt AS SELECT 1 AS a"));
  CHECK_FALSE(refused("CREATE TEMP TABLE tt (a int) ON COMMIT DROP; INSERT INTO tt VALUES (1)"));
  CHECK_FALSE(refused("CREATE TABLE tt (a int)"));
  CHECK_FALSE(refused("SET LOCAL app.tenant = 'a'; INSERT INTO log VALUES (1)"));
}

TEST_CASE("SET LOCAL of a timeout or temp_file_limit is refused on ALL: a slower node would fail what another applies",
          "[sql][determinism]") {
  CHECK(refused("SET LOCAL statement_timeout = '5ms'; UPDATE log SET a = a + 1"));
  CHECK(refused("SET LOCAL lock_timeout TO 1"));
  CHECK(refused("SET LOCAL Statement_Timeout = 0"));
  CHECK(refused("SET LOCAL temp_file_limit = '64kB'; INSERT INTO log SELECT g FROM generate_series(1, 10) g"));
  CHECK(refused("SET LOCAL idle_in_transaction_session_timeout = 10"));
  CHECK_FALSE(refused("SET LOCAL work_mem = '64kB'; INSERT INTO log VALUES (1)"));
  CHECK(refused("CREATE FUNCTION f() RETURNS int LANGUAGE sql SET statement_timeout = '1ms' AS 'SELECT 1'"));
  CHECK(refused("ALTER FUNCTION f() SET lock_timeout TO 5"));
  CHECK_FALSE(refused("CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = public AS 'SELECT 1'"));
  CHECK_FALSE(refused("ALTER FUNCTION f() SET work_mem = '1MB'"));
  // On ONE a read may bound itself: one node answers it.
  const auto read = analyze("SET LOCAL statement_timeout = '50ms'; SELECT count(*) FROM log");
  CHECK_FALSE(read.sessionState.has_value());
}

TEST_CASE("random() evaluated once per scanned row is refused; over the request's own rows it is pinned",
          "[sql][determinism]") {
  CHECK(refused("UPDATE t SET v = random()"));
  CHECK(refused("UPDATE t SET v = random() * 10 WHERE id > 5"));
  CHECK(refused("DELETE FROM t WHERE random() < 0.5"));
  CHECK(refused("INSERT INTO log SELECT random() FROM t"));
  CHECK(refused("CREATE TABLE c AS SELECT id, random() AS r FROM t"));
  // VALUES and generate_series() produce rows in the request's own order on every node.
  CHECK_FALSE(refused("INSERT INTO log VALUES (random()), (random())"));
  CHECK_FALSE(refused("INSERT INTO log SELECT random() FROM generate_series(1, 10)"));
  CHECK_FALSE(refused("INSERT INTO t VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET v = random()"));
  // A read does not change data.
  CHECK_FALSE(refused("SELECT random() FROM t"));
}

TEST_CASE("sequences: nextval() per scanned row needs a total order, currval() and CACHE > 1 are refused",
          "[sql][determinism][sequences]") {
  // In the request's own rows, in log order: the same values on every node.
  CHECK_FALSE(refused("INSERT INTO log VALUES (nextval('s')), (nextval('s'))"));
  CHECK_FALSE(refused("SELECT setval('s', 42)"));
  CHECK(orders("INSERT INTO log SELECT nextval('s') FROM generate_series(1, 3)").second == 0);
  CHECK_FALSE(refused("CREATE TABLE a (id serial PRIMARY KEY, b bigint GENERATED ALWAYS AS IDENTITY)"));
  CHECK_FALSE(refused("CREATE SEQUENCE s START 10 INCREMENT 5 CACHE 1"));
  // Per row of a scan: only over an order that covers a unique key.
  CHECK_FALSE(orders("INSERT INTO log SELECT nextval('s'), v FROM t").first);
  CHECK(orders("INSERT INTO log SELECT nextval('s'), v FROM t ORDER BY id").first);
  CHECK(refused("UPDATE t SET v = nextval('s')"));
  CHECK(refused("UPDATE t SET v = (SELECT nextval('s'))"));
  CHECK(refused("DELETE FROM t WHERE id = setval('s', id)"));
  // Session state and per-session caches.
  CHECK_FALSE(functionRefusal("currval", {'v', '\0'}).empty());
  CHECK_FALSE(functionRefusal("lastval", {'v', '\0'}).empty());
  CHECK(functionRefusal("nextval", {'v', '\0'}).empty());
  CHECK(refused("CREATE SEQUENCE s CACHE 20"));
  CHECK(refused("ALTER SEQUENCE s CACHE 5"));
  CHECK(refused("CREATE TABLE a (id int GENERATED BY DEFAULT AS IDENTITY (CACHE 10))"));
  // INSERT ... SELECT from tables: a DEFAULT drawn per row (known from the catalog) needs a total order.
  auto r = drawn("INSERT INTO items (name) SELECT v FROM t");
  REQUIRE(r.size() == 1);
  CHECK(r[0].onlyIfDrawnDefaults->target.name == "items");
  CHECK(r[0].onlyIfDrawnDefaults->listed);
  CHECK(r[0].onlyIfDrawnDefaults->given == std::vector<std::string>{"name"});
  CHECK_FALSE(orderIsTotal(r[0], keysOf));
  r = drawn("INSERT INTO items (name) SELECT v FROM t ORDER BY id");
  REQUIRE(r.size() == 1);
  CHECK(orderIsTotal(r[0], keysOf));
  r = drawn("INSERT INTO items SELECT * FROM t UNION ALL SELECT * FROM u");
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].onlyIfDrawnDefaults->listed);
  CHECK_FALSE(orderIsTotal(r[0], keysOf));
  CHECK(drawn("INSERT INTO items (name) VALUES ('a'), ('b')").empty());
  CHECK(drawn("INSERT INTO items (name) SELECT 'x' FROM generate_series(1, 3)").empty());
  CHECK(drawn("INSERT INTO items DEFAULT VALUES").empty());
}

TEST_CASE("LIMIT, OFFSET, FETCH FIRST and DISTINCT ON in writes need an ORDER BY over a unique key",
          "[sql][determinism]") {
  CHECK(orders("INSERT INTO log SELECT id FROM t LIMIT 5") == std::pair{false, std::size_t{1}});
  CHECK(orders("INSERT INTO log SELECT id FROM t ORDER BY v LIMIT 5").first == false);
  CHECK(orders("INSERT INTO log SELECT id FROM t ORDER BY v, id LIMIT 5").first);
  CHECK(orders("INSERT INTO log SELECT id FROM t ORDER BY t.id OFFSET 3").first);
  CHECK(orders("INSERT INTO log SELECT id FROM t ORDER BY 1 FETCH FIRST 3 ROWS ONLY").first);
  CHECK(orders("INSERT INTO log SELECT id AS k FROM t ORDER BY k LIMIT 3").first);
  CHECK_FALSE(orders("INSERT INTO log SELECT id FROM t OFFSET 2").first);
  CHECK_FALSE(orders("DELETE FROM t WHERE id IN (SELECT id FROM t LIMIT 10)").first);
  CHECK_FALSE(orders("UPDATE t SET v = 1 WHERE id = ANY (ARRAY(SELECT id FROM t ORDER BY v LIMIT 2))").first);
  CHECK_FALSE(orders("INSERT INTO log SELECT a FROM u ORDER BY a LIMIT 1").first);
  CHECK(orders("INSERT INTO log SELECT a FROM u ORDER BY b, a LIMIT 1").first);
  CHECK_FALSE(orders("INSERT INTO log SELECT x FROM n ORDER BY x LIMIT 1").first); // no unique key
  // Joins: the order must be total over every table.
  CHECK_FALSE(orders("INSERT INTO log SELECT t.id FROM t JOIN u ON u.a = t.id ORDER BY t.id LIMIT 3").first);
  CHECK(orders("INSERT INTO log SELECT t.id FROM t JOIN u ON u.a = t.id ORDER BY t.id, u.a, u.b LIMIT 3").first);
  CHECK(orders("INSERT INTO log SELECT x.id FROM t AS x ORDER BY x.id LIMIT 3").first);
  CHECK_FALSE(orders("INSERT INTO log SELECT x.id FROM t AS x ORDER BY y.id LIMIT 3").first);
  // DISTINCT ON picks the first row of each group in the ORDER BY.
  CHECK_FALSE(orders("INSERT INTO log SELECT DISTINCT ON (v) id FROM t").first);
  CHECK_FALSE(orders("INSERT INTO log SELECT DISTINCT ON (v) id FROM t ORDER BY v").first);
  CHECK(orders("INSERT INTO log SELECT DISTINCT ON (v) id FROM t ORDER BY v, id").first);
  // Nothing to order, or an order the request gives.
  CHECK(orders("INSERT INTO log SELECT DISTINCT v FROM t").second == 0);
  CHECK(orders("INSERT INTO log SELECT id FROM t").second == 0);
  CHECK(orders("INSERT INTO log SELECT 1 LIMIT 1").second == 0);
  CHECK(orders("INSERT INTO log SELECT g FROM generate_series(1, 9) g LIMIT 3").second == 0);
  CHECK(orders("INSERT INTO log SELECT * FROM (VALUES (1), (2)) v(x) LIMIT 1").second == 0);
  CHECK(orders("INSERT INTO log SELECT id FROM t ORDER BY v FETCH FIRST 3 ROWS WITH TIES").second == 0);
  CHECK(orders("INSERT INTO log SELECT id FROM t LIMIT ALL").second == 0);
  // Reads are not checked.
  CHECK(orders("SELECT id FROM t LIMIT 5").second == 0);
  // Orders that no unique key can make total are refused from syntax alone.
  CHECK(refused("INSERT INTO log SELECT * FROM (SELECT id FROM t) s ORDER BY id LIMIT 5"));
  CHECK(refused("WITH c AS (SELECT id FROM t) INSERT INTO log SELECT id FROM c ORDER BY id LIMIT 5"));
  CHECK(refused("INSERT INTO log SELECT id FROM t UNION ALL SELECT a FROM u ORDER BY 1 LIMIT 5"));
  CHECK(refused("INSERT INTO log SELECT t.id FROM t, generate_series(1, 2) g ORDER BY t.id LIMIT 5"));
}

TEST_CASE("order-sensitive window functions and aggregates in writes need a total order", "[sql][determinism]") {
  CHECK_FALSE(orders("INSERT INTO log SELECT row_number() OVER () FROM t").first);
  CHECK_FALSE(orders("INSERT INTO log SELECT row_number() OVER (ORDER BY v) FROM t").first);
  CHECK(orders("INSERT INTO log SELECT row_number() OVER (ORDER BY v, id) FROM t").first);
  CHECK(orders("INSERT INTO log SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM u").first);
  CHECK(orders("INSERT INTO log SELECT lag(v) OVER w FROM t WINDOW w AS (ORDER BY id)").first);
  CHECK_FALSE(orders("INSERT INTO log SELECT lag(v) OVER w FROM t WINDOW w AS (ORDER BY v)").first);
  CHECK_FALSE(orders("INSERT INTO log SELECT sum(v) OVER (ORDER BY v ROWS 2 PRECEDING) FROM t").first);
  CHECK(orders("INSERT INTO log SELECT rank() OVER (ORDER BY v) FROM t").second == 0);
  CHECK(orders("INSERT INTO log SELECT sum(v) OVER (PARTITION BY v) FROM t").second == 0);
  CHECK_FALSE(orders("INSERT INTO log SELECT string_agg(v::text, ',') FROM t").first);
  CHECK_FALSE(orders("INSERT INTO log SELECT array_agg(v ORDER BY v) FROM t").first);
  CHECK(orders("INSERT INTO log SELECT array_agg(v ORDER BY v, id) FROM t").first);
  CHECK(orders("INSERT INTO log SELECT a, json_agg(b ORDER BY b) FROM u GROUP BY a").first);
  CHECK_FALSE(orders("UPDATE n SET x = (SELECT string_agg(v::text, ',') FROM t)").first);
  CHECK(orders("INSERT INTO log SELECT count(*), sum(v), max(v) FROM t").second == 0);
  CHECK(orders("INSERT INTO log SELECT string_agg(x, ',') FROM unnest(ARRAY['a', 'b']) x").second == 0);
}

TEST_CASE("functions are classified by what they read, not only by their volatility", "[sql][determinism]") {
  const FunctionKind immutableBuiltin{'i', '\0'}, stableBuiltin{'s', '\0'}, volatileBuiltin{'v', '\0'};
  // Volatile built-ins are refused, except those Kluster pins.
  CHECK_FALSE(functionRefusal("clock_timestamp", volatileBuiltin).empty());
  CHECK_FALSE(functionRefusal("txid_current", volatileBuiltin).empty());
  CHECK_FALSE(functionRefusal("pg_current_wal_lsn", volatileBuiltin).empty());
  CHECK_FALSE(functionRefusal("set_config", volatileBuiltin).empty());
  CHECK(functionRefusal("random", volatileBuiltin).empty());
  CHECK(functionRefusal("setseed", volatileBuiltin).empty());
  CHECK(functionRefusal("now", stableBuiltin).empty());
  // STABLE built-ins that read the backend, the server, the transaction or statistics are refused.
  for (const char* f :
       {"pg_backend_pid", "inet_server_addr", "inet_server_port", "pg_postmaster_start_time", "pg_conf_load_time",
        "version", "current_database", "pg_current_xact_id", "age", "to_regclass", "pg_stat_get_live_tuples",
        "pg_relation_filepath", "has_table_privilege", "pg_my_temp_schema", "obj_description"}) {
    INFO(f);
    CHECK_FALSE(functionRefusal(f, stableBuiltin).empty());
  }
  // STABLE built-ins that depend only on pinned settings are allowed.
  for (const char* f : {"to_char", "date_trunc", "to_tsvector", "format", "concat", "json_agg", "to_timestamp",
                        "timezone", "current_setting"}) {
    INFO(f);
    CHECK(functionRefusal(f, stableBuiltin).empty());
  }
  CHECK(functionRefusal("md5", immutableBuiltin).empty());
  // User-defined functions count by their declared volatility.
  CHECK(functionRefusal("my_stable", {'\0', 's'}).empty());
  CHECK(functionRefusal("my_immutable", {'\0', 'i'}).empty());
  CHECK_FALSE(functionRefusal("my_volatile", {'\0', 'v'}).empty());
  CHECK_FALSE(functionRefusal("gen_random_bytes", {'\0', 'v'}).empty()); // pgcrypto: an extension's
}

TEST_CASE("the current time stored in a DEFAULT becomes the time of the request that writes the row",
          "[sql][determinism]") {
  using kluster::sql::pinDefaultTime;
  CHECK(pinDefaultTime("CREATE TABLE e (id int, at timestamptz DEFAULT now())") ==
        "CREATE TABLE e (id int, at timestamptz DEFAULT _kluster.request_time())");
  CHECK(pinDefaultTime("CREATE TABLE e (d date DEFAULT CURRENT_DATE, t timestamp(0) DEFAULT LOCALTIMESTAMP(0))") ==
        "CREATE TABLE e (d date DEFAULT CAST(timezone('UTC', _kluster.request_time()) AS date), t timestamp(0) "
        "DEFAULT CAST(timezone('UTC', _kluster.request_time()) AS timestamp(0)))");
  CHECK(pinDefaultTime("ALTER TABLE e ADD COLUMN c timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP") ==
        "ALTER TABLE e ADD COLUMN c timestamptz NOT NULL DEFAULT _kluster.request_time()");
  CHECK(pinDefaultTime("ALTER TABLE e ALTER COLUMN c SET DEFAULT pg_catalog.now()") ==
        "ALTER TABLE e ALTER COLUMN c SET DEFAULT _kluster.request_time()");
  // Only defaults: a time evaluated when the request runs, and other stored definitions, are not touched.
  CHECK(pinDefaultTime("INSERT INTO e VALUES (1, now())") == "INSERT INTO e VALUES (1, now())");
  CHECK(pinDefaultTime("CREATE VIEW v AS SELECT now()") == "CREATE VIEW v AS SELECT now()");
  const auto a = analyze("CREATE TABLE e (at timestamptz DEFAULT now() CHECK (at <= now()))");
  CHECK(a.defaultsCurrentTime);
  CHECK(a.storesCurrentTimeElsewhere); // the CHECK: still refused
  const auto d = analyze("CREATE TABLE e (at timestamptz DEFAULT now())");
  CHECK(d.defaultsCurrentTime);
  CHECK_FALSE(d.storesCurrentTimeElsewhere);
}

TEST_CASE("gen_random_uuid() run by a request or stored in a DEFAULT draws from the request, not the server",
          "[sql][determinism][uuid]") {
  using kluster::sql::pinRandomUuid;
  CHECK(pinRandomUuid("INSERT INTO e VALUES (gen_random_uuid(), 'a')") ==
        "INSERT INTO e VALUES (_kluster.gen_random_uuid(), 'a')");
  CHECK(pinRandomUuid("CREATE TABLE e (id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(), v text)") ==
        "CREATE TABLE e (id uuid PRIMARY KEY DEFAULT _kluster.gen_random_uuid(), v text)");
  CHECK(pinRandomUuid("ALTER TABLE e ALTER COLUMN id SET DEFAULT gen_random_uuid ( )") ==
        "ALTER TABLE e ALTER COLUMN id SET DEFAULT _kluster.gen_random_uuid( )");
  // Strings, comments, other names and other stored definitions are left alone.
  CHECK(pinRandomUuid("SELECT 'gen_random_uuid()' /* gen_random_uuid() */, my.gen_random_uuid()") ==
        "SELECT 'gen_random_uuid()' /* gen_random_uuid() */, my.gen_random_uuid()");
  CHECK(pinRandomUuid("CREATE VIEW v AS SELECT gen_random_uuid()") == "CREATE VIEW v AS SELECT gen_random_uuid()");
  // What the node decides from: rewritten calls are not in `functions` (not refused as volatile), the others are.
  const auto a = analyze("INSERT INTO e VALUES (gen_random_uuid())");
  CHECK(a.drawsUuid);
  CHECK(std::find(a.functions.begin(), a.functions.end(), "gen_random_uuid") == a.functions.end());
  const auto v = analyze("CREATE VIEW v AS SELECT gen_random_uuid()");
  CHECK_FALSE(v.drawsUuid);
  CHECK(std::find(v.functions.begin(), v.functions.end(), "gen_random_uuid") != v.functions.end());
  // A rewritten text is not rewritten again.
  CHECK(analyze(pinRandomUuid("SELECT gen_random_uuid()")).drawsUuid == false);
  // Drawn per row: in the request's own rows, or in a total order; never per row of an UPDATE.
  CHECK_FALSE(refused("INSERT INTO e VALUES (gen_random_uuid()), (gen_random_uuid())"));
  CHECK(orders("INSERT INTO e SELECT gen_random_uuid() FROM generate_series(1, 3)").second == 0);
  CHECK_FALSE(orders("INSERT INTO e SELECT gen_random_uuid(), v FROM t").first);
  CHECK(orders("INSERT INTO e SELECT gen_random_uuid(), v FROM t ORDER BY id").first);
  CHECK(refused("UPDATE t SET u = gen_random_uuid()"));
}

TEST_CASE("ALTER TABLE that fills existing rows with values drawn per row is refused", "[sql][determinism]") {
  // PostgreSQL fills the rows in its own physical order, which differs between nodes.
  CHECK(refused("ALTER TABLE t ADD COLUMN n serial"));
  CHECK(refused("ALTER TABLE t ADD COLUMN IF NOT EXISTS n bigserial"));
  CHECK(refused("ALTER TABLE t ADD COLUMN n int GENERATED ALWAYS AS IDENTITY"));
  CHECK(refused("ALTER TABLE t ADD COLUMN n bigint DEFAULT nextval('s')"));
  CHECK(refused("ALTER TABLE t ADD COLUMN u uuid NOT NULL DEFAULT gen_random_uuid()"));
  CHECK(refused("ALTER TABLE t ADD COLUMN r float8 DEFAULT random()"));
  CHECK(refused("ALTER TABLE t ALTER COLUMN v TYPE bigint USING nextval('s')"));
  const auto why = analyze("ALTER TABLE t ADD COLUMN n serial").nondeterministic;
  REQUIRE(why);
  CHECK(why->message.find("physical row order") != std::string::npos);
  // The same value for every row, or no row filled: allowed.
  CHECK_FALSE(refused("ALTER TABLE t ADD COLUMN at timestamptz DEFAULT now()"));
  CHECK_FALSE(refused("ALTER TABLE t ADD COLUMN v int DEFAULT 7"));
  CHECK_FALSE(refused("ALTER TABLE t ALTER COLUMN v TYPE bigint USING v * 2"));
  CHECK_FALSE(refused("ALTER TABLE t ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"));
  CHECK_FALSE(refused("ALTER TABLE t ALTER COLUMN u SET DEFAULT gen_random_uuid()"));
  CHECK_FALSE(refused("CREATE TABLE n (id bigserial PRIMARY KEY, u uuid DEFAULT gen_random_uuid())"));
}

TEST_CASE("TABLESAMPLE in a write is refused: it picks rows by their physical place", "[sql][determinism]") {
  CHECK(refused("INSERT INTO n SELECT * FROM t TABLESAMPLE SYSTEM (10)"));
  CHECK(refused("INSERT INTO n SELECT * FROM t TABLESAMPLE BERNOULLI (50) REPEATABLE (42)"));
  CHECK(refused("DELETE FROM n WHERE id IN (SELECT id FROM t TABLESAMPLE SYSTEM (1) REPEATABLE (7))"));
  CHECK(refused("WITH s AS (SELECT id FROM t TABLESAMPLE BERNOULLI (5)) UPDATE n SET v = 1 FROM s WHERE n.id = s.id"));
  CHECK(refused("CREATE TABLE c AS SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (1)"));
  const auto why = analyze("INSERT INTO n SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (1)").nondeterministic;
  REQUIRE(why);
  CHECK(why->message.find("TABLESAMPLE") != std::string::npos);
  CHECK(why->hint.find("hashtext") != std::string::npos);
  // A read changes nothing (its answers are compared): not refused by this rule.
  CHECK_FALSE(refused("SELECT * FROM t TABLESAMPLE SYSTEM (10)"));
}

TEST_CASE("writes that read rows from a table are marked: what they run per row runs in physical order",
          "[sql][determinism]") {
  CHECK_FALSE(analyze("INSERT INTO t VALUES (1), (2)").scansRows);
  CHECK_FALSE(analyze("INSERT INTO t SELECT g FROM generate_series(1, 5) g").scansRows);
  CHECK_FALSE(analyze("SELECT * FROM t").scansRows); // a read runs nothing that writes
  CHECK(analyze("UPDATE t SET v = 1 WHERE id = 1").scansRows);
  CHECK(analyze("DELETE FROM t").scansRows);
  CHECK(analyze("INSERT INTO n SELECT * FROM t ORDER BY id").scansRows);
  CHECK(analyze("INSERT INTO n VALUES ((SELECT max(id) FROM t))").scansRows);
}

// Found by the random differential test: PostgreSQL checks a unique index that is not DEFERRABLE row by row, so
// `UPDATE t SET id = id + 1` collides or not depending on the order rows are visited in. The analysis lists each
// UPDATE's target, the columns it SETs and those its WHERE pins to a constant; the node refuses the update when
// it SETs a column of such an index and the pinned columns cover no unique key (tests/integration/determinism).
TEST_CASE("UPDATEs list the columns they set, for the unique-key-checked-row-by-row hazard",
          "[sql][determinism][differential]") {
  using Columns = std::vector<std::string>;
  auto shift = analyze("UPDATE t2 a SET id = a.id + 1 WHERE a.grp = 3 AND a.f > 0.5");
  REQUIRE(shift.keyUpdates.size() == 1);
  CHECK(shift.keyUpdates[0].table.name == "t2");
  CHECK(shift.keyUpdates[0].table.alias == "a");
  CHECK(shift.keyUpdates[0].columns == Columns{"id"});
  CHECK(shift.keyUpdates[0].pinned == Columns{"grp"});

  auto one = analyze("UPDATE s.t SET (k, v) = (1, $2) WHERE t.id = $1::int AND 7 = other");
  REQUIRE(one.keyUpdates.size() == 1);
  CHECK(one.keyUpdates[0].table.schema == "s");
  CHECK(one.keyUpdates[0].columns == Columns{"k", "v"});
  CHECK(one.keyUpdates[0].pinned == Columns{"id", "other"});

  // An OR pins nothing; a CTE's UPDATE counts; reads and other writes have none.
  CHECK(analyze("UPDATE t SET id = 2 WHERE id = 1 OR id = 3").keyUpdates.at(0).pinned.empty());
  CHECK(
      analyze("WITH u AS (UPDATE t SET id = id + 1 RETURNING id) INSERT INTO log SELECT id FROM u").keyUpdates.size() ==
      1);
  CHECK(analyze("SELECT * FROM t").keyUpdates.empty());
  CHECK(analyze("DELETE FROM t WHERE id > 3").keyUpdates.empty());
}

// Found by the random differential test: a value drawn per row in an ORDER BY (or WHERE...) over table rows is
// drawn in each node's own scan order, before the sort, even when the ORDER BY ends with the key.
TEST_CASE("values drawn per row in the ORDER BY or WHERE of a query over table rows are refused",
          "[sql][determinism][differential]") {
  CHECK(refused("INSERT INTO t2 SELECT a.id FROM t1 a ORDER BY gen_random_uuid()::text, a.id LIMIT 2"));
  CHECK(refused("INSERT INTO log SELECT a.id FROM t1 a WHERE nextval('s') % 2 = 0 ORDER BY a.id"));
  CHECK(refused("INSERT INTO log SELECT a.id FROM t1 a JOIN t2 b ON b.id = a.id GROUP BY a.id, gen_random_uuid()"));
  // In the SELECT list over rows in a total order, or over the request's own rows, they are drawn in order.
  CHECK_FALSE(refused("INSERT INTO log SELECT gen_random_uuid(), a.id FROM t1 a ORDER BY a.id"));
  CHECK_FALSE(refused("INSERT INTO log SELECT g FROM generate_series(1, 5) g ORDER BY gen_random_uuid()"));
  CHECK_FALSE(refused("SELECT id FROM t1 ORDER BY gen_random_uuid()")); // a read changes nothing
}

TEST_CASE("values drawn per row in an output column the query sorts or groups by are refused",
          "[sql][determinism][differential]") {
  CHECK(refused("INSERT INTO log SELECT a.id, gen_random_uuid() AS u FROM t1 a ORDER BY u, a.id LIMIT 2"));
  CHECK(refused("INSERT INTO log SELECT a.id, nextval('s') FROM t1 a ORDER BY 2, 1"));
  CHECK(refused("INSERT INTO log SELECT gen_random_uuid() AS u, count(*) FROM t1 a GROUP BY u"));
  CHECK_FALSE(refused("INSERT INTO log SELECT a.id, gen_random_uuid() AS u FROM t1 a ORDER BY a.id, 1"));
}

// "With SKIP LOCKED, any selected rows that cannot be immediately locked are skipped" (SELECT, the locking clause):
// which rows depends on the locks other sessions hold on each node; NOWAIT fails on one node and waits on another.
TEST_CASE("SKIP LOCKED and NOWAIT in a write, and LOCK ... NOWAIT, are refused", "[sql][determinism]") {
  CHECK(refused("DELETE FROM t WHERE id = (SELECT id FROM t ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"));
  CHECK(refused("UPDATE t SET v = 1 WHERE id IN (SELECT id FROM t WHERE v > 2 FOR UPDATE NOWAIT)"));
  CHECK(refused("LOCK TABLE t IN EXCLUSIVE MODE NOWAIT; UPDATE t SET v = 1 WHERE id = 2"));
  CHECK_FALSE(refused("DELETE FROM t WHERE id = (SELECT id FROM t ORDER BY id LIMIT 1 FOR UPDATE)"));
  CHECK_FALSE(refused("LOCK TABLE t IN EXCLUSIVE MODE; UPDATE t SET v = 1 WHERE id = 2"));
  CHECK_FALSE(refused("SELECT id FROM t FOR UPDATE SKIP LOCKED")); // a read changes nothing
}

// "If there are multiple equally-frequent values ..." aside, any_value() (PostgreSQL 16) returns "an arbitrary value
// from the non-null input values"; and a cursor's rows come in each node's own order, so WHERE CURRENT OF does too.
TEST_CASE("any_value() needs a total order; WHERE CURRENT OF is refused", "[sql][determinism]") {
  CHECK_FALSE(orders("INSERT INTO log SELECT any_value(v) FROM t").first);
  CHECK(orders("INSERT INTO log SELECT any_value(v ORDER BY id) FROM t").first);
  CHECK(refused("DECLARE c CURSOR FOR SELECT id FROM t FOR UPDATE; FETCH c; UPDATE t SET v = 1 WHERE CURRENT OF c"));
  CHECK(refused("DELETE FROM t WHERE CURRENT OF c"));
}
