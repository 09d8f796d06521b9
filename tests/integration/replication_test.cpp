// Foundation acceptance: N nodes on N databases stay identical through a real Kafka.
#include "core/client/client.hpp"
#include "core/kafka/kafka.hpp"
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <set>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;

namespace {


// Sends `count` single-row INSERTs with client-generated UUID keys, all in flight at once, waiting for
// every live node; returns how many were answered OK by all of them.
int insertRows(client::Client& client, const std::string& table, int count) {
  std::vector<std::future<client::Result>> futures;
  for (int i = 0; i < count; ++i) {
    Request r;
    r.statements = {
        fmt::format("INSERT INTO {} (id, n, label) VALUES ('{}', {}, 'row {}')", table, util::uuid4(), i, i)};
    futures.push_back(client.send(r, client::Target::All, client::WaitPolicy::parse("all"), std::chrono::seconds(60)));
  }
  int ok = 0;
  for (auto& f : futures) ok += f.get().allOk() ? 1 : 0;
  return ok;
}


} // namespace

TEST_CASE("three nodes apply CREATE TABLE and 1,000 INSERTs and end identical", "[replication]") {
  TestCluster cluster;
  auto create = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json",
                              "CREATE TABLE items (id uuid PRIMARY KEY, n int NOT NULL, label text)"});
  INFO(create.err);
  REQUIRE(create.exitCode == 0);
  auto responses = parseJson(create.out);
  REQUIRE(responses.size() == 3);

  auto client = makeClient(cluster);
  CHECK(insertRows(client, "items", 1000) == 1000);

  const auto reference = cluster.tableChecksum(1, "items", "id");
  CHECK(reference.rfind("1000:", 0) == 0);
  for (int i = 2; i <= 3; ++i) CHECK(cluster.tableChecksum(i, "items", "id") == reference);
  // Every node recorded the same ALL position in its own database.
  const auto position = cluster.scalar(1, "SELECT all_offset FROM _kluster.position");
  for (int i = 2; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT all_offset FROM _kluster.position") == position);
}

TEST_CASE("a read on ONE is answered by exactly one node, on ALL by every node", "[replication]") {
  TestCluster cluster;
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE t (id int PRIMARY KEY, v text)"}).exitCode == 0);
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "INSERT INTO t VALUES (1, 'one'), (2, NULL)"}).exitCode == 0);

  auto one = cluster.exec({"--to", "ONE", "-o", "json", "SELECT id, v FROM t ORDER BY id"});
  INFO(one.err);
  REQUIRE(one.exitCode == 0);
  auto oneJson = parseJson(one.out);
  REQUIRE(oneJson.size() == 1);
  CHECK(oneJson[0]["requestTopic"] == "ONE");
  CHECK(oneJson[0]["result"] == json::parse(R"([{"id":1,"v":"one"},{"id":2,"v":null}])"));

  auto all = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "SELECT id, v FROM t ORDER BY id"});
  INFO(all.err);
  REQUIRE(all.exitCode == 0);
  auto allJson = parseJson(all.out);
  REQUIRE(allJson.size() == 3);
  std::set<std::string> nodes, hashes;
  for (const auto& r : allJson) {
    nodes.insert(r["nodeId"].get<std::string>());
    hashes.insert(r["resultHash"].get<std::string>());
    CHECK(r["result"] == oneJson[0]["result"]);
    CHECK(r["allOffset"].is_number_integer());
  }
  CHECK(nodes == std::set<std::string>{"node1", "node2", "node3"});
  CHECK(hashes.size() == 1);
}

TEST_CASE("a syntax error gives every node's error response with the same code and a non-zero exit", "[replication]") {
  TestCluster cluster;
  auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "SELEC * FORM nowhere"});
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("SYNTAX_ERROR") != std::string::npos);
  auto responses = parseJson(r.out);
  REQUIRE(responses.size() == 3);
  for (const auto& resp : responses) {
    CHECK(resp["resultCode"] == "SYNTAX_ERROR");
    CHECK(resp["sqlState"] == "42601");
    CHECK_FALSE(resp["errorMessage"].get<std::string>().empty());
  }
  // An error PostgreSQL raises at execution time is answered the same way by all.
  auto undefined = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "INSERT INTO missing VALUES (1)"});
  CHECK(undefined.exitCode == 1);
  for (const auto& resp : parseJson(undefined.out)) CHECK(resp["resultCode"] == "UNDEFINED_OBJECT");
}

TEST_CASE("a node started after the writes catches up from the log and ends identical", "[replication]") {
  ClusterOptions options;
  options.start = false;
  TestCluster cluster(options);
  cluster.startNode(1);
  cluster.startNode(2);
  REQUIRE(cluster.waitForMembers(2));
  REQUIRE(cluster
              .exec({"--to", "ALL", "--wait", "all",
                     "CREATE TABLE items (id uuid PRIMARY KEY, n int NOT NULL, label text)"})
              .exitCode == 0);
  auto client = makeClient(cluster);
  CHECK(insertRows(client, "items", 300) == 300);

  cluster.startNode(3);
  REQUIRE(cluster.waitForMembers(3));
  const auto reference = cluster.tableChecksum(1, "items", "id");
  CHECK(waitUntil(
      [&] {
        try {
          return cluster.tableChecksum(3, "items", "id") == reference;
        } catch (const std::exception&) {
          return false; // the table is not there yet
        }
      },
      std::chrono::seconds(60)));
  // And it takes part in new writes like the others.
  auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json",
                         fmt::format("INSERT INTO items VALUES ('{}', 1, 'late')", util::uuid4())});
  CHECK(r.exitCode == 0);
  CHECK(parseJson(r.out).size() == 3);
  CHECK(cluster.tableChecksum(3, "items", "id") == cluster.tableChecksum(1, "items", "id"));
}

TEST_CASE("garbage on ALL is reported and the nodes go on", "[replication]") {
  TestCluster cluster;
  {
    kafka::Producer raw(kafka::clientProperties(cluster.brokers(), {}), true);
    raw.produce(cluster.name() + ".ALL", 0, "", "this is not json {");
    raw.produce(cluster.name() + ".ALL", 0, "", R"({"messageId": 42})");
    REQUIRE(raw.flush(std::chrono::seconds(10)));
  }
  auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "SELECT 1 AS one"});
  INFO(r.err);
  CHECK(r.exitCode == 0);
  CHECK(parseJson(r.out).size() == 3);
  for (int i = 1; i <= 3; ++i) CHECK(cluster.nodeRunning(i));
}

TEST_CASE("exec waits for every live node: membership comes from the node groups", "[replication]") {
  TestCluster cluster;
  cluster.stopNode(3);
  REQUIRE(cluster.waitForMembers(2));
  auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "SELECT 1"});
  CHECK(r.exitCode == 0);
  CHECK(parseJson(r.out).size() == 2);
}
