// pinCurrentTime: current-time expressions become literals of the request's instant, keeping types,
// precision and column names, and leaving look-alikes and stored definitions alone.
#include <catch2/catch.hpp>

#include <string>

#include "core/sql/analyzer.hpp"

using kluster::sql::analyze;
using kluster::sql::pinCurrentTime;
using kluster::sql::SyntaxError;

namespace {

// 2026-11-26 07:00:00.123 UTC
constexpr std::int64_t kInstant = 1'795'676'400'123;
const std::string kTz = "'2026-11-26 07:00:00.123+00'::timestamptz";

} // namespace

TEST_CASE("pinCurrentTime: each form keeps its type", "[sql][time][pin]") {
  CHECK(pinCurrentTime("SELECT now() AS t", kInstant) == "SELECT " + kTz + " AS t");
  CHECK(pinCurrentTime("SELECT CURRENT_TIMESTAMP AS t", kInstant) == "SELECT " + kTz + " AS t");
  CHECK(pinCurrentTime("SELECT transaction_timestamp() AS t", kInstant) == "SELECT " + kTz + " AS t");
  CHECK(pinCurrentTime("SELECT statement_timestamp() AS t", kInstant) == "SELECT " + kTz + " AS t");
  CHECK(pinCurrentTime("SELECT CURRENT_DATE AS t", kInstant) == "SELECT '2026-11-26'::date AS t");
  CHECK(pinCurrentTime("SELECT CURRENT_TIME AS t", kInstant) == "SELECT '07:00:00.123+00'::timetz AS t");
  CHECK(pinCurrentTime("SELECT LOCALTIME AS t", kInstant) == "SELECT '07:00:00.123'::time AS t");
  CHECK(pinCurrentTime("SELECT LOCALTIMESTAMP AS t", kInstant) == "SELECT '2026-11-26 07:00:00.123'::timestamp AS t");
  SECTION("keywords are case-insensitive") {
    CHECK(pinCurrentTime("select current_date as t, Now() as u", kInstant) ==
          "select '2026-11-26'::date as t, " + kTz + " as u");
  }
}

TEST_CASE("pinCurrentTime: precision is kept", "[sql][time][pin]") {
  CHECK(pinCurrentTime("SELECT CURRENT_TIMESTAMP(3) AS t", kInstant) ==
        "SELECT '2026-11-26 07:00:00.123+00'::timestamptz(3) AS t");
  CHECK(pinCurrentTime("SELECT CURRENT_TIMESTAMP(0) AS t", kInstant) == // typmod 0 is omitted in the JSON
        "SELECT '2026-11-26 07:00:00.123+00'::timestamptz(0) AS t");
  CHECK(pinCurrentTime("SELECT LOCALTIMESTAMP ( 2 ) AS t", kInstant) ==
        "SELECT '2026-11-26 07:00:00.123'::timestamp(2) AS t");
  CHECK(pinCurrentTime("SELECT CURRENT_TIME(1) AS t", kInstant) == "SELECT '07:00:00.123+00'::timetz(1) AS t");
  CHECK(pinCurrentTime("SELECT LOCALTIME(6) AS t", kInstant) == "SELECT '07:00:00.123'::time(6) AS t");
}

TEST_CASE("pinCurrentTime: qualified and spaced calls", "[sql][time][pin]") {
  CHECK(pinCurrentTime("SELECT pg_catalog.now() AS t", kInstant) == "SELECT " + kTz + " AS t");
  CHECK(pinCurrentTime("SELECT \"pg_catalog\".\"now\"() AS t", kInstant) == "SELECT " + kTz + " AS t");
  CHECK(pinCurrentTime("SELECT pg_catalog . now /* c */ ( ) AS t", kInstant) == "SELECT " + kTz + " AS t");
  CHECK(pinCurrentTime("SELECT pg_catalog.statement_timestamp() AS t", kInstant) == "SELECT " + kTz + " AS t");
  SECTION("other schemas' now() and wrong arities are not PostgreSQL's now()") {
    CHECK(pinCurrentTime("SELECT myschema.now() AS t", kInstant) == "SELECT myschema.now() AS t");
    CHECK(pinCurrentTime("SELECT now(1) AS t", kInstant) == "SELECT now(1) AS t");
    CHECK(pinCurrentTime("SELECT \"NOW\"() AS t", kInstant) == "SELECT \"NOW\"() AS t");
  }
}

TEST_CASE("pinCurrentTime: look-alikes stay untouched", "[sql][time][pin]") {
  const std::string sql = "SELECT 'now()', E'CURRENT_DATE', $$now()$$, \"now\", t.now, now, \"current_date\" -- now()\n"
                          "FROM t /* CURRENT_TIMESTAMP now() */ WHERE now = 'now' AND c = 'today'";
  CHECK(pinCurrentTime(sql, kInstant) == sql);
  CHECK_FALSE(analyze(sql).usesCurrentTime);
  SECTION("only the real call next to look-alikes is replaced") {
    CHECK(pinCurrentTime("SELECT 'now()' AS a, now() AS b, \"now\" FROM t -- now()", kInstant) ==
          "SELECT 'now()' AS a, " + kTz + " AS b, \"now\" FROM t -- now()");
  }
}

TEST_CASE("pinCurrentTime: multiple occurrences and statements", "[sql][time][pin]") {
  const std::string sql = "INSERT INTO t (a, b, c) VALUES (now(), CURRENT_DATE, now() - interval '1 day'); "
                          "UPDATE t SET b = LOCALTIMESTAMP WHERE a < now()";
  const std::string expected =
      "INSERT INTO t (a, b, c) VALUES (" + kTz + ", '2026-11-26'::date, " + kTz +
      " - interval '1 day'); UPDATE t SET b = '2026-11-26 07:00:00.123'::timestamp WHERE a < " + kTz;
  CHECK(pinCurrentTime(sql, kInstant) == expected);
  const auto after = analyze(expected);
  CHECK_FALSE(after.usesCurrentTime);
  CHECK(after.statements.size() == 2);
}

TEST_CASE("pinCurrentTime: byte offsets with multibyte UTF-8 before the occurrence", "[sql][time][pin]") {
  CHECK(pinCurrentTime("SELECT 'héllo wörld – 日本語 🎉' AS s, now() AS t", kInstant) ==
        "SELECT 'héllo wörld – 日本語 🎉' AS s, " + kTz + " AS t");
  CHECK(pinCurrentTime("/* ünïcödé */ INSERT INTO \"tàble\" VALUES ('€', CURRENT_DATE)", kInstant) ==
        "/* ünïcödé */ INSERT INTO \"tàble\" VALUES ('€', '2026-11-26'::date)");
}

TEST_CASE("pinCurrentTime: result column names are kept", "[sql][time][pin]") {
  CHECK(pinCurrentTime("SELECT now()", kInstant) == "SELECT " + kTz + " AS \"now\"");
  CHECK(pinCurrentTime("SELECT CURRENT_TIMESTAMP, x FROM t", kInstant) ==
        "SELECT " + kTz + " AS \"current_timestamp\", x FROM t");
  CHECK(pinCurrentTime("SELECT now()::date FROM t", kInstant) == "SELECT " + kTz + "::date AS \"now\" FROM t");
  SECTION("names that do not change get no alias") {
    CHECK(pinCurrentTime("SELECT now() + interval '1 h', now() AS n FROM t", kInstant) ==
          "SELECT " + kTz + " + interval '1 h', " + kTz + " AS n FROM t");
  }
  SECTION("a subquery's column stays referenceable") {
    CHECK(pinCurrentTime("SELECT s.now FROM (SELECT now()) s", kInstant) ==
          "SELECT s.now FROM (SELECT " + kTz + " AS \"now\") s");
  }
  SECTION("RETURNING and CREATE TABLE AS") {
    CHECK(pinCurrentTime("INSERT INTO t VALUES (1) RETURNING now(), a", kInstant) ==
          "INSERT INTO t VALUES (1) RETURNING " + kTz + " AS \"now\", a");
    CHECK(pinCurrentTime("CREATE TABLE t2 AS SELECT now() WITH NO DATA", kInstant) ==
          "CREATE TABLE t2 AS SELECT " + kTz + " AS \"now\" WITH NO DATA");
  }
  SECTION("the alias goes after the whole expression") {
    CHECK(pinCurrentTime("SELECT now()::time with time zone FROM t", kInstant) ==
          "SELECT " + kTz + "::time with time zone AS \"now\" FROM t");
    CHECK(pinCurrentTime("SELECT now() FROM t UNION SELECT now() ORDER BY 1", kInstant) ==
          "SELECT " + kTz + " AS \"now\" FROM t UNION SELECT " + kTz + " AS \"now\" ORDER BY 1");
  }
  SECTION("tokens are kept apart") {
    CHECK(pinCurrentTime("SELECT now()FROM t", kInstant) == "SELECT " + kTz + " AS \"now\" FROM t");
  }
  SECTION("in FROM, a CAST keeps the item valid and an alias keeps its name") {
    CHECK(pinCurrentTime("SELECT * FROM now()", kInstant) ==
          "SELECT * FROM CAST('2026-11-26 07:00:00.123+00' AS timestamptz) AS \"now\"");
    CHECK(pinCurrentTime("SELECT * FROM CURRENT_DATE WITH ORDINALITY", kInstant) ==
          "SELECT * FROM CAST('2026-11-26' AS date) WITH ORDINALITY AS \"current_date\"");
    CHECK(pinCurrentTime("SELECT * FROM now() AS n(ts)", kInstant) ==
          "SELECT * FROM CAST('2026-11-26 07:00:00.123+00' AS timestamptz) AS n(ts)");
  }
}

TEST_CASE("pinCurrentTime: special input strings are evaluated at parse time", "[sql][time][pin]") {
  CHECK(pinCurrentTime("SELECT 'now'::timestamptz", kInstant) == "SELECT '2026-11-26 07:00:00.123+00'::timestamptz");
  CHECK(pinCurrentTime("SELECT 'NOW'::timestamp with time zone, 'now'::pg_catalog.time", kInstant) ==
        "SELECT '2026-11-26 07:00:00.123+00'::timestamp with time zone, "
        "'2026-11-26 07:00:00.123+00'::pg_catalog.time");
  CHECK(pinCurrentTime("SELECT date 'today', timestamp 'tomorrow', CAST(' Yesterday ' AS timestamptz)", kInstant) ==
        "SELECT date '2026-11-26 00:00:00+00', timestamp '2026-11-27 00:00:00+00', "
        "CAST('2026-11-25 00:00:00+00' AS timestamptz)");
  SECTION("also inside stored definitions, where PostgreSQL freezes them at creation") {
    CHECK(pinCurrentTime("CREATE TABLE t (ts timestamptz DEFAULT 'now'::timestamptz, u timestamptz DEFAULT now())",
                         kInstant) ==
          "CREATE TABLE t (ts timestamptz DEFAULT '2026-11-26 07:00:00.123+00'::timestamptz, "
          "u timestamptz DEFAULT now())");
  }
  SECTION("other types and strings are untouched") {
    const std::string sql =
        "SELECT 'now'::text, 'today', 'now'::interval, '2020-01-01'::date, 'now'::myschema.date, '{now}'::date[]";
    CHECK(pinCurrentTime(sql, kInstant) == sql);
  }
}

TEST_CASE("pinCurrentTime: stored definitions keep their expressions", "[sql][time][pin]") {
  CHECK(pinCurrentTime("CREATE TABLE t (id int, ts timestamptz DEFAULT now() CHECK (ts <= now()))", kInstant) ==
        "CREATE TABLE t (id int, ts timestamptz DEFAULT now() CHECK (ts <= now()))");
  CHECK(pinCurrentTime("ALTER TABLE t ALTER COLUMN ts SET DEFAULT now(), ALTER COLUMN d TYPE date USING now()",
                       kInstant) ==
        "ALTER TABLE t ALTER COLUMN ts SET DEFAULT now(), ALTER COLUMN d TYPE date USING " + kTz);
  CHECK(pinCurrentTime("CREATE VIEW v AS SELECT now()", kInstant) == "CREATE VIEW v AS SELECT now()");
  SECTION("a stored and an executed occurrence in one request") {
    const std::string pinned =
        pinCurrentTime("CREATE TABLE t (ts timestamptz DEFAULT now()); INSERT INTO t VALUES (now())", kInstant);
    CHECK(pinned == "CREATE TABLE t (ts timestamptz DEFAULT now()); INSERT INTO t VALUES (" + kTz + ")");
    const auto a = analyze(pinned);
    CHECK_FALSE(a.usesCurrentTime);
    CHECK(a.storesCurrentTime);
  }
}

TEST_CASE("pinCurrentTime: instants", "[sql][time][pin]") {
  CHECK(pinCurrentTime("SELECT now() AS t", 0) == "SELECT '1970-01-01 00:00:00.000+00'::timestamptz AS t");
  CHECK(pinCurrentTime("SELECT now() AS t", -1) == "SELECT '1969-12-31 23:59:59.999+00'::timestamptz AS t");
  CHECK(pinCurrentTime("SELECT CURRENT_DATE AS t", 951'782'400'000) == // leap day 2000
        "SELECT '2000-02-29'::date AS t");
  CHECK(pinCurrentTime("SELECT now() AS t", -62'135'596'800'001) == // 1 ms before 0001-01-01
        "SELECT '0001-12-31 23:59:59.999+00 BC'::timestamptz AS t");
  CHECK(pinCurrentTime("SELECT now() AS t", 253'402'300'799'999) ==
        "SELECT '9999-12-31 23:59:59.999+00'::timestamptz AS t");
  CHECK_THROWS_AS(pinCurrentTime("SELECT now()", -210'866'803'200'001), std::out_of_range);
  CHECK(pinCurrentTime("SELECT 1", -210'866'803'200'001) == "SELECT 1"); // nothing to pin
}

TEST_CASE("pinCurrentTime: output is accepted again and idempotent", "[sql][time][pin]") {
  for (const char* sql :
       {"SELECT now(), CURRENT_DATE, LOCALTIME(2) FROM t WHERE ts > now() - interval '1 day'",
        "WITH x AS (SELECT now() AS n) SELECT x.n FROM x", "SELECT * FROM generate_series(now(), now(), '1 h')",
        "CALL p(now())", "COPY (SELECT now()) TO STDOUT", "EXPLAIN ANALYZE SELECT CURRENT_TIMESTAMP",
        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY now()) FROM t", "SELECT x IS DISTINCT FROM now() FROM t",
        "SELECT CASE WHEN a THEN now() END FROM t"}) {
    INFO(sql);
    const std::string once = pinCurrentTime(sql, kInstant);
    CHECK(once != sql);
    CHECK_FALSE(analyze(once).usesCurrentTime);
    CHECK(pinCurrentTime(once, kInstant) == once);
  }
}
