// PostgreSQL's tools outside the hot path (db/postgres/pg_tools.hpp), without a server: connection parameters,
// quoting, and the client tools run as children.
#include "core/db/postgres/pg_tools.hpp"

#include "core/errors.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using namespace kluster::db;

TEST_CASE("connection parameters keep the password out of the conninfo given to tools") {
  auto p = ConnParams::parse("postgresql://kluster:s3cr%27t@db.example:6543/node1?sslmode=require");
  CHECK(p.password() == "s3cr't");
  CHECK(p.database() == "node1");
  const auto info = p.conninfo(false);
  CHECK_THAT(info, Catch::Contains("host='db.example'") && Catch::Contains("port='6543'") &&
                       Catch::Contains("dbname='node1'") && Catch::Contains("sslmode='require'") &&
                       !Catch::Contains("s3cr"));
  CHECK_THAT(p.conninfo(true), Catch::Contains("password='s3cr\\'t'"));
  CHECK_THAT(p.withDatabase("postgres").conninfo(false), Catch::Contains("dbname='postgres'"));
  CHECK(toolEnvironment(p).at("PGPASSWORD") == "s3cr't");
  CHECK(toolEnvironment(ConnParams::parse("postgresql://u@h/d")).empty());
  CHECK(ConnParams::parse("postgresql://alice@h").database() == "alice");
  CHECK_THROWS_AS(ConnParams::parse("postgresql://h/d?bogus=1"), UsageError);
}

TEST_CASE("SQL quoting doubles quotes") {
  CHECK(quoteIdent("items") == "\"items\"");
  CHECK(quoteIdent("we\"ird") == "\"we\"\"ird\"");
  CHECK(quoteLiteral("it's") == "'it''s'");
}

TEST_CASE("client tools: version, output and exit status") {
  CHECK(toolMajorVersion("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)") == 15);
  CHECK(toolMajorVersion("pg_restore (PostgreSQL) 9.6.24") == 9);
  CHECK(toolMajorVersion("nonsense") == 0);

  std::vector<std::string> seen;
  int ticks = 0;
  auto r = runTool(
      {"/bin/sh", "-c", "echo one; echo two >&2; printf \"$KLUSTER_T\"; exit 3"}, {{"KLUSTER_T", "three"}},
      [&](const std::string& line) { seen.push_back(line); }, [&] { ++ticks; });
  CHECK(r.exitCode == 3);
  CHECK(seen == std::vector<std::string>{"one", "two", "three"});
  CHECK(r.tail(2) == "two\nthree");
  CHECK(ticks >= 1);
  CHECK_THROWS_AS(runTool({"/nonexistent/tool"}, {}), UsageError);
  CHECK_THROWS_WITH(findPgTool("pg_dump", 15, "/nonexistent"), Catch::Contains("not found"));
}
