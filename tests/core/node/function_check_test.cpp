// FunctionCheck against a database that answers what the test says (tests/support/fake_connection.hpp): the
// determinism rules that need the catalog, in Kluster's terms (db::Volatility), without a server.
#include "core/node/prepare.hpp"
#include "support/fake_connection.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace kluster;
using db::Volatility;

namespace {

std::string request(const std::string& sql) {
  const char* params = sql.find("$1") != std::string::npos ? R"(["X"])" : "[]";
  return fmt::format(R"({{"messageId":"m","clientId":"c","sqlString":{},"params":{}}})", ojson(sql).dump(), params);
}

struct Fixture {
  test::FakeConnection db;
  node::Preparer prep{db::adapter("postgresql"), 1 << 20};
  node::FunctionCheck check{db::adapter("postgresql"), &db};

  node::Prepared all(const std::string& sql, std::int64_t offset = 1, std::int64_t timestampMs = 1000) {
    auto p = prep.forAll(request(sql), offset, timestampMs);
    INFO((p.refusal ? p.refusal->errorMessage : std::string()));
    REQUIRE_FALSE(p.refusal);
    check.apply(p);
    return p;
  }
};

} // namespace

TEST_CASE("a write calling a function the database declares volatile is refused; immutable ones run") {
  Fixture f;
  f.db.volatility["clock_timestamp"] = {Volatility::Volatile, Volatility::None};
  f.db.volatility["lower"] = {Volatility::Immutable, Volatility::None};
  f.db.volatility["pg_backend_pid"] = {Volatility::Stable, Volatility::None};
  f.db.volatility["to_char"] = {Volatility::Stable, Volatility::None};

  auto clock = f.all("INSERT INTO t VALUES (clock_timestamp())");
  REQUIRE(clock.refusal);
  CHECK(clock.refusal->resultCode == code::Nondeterministic);
  CHECK_THAT(clock.refusal->errorMessage, Catch::Contains("clock_timestamp") && Catch::Contains("volatile"));
  CHECK_FALSE(f.all("INSERT INTO t VALUES (lower($1))").refusal);
  // A STABLE built-in reads the backend or the server unless it is on the allow-list (formatting).
  CHECK(f.all("INSERT INTO t VALUES (pg_backend_pid())").refusal);
  CHECK_FALSE(f.all("INSERT INTO t VALUES (to_char(1, '9'))").refusal);
  // Answers are kept by name: asking about a known name again costs no look-up.
  const int lookups = f.db.catalogLookups;
  CHECK(f.all("INSERT INTO t VALUES (clock_timestamp())").refusal);
  CHECK(f.db.catalogLookups == lookups);
  // After DDL the cache is dropped and the database is asked again.
  f.check.invalidate();
  f.db.volatility["clock_timestamp"] = {Volatility::Immutable, Volatility::None};
  CHECK_FALSE(f.all("INSERT INTO t VALUES (clock_timestamp())").refusal);
  CHECK(f.db.catalogLookups > lookups);
}

TEST_CASE("a user-defined volatile function is refused unless an operator vouched for it") {
  Fixture f;
  f.db.volatility["next_ticket"] = {Volatility::None, Volatility::Volatile};
  db::FunctionDefinition def;
  def.signature = "public.next_ticket()";
  def.language = "c";
  def.volatility = Volatility::Volatile;
  f.db.functions["next_ticket"] = {def};
  auto refused = f.all("INSERT INTO t VALUES (next_ticket())");
  REQUIRE(refused.refusal);
  CHECK(refused.refusal->resultCode == code::Nondeterministic);

  f.check.invalidate();
  f.db.functions["next_ticket"][0].trusted = true; // _kluster.trust_function('public.next_ticket()')
  CHECK_FALSE(f.all("INSERT INTO t VALUES (next_ticket())").refusal);
}

TEST_CASE("a write's row order is total when the database reports a unique key it is ordered by") {
  Fixture f;
  const std::string sql = "INSERT INTO log SELECT id FROM t ORDER BY id LIMIT 1";
  auto without = f.all(sql);
  REQUIRE(without.refusal); // t has no unique key yet
  CHECK_THAT(without.refusal->hint, Catch::Contains("unique"));
  f.check.invalidate();
  f.db.keys["public.t"] = {{"id"}};
  CHECK_FALSE(f.all(sql).refusal);
}

TEST_CASE("writes get the request's time, seed and UUID key only when the database's DEFAULTs read them") {
  Fixture f;
  auto plain = f.all("INSERT INTO t VALUES (1)", 41, 1764140400123);
  CHECK_FALSE(plain.work.requestTimeMs);
  CHECK_FALSE(plain.work.randomSeed);
  CHECK_FALSE(plain.work.uuidKey);

  f.check.invalidate();
  f.db.inputs = {true, true, true};
  auto pinned = f.all("INSERT INTO t VALUES (1)", 41, 1764140400123);
  CHECK(pinned.work.requestTimeMs == std::optional<std::int64_t>(1764140400123));
  REQUIRE(pinned.work.randomSeed);
  CHECK(*pinned.work.randomSeed == node::randomSeedFor(41)); // the same on every node: from the log
  CHECK(*pinned.work.randomSeed >= -1.0);
  CHECK(*pinned.work.randomSeed <= 1.0);
  CHECK(pinned.work.uuidKey == std::optional<std::string>("41/m"));
  // A read on ALL draws nothing.
  auto read = f.all("SELECT 1", 42, 5);
  CHECK_FALSE(read.work.requestTimeMs);
  CHECK_FALSE(read.work.randomSeed);
}

TEST_CASE("an UPDATE ... FROM is applied only when the database reports a unique key its join equates") {
  Fixture f;
  const std::string sql = "UPDATE t SET v = s.v FROM s WHERE s.id = t.sid";
  auto without = f.all(sql);
  REQUIRE(without.refusal); // s has no unique key yet: a row of t may join several rows of s
  CHECK(without.refusal->resultCode == code::Nondeterministic);
  CHECK_THAT(without.refusal->errorMessage, Catch::Contains("UPDATE ... FROM") && Catch::Contains("several rows of s"));
  CHECK_THAT(without.refusal->hint, Catch::Contains("ORDER BY") && Catch::Contains("GROUP BY"));
  f.check.invalidate();
  f.db.keys["public.s"] = {{"id"}};
  CHECK_FALSE(f.all(sql).refusal);
  CHECK(f.all("UPDATE t SET v = s.v FROM s WHERE s.grp = t.grp").refusal);
  auto returning = f.all("DELETE FROM t USING s WHERE s.grp = t.grp RETURNING s.v");
  REQUIRE(returning.refusal);
  CHECK_THAT(returning.refusal->hint, Catch::Contains("RETURNING only the columns of t"));
  CHECK_FALSE(f.all("DELETE FROM t USING s WHERE s.grp = t.grp").refusal);
}

TEST_CASE("a MERGE inserting into a table whose DEFAULT draws per row is refused; one giving the column runs") {
  Fixture f;
  const std::string merge = "MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (v) VALUES (s.v)";
  CHECK_FALSE(f.all(merge).refusal); // t draws nothing yet
  f.check.invalidate();
  f.db.drawn["public.t"] = {"id"};
  auto refused = f.all(merge);
  REQUIRE(refused.refusal);
  CHECK_THAT(refused.refusal->errorMessage, Catch::Contains("MERGE") && Catch::Contains("join"));
  CHECK_FALSE(refused.refusal->hint.empty());
  CHECK_FALSE(
      f.all("MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v)").refusal);
}

TEST_CASE("the functions a table's DEFAULTs, generated columns, CHECKs and policies call are judged by their bodies") {
  Fixture f;
  db::FunctionDefinition def;
  def.signature = "public.stamp(integer)";
  def.language = "sql";
  def.volatility = Volatility::Immutable;
  def.source = "SELECT x || clock_timestamp()::text";
  def.perRow = true;
  f.db.functions["stamp"] = {def};
  f.db.volatility["clock_timestamp"] = {Volatility::Volatile, Volatility::None};
  CHECK_FALSE(f.all("INSERT INTO t (id) VALUES (1)").refusal); // t's definition calls nothing yet
  f.check.invalidate();
  f.db.tableCalls["public.t"] = {"stamp"};
  auto refused = f.all("INSERT INTO t (id) VALUES (1)");
  REQUIRE(refused.refusal);
  CHECK_THAT(refused.refusal->errorMessage, Catch::Contains("public.stamp(integer)") &&
                                                Catch::Contains("generated column") &&
                                                Catch::Contains("clock_timestamp"));
  CHECK_FALSE(f.all("INSERT INTO other (id) VALUES (1)").refusal);
}
