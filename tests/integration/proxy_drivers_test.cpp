// Real drivers through klusterctl proxy, each a small program in its own language (tests/proxy/*), its
// packages installed from their registries into the build directory by tests/proxy/setup.sh: each
// creates a table, writes, reads its own writes and sees a unique violation as 23505; then every node
// holds the same rows. And a CancelRequest sent by a driver.
#include "support/cluster.hpp"
#include "support/proxy.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace kluster::test;

namespace {

const std::string kSource = KLUSTER_SOURCE_DIR;
const std::string kDrivers = KLUSTER_DRIVERS_DIR;

void installDrivers() {
  const auto& setup = installProxyDrivers(kSource, kDrivers);
  INFO(setup.out << setup.err);
  REQUIRE(setup.exitCode == 0);
}

void checkIdentical(const TestCluster& c, const std::string& table, const std::string& expectedCount) {
  const auto first = c.tableChecksum(1, table, "id");
  for (int i = 1; i <= c.size(); ++i) {
    CHECK(c.scalar(i, "SELECT count(*) FROM " + table) == expectedCount);
    CHECK(c.tableChecksum(i, table, "id") == first);
  }
}

void runDriver(TestProxy& proxy, const std::vector<std::string>& argv) {
  auto r = run(argv, std::chrono::minutes(3));
  INFO(r.out << r.err << proxy.log());
  CHECK(r.exitCode == 0);
  CHECK(r.out.find("OK") != std::string::npos);
}

} // namespace

TEST_CASE("drivers through the proxy: psycopg 3, asyncpg, Go pgx, Java pgjdbc, Node.js pg", "[proxy]") {
  installDrivers();
  TestCluster cluster;
  TestProxy proxy(cluster);
  const auto url = proxy.url() + "?sslmode=disable";

  SECTION("psycopg 3") {
    runDriver(proxy,
              {kDrivers + "/python/bin/python", kSource + "/tests/proxy/python/psycopg_test.py", url, "py_items"});
    checkIdentical(cluster, "py_items", "11");
  }
  SECTION("asyncpg: binary parameters and results by the types a node described") {
    runDriver(proxy,
              {kDrivers + "/python/bin/python", kSource + "/tests/proxy/python/asyncpg_test.py", url, "apg_items"});
    checkIdentical(cluster, "apg_items", "7");
  }
  SECTION("Go pgx v5") {
    runDriver(proxy, {kDrivers + "/go/pgx_test", url, "go_items"});
    checkIdentical(cluster, "go_items", "8");
  }
  SECTION("Java pgjdbc: prepared statements of several types, executeBatch, Statement.cancel(), autocommit=false") {
    const auto jdbc = fmt::format("jdbc:postgresql://127.0.0.1:{}/kluster?user=app&sslmode=disable", proxy.port());
    runDriver(proxy, {programPath("java"), "-cp", kDrivers + "/java/classes:" + kDrivers + "/java/postgresql.jar",
                      "JdbcTest", jdbc, "java_items"});
    checkIdentical(cluster, "java_items", "10");
  }
  SECTION("Node.js pg") {
    runDriver(proxy, {programPath("env"), "NODE_PATH=" + kDrivers + "/node/node_modules", programPath("node"),
                      kSource + "/tests/proxy/node/pg_test.js", proxy.url(), "node_items"});
    checkIdentical(cluster, "node_items", "5");
  }
  CHECK(proxy.running());
}

TEST_CASE(
    "CancelRequest from psycopg (pgjdbc's is in its test): a read in flight answers 57014, the connection goes on",
    "[proxy]") {
  installDrivers();
  TestCluster cluster;
  TestProxy proxy(cluster);
  runDriver(proxy, {kDrivers + "/python/bin/python", kSource + "/tests/proxy/python/cancel_test.py",
                    proxy.url() + "?sslmode=disable"});
  CHECK(proxy.running());
}
