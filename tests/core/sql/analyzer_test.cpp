#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/sql/analyzer.hpp"

using kluster::sql::analyze;
using kluster::sql::isReadOnly;
using kluster::sql::pinCurrentTime;
using kluster::sql::SyntaxError;

namespace {

// 2026-11-26 07:00:00.123 UTC
constexpr std::int64_t kInstant = 1'795'676'400'123;
const std::string kTz = "'2026-11-26 07:00:00.123+00'::timestamptz";

std::vector<std::string> kinds(const kluster::sql::Analysis& a) {
  std::vector<std::string> out;
  for (const auto& s : a.statements) out.push_back(s.kind);
  return out;
}

} // namespace

TEST_CASE("routing: plain reads are read-only", "[sql][routing]") {
  for (const char* sql :
       {"SELECT 1", "SELECT a, b FROM t WHERE c > 2 ORDER BY a LIMIT 3", "VALUES (1), (2)", "TABLE t", "SHOW work_mem",
        "SHOW ALL", "SELECT 1 UNION SELECT 2", "WITH x AS (SELECT a FROM t) SELECT * FROM x",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
        "SELECT * FROM t WHERE a IN (SELECT b FROM u)", "EXPLAIN SELECT 1",
        "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t", "SELECT 1; SELECT 2"}) {
    INFO(sql);
    const auto a = analyze(sql);
    CHECK(a.readOnly);
    CHECK_FALSE(a.locks);
    CHECK(isReadOnly(sql));
  }
}

TEST_CASE("routing: each statement says whether it only reads", "[sql][routing]") {
  const auto a = analyze("SELECT 1; INSERT INTO t VALUES (1); SHOW work_mem; SELECT * FROM t FOR UPDATE");
  REQUIRE(a.statements.size() == 4);
  CHECK(a.statements[0].readOnly);
  CHECK_FALSE(a.statements[1].readOnly);
  CHECK(a.statements[2].readOnly);
  CHECK_FALSE(a.statements[3].readOnly);
  CHECK_FALSE(a.readOnly);
  CHECK(analyze("SELECT 1; SHOW work_mem").readOnly);
}

TEST_CASE("routing: writes, locks and everything else are not read-only", "[sql][routing]") {
  for (const char* sql : {"INSERT INTO t VALUES (1)",
                          "UPDATE t SET a = 1",
                          "DELETE FROM t",
                          "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
                          "CREATE TABLE t (a int)",
                          "DROP TABLE t",
                          "SET work_mem = '1MB'",
                          "RESET ALL",
                          "CALL p(1)",
                          "DO $$BEGIN NULL; END$$",
                          "LOCK TABLE t",
                          "COPY t TO STDOUT",
                          "COPY t FROM STDIN",
                          "PREPARE q AS SELECT 1",
                          "EXECUTE q",
                          "DECLARE c CURSOR FOR SELECT 1",
                          "LISTEN ch",
                          "NOTIFY ch",
                          "VACUUM t",
                          "ANALYZE t",
                          "CHECKPOINT",
                          "SELECT * INTO t2 FROM t",
                          "CREATE TABLE t2 AS SELECT * FROM t",
                          "WITH x AS (INSERT INTO t VALUES (1) RETURNING a) SELECT * FROM x",
                          "WITH x AS (DELETE FROM t RETURNING a) SELECT count(*) FROM x",
                          "EXPLAIN ANALYZE DELETE FROM t",
                          "EXPLAIN (ANALYZE true) UPDATE t SET a = 1",
                          "EXPLAIN ANALYZE CREATE TABLE t2 AS SELECT 1",
                          "SELECT 1; DELETE FROM t",
                          "DELETE FROM t; SELECT 1",
                          "BEGIN",
                          "SELECT * FROM t FOR UPDATE"}) {
    INFO(sql);
    CHECK_FALSE(analyze(sql).readOnly);
    CHECK_FALSE(isReadOnly(sql));
  }
}

TEST_CASE("routing: row locks make a SELECT a write", "[sql][routing]") {
  for (const char* sql :
       {"SELECT * FROM t FOR UPDATE", "SELECT * FROM t FOR NO KEY UPDATE", "SELECT * FROM t FOR SHARE",
        "SELECT * FROM t FOR KEY SHARE SKIP LOCKED", "SELECT * FROM t WHERE a = (SELECT a FROM u FOR UPDATE)",
        "WITH x AS (SELECT a FROM t FOR UPDATE) SELECT * FROM x", "EXPLAIN ANALYZE SELECT * FROM t FOR SHARE"}) {
    INFO(sql);
    const auto a = analyze(sql);
    CHECK_FALSE(a.readOnly);
    CHECK(a.locks);
  }
  SECTION("a plain EXPLAIN only plans: no lock is taken") {
    const auto a = analyze("EXPLAIN SELECT * FROM t FOR UPDATE");
    CHECK(a.readOnly);
    CHECK_FALSE(a.locks);
  }
  SECTION("EXPLAIN without ANALYZE of a write only plans it") {
    CHECK(analyze("EXPLAIN DELETE FROM t").readOnly);
    CHECK(analyze("EXPLAIN (ANALYZE false) DELETE FROM t").readOnly);
    CHECK(analyze("EXPLAIN (ANALYZE off) DELETE FROM t").readOnly);
    CHECK(analyze("EXPLAIN (ANALYZE 0) DELETE FROM t").readOnly);
    CHECK_FALSE(analyze("EXPLAIN (ANALYZE 1) DELETE FROM t").readOnly);
    CHECK_FALSE(analyze("EXPLAIN (ANALYZE on) DELETE FROM t").readOnly);
  }
}

TEST_CASE("routing: function calls are read-only by syntax but listed", "[sql][routing][functions]") {
  // Volatility is not visible in the syntax: the node checks `functions` against pg_proc.
  const auto a = analyze("SELECT my_func('s')");
  CHECK(a.readOnly);
  CHECK(a.functions == std::vector<std::string>{"my_func"});
  CHECK(isReadOnly("SELECT lower('s')"));
}

TEST_CASE("routing: nextval() and setval() move a sequence: not reads (pg_dump's setval goes to ALL)",
          "[sql][routing][functions]") {
  CHECK_FALSE(isReadOnly("SELECT nextval('s')"));
  CHECK_FALSE(isReadOnly("SELECT pg_catalog.setval('public.t_id_seq', 3, true)"));
  const auto a = analyze("SELECT nextval('s'); SELECT 1");
  CHECK_FALSE(a.statements[0].readOnly);
  CHECK(a.statements[1].readOnly);
  CHECK(isReadOnly("EXPLAIN SELECT nextval('s')"));                   // only plans
  CHECK(isReadOnly("CREATE VIEW v AS SELECT nextval('s')") == false); // DDL is not a read anyway
}

TEST_CASE("routing: unparsable SQL is not read-only", "[sql][routing]") {
  CHECK_FALSE(isReadOnly("SELEC 1"));
  CHECK_FALSE(isReadOnly("SELECT (1"));
  CHECK_FALSE(isReadOnly(std::string("SELECT 1\0; DELETE FROM t", 25)));
}

TEST_CASE("statements are split by the parser", "[sql][split]") {
  SECTION("empty and whitespace/comment-only input has no statements") {
    for (const char* sql : {"", "   ", "\n\t ", "-- just a comment", "/* c */", " ; ; "}) {
      INFO('"' << sql << '"');
      const auto a = analyze(sql);
      CHECK(a.statements.empty());
      CHECK(a.readOnly);
      CHECK(a.functions.empty());
      CHECK(pinCurrentTime(sql, kInstant) == sql);
    }
  }
  SECTION("texts and kinds") {
    const auto a = analyze("SELECT 'a;b'; INSERT INTO t VALUES (';') ;\n-- next\nCREATE TABLE x (a int);  ");
    REQUIRE(a.statements.size() == 3);
    CHECK(a.statements[0].sql == "SELECT 'a;b'");
    CHECK(a.statements[1].sql == "INSERT INTO t VALUES (';')");
    CHECK(a.statements[2].sql == "-- next\nCREATE TABLE x (a int)");
    CHECK(kinds(a) == std::vector<std::string>{"SelectStmt", "InsertStmt", "CreateStmt"});
  }
  SECTION("a semicolon in a dollar-quoted body does not split") {
    const auto a = analyze("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$; SELECT f()");
    REQUIRE(a.statements.size() == 2);
    CHECK(a.statements[0].kind == "CreateFunctionStmt");
    CHECK(a.statements[1].sql == "SELECT f()");
  }
  SECTION("kinds of common statements") {
    CHECK(kinds(analyze("UPDATE t SET a = 1")) == std::vector<std::string>{"UpdateStmt"});
    CHECK(kinds(analyze("EXPLAIN SELECT 1")) == std::vector<std::string>{"ExplainStmt"});
    CHECK(kinds(analyze("BEGIN")) == std::vector<std::string>{"TransactionStmt"});
    CHECK(kinds(analyze("SHOW x")) == std::vector<std::string>{"VariableShowStmt"});
  }
}

TEST_CASE("statements report the parameters they use", "[sql][split][params]") {
  const auto a = analyze("SELECT $1, $2::int FROM t WHERE a = $10; INSERT INTO t VALUES ($1); SELECT 1");
  REQUIRE(a.statements.size() == 3);
  CHECK(a.statements[0].maxParam == 10);
  CHECK(a.statements[1].maxParam == 1);
  CHECK(a.statements[2].maxParam == 0);
  CHECK(analyze("SELECT (SELECT $3), ($2)[1] FROM t").statements[0].maxParam == 3);
  CHECK(analyze("EXECUTE q($2)").statements[0].maxParam == 2);
  CHECK(a.statements[0].usedParams ==
        std::vector<bool>{true, true, false, false, false, false, false, false, false, true});
  CHECK(a.statements[2].usedParams.empty());
  CHECK(analyze("INSERT INTO t VALUES ($2)").statements[0].usedParams == std::vector<bool>{false, true});
  SECTION("$n of a prepared statement or function body are their own") {
    CHECK(analyze("PREPARE q(int) AS SELECT $1").statements[0].maxParam == 0);
    CHECK(analyze("CREATE FUNCTION f(int) RETURNS int LANGUAGE sql RETURN $1 + 1").statements[0].maxParam == 0);
  }
}

TEST_CASE("syntax errors carry a message and a position", "[sql][errors]") {
  try {
    (void)analyze("SELECT 1 FORM t");
    FAIL("no exception");
  } catch (const SyntaxError& e) {
    CHECK(e.error().message == "syntax error at or near \"t\"");
    CHECK(e.error().cursorPosition == 15); // 1-based
    CHECK(std::string(e.what()).find("syntax error") != std::string::npos);
  }
  SECTION("the position counts characters, not bytes") {
    try {
      (void)analyze("SELECT 'ééé' FORM t");
      FAIL("no exception");
    } catch (const SyntaxError& e) {
      CHECK(e.error().cursorPosition == 19);
    }
  }
  SECTION("unterminated string") { CHECK_THROWS_AS(analyze("SELECT 'abc"), SyntaxError); }
  SECTION("invalid UTF-8 and NUL bytes are refused like a UTF-8 server would") {
    try {
      (void)analyze("SELECT 'a\xC3\x28'");
      FAIL("no exception");
    } catch (const SyntaxError& e) {
      CHECK(e.error().message == "invalid byte sequence for encoding \"UTF8\": 0xc3 0x28");
      CHECK(e.error().cursorPosition == 10);
    }
    CHECK_THROWS_AS(analyze(std::string("SELECT 1\0", 9)), SyntaxError);
    CHECK_THROWS_AS(analyze("SELECT '\xED\xA0\x80'"), SyntaxError); // surrogate
    CHECK_THROWS_AS(analyze("SELECT '\xC0\xAF'"), SyntaxError);     // overlong
  }
  SECTION("pinCurrentTime throws too") { CHECK_THROWS_AS(pinCurrentTime("SELECT now(", kInstant), SyntaxError); }
}

TEST_CASE("functions are found everywhere", "[sql][functions]") {
  using V = std::vector<std::string>;
  CHECK(analyze("SELECT a FROM t WHERE b IN (SELECT lower(c) FROM u)").functions == V{"lower"});
  CHECK(analyze("WITH x AS (SELECT random() AS r) SELECT * FROM x").functions == V{"random"});
  CHECK(analyze("WITH x AS (INSERT INTO t VALUES (clock_timestamp()) RETURNING id) SELECT * FROM x").functions ==
        V{"clock_timestamp"});
  CHECK(analyze("CREATE TABLE t (id int DEFAULT nextval('s'), u text DEFAULT timeofday() "
                "CHECK (length(u::text) = 36))")
            .functions == V{"length", "nextval", "timeofday"});
  // gen_random_uuid() that the request runs or stores in a DEFAULT is rewritten (pinRandomUuid), so not listed.
  CHECK(analyze("CREATE TABLE t (u uuid DEFAULT gen_random_uuid() CHECK (length(u::text) = 36))").functions ==
        V{"length"});
  CHECK(analyze("ALTER TABLE t ALTER COLUMN a SET DEFAULT clock_timestamp()").functions == V{"clock_timestamp"});
  CHECK(analyze("INSERT INTO t VALUES (1, upper('a')), (2, md5('b'))").functions == V{"md5", "upper"});
  CHECK(analyze("SELECT coalesce(abs(round(x)), 0) FROM t").functions == V{"abs", "round"});
  CHECK(analyze("SELECT count(*), sum(a) OVER (PARTITION BY b ORDER BY ts) FROM t").functions == V{"count", "sum"});
  CHECK(analyze("SELECT * FROM generate_series(1, 3) g, LATERAL unnest(ARRAY[g]) u").functions ==
        V{"generate_series", "unnest"});
  CHECK(analyze("CALL refresh_all(now())").functions == V{"now", "refresh_all"});
  CHECK(analyze("UPDATE t SET a = f1(a) WHERE g2(b) RETURNING h3(c)").functions == V{"f1", "g2", "h3"});
  SECTION("qualified names give their last part, duplicates are removed, the list is sorted") {
    CHECK(analyze("SELECT myschema.f(1), f(2), pg_catalog.now(), now(), b()").functions == V{"b", "f", "now"});
  }
  SECTION("unquoted names are folded to lower case by the parser, quoted ones keep their case") {
    CHECK(analyze("SELECT NOW(), Lower('A'), \"MyFunc\"()").functions == V{"MyFunc", "lower", "now"});
  }
  SECTION("SQL syntax that PostgreSQL turns into function calls") {
    CHECK(analyze("SELECT extract(year FROM ts), ts AT TIME ZONE 'UTC' FROM t").functions == V{"extract", "timezone"});
  }
  SECTION("string bodies of CREATE FUNCTION are not looked into (the node judges them when a write runs them)") {
    CHECK(analyze("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT random()'").functions.empty());
  }
  SECTION("DO blocks run now: their bodies are looked into") {
    CHECK(analyze("DO $$BEGIN PERFORM pg_sleep(1); END$$").functions == V{"pg_sleep"});
  }
  SECTION("SQL-standard function bodies are parsed") {
    CHECK(analyze("CREATE FUNCTION f() RETURNS float LANGUAGE sql RETURN random()").functions == V{"random"});
  }
}

TEST_CASE("transaction control is detected", "[sql][transactions]") {
  for (const char* sql : {"BEGIN",
                          "BEGIN ISOLATION LEVEL SERIALIZABLE",
                          "START TRANSACTION",
                          "COMMIT",
                          "END",
                          "ROLLBACK",
                          "ABORT",
                          "COMMIT AND CHAIN",
                          "SAVEPOINT s",
                          "RELEASE SAVEPOINT s",
                          "ROLLBACK TO SAVEPOINT s",
                          "PREPARE TRANSACTION 'x'",
                          "COMMIT PREPARED 'x'",
                          "ROLLBACK PREPARED 'x'",
                          "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                          "SET TRANSACTION READ ONLY",
                          "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE",
                          "SET transaction_isolation = 'serializable'",
                          "SET default_transaction_read_only = on",
                          "RESET transaction_isolation",
                          "SELECT 1; COMMIT"}) {
    INFO(sql);
    CHECK(analyze(sql).transactionControl);
  }
  for (const char* sql : {"SELECT 1", "SET work_mem = '4MB'", "SET LOCAL statement_timeout = 0", "LOCK t",
                          "PREPARE q AS SELECT 1", "SHOW transaction_isolation"}) {
    INFO(sql);
    CHECK_FALSE(analyze(sql).transactionControl);
  }
}

TEST_CASE("statements that cannot run in a transaction block are detected", "[sql][transactions]") {
  for (const char* sql : {"VACUUM",
                          "VACUUM t",
                          "VACUUM (ANALYZE) t",
                          "VACUUM FULL t",
                          "CREATE DATABASE d",
                          "DROP DATABASE d",
                          "DROP DATABASE IF EXISTS d WITH (FORCE)",
                          "ALTER DATABASE d SET TABLESPACE ts",
                          "CREATE TABLESPACE ts LOCATION '/x'",
                          "DROP TABLESPACE ts",
                          "ALTER SYSTEM SET work_mem = '1MB'",
                          "CREATE INDEX CONCURRENTLY i ON t (a)",
                          "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)",
                          "DROP INDEX CONCURRENTLY i",
                          "REINDEX TABLE CONCURRENTLY t",
                          "REINDEX (CONCURRENTLY) INDEX i",
                          "REINDEX SCHEMA s",
                          "REINDEX SYSTEM d",
                          "REINDEX DATABASE d",
                          "CLUSTER",
                          "CLUSTER VERBOSE",
                          "DISCARD ALL",
                          "ALTER TABLE t DETACH PARTITION p CONCURRENTLY",
                          "COMMIT PREPARED 'x'",
                          "ROLLBACK PREPARED 'x'",
                          "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p",
                          "ALTER SUBSCRIPTION s REFRESH PUBLICATION",
                          "ALTER SUBSCRIPTION s SET PUBLICATION p",
                          "ALTER SUBSCRIPTION s ADD PUBLICATION p",
                          "DROP SUBSCRIPTION s",
                          "SELECT 1; VACUUM t"}) {
    INFO(sql);
    CHECK(analyze(sql).nonTransactional);
  }
  for (const char* sql :
       {"ANALYZE t", "CREATE INDEX i ON t (a)", "DROP INDEX i", "REINDEX TABLE t",
        "REINDEX (CONCURRENTLY false) TABLE t", "CLUSTER t", "CLUSTER t USING i", "DISCARD PLANS",
        "ALTER TABLE t DETACH PARTITION p", "ALTER DATABASE d SET work_mem = '1MB'", "ALTER TYPE mood ADD VALUE 'ok'",
        "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (create_slot = false)",
        "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (connect = off)",
        "ALTER SUBSCRIPTION s SET PUBLICATION p WITH (refresh = false)", "ALTER SUBSCRIPTION s DISABLE",
        "PREPARE TRANSACTION 'x'", "REFRESH MATERIALIZED VIEW CONCURRENTLY mv", "SELECT 1"}) {
    INFO(sql);
    CHECK_FALSE(analyze(sql).nonTransactional);
  }
}

TEST_CASE("sequence-creating statements are detected", "[sql][sequences]") {
  for (const char* sql :
       {"CREATE TABLE t (id serial PRIMARY KEY)", "CREATE TABLE t (id bigserial)", "CREATE TABLE t (id smallserial)",
        "CREATE TABLE t (id serial8, b int)", "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY)",
        "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 10))",
        "ALTER TABLE t ADD COLUMN id serial", "ALTER TABLE t ADD COLUMN id int GENERATED ALWAYS AS IDENTITY",
        "ALTER TABLE t ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY", "CREATE SEQUENCE s",
        "CREATE TEMP SEQUENCE IF NOT EXISTS s START 5", "CREATE SCHEMA s CREATE TABLE t (id serial)"}) {
    INFO(sql);
    CHECK(analyze(sql).createsSequenceValue);
  }
  for (const char* sql : {"CREATE TABLE t (id int, serial text)", "CREATE TABLE t (id myschema.serial)",
                          "CREATE TABLE t (id int GENERATED ALWAYS AS (1) STORED)", "ALTER SEQUENCE s RESTART",
                          "SELECT nextval('s')", "INSERT INTO t DEFAULT VALUES", "CREATE TABLE t (id int)"}) {
    INFO(sql);
    CHECK_FALSE(analyze(sql).createsSequenceValue);
  }
}

TEST_CASE("current time is detected", "[sql][time]") {
  for (const char* sql :
       {"SELECT now()", "SELECT pg_catalog.now()", "SELECT CURRENT_TIMESTAMP", "SELECT CURRENT_DATE",
        "SELECT CURRENT_TIME", "SELECT LOCALTIME", "SELECT LOCALTIMESTAMP(2)", "SELECT transaction_timestamp()",
        "SELECT statement_timestamp()", "INSERT INTO t VALUES (now())", "SELECT 'now'::timestamptz",
        "SELECT date 'today'", "CREATE TABLE t (ts timestamptz DEFAULT 'now'::timestamptz)",
        "SELECT 1 FROM t WHERE ts > (SELECT max(x) FROM u WHERE y < now())"}) {
    INFO(sql);
    const auto a = analyze(sql);
    CHECK(a.usesCurrentTime);
    CHECK_FALSE(a.storesCurrentTime);
  }
  for (const char* sql : {"SELECT clock_timestamp()", "SELECT 'now()'", "SELECT \"now\" FROM t", "SELECT now FROM t",
                          "SELECT myschema.now()", "SELECT 'now'::text", "SELECT 'today'", "SELECT '2020-01-01'::date",
                          "SELECT \"NOW\"()"}) {
    INFO(sql);
    const auto a = analyze(sql);
    CHECK_FALSE(a.usesCurrentTime);
    CHECK_FALSE(a.storesCurrentTime);
  }
  for (const char* sql :
       {"CREATE TABLE t (ts timestamptz DEFAULT now())", "CREATE TABLE t (d date DEFAULT CURRENT_DATE)",
        "ALTER TABLE t ADD COLUMN ts timestamptz DEFAULT now()", "ALTER TABLE t ALTER COLUMN ts SET DEFAULT now()",
        "CREATE VIEW v AS SELECT now()", "CREATE MATERIALIZED VIEW mv AS SELECT now()",
        "CREATE FUNCTION f() RETURNS timestamptz LANGUAGE sql RETURN now()", "PREPARE q AS SELECT now()",
        "CREATE DOMAIN d AS date CHECK (VALUE <= CURRENT_DATE)", "CREATE POLICY p ON t USING (ts < now())"}) {
    INFO(sql);
    const auto a = analyze(sql);
    CHECK_FALSE(a.usesCurrentTime);
    CHECK(a.storesCurrentTime);
    CHECK(pinCurrentTime(sql, kInstant) == sql);
  }
}

TEST_CASE("deeply nested input does not overflow the stack", "[sql][limits]") {
  std::string sql = "SELECT 1";
  for (int i = 0; i < 150'000; ++i) sql += "+1"; // crashes libpg_query on an 8 MiB stack
  sql += "+extract(epoch FROM now())";
  const auto a = analyze(sql);
  CHECK(a.readOnly);
  CHECK(a.usesCurrentTime);
  CHECK(a.functions == std::vector<std::string>{"extract", "now"});
  const std::string pinned = pinCurrentTime(sql, kInstant);
  const std::string tail = "+1+extract(epoch FROM '2026-11-26 07:00:00.123+00'::timestamptz)";
  REQUIRE(pinned.size() > tail.size());
  CHECK(pinned.substr(pinned.size() - tail.size()) == tail);
}

TEST_CASE("input size limit", "[sql][limits]") {
  const std::string big(kluster::sql::kMaxSqlBytes + 1, ' ');
  CHECK_THROWS_AS(analyze(big), std::length_error);
  CHECK_FALSE(isReadOnly(big));
}

TEST_CASE("concurrent use from several threads", "[sql][threads]") {
  const std::vector<std::string> inputs = {
      "SELECT a, now() FROM t WHERE b = 'x' FOR UPDATE",
      "INSERT INTO t (a, b) VALUES (nextval('s'), CURRENT_DATE) RETURNING a",
      "CREATE TABLE t (id serial, ts timestamptz DEFAULT now())",
      "SELEC broken",
      "WITH x AS (DELETE FROM t RETURNING *) SELECT count(*) FROM x",
      std::string("SELECT 1") + std::string(40'000, ' ') + "+ now()", // > 16 KiB: big-stack worker
  };
  struct Expected {
    bool parses;
    bool readOnly;
    std::vector<std::string> functions;
    std::string pinned;
  };
  std::vector<Expected> expected;
  for (const auto& sql : inputs) {
    try {
      const auto a = analyze(sql);
      expected.push_back({true, a.readOnly, a.functions, pinCurrentTime(sql, kInstant)});
    } catch (const SyntaxError&) {
      expected.push_back({false, false, {}, {}});
    }
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        const std::size_t k = static_cast<std::size_t>(i + t) % inputs.size();
        try {
          const auto a = analyze(inputs[k]);
          if (!expected[k].parses || a.readOnly != expected[k].readOnly || a.functions != expected[k].functions ||
              pinCurrentTime(inputs[k], kInstant) != expected[k].pinned) {
            ++mismatches;
          }
        } catch (const SyntaxError&) {
          if (expected[k].parses) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(mismatches.load() == 0);
  CHECK_FALSE(expected[3].parses);
  CHECK(expected[5].pinned.find(kTz) != std::string::npos);
}
