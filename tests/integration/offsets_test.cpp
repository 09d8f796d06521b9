// klusterctl offsets against a real cluster: what `show` reports (Kafka's committed offsets next to each
// database's position), `set` refusing a running node, its dry run, and what a restarted node does with a
// moved offset: nothing when its database has a position, resume from it when the database has none.
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;

namespace {

/// `klusterctl offsets <verb> --brokers B --cluster C args...`
CommandResult offsets(const TestCluster& c, const std::string& verb, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"offsets", verb, "--brokers", c.brokers(), "--cluster", c.name()};
  argv.insert(argv.end(), args.begin(), args.end());
  return TestCluster::klusterctl(argv);
}

json show(const TestCluster& c, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"-o", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = offsets(c, "show", args);
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  return parseJson(r.out);
}

json group(const json& shown, const std::string& name) {
  for (const auto& g : shown["groups"])
    if (g["group"] == name) return g;
  FAIL("no group " << name << " in " << shown.dump());
  return {};
}

// The words of the plan line for partition 0 of `offsets set` (PARTITION OLD NEW LOG-START LOG-END).
std::vector<std::string> planRow(const std::string& out) {
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> row;
    for (std::string w; words >> w;) row.push_back(w);
    if (row.size() == 5 && row[0] == "0") return row;
  }
  FAIL("no plan line in " << out);
  return {};
}

std::int64_t committed(const json& g) {
  const auto& c = g["partitions"][0]["committedOffset"];
  return c.is_null() ? -1 : c.get<std::int64_t>();
}

/// Runs an ALL statement answered by every live node; returns its ALL offset.
std::int64_t all(TestCluster& c, const std::string& sql) {
  auto r = c.exec({"--to", "ALL", "--wait", "all", "-o", "json", sql});
  INFO(sql << "\n" << r.err);
  REQUIRE(r.exitCode == 0);
  return parseJson(r.out)[0]["allOffset"].get<std::int64_t>();
}

// Waits until Kafka shows node i's committed offset at `next` (nodes commit asynchronously after a batch).
bool committedAt(const TestCluster& c, int i, std::int64_t next) {
  return waitUntil([&] { return committed(group(show(c), c.name() + ".node." + TestCluster::nodeId(i))) == next; },
                   std::chrono::seconds(20), std::chrono::milliseconds(250));
}

} // namespace

TEST_CASE("offsets show lists every node's ALL group and the ONE group, with each database's position", "[offsets]") {
  TestCluster cluster;
  all(cluster, "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)");
  const auto last = all(cluster, "INSERT INTO counter VALUES (1, 0)");
  REQUIRE(cluster.exec({"--to", "ONE", "SELECT n FROM counter"}).exitCode == 0);
  for (int i = 1; i <= 3; ++i) REQUIRE(committedAt(cluster, i, last + 1));

  auto shown = show(cluster, {"--node-config", cluster.configPath(1), "--node-config", cluster.configPath(2)});
  CHECK(shown["cluster"] == cluster.name());
  REQUIRE(shown["groups"].size() == 4);
  for (int i = 1; i <= 3; ++i) {
    auto g = group(shown, cluster.name() + ".node." + TestCluster::nodeId(i));
    CHECK(g["nodeId"] == TestCluster::nodeId(i));
    CHECK(g["topic"] == cluster.name() + ".ALL");
    CHECK(g["state"] == "active");
    CHECK(g["groupState"] == "Stable");
    REQUIRE(g["partitions"].size() == 1);
    CHECK(g["partitions"][0]["logEnd"] == last + 1);
    CHECK(g["partitions"][0]["lag"] == 0);
    if (i <= 2) {
      // The database holds the last applied offset; "next" is comparable with Kafka's committed offset.
      CHECK(g["database"]["allOffset"] == last);
      CHECK(g["database"]["next"] == last + 1);
      CHECK(g["database"]["messageId"].is_string());
    } else {
      CHECK_FALSE(g.contains("database"));
    }
  }
  auto one = group(shown, cluster.name() + ".one");
  CHECK(one["nodeId"].is_null());
  CHECK(one["topic"] == cluster.name() + ".ONE");
  CHECK(one["state"] == "active");
  CHECK(one["partitions"].size() == 3);

  auto table = offsets(cluster, "show", {"--node-config", cluster.configPath(1)});
  INFO(table.err);
  REQUIRE(table.exitCode == 0);
  CHECK(table.out.find("COMMITTED") != std::string::npos);
  CHECK(table.out.find("DB-NEXT") != std::string::npos);
  CHECK(table.out.find(cluster.name() + ".node.node2") != std::string::npos);

  // The same rows for programs: CSV with the table's header, or one JSON object per group and line.
  auto csv = offsets(cluster, "show", {"-o", "csv", "--node-config", cluster.configPath(1)});
  REQUIRE(csv.exitCode == 0);
  CHECK(csv.out.rfind("NODE,GROUP,TOPIC,PARTITION,STATE,COMMITTED,LOG-END,LAG,DB-NEXT\r\n", 0) == 0);
  CHECK(csv.out.find("node2," + cluster.name() + ".node.node2," + cluster.name() + ".ALL,0,") != std::string::npos);
  auto jsonl = offsets(cluster, "show", {"-o", "jsonl"});
  REQUIRE(jsonl.exitCode == 0);
  std::istringstream lines(jsonl.out);
  int groups = 0;
  for (std::string line; std::getline(lines, line); ++groups) CHECK(parseJson(line)["cluster"] == cluster.name());
  CHECK(groups == static_cast<int>(shown["groups"].size()));
  auto bad = offsets(cluster, "show", {"-o", "yaml"});
  CHECK(bad.exitCode == 2);
  CHECK_THAT(bad.err, Catch::Contains("yaml") && Catch::Contains("table"));

  // A node config of another cluster is a usage error, not a silently wrong column.
  const auto other = cluster.configPath(1) + ".other.toml";
  {
    std::ofstream out(other);
    out << "[cluster]\nname = \"elsewhere\"\n[node]\nid = \"x\"\n[database]\nurl = "
           "\"postgresql://nobody@127.0.0.1/x\"\n";
  }
  auto wrong = offsets(cluster, "show", {"--node-config", other});
  CHECK(wrong.exitCode == 2);
  CHECK(wrong.err.find("elsewhere") != std::string::npos);
}

TEST_CASE("offsets set refuses a running node, changes nothing in a dry run, and a restarted node with a database "
          "position still resumes from it",
          "[offsets]") {
  TestCluster cluster;
  all(cluster, "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)");
  all(cluster, "INSERT INTO counter VALUES (1, 0)");
  std::int64_t last = 0;
  for (int k = 0; k < 5; ++k) last = all(cluster, "UPDATE counter SET n = n + 1 WHERE id = 1");
  REQUIRE(committedAt(cluster, 2, last + 1));
  const auto node2Group = cluster.name() + ".node.node2";

  auto refused = offsets(cluster, "set", {"--node", "node2", "--topic", "ALL", "--to", "earliest", "--yes"});
  CHECK(refused.exitCode == 2);
  CHECK(refused.err.find("active members") != std::string::npos);
  CHECK(refused.err.find("stop the node first") != std::string::npos);
  auto refusedOne = offsets(cluster, "set", {"--topic", "ONE", "--to", "latest", "--yes"});
  CHECK(refusedOne.exitCode == 2);
  CHECK(refusedOne.err.find("every node") != std::string::npos);
  CHECK(committed(group(show(cluster), node2Group)) == last + 1);

  REQUIRE(cluster.stopNode(2) == 0);
  CHECK(group(show(cluster), node2Group)["state"] == "stopped");

  auto dry = offsets(cluster, "set", {"--node", "node2", "--topic", "ALL", "--to", "earliest", "--dry-run"});
  INFO(dry.err);
  REQUIRE(dry.exitCode == 0);
  CHECK(dry.out.find("dry run: nothing changed") != std::string::npos);
  CHECK(planRow(dry.out) ==
        std::vector<std::string>{"0", std::to_string(last + 1), "0", "0", std::to_string(last + 1)});
  CHECK(committed(group(show(cluster), node2Group)) == last + 1);

  auto set = offsets(cluster, "set", {"--node", "node2", "--topic", "ALL", "--to", "earliest", "--yes"});
  INFO(set.err);
  REQUIRE(set.exitCode == 0);
  CHECK(set.out.find("set") != std::string::npos);
  CHECK(set.err.find("resumes from the position in its database") != std::string::npos);
  CHECK(committed(group(show(cluster), node2Group)) == 0);
  // Without --yes and without a terminal nothing changes.
  auto unconfirmed = offsets(cluster, "set", {"--node", "node2", "--topic", "ALL", "--to", "latest"});
  CHECK(unconfirmed.exitCode == 2);
  CHECK(committed(group(show(cluster), node2Group)) == 0);

  // Written while node2 is away; it must apply these, and only these, when it is back.
  for (int k = 0; k < 3; ++k) all(cluster, "UPDATE counter SET n = n + 1 WHERE id = 1");
  cluster.startNode(2);
  REQUIRE(cluster.waitForMembers(3));
  last = all(cluster, "UPDATE counter SET n = n + 1 WHERE id = 1");
  CHECK(cluster.scalar(1, "SELECT n FROM counter") == "9");
  CHECK(cluster.scalar(2, "SELECT n FROM counter") == "9"); // from offset 0 it would have counted 15
  CHECK(cluster.scalar(2, "SELECT all_offset FROM _kluster.position") == std::to_string(last));
  CHECK(committedAt(cluster, 2, last + 1));
}

TEST_CASE("a node whose database has no position starts from the committed offset set by time", "[offsets]") {
  TestCluster cluster;
  all(cluster, "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)");
  all(cluster, "INSERT INTO counter VALUES (1, 0)");
  std::int64_t applied = 0;
  for (int k = 0; k < 5; ++k) applied = all(cluster, "UPDATE counter SET n = n + 1 WHERE id = 1");
  REQUIRE(committedAt(cluster, 2, applied + 1));
  REQUIRE(cluster.stopNode(2) == 0);
  const auto position = std::stoll(cluster.scalar(2, "SELECT all_offset FROM _kluster.position"));
  // As if node2's database were restored from a dump without Kluster's bookkeeping.
  cluster.query(2, "DELETE FROM _kluster.position");

  const auto before = util::nowMillis();
  std::int64_t last = 0;
  for (int k = 0; k < 3; ++k) last = all(cluster, "UPDATE counter SET n = n + 1 WHERE id = 1");
  REQUIRE(position == applied);
  REQUIRE(last == position + 3);

  // Both time spellings find the first write after `before`: the first one node2 has not applied.
  for (const auto& when : {util::isoMillis(before), fmt::format("@{}", before)}) {
    auto dry = offsets(cluster, "set", {"--node", "node2", "--topic", "ALL", "--to", when, "--dry-run"});
    INFO(dry.out << dry.err);
    REQUIRE(dry.exitCode == 0);
    CHECK(planRow(dry.out)[2] == std::to_string(position + 1));
    CHECK(dry.out.find("first message at or after") != std::string::npos);
  }
  auto set = offsets(cluster, "set", {"--node", "node2", "--topic", "ALL", "--to", util::isoMillis(before), "--yes"});
  INFO(set.err);
  REQUIRE(set.exitCode == 0);

  auto noted = offsets(cluster, "show", {"--node-config", cluster.configPath(2)});
  REQUIRE(noted.exitCode == 0);
  CHECK(noted.err.find(fmt::format("node2's database has no position: it will read ALL from {}", position + 1)) !=
        std::string::npos);

  cluster.startNode(2);
  REQUIRE(cluster.waitForMembers(3));
  last = all(cluster, "UPDATE counter SET n = n + 1 WHERE id = 1");
  CHECK(cluster.scalar(1, "SELECT n FROM counter") == "9");
  CHECK(cluster.scalar(2, "SELECT n FROM counter") == "9");
  CHECK(cluster.scalar(2, "SELECT all_offset FROM _kluster.position") == std::to_string(last));
}

TEST_CASE("offsets delete forgets a stopped node's group so monitor --check passes again; a running node is refused",
          "[offsets][delete]") {
  TestCluster cluster;
  all(cluster, "CREATE TABLE t (id int PRIMARY KEY)");
  const auto monitorCheck = [&] {
    return TestCluster::klusterctl(
        {"monitor", "--brokers", cluster.brokers(), "--cluster", cluster.name(), "--once", "--check"},
        std::chrono::seconds(60));
  };
  const auto hasGroup = [&](const std::string& name) {
    const auto shown = show(cluster); // kept: a range over a temporary's member would dangle
    for (const auto& g : shown["groups"])
      if (g["group"] == name) return true;
    return false;
  };
  const auto node3Group = cluster.name() + ".node.node3";

  auto running = offsets(cluster, "delete", {"--node", "node3", "--yes"});
  CHECK(running.exitCode == 2);
  CHECK(running.err.find("stop the node first") != std::string::npos);
  auto unknown = offsets(cluster, "delete", {"--node", "node9", "--yes"});
  CHECK(unknown.exitCode == 2);
  CHECK(unknown.err.find("has no group") != std::string::npos);
  CHECK(unknown.err.find("known nodes:") != std::string::npos);

  // node3 leaves the cluster for good: stopped, it still counts (and fails --check) until its group goes.
  REQUIRE(cluster.stopNode(3) == 0);
  CHECK(monitorCheck().exitCode != 0);
  auto dry = offsets(cluster, "delete", {"--node", "node3", "--dry-run"});
  INFO(dry.err);
  CHECK(dry.exitCode == 0);
  CHECK(dry.out.find("dry run: nothing changed") != std::string::npos);
  CHECK(hasGroup(node3Group));
  auto unconfirmed = offsets(cluster, "delete", {"--node", "node3"}); // no terminal, no --yes
  CHECK(unconfirmed.exitCode == 2);
  CHECK(hasGroup(node3Group));

  auto deleted = offsets(cluster, "delete", {"--node", "node3", "--yes"});
  INFO(deleted.err);
  REQUIRE(deleted.exitCode == 0);
  CHECK_FALSE(hasGroup(node3Group));
  auto healthy = monitorCheck();
  INFO(healthy.out << healthy.err);
  CHECK(healthy.exitCode == 0);
  CHECK(healthy.out.find("node3") == std::string::npos);
  all(cluster, "INSERT INTO t VALUES (1)");                  // the two nodes left go on; --wait all counts them only
  CHECK(cluster.scalar(3, "SELECT count(*) FROM t") == "0"); // node3's database was left as it was
}
