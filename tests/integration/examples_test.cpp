// The programs in examples/ run against a real cluster.
#include "support/cluster.hpp"

#include <catch2/catch.hpp>

using namespace kluster::test;

TEST_CASE("examples/client creates, writes and reads back through a two-node cluster", "[examples]") {
  ClusterOptions options;
  options.nodes = 2;
  TestCluster cluster(options);
  auto r = run({EXAMPLE_CLIENT_PATH, "--brokers", cluster.brokers(), "--cluster", cluster.name()},
               std::chrono::seconds(120));
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(r.out.find("5 writes applied by each of 2 node(s)") != std::string::npos);
  CHECK(r.out.find("\"sku\": \"sku-5\"") != std::string::npos);
  CHECK(r.out.find("\"quantity\": 50") != std::string::npos);
  for (int i = 1; i <= 2; ++i) CHECK(cluster.scalar(i, "SELECT sum(quantity) FROM inventory") == "150");
  // Run again: the upserts add up on both nodes alike.
  REQUIRE(
      run({EXAMPLE_CLIENT_PATH, "--brokers", cluster.brokers(), "--cluster", cluster.name()}, std::chrono::seconds(120))
          .exitCode == 0);
  for (int i = 1; i <= 2; ++i) CHECK(cluster.scalar(i, "SELECT sum(quantity) FROM inventory") == "300");
  CHECK(run({EXAMPLE_CLIENT_PATH, "--bogus", "x"}).exitCode == 2);
}
