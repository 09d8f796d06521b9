// The proxy's protocol codec, value formats and command tags, without a cluster.
#include "core/proxy/frontend.hpp"
#include "core/proxy/outcome.hpp"
#include "core/proxy/pg_types.hpp"
#include "core/proxy/session.hpp"
#include "core/proxy/wire.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using namespace kluster::proxy;
using kluster::proxy::test::be32;

namespace {

sql::Statement statement(const std::string& text) { return sql::analyze(text).statements.at(0); }

} // namespace

TEST_CASE("framing: complete messages are taken, partial ones wait, bad lengths are errors", "[proxy]") {
  std::optional<wire::FramingError> err;
  std::string startup = be32(8) + be32(wire::kSslRequest);
  std::string buf = startup.substr(0, 5);
  CHECK_FALSE(wire::take(buf, true, 1 << 20, err));
  CHECK_FALSE(err);
  buf += startup.substr(5);
  auto m = wire::take(buf, true, 1 << 20, err);
  REQUIRE(m);
  CHECK(buf.empty());
  CHECK(wire::parseStartup(m->body)->code == wire::kSslRequest);

  std::string q = std::string("Q") + be32(4 + 9) + "SELECT 1" + std::string(1, '\0') + "X" + be32(4);
  auto first = wire::take(q, false, 1 << 20, err);
  REQUIRE(first);
  CHECK(first->type == 'Q');
  CHECK(wire::Reader(first->body).cstring() == "SELECT 1");
  auto second = wire::take(q, false, 1 << 20, err);
  REQUIRE(second);
  CHECK(second->type == 'X');

  std::string huge = std::string("Q") + be32(0x7fffffff);
  CHECK_FALSE(wire::take(huge, false, 1 << 20, err));
  REQUIRE(err);
  CHECK(err->sqlState == "54000");
  err.reset();
  std::string tiny = std::string("Q") + be32(2);
  CHECK_FALSE(wire::take(tiny, false, 1 << 20, err));
  REQUIRE(err);
  CHECK(err->sqlState == "08P01");
  err.reset();
  std::string bigStartup = be32(100000) + be32(wire::kProtocol3);
  CHECK_FALSE(wire::take(bigStartup, true, 1 << 20, err));
  CHECK(err);
}

TEST_CASE("startup packets: parameters, malformed layouts", "[proxy]") {
  const std::string body =
      be32(wire::kProtocol3) + "user" + '\0' + "app" + '\0' + "database" + '\0' + "db" + '\0' + '\0';
  auto s = wire::parseStartup(body);
  REQUIRE(s);
  CHECK(s->params.at("user") == "app");
  CHECK(s->params.at("database") == "db");
  CHECK_FALSE(wire::parseStartup(be32(wire::kProtocol3) + "user" + '\0' + "app")); // unterminated
  CHECK_FALSE(wire::parseStartup("ab"));
  auto cancel = wire::parseStartup(be32(wire::kCancelRequest) + be32(7) + be32(-5));
  REQUIRE(cancel);
  CHECK(cancel->cancelPid == 7);
  CHECK(cancel->cancelKey == -5);
}

TEST_CASE("backend messages carry their type and length", "[proxy]") {
  wire::Writer w;
  w.commandComplete("INSERT 0 1");
  w.readyForQuery('I');
  const auto out = w.take();
  CHECK(out == std::string("C") + be32(4 + 11) + "INSERT 0 1" + '\0' + "Z" + be32(5) + "I");
  wire::Writer e;
  e.error({"ERROR", "23505", "duplicate key", "Key (id)=(1) already exists.", "", 0});
  const auto err = e.take();
  CHECK(err[0] == 'E');
  CHECK(err.find(std::string("C23505") + '\0') != std::string::npos);
  CHECK(err.find(std::string("DKey (id)=(1) already exists.") + '\0') != std::string::npos);
}

TEST_CASE("type names map to OIDs; unknown ones are text", "[proxy]") {
  CHECK(typeOid("integer") == 23);
  CHECK(typeOid("bigint") == 20);
  CHECK(typeOid("character varying(20)") == 1043);
  CHECK(typeOid("numeric(10,2)") == 1700);
  CHECK(typeOid("timestamp with time zone") == 1184);
  CHECK(typeOid("integer[]") == 1007);
  CHECK(typeOid("oid:1005") == 1005); // a built-in the node did not name (smallint[])
  CHECK(typeOid("oid:16400") == 25);  // a user-defined type: its OID differs between nodes
  CHECK(typeOid("oid:10000") == 25);
  CHECK(typeOid("my_enum") == 25);
}

TEST_CASE("response values in PostgreSQL's text format", "[proxy]") {
  CHECK(textValue(ojson(nullptr)) == std::nullopt);
  CHECK(*textValue(ojson(true)) == "t");
  CHECK(*textValue(ojson(42)) == "42");
  CHECK(*textValue(ojson(0.1)) == "0.1");
  CHECK(*textValue(ojson(2.0)) == "2");
  CHECK(*textValue(ojson(1e20)) == "1e+20");
  CHECK(*textValue(ojson::parse(R"({"a":1,"b":[1,"x"]})")) == R"({"a": 1, "b": [1, "x"]})");
  CHECK(*textValue(ojson("text")) == "text");
}

TEST_CASE("binary formats round-trip through text for the common types", "[proxy]") {
  const std::vector<std::pair<std::uint32_t, std::string>> cases = {
      {oid::Bool, "true"},
      {oid::Int2, "-12"},
      {oid::Int4, "2147483647"},
      {oid::Int8, "-9223372036854775808"},
      {oid::Float8, "0.1"},
      {oid::Numeric, "12345.678900"},
      {oid::Numeric, "-0.0001"},
      {oid::Numeric, "100000000"},
      {oid::Numeric, "0"},
      {oid::Text, "héllo"},
      {oid::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
      {oid::Bytea, "\\x00ff10"},
      {oid::Date, "2024-02-29"},
      {oid::Date, "1999-12-31"},
      {oid::Timestamp, "2024-01-02 03:04:05.123456"},
      {oid::Timestamptz, "1969-07-20 20:17:40+00"},
      {oid::Jsonb, R"({"a": 1})"},
  };
  for (const auto& [type, text] : cases) {
    INFO(type << " " << text);
    auto bin = binaryFromText(type, text);
    REQUIRE(bin);
    auto back = textFromBinary(type, *bin);
    REQUIRE(back);
    CHECK(*back == text);
  }
  // Known encodings: int4 1 is 00 00 00 01; date 2000-01-01 is day 0; numeric 1.5 is [1 digit... ].
  CHECK(*binaryFromText(oid::Int4, "1") == std::string("\0\0\0\1", 4));
  CHECK(*binaryFromText(oid::Date, "2000-01-01") == std::string(4, '\0'));
  CHECK(*binaryFromText(oid::Timestamptz, "2000-01-01 01:00:00+01") == std::string(8, '\0'));
  CHECK_FALSE(textFromBinary(oid::Int4, "abc"));
  CHECK_FALSE(binaryFromText(oid::Int4, "x"));
}

TEST_CASE("command tags as PostgreSQL sends them", "[proxy]") {
  CHECK(commandTag(statement("INSERT INTO t VALUES (1)"), 1) == "INSERT 0 1");
  CHECK(commandTag(statement("update t set a = 1"), 3) == "UPDATE 3");
  CHECK(commandTag(statement("DELETE FROM t"), 0) == "DELETE 0");
  CHECK(commandTag(statement("SELECT 1"), 1) == "SELECT 1");
  CHECK(commandTag(statement("VALUES (1), (2)"), 2) == "SELECT 2");
  CHECK(commandTag(statement("CREATE TABLE t (a int)"), 0) == "CREATE TABLE");
  CHECK(commandTag(statement("create unique index i on t (a)"), 0) == "CREATE INDEX");
  CHECK(commandTag(statement("CREATE OR REPLACE VIEW v AS SELECT 1"), 0) == "CREATE VIEW");
  CHECK(commandTag(statement("CREATE TEMP TABLE t (a int)"), 0) == "CREATE TABLE");
  CHECK(commandTag(statement("-- a comment\nDROP TABLE IF EXISTS t"), 0) == "DROP TABLE");
  CHECK(commandTag(statement("ALTER TABLE t ADD COLUMN b int"), 0) == "ALTER TABLE");
  CHECK(commandTag(statement("CREATE MATERIALIZED VIEW m AS SELECT 1"), 1) == "SELECT 1");
  CHECK(commandTag(statement("TRUNCATE t"), 0) == "TRUNCATE TABLE");
  CHECK(commandTag(statement("CREATE TABLE t2 AS SELECT 1"), 1) == "SELECT 1");
}

TEST_CASE("Kluster's codes map to SQLSTATEs; a node's own SQLSTATE wins", "[proxy]") {
  CHECK(sqlStateFor("TIMEOUT") == "57014");
  CHECK(sqlStateFor("DIVERGENCE") == "XX001");
  CHECK(sqlStateFor("NONDETERMINISTIC") == "0A000");
  CHECK(sqlStateFor("CONSTRAINT_VIOLATION", "23505") == "23505");
  CHECK(sqlStateFor("SOMETHING_NEW") == "XX000");
  for (const auto& m : sqlStateMappings()) CHECK(m.sqlState.size() == 5);
}

TEST_CASE("INSERT ... VALUES knows its row count before it runs; other writes do not", "[proxy]") {
  CHECK(insertedRows(statement("INSERT INTO t VALUES (1, 'a,(b)'), (2, $1)")) == 2);
  CHECK(insertedRows(statement("insert into t (a) values ((1))")) == 1);
  CHECK(insertedRows(statement("INSERT INTO t SELECT 1")) == -1);
  CHECK(insertedRows(statement("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING")) == -1);
  CHECK(insertedRows(statement("WITH x AS (SELECT 1) INSERT INTO t VALUES (1)")) == -1);
  CHECK(returnsRows(statement("INSERT INTO t VALUES (1) RETURNING a")));
  CHECK_FALSE(returnsRows(statement("INSERT INTO t VALUES ('returning')")));
  CHECK_FALSE(returnsRows(statement("SELECT 1")));
}

TEST_CASE("descriptions are cached by SQL text and declared types, and emptied after DDL", "[proxy]") {
  CHECK(DescribeCache::key("SELECT $1", {}) == "SELECT $1");
  CHECK(DescribeCache::key("SELECT $1", {0}) == "SELECT $1"); // nothing declared: the same statement
  CHECK(DescribeCache::key("SELECT $1", {23}) != DescribeCache::key("SELECT $1", {}));
  CHECK(DescribeCache::key("SELECT $1", {23}) != DescribeCache::key("SELECT $1", {20}));
  DescribeCache cache;
  cache.entries["SELECT 1"] = Description{};
  cache.invalidate(42);
  CHECK(cache.entries.empty());
  CHECK(cache.generation == 1);
  CHECK(cache.ddlOffset == 42);
  cache.invalidate(std::nullopt); // a DDL that timed out: emptied, the offset stays
  CHECK(cache.generation == 2);
  CHECK(cache.ddlOffset == 42);
  cache.invalidate(7); // an older completion never lowers the floor
  CHECK(cache.ddlOffset == 42);
}
