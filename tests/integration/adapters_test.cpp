// The integration suite every database adapter passes (issue 25), run for each `[database] type`: a 3-node cluster
// (one database per node on the services fixture's servers; on MariaDB node 2's server runs with other defaults,
// scripts/mariadb.sh --different) through a real Kafka: replication, exactly-once with a repeated messageId and
// under SIGKILL, errors alike, read-only ONE, bad input, pinned time and randomness, volatile functions refused,
// drawn keys (SERIAL) through a SIGKILL loop, continuous verification. The SQL is what both dialects accept, or
// written per adapter where they differ.
#include "core/client/client.hpp"
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;

namespace {

// Each test case runs once per adapter.
#define FOR_EACH_ADAPTER()                                                                                             \
  const std::string db = GENERATE(as<std::string>{}, "postgresql", "mariadb");                                         \
  CAPTURE(db)

ClusterOptions clusterOn(const std::string& db) {
  ClusterOptions o;
  o.database = db;
  return o;
}

// The same statement in each dialect.
std::string per(const std::string& db, const std::string& postgres, const std::string& mariadb) {
  return db == "mariadb" ? mariadb : postgres;
}

// Every node's rows of a table, as text, in key order.
std::vector<std::vector<Row>> everyNode(const TestCluster& cluster, const std::string& sql) {
  std::vector<std::vector<Row>> out;
  for (int i = 1; i <= cluster.size(); ++i) out.push_back(cluster.query(i, sql));
  return out;
}

} // namespace

TEST_CASE("three nodes apply DDL and 300 concurrent INSERTs and end identical", "[adapters]") {
  FOR_EACH_ADAPTER();
  TestCluster cluster(clusterOn(db));
  auto create = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json",
                              "CREATE TABLE items (id VARCHAR(36) PRIMARY KEY, n INT NOT NULL, label TEXT)"});
  INFO(create.out << create.err);
  REQUIRE(create.exitCode == 0);
  REQUIRE(parseJson(create.out).size() == 3);

  auto client = makeClient(cluster);
  std::vector<std::future<client::Result>> futures;
  for (int i = 0; i < 300; ++i) {
    Request r;
    r.statements = {"INSERT INTO items (id, n, label) VALUES ($1, $2, $3)"};
    r.params = json::array({util::uuid4(), std::to_string(i), fmt::format("row {}", i)});
    futures.push_back(client.send(r, client::Target::All, client::WaitPolicy::parse("all"), std::chrono::seconds(60)));
  }
  int ok = 0;
  for (auto& f : futures) ok += f.get().allOk() ? 1 : 0;
  CHECK(ok == 300);

  const auto rows = everyNode(cluster, "SELECT id, n, label FROM items ORDER BY id");
  CHECK(rows[0].size() == 300);
  CHECK(rows[1] == rows[0]);
  CHECK(rows[2] == rows[0]);
  // Every node recorded the same position in its own database.
  const auto positionSql =
      per(db, "SELECT all_offset FROM _kluster.position", "SELECT all_offset FROM _kluster_position");
  const auto position = cluster.scalar(1, positionSql);
  CHECK_FALSE(position.empty());
  for (int i = 2; i <= 3; ++i) CHECK(cluster.scalar(i, positionSql) == position);
}

TEST_CASE("a repeated messageId is applied once on every node", "[adapters]") {
  FOR_EACH_ADAPTER();
  TestCluster cluster(clusterOn(db));
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE counter (id INT PRIMARY KEY, n INT)"}).exitCode ==
          0);
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "INSERT INTO counter VALUES (1, 0)"}).exitCode == 0);
  const std::vector<std::string> args = {
      "--to", "ALL", "--wait", "all", "-o", "json", "--message-id", "retry-1", "UPDATE counter SET n = n + 1"};
  auto first = cluster.exec(args);
  INFO(first.out << first.err);
  REQUIRE(first.exitCode == 0);
  for (const auto& r : parseJson(first.out)) CHECK(r["resultCode"] == "OK");
  auto again = cluster.exec(args);
  INFO(again.out);
  for (const auto& r : parseJson(again.out)) CHECK(r["resultCode"] == "DUPLICATE");
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT n FROM counter") == "1");
}

TEST_CASE("a request's error is every node's answer; reads go to one node, read-only; bad input is refused alike",
          "[adapters]") {
  FOR_EACH_ADAPTER();
  TestCluster cluster(clusterOn(db));
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)"}).exitCode == 0);
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "INSERT INTO t VALUES (1, 'one')"}).exitCode == 0);
  auto dup = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "INSERT INTO t VALUES (2, 'two'), (1, 'x')"});
  CHECK(dup.exitCode != 0);
  for (const auto& r : parseJson(dup.out)) CHECK(r["resultCode"] == "CONSTRAINT_VIOLATION");
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT count(*) FROM t") == "1");

  auto one = cluster.exec({"--to", "ONE", "-o", "json", "SELECT id, v FROM t ORDER BY id"});
  INFO(one.out << one.err);
  REQUIRE(one.exitCode == 0);
  const auto responses = parseJson(one.out);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0]["result"] == json::parse(R"([{"id":1,"v":"one"}])"));
  // ONE runs reads only: a write sent there is refused by the database and changes nothing.
  auto write = cluster.exec({"--to", "ONE", "-o", "json", "INSERT INTO t VALUES (9, 'nine')"});
  CHECK(write.exitCode != 0);
  CHECK(parseJson(write.out)[0]["resultCode"] == "READ_ONLY");
  // Bad input: every node gives the same stable code, and nothing is applied.
  for (const auto& [sql, code] :
       std::vector<std::pair<std::string, std::string>>{{"INSERT INTO t VALUES (3, 'x'", "SYNTAX_ERROR"},
                                                        {"INSERT INTO t VALUES ($1, 'x')", "PARAM_MISMATCH"},
                                                        {"INSERT INTO no_such_table VALUES (1)", "UNDEFINED_OBJECT"},
                                                        {"  ;  ", "EMPTY_SQL"}}) {
    auto bad = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", sql});
    INFO(sql << "\n" << bad.out << bad.err);
    CHECK(bad.exitCode != 0);
    if (bad.out.empty()) continue; // exec refused it before sending (the empty SQL)
    for (const auto& r : parseJson(bad.out)) CHECK(r["resultCode"] == code);
  }
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT count(*) FROM t") == "1");
}

TEST_CASE("random numbers and the current time in a write are the same on every node", "[adapters]") {
  // On MariaDB node 2's server runs in another time zone (scripts/mariadb.sh --different): NOW() is the request's
  // time in UTC.
  FOR_EACH_ADAPTER();
  TestCluster cluster(clusterOn(db));
  auto create =
      cluster.exec({"--to", "ALL", "--wait", "all",
                    per(db,
                        "CREATE TABLE t (id INT PRIMARY KEY, r DOUBLE PRECISION, r2 DOUBLE PRECISION, at TIMESTAMP(6), "
                        "stamped TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))",
                        "CREATE TABLE `t` (id INT PRIMARY KEY, r DOUBLE, r2 DOUBLE, at DATETIME(6), "
                        "stamped TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE = InnoDB")});
  INFO(create.out << create.err);
  REQUIRE(create.exitCode == 0);
  for (int k = 1; k <= 5; ++k) {
    auto w = cluster.exec(
        {"--to", "ALL", "--wait", "all", "-o", "json",
         fmt::format(fmt::runtime(per(db, "INSERT INTO t (id, r, r2, at) VALUES ({}, random(), random(), now())",
                                      "INSERT INTO `t` (id, r, r2, at) VALUES ({}, RAND(), RAND(), NOW(6))")),
                     k)});
    INFO(w.out << w.err);
    CHECK(w.exitCode == 0);
  }
  const auto rows = everyNode(cluster, "SELECT id, r, r2, at, stamped FROM t ORDER BY id");
  REQUIRE(rows[0].size() == 5);
  CHECK(rows[1] == rows[0]);
  CHECK(rows[2] == rows[0]);
  CHECK(rows[0][0][1] != rows[0][1][1]); // a different seed per request
  CHECK(rows[0][0][1] != rows[0][0][2]); // one stream per request, drawn in order
}

TEST_CASE("a write calling a volatile built-in is refused on every node", "[adapters]") {
  FOR_EACH_ADAPTER();
  TestCluster cluster(clusterOn(db));
  REQUIRE(
      cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64))"}).exitCode ==
      0);
  const auto calls = db == "mariadb" ? std::vector<std::string>{"UUID()", "CONNECTION_ID()", "DATABASE()", "SYSDATE()"}
                                     : std::vector<std::string>{"clock_timestamp()::text", "pg_backend_pid()",
                                                                "current_database()", "txid_current()"};
  for (const auto& call : calls) {
    auto r =
        cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", fmt::format("INSERT INTO t VALUES (1, {})", call)});
    INFO(call << "\n" << r.out << r.err);
    CHECK(r.exitCode != 0);
    for (const auto& response : parseJson(r.out)) CHECK(response["resultCode"] == "NONDETERMINISTIC");
  }
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT count(*) FROM t") == "0");
}

TEST_CASE("a node killed during the writes restarts from its position, exactly once", "[adapters]") {
  FOR_EACH_ADAPTER();
  TestCluster cluster(clusterOn(db));
  REQUIRE(
      cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE t (id INT PRIMARY KEY, n INT NOT NULL)"}).exitCode ==
      0);
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "INSERT INTO t VALUES (1, 0)"}).exitCode == 0);
  auto client = makeClient(cluster);
  std::vector<std::future<client::Result>> futures;
  for (int i = 0; i < 200; ++i) {
    if (i == 60) cluster.killNode(2);
    if (i == 140) cluster.startNode(2);
    Request r;
    r.statements = {"UPDATE t SET n = n + 1 WHERE id = 1"};
    futures.push_back(
        client.send(r, client::Target::All, client::WaitPolicy::parse("quorum"), std::chrono::seconds(60)));
  }
  for (auto& f : futures) f.get();
  // Node 2 catches up from ALL after its restart: every increment once, on every node.
  std::string n2;
  for (int tries = 0; tries < 150 && n2 != "200"; ++tries) {
    n2 = cluster.scalar(2, "SELECT n FROM t WHERE id = 1");
    if (n2 != "200") std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(cluster.scalar(1, "SELECT n FROM t WHERE id = 1") == "200");
  CHECK(n2 == "200");
  CHECK(cluster.scalar(3, "SELECT n FROM t WHERE id = 1") == "200");
}

TEST_CASE("continuous verification: a row changed by hand on one node is reported", "[adapters]") {
  FOR_EACH_ADAPTER();
  ClusterOptions options = clusterOn(db);
  options.extraNodeConfig = "check_interval = \"2s\"";
  TestCluster cluster(options);
  REQUIRE(
      cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE items (id INT PRIMARY KEY, label TEXT)"}).exitCode ==
      0);
  for (int i = 1; i <= 20; ++i)
    REQUIRE(
        cluster.exec({"--to", "ALL", "--wait", "all", "-p", std::to_string(i), "INSERT INTO items VALUES ($1, 'row')"})
            .exitCode == 0);
  auto monitor = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{"monitor",  "--brokers", cluster.brokers(), "--cluster", cluster.name(),
                                  "--window", "30s"};
    argv.insert(argv.end(), args.begin(), args.end());
    return TestCluster::klusterctl(argv, std::chrono::seconds(60));
  };
  auto state = [](const json& snap, const std::string& id) -> std::string {
    for (const auto& n : snap["nodes"])
      if (n["nodeId"] == id) return n["state"];
    return "absent";
  };
  // Identical nodes: every node is ok after a few check periods.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  auto healthy = monitor({"--once", "-o", "json"});
  REQUIRE(healthy.exitCode == 0);
  for (const char* n : {"node1", "node2", "node3"}) CHECK(state(parseJson(healthy.out), n) == "ok");

  cluster.query(2, "UPDATE items SET label = 'changed by hand' WHERE id = 7");
  json snap;
  const bool seen = waitUntil(
      [&] {
        auto r = monitor({"--once", "-o", "json"});
        if (r.exitCode != 0) return false;
        snap = parseJson(r.out);
        return state(snap, "node2") == "diverged";
      },
      std::chrono::seconds(60), std::chrono::milliseconds(500));
  INFO(snap.dump(2));
  REQUIRE(seen);
  CHECK(state(snap, "node1") == "ok");
  CHECK(state(snap, "node3") == "ok");
  REQUIRE_FALSE(snap["divergences"].empty());
  CHECK(snap["divergences"][0]["divergedNodes"] == json::array({"node2"}));
  REQUIRE(snap["divergences"][0]["tables"].size() == 1);
  CHECK(snap["divergences"][0]["tables"][0].get<std::string>().find("items") != std::string::npos);
}

TEST_CASE("drawn keys (SERIAL, AUTO_INCREMENT) are the same on every node through a SIGKILL loop", "[adapters]") {
  FOR_EACH_ADAPTER();
  TestCluster cluster(clusterOn(db));
  // SERIAL: a sequence on PostgreSQL; BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE on MariaDB.
  auto create =
      cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE t (id SERIAL PRIMARY KEY, v INT NOT NULL)"});
  INFO(create.out << create.err);
  REQUIRE(create.exitCode == 0);
  constexpr int kWrites = 600;
  auto client = makeClient(cluster);
  std::vector<std::future<client::Result>> futures;
  for (int i = 0; i < kWrites; ++i) {
    if (i % 100 == 30) cluster.killNode(2); // SIGKILL, while it applies
    if (i % 100 == 60) cluster.startNode(2);
    Request r;
    r.statements = {"INSERT INTO t (v) VALUES ($1)"};
    r.params = json::array({i});
    futures.push_back(
        client.send(r, client::Target::All, client::WaitPolicy::parse("quorum"), std::chrono::seconds(60)));
    std::this_thread::sleep_for(std::chrono::milliseconds(3)); // node2 busy when killed
  }
  int ok = 0, diverged = 0;
  for (auto& f : futures) {
    const auto r = f.get();
    ok += r.allOk() && !r.responses.empty() ? 1 : 0;
    diverged += r.diverged ? 1 : 0;
  }
  CHECK(ok == kWrites);
  CHECK(diverged == 0);
  const std::string sql = "SELECT count(*), coalesce(sum(id * v), 0), max(id) FROM t";
  std::vector<Row> n2;
  const auto reference = cluster.query(1, sql);
  for (int tries = 0; tries < 150 && n2 != reference; ++tries) {
    n2 = cluster.query(2, sql);
    if (n2 != reference) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(cluster.nodeLog(2));
  CHECK(reference[0][0] == std::to_string(kWrites));
  CHECK(reference[0][2] == std::to_string(kWrites)); // no value skipped, none drawn twice
  CHECK(n2 == reference);
  CHECK(cluster.query(3, sql) == reference);
}
