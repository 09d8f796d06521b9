#include "core/node/prepare.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>

using namespace kluster;

namespace {
std::string request(const std::string& sql, const std::string& params = "[]") {
  return fmt::format(R"({{"messageId":"m","clientId":"c","sqlString":{},"params":{}}})", ojson(sql).dump(), params);
}
} // namespace

TEST_CASE("ALL requests are refused identically before they run when they cannot be applied exactly once") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  struct Case {
    std::string sql;
    std::string_view code;
  };
  const std::vector<Case> cases = {
      {"BEGIN", code::TransactionControl},
      {"INSERT INTO t VALUES (1); COMMIT", code::TransactionControl},
      {"VACUUM t", code::NotTransactional},
      {"CREATE INDEX CONCURRENTLY i ON t (a)", code::NotTransactional},
      {"CREATE SEQUENCE s CACHE 10", code::Nondeterministic},
      {"SELEC 1", code::SyntaxError},
      {"SELECT $1, $2", code::ParamMismatch},
  };
  for (const auto& c : cases) {
    INFO(c.sql);
    auto p = prep.forAll(request(c.sql), 10, 1000);
    REQUIRE(p.refusal);
    CHECK(p.refusal->resultCode == c.code);
  }
}

TEST_CASE("current time is pinned to the message timestamp and random() is seeded from the offset") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  auto p = prep.forAll(request("INSERT INTO t VALUES (now(), random())"), 41, 1764140400123);
  REQUIRE_FALSE(p.refusal);
  REQUIRE(p.work.statements.size() == 1);
  CHECK(p.work.statements[0].sql.find("now()") == std::string::npos);
  CHECK(p.work.statements[0].sql.find("2025-11-26") != std::string::npos);
  REQUIRE(p.work.randomSeed);
  CHECK(*p.work.randomSeed == node::randomSeedFor(41));
  CHECK(*p.work.randomSeed >= -1.0);
  CHECK(*p.work.randomSeed <= 1.0);
  CHECK(node::randomSeedFor(41) != node::randomSeedFor(42));
}

TEST_CASE("parameters bind per statement and multi-statement requests split") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  auto p = prep.forAll(request("INSERT INTO t VALUES ($1, $2); UPDATE t SET b = $2", R"([1, null])"), 1, 1);
  REQUIRE_FALSE(p.refusal);
  REQUIRE(p.work.statements.size() == 2);
  CHECK(p.work.statements[0].params.size() == 2);
  CHECK(*p.work.statements[0].params[0] == "1");
  CHECK_FALSE(p.work.statements[0].params[1]);
  CHECK(p.work.statements[1].params.size() == 2);
}

TEST_CASE("ONE requests are not refused for writing: PostgreSQL refuses them read-only") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  auto p = prep.forOne(request("INSERT INTO t VALUES (1)"));
  CHECK_FALSE(p.refusal);
  CHECK(p.work.statements.size() == 1);
}

TEST_CASE("each distinct SQL text is analyzed once; requests prepared from the cache are the same") {
  sql::AnalysisCache cache;
  node::Preparer cached(db::adapter("postgresql"), 1 << 20, &cache);
  node::Preparer plain(db::adapter("postgresql"), 1 << 20);
  const auto text = request("INSERT INTO t VALUES ($1, now())", R"(["a"])");
  auto first = cached.forAll(text, 7, 1764140400123);
  auto second = cached.forAll(text, 8, 1764140400999);
  auto reference = plain.forAll(text, 8, 1764140400999);
  CHECK(cache.size() == 1);
  CHECK(cache.hits() == 1);
  REQUIRE_FALSE(second.refusal);
  REQUIRE(second.work.statements.size() == 1);
  // Pinning still uses each request's own timestamp.
  CHECK(first.work.statements[0].sql != second.work.statements[0].sql);
  CHECK(second.work.statements[0].sql == reference.work.statements[0].sql);
  CHECK(second.functions == reference.functions);

  // Texts that do not parse are not cached and keep their exact error.
  for (int i = 0; i < 2; ++i) {
    auto bad = cached.forAll(request("SELEC 1"), 9, 1);
    REQUIRE(bad.refusal);
    CHECK(bad.refusal->resultCode == code::SyntaxError);
  }
  CHECK(cache.size() == 1);
}

TEST_CASE("the analysis cache starts over when full") {
  sql::AnalysisCache cache(sql::postgresDialect(), 2); // (texts of three shapes: SELECT 1 and SELECT 2 share one)
  cache.get("SELECT a FROM t");
  cache.get("SELECT b FROM t");
  CHECK(cache.size() == 2);
  cache.get("SELECT c FROM t");
  CHECK(cache.size() == 1);
  CHECK(cache.get("SELECT c FROM t")->statements.at(0).sql == "SELECT c FROM t");
  CHECK(cache.hits() == 1);
}

TEST_CASE("ALL requests name the functions they call for the volatility check; ONE requests do not") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  auto all = prep.forAll(request("INSERT INTO t VALUES (clock_timestamp(), lower($1))", R"(["X"])"), 1, 1);
  CHECK_FALSE(all.refusal); // refused by FunctionCheck, which asks the database
  CHECK(all.functions == std::vector<std::string>{"clock_timestamp", "lower"});
  node::FunctionCheck check(db::adapter("postgresql"), nullptr); // without a connection nothing is known to be volatile
  check.apply(all);
  CHECK_FALSE(all.refusal);
  auto one = prep.forOne(request("SELECT gen_random_uuid()"));
  CHECK(one.functions.empty());
}

TEST_CASE("gen_random_uuid() on ALL calls Kluster's generator, keyed by the request's offset and messageId") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  auto all = prep.forAll(
      R"j({"messageId":"m-1","clientId":"c","sqlString":"INSERT INTO t VALUES (gen_random_uuid())"})j", 42, 1);
  REQUIRE_FALSE(all.refusal);
  REQUIRE(all.work.statements.size() == 1);
  CHECK(all.work.statements[0].sql == "INSERT INTO t VALUES (_kluster.gen_random_uuid())");
  CHECK(all.work.statements[0].reusable); // the same text for every request: prepared once
  CHECK(all.work.uuidKey == std::optional<std::string>("42/m-1"));
  auto plain = prep.forAll(R"j({"messageId":"m-2","clientId":"c","sqlString":"INSERT INTO t VALUES (1)"})j", 43, 1);
  CHECK_FALSE(plain.work.uuidKey);
  auto one = prep.forOne(R"j({"messageId":"m-3","clientId":"c","sqlString":"SELECT gen_random_uuid()"})j");
  CHECK(one.work.statements.at(0).sql == "SELECT gen_random_uuid()"); // a read on ONE stores nothing
}

TEST_CASE("a statement that skips some of $1..$n declares the skipped ones, which the server cannot infer") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  auto p = prep.forAll(request("INSERT INTO a VALUES ($1); INSERT INTO b VALUES ($2)", R"([1, 2])"), 1, 1);
  REQUIRE_FALSE(p.refusal);
  REQUIRE(p.work.statements.size() == 2);
  CHECK(p.work.statements[0].unusedParams.empty()); // uses all it gets
  CHECK(p.work.statements[1].params.size() == 2);
  CHECK(p.work.statements[1].unusedParams == std::vector<bool>{true, false});
}

TEST_CASE("ALL refuses what the determinism rules refuse from syntax, with a hint; ONE answers it") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  for (const char* sql :
       {"UPDATE t SET v = random()", "INSERT INTO log SELECT ctid::text FROM t",
        "INSERT INTO log VALUES (current_user)", "INSERT INTO log SELECT * FROM (SELECT id FROM t) s LIMIT 1"}) {
    INFO(sql);
    auto all = prep.forAll(request(sql), 1, 1);
    REQUIRE(all.refusal);
    CHECK(all.refusal->resultCode == code::Nondeterministic);
    CHECK_FALSE(all.refusal->hint.empty());
    CHECK_FALSE(prep.forOne(request(sql)).refusal);
  }
}

TEST_CASE("session state is refused on ONE too: its connections serve every client's reads") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  for (const char* sql : {"SET TimeZone = 'UTC'", "SET search_path = evil", "PREPARE p AS SELECT 1", "RESET ALL"}) {
    INFO(sql);
    for (const auto& p : {prep.forAll(request(sql), 1, 1), prep.forOne(request(sql))}) {
      REQUIRE(p.refusal);
      CHECK(p.refusal->resultCode == code::Nondeterministic);
      CHECK_FALSE(p.refusal->hint.empty());
    }
  }
  CHECK_FALSE(prep.forOne(request("SET LOCAL work_mem = '8MB'; SELECT 1")).refusal);
}

TEST_CASE("server access is refused on ALL and ONE; a NUL in a text parameter is refused, not cut") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  for (const char* sql : {"COPY t TO PROGRAM 'id'", "SELECT pg_read_file('/etc/passwd')", "SET ROLE postgres"}) {
    INFO(sql);
    for (const auto& p : {prep.forAll(request(sql), 1, 1), prep.forOne(request(sql))}) {
      REQUIRE(p.refusal);
      CHECK(p.refusal->resultCode == code::Forbidden);
    }
  }
  const std::string nul = R"({"messageId":"m","clientId":"c","sqlString":"SELECT $1","params":["a\u0000b"]})";
  auto p = prep.forOne(nul);
  REQUIRE(p.refusal);
  CHECK(p.refusal->resultCode == code::InvalidUtf8);
}

TEST_CASE("a write's row order is checked against the unique keys the database reports") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  auto p = prep.forAll(request("INSERT INTO log SELECT id FROM t ORDER BY id LIMIT 1"), 1, 1);
  REQUIRE_FALSE(p.refusal);
  REQUIRE(p.ordered.size() == 1);
  node::FunctionCheck check(db::adapter("postgresql"), nullptr); // without a connection no table has a unique key
  check.apply(p);
  REQUIRE(p.refusal);
  CHECK(p.refusal->resultCode == code::Nondeterministic);
  CHECK(p.refusal->hint.find("unique") != std::string::npos);
  // Without a LIMIT, the order matters only when log has a DEFAULT drawn from a sequence: it has none here.
  auto plain = prep.forAll(request("INSERT INTO log SELECT id FROM t"), 2, 1);
  check.apply(plain);
  CHECK_FALSE(plain.refusal);
  CHECK(prep.forAll(request("INSERT INTO log VALUES (1)"), 3, 1).ordered.empty());
}

TEST_CASE("DEFAULT now() is rewritten to the request's time, which the request that defines it sets") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  auto p = prep.forAll(request("CREATE TABLE e (id int PRIMARY KEY, at timestamptz DEFAULT now())"), 7, 1764140400123);
  REQUIRE_FALSE(p.refusal);
  CHECK(p.work.statements.at(0).sql.find("_kluster.request_time()") != std::string::npos);
  REQUIRE(p.work.requestTimeMs);
  CHECK(*p.work.requestTimeMs == 1764140400123);
  auto view = prep.forAll(request("CREATE VIEW v AS SELECT now() AS at"), 8, 1);
  REQUIRE(view.refusal);
  CHECK(view.refusal->resultCode == code::Nondeterministic);
  auto insert = prep.forAll(request("INSERT INTO e (id) VALUES (1)"), 9, 5);
  CHECK(insert.writes);
  CHECK(insert.timestampMs == 5);
}

TEST_CASE("a describe request is left to the database on ONE and refused on ALL") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  const std::string describe =
      R"({"messageId":"m","clientId":"c","kind":"describe","sqlString":"SELEC oops $1","paramTypes":[23]})";
  auto one = prep.forOne(describe);
  CHECK_FALSE(one.refusal); // not analyzed: the database's own parser answers with its SQLSTATE
  CHECK(one.describe);
  CHECK(one.work.statements.empty());
  auto all = prep.forAll(describe, 5, 1000);
  REQUIRE(all.refusal);
  CHECK(all.refusal->resultCode == code::BadRequest);
  CHECK_FALSE(prep.forOne(request("SELECT 1")).describe);
}

TEST_CASE("ALL requests name the tables they write, whose triggers FunctionCheck judges; a request may not define a "
          "function or trigger and write in one go") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  auto p = prep.forAll(request("WITH d AS (DELETE FROM a RETURNING id) INSERT INTO b SELECT id FROM d; UPDATE s.c SET "
                               "v = 1; TRUNCATE e"),
                       1, 1);
  REQUIRE_FALSE(p.refusal);
  std::vector<std::string> targets;
  for (const auto& t : p.targets) targets.push_back(t.schema.empty() ? t.name : t.schema + "." + t.name);
  std::sort(targets.begin(), targets.end());
  CHECK(targets == std::vector<std::string>{"a", "b", "e", "s.c"});
  for (const char* sql :
       {"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'; INSERT INTO t VALUES (f())",
        "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION g(); INSERT INTO t VALUES (1)"}) {
    INFO(sql);
    auto mixed = prep.forAll(request(sql), 2, 1);
    REQUIRE(mixed.refusal);
    CHECK(mixed.refusal->resultCode == code::Nondeterministic);
    CHECK_FALSE(mixed.refusal->hint.empty());
  }
  CHECK_FALSE(prep.forAll(request("CREATE TABLE t (id int); CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT "
                                  "1'; CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION g()"),
                          3, 1)
                  .refusal);
}
