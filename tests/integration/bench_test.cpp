// klusterctl bench apply/exec run against a real cluster and print their numbers in the documented format
// (bench/README.md). Timing is never asserted: benchmarks report speed, tests check that they work.
#include "support/cluster.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include <regex>
#include <string>
#include <vector>

using namespace kluster::test;

namespace {

const std::string kNumber = "([0-9]+(?:\\.[0-9]+)?)";

/// The groups of the first line of `text` that matches `pattern` as a whole (group 0 is the line); empty when
/// no line does.
std::vector<std::string> findLine(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("(?:^|\n)" + pattern + "(?=\n|$)"))) return {};
  return std::vector<std::string>(m.begin(), m.end());
}

} // namespace

TEST_CASE("bench apply times a stopped node's catch-up and the baseline; bench exec times invocations", "[bench]") {
  ClusterOptions options;
  options.nodes = 1;
  options.start = false; // bench apply starts (and stops) the node itself
  TestCluster cluster(options);

  auto apply = TestCluster::klusterctl({"bench", "apply", "--rows", "2000", "--node-config", cluster.configPath(1),
                                        "--node-log", cluster.configPath(1) + ".bench.log", "--timeout", "2m"},
                                       std::chrono::minutes(3));
  INFO("stdout:\n" << apply.out << "\nstderr:\n" << apply.err);
  REQUIRE(apply.exitCode == 0);
  auto produced = findLine(apply.out, "produced +2001 requests in " + kNumber + " s \\(" + kNumber +
                                          " requests/s\\), ALL offsets ([0-9]+)\\.\\.([0-9]+)");
  REQUIRE(!produced.empty());
  const long first = std::stol(produced[3]), last = std::stol(produced[4]);
  CHECK(last - first == 2000);
  auto node = findLine(apply.out, "node +([0-9]+) rows in " + kNumber +
                                      " s = ([0-9]+) rows/s \\(from its first "
                                      "applied batch; startup " +
                                      kNumber + " s\\)");
  REQUIRE(!node.empty());
  CHECK(std::stol(node[1]) >= 1);
  CHECK(std::stol(node[1]) <= 2001);
  CHECK(std::stol(node[3]) > 0);
  auto baseline = findLine(apply.out, "baseline +2000 rows in " + kNumber +
                                          " s = ([0-9]+) rows/s \\(one connection, "
                                          "pipelined transactions of 100\\)");
  REQUIRE(!baseline.empty());
  CHECK(std::stol(baseline[2]) > 0);
  REQUIRE(!findLine(apply.out, "ratio +" + kNumber + " \\(node / baseline; the target is >= 0\\.60\\)").empty());

  // The node really applied the backlog (the CREATE and 2000 INSERTs; the DROP came after), and nothing of the
  // benchmark is left.
  CHECK(cluster.scalar(1, fmt::format("SELECT count(*) FROM _kluster.applied WHERE result_code = 'OK' AND "
                                      "all_offset BETWEEN {} AND {}",
                                      first, last)) == "2001");
  CHECK(std::stol(cluster.scalar(1, "SELECT all_offset FROM _kluster.position")) > last);
  CHECK(cluster.scalar(1, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'kluster_bench_apply_%'") == "0");
  CHECK(cluster.waitForMembers(0, std::chrono::seconds(5)));

  // A running node cannot be measured catching up: bench apply refuses.
  cluster.startNode(1);
  REQUIRE(cluster.waitForMembers(1));
  auto refused = TestCluster::klusterctl({"bench", "apply", "--rows", "10", "--node-config", cluster.configPath(1)});
  CHECK(refused.exitCode == 2);
  CHECK(refused.err.find("node1 is running") != std::string::npos);

  auto exec = TestCluster::klusterctl(
      {"bench", "exec", "--count", "5", "--brokers", cluster.brokers(), "--cluster", cluster.name()},
      std::chrono::minutes(2));
  INFO("stdout:\n" << exec.out << "\nstderr:\n" << exec.err);
  REQUIRE(exec.exitCode == 0);
  const std::string stats = " +" + kNumber + " +" + kNumber + " +" + kNumber + " +" + kNumber + "  .*";
  REQUIRE(!findLine(exec.out, "case +runs +min +median +p95 +max  command").empty());
  auto one = findLine(exec.out, "one-select +5" + stats);
  auto all = findLine(exec.out, "all-insert +5" + stats);
  REQUIRE(!one.empty());
  REQUIRE(!all.empty());
  for (const auto& m : {one, all}) {
    const double min = std::stod(m[1]), median = std::stod(m[2]), p95 = std::stod(m[3]), max = std::stod(m[4]);
    CHECK(0 < min);
    CHECK(min <= median);
    CHECK(median <= p95);
    CHECK(p95 <= max);
  }
  // One warm-up and five measured INSERTs reached the node's database.
  CHECK(cluster.scalar(1, "SELECT count(*) FROM kluster_bench_exec") == "6");
}

TEST_CASE("bench apply on a MariaDB node: the catch-up against one MariaDB connection doing the same inserts",
          "[bench][mariadb]") {
  ClusterOptions options;
  options.nodes = 1;
  options.start = false;
  options.database = "mariadb";
  TestCluster cluster(options);

  auto apply = TestCluster::klusterctl({"bench", "apply", "--rows", "1000", "--tx-size", "50", "--node-config",
                                        cluster.configPath(1), "--node-log", cluster.configPath(1) + ".bench.log",
                                        "--timeout", "2m"},
                                       std::chrono::minutes(3));
  INFO("stdout:\n" << apply.out << "\nstderr:\n" << apply.err);
  REQUIRE(apply.exitCode == 0);
  auto produced = findLine(apply.out, "produced +1001 requests in " + kNumber + " s \\(" + kNumber +
                                          " requests/s\\), ALL offsets ([0-9]+)\\.\\.([0-9]+)");
  REQUIRE(!produced.empty());
  const long first = std::stol(produced[3]), last = std::stol(produced[4]);
  CHECK(last - first == 1000);
  auto node = findLine(apply.out, "node +([0-9]+) rows in " + kNumber + " s = ([0-9]+) rows/s .*");
  REQUIRE(!node.empty());
  CHECK(std::stol(node[3]) > 0);
  auto baseline = findLine(apply.out, "baseline +1000 rows in " + kNumber +
                                          " s = ([0-9]+) rows/s \\(one connection, pipelined transactions of 50\\)");
  REQUIRE(!baseline.empty());
  CHECK(std::stol(baseline[2]) > 0);
  auto ratio = findLine(apply.out, "ratio +" + kNumber + " \\(node / baseline; the target is >= 0\\.60\\)");
  REQUIRE(!ratio.empty());
  CHECK(std::stod(ratio[1]) > 0);

  // MariaDB ran the bench's SQL: the CREATE TABLE and every INSERT were applied OK (a request MariaDB refused
  // would be recorded with its error code), and neither the bench's table nor the baseline's is left.
  CHECK(cluster.scalar(1, fmt::format("SELECT count(*) FROM _kluster_applied WHERE result_code = 'OK' AND "
                                      "all_offset BETWEEN {} AND {}",
                                      first, last)) == "1001");
  CHECK(cluster.scalar(1, fmt::format("SELECT count(*) FROM _kluster_applied WHERE all_offset BETWEEN {} AND {}", first,
                                      last)) == "1001");
  CHECK(std::stol(cluster.scalar(1, "SELECT all_offset FROM _kluster_position")) > last);
  CHECK(cluster.scalar(1, "SELECT count(*) FROM information_schema.TABLES WHERE table_schema = DATABASE() AND "
                          "table_name LIKE 'kluster\\_bench\\_apply\\_%'") == "0");
  CHECK(cluster.waitForMembers(0, std::chrono::seconds(5)));
}

TEST_CASE("bench load runs concurrent clients, breaks the latency down by stage and checks every node", "[bench]") {
  ClusterOptions options;
  options.nodes = 2;
  TestCluster cluster(options);
  const std::vector<std::string> target{"--brokers", cluster.brokers(), "--cluster", cluster.name()};
  auto load = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"bench", "load"});
    args.insert(args.end(), target.begin(), target.end());
    return TestCluster::klusterctl(args, std::chrono::minutes(2));
  };

  SECTION("inserts, waiting for every node, with the breakdown") {
    auto r =
        load({"--clients", "4", "--duration", "2s", "--warmup", "0s", "--wait", "all", "--breakdown", "-o", "json"});
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE(r.exitCode == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["nodes"] == nlohmann::json::array({"node1", "node2"}));
    const auto completed = j["completed"].get<std::uint64_t>();
    CHECK(completed > 0);
    CHECK(j["ok"] == completed);
    CHECK(j["errors"].empty());
    CHECK(j["latency"]["count"] == completed);
    CHECK(j["latency"]["p50_ms"].get<double>() > 0);
    CHECK(j["latency"]["p50_ms"].get<double>() <= j["latency"]["p99_ms"].get<double>());
    CHECK(j["latency"]["p99_ms"].get<double>() <= j["latency"]["max_ms"].get<double>());
    CHECK(j["check"]["passed"] == true);
    REQUIRE(j["check"]["nodes"].size() == 2);
    // Every stage was measured on every response (two per request): the times came from the nodes.
    REQUIRE(j["breakdown"].size() == 7);
    for (const auto& stage : j["breakdown"]) {
      INFO(stage.dump());
      CHECK(stage["latency"]["count"].get<std::uint64_t>() >= completed);
    }
    // The benchmark's tables are gone from every node.
    for (int i = 1; i <= 2; ++i)
      CHECK(cluster.scalar(i, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'kluster_load_%'") == "0");
  }

  SECTION("the CPU per write of a node given by its pid, of the client and of the machine") {
    const auto pid = std::to_string(cluster.nodePid(1));
    auto r = load({"--clients", "4", "--duration", "2s", "--warmup", "1s", "--cpu-pid", "node1=" + pid, "-o", "json"});
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE(r.exitCode == 0);
    auto j = nlohmann::json::parse(r.out);
    const auto& cpu = j["cpu"];
    REQUIRE(cpu.is_object());
    CHECK(cpu["writes"] == j["completed"]);
    REQUIRE(cpu["processes"].size() == 2); // node1, then the client (bench load itself)
    const auto& node = cpu["processes"][0];
    CHECK(node["name"] == "node1");
    CHECK(node["pids"] == nlohmann::json::array({cluster.nodePid(1)}));
    CHECK(node["cpu_us"].get<double>() > 0);
    CHECK(node["us_per_write"].get<double>() > 0);
    CHECK(node["us_per_write"].get<double>() == Approx(node["cpu_us"].get<double>() / cpu["writes"].get<double>()));
    CHECK(cpu["processes"][1]["name"] == "client");
    CHECK(cpu["processes"][1]["us_per_write"].get<double>() > 0);
    const double total = cpu["total_us_per_write"].get<double>();
    CHECK(total == Approx(node["us_per_write"].get<double>() + cpu["processes"][1]["us_per_write"].get<double>()));
    // The machine did at least what the named processes did (ticks round: a little slack).
    CHECK(cpu["machine_us_per_write"].get<double>() > 0);
    CHECK(cpu["machine_us_per_write"].get<double>() >= total * 0.9);
    // The client's Kafka requests, from librdkafka's statistics: at least one produce request per write's
    // batch, and fetches of the responses.
    REQUIRE(cpu["kafka_requests_per_write"].is_number());
    CHECK(cpu["kafka_requests_per_write"].get<double>() > 0);

    // The table format prints the same rows; a pid that does not exist is a usage error.
    auto text = load({"--clients", "2", "--duration", "1s", "--warmup", "0s", "--cpu-match",
                      "nodes=node run --config " + cluster.workDir()}); // this test's nodes only
    INFO("stdout:\n" << text.out << "\nstderr:\n" << text.err);
    REQUIRE(text.exitCode == 0);
    CHECK(!findLine(text.out, "  nodes +" + kNumber + " +" + kNumber + " +" + kNumber + "  [0-9]+ [0-9]+").empty());
    CHECK(!findLine(text.out, "  client +" + kNumber + " +" + kNumber + " +" + kNumber + "  [0-9]+").empty());
    CHECK(!findLine(text.out, "  machine \\(busy\\) +" + kNumber + " +" + kNumber + " +" + kNumber).empty());
    auto bad = load({"--duration", "1s", "--cpu-pid", "node1=999999999"});
    CHECK(bad.exitCode == 2);
    CHECK(bad.err.find("no process 999999999") != std::string::npos);
  }

  SECTION("the other workloads, in the table format") {
    for (const std::string workload : {"update", "multi", "read", "mix"}) {
      auto r = load({"--workload", workload, "--clients", "3", "--duration", "1s", "--warmup", "0s"});
      INFO(workload << " stdout:\n" << r.out << "\nstderr:\n" << r.err);
      REQUIRE(r.exitCode == 0);
      CHECK(r.out.find("workload " + workload + ", closed loop, 3 clients") != std::string::npos);
      CHECK(!findLine(r.out, "throughput ([0-9]+) requests/s \\(([0-9]+) requests, \\2 OK, 0 errors\\)").empty());
      CHECK(!findLine(r.out, "latency ms p50 " + kNumber + "  p90 " + kNumber + "  p99 " + kNumber + ".*").empty());
      CHECK(r.out.find("check      PASSED") != std::string::npos);
    }
  }

  SECTION("an open loop at a fixed rate") {
    auto r = load({"--rate", "50", "--duration", "2s", "--warmup", "0s", "--wait", "first", "-o", "json"});
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE(r.exitCode == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["completed"] == 100); // 100 requests were due in 2 s, answered or not
    CHECK(j["latency"]["count"] == 100);
    CHECK(j["check"]["passed"] == true);
  }

  SECTION("a node whose data differs fails the check") {
    // A row written on node2 behind Kluster's back, while the load runs.
    const std::string table = "kluster_load_rogue";
    Process bench({klusterctlPath(), "bench", "load", "--table", table, "--clients", "2", "--duration", "4s",
                   "--warmup", "0s", "-o", "json", "--brokers", cluster.brokers(), "--cluster", cluster.name()},
                  {}, cluster.workDir() + "/rogue.out");
    REQUIRE(waitUntil(
        [&] { return cluster.scalar(2, "SELECT count(*) FROM pg_tables WHERE tablename = '" + table + "'") == "1"; },
        std::chrono::seconds(30)));
    cluster.query(2, "INSERT INTO " + table + " VALUES ('00000000-0000-4000-8000-000000000000', 0, 0)");
    auto status = bench.wait(std::chrono::minutes(1));
    std::ifstream in(cluster.workDir() + "/rogue.out");
    std::stringstream out;
    out << in.rdbuf();
    INFO(out.str());
    REQUIRE(status);
    CHECK(*status == 4);
    CHECK(out.str().find("node2: ") != std::string::npos);
    CHECK(out.str().find("DIFFER") != std::string::npos);
  }
}

TEST_CASE("bench load on a MariaDB cluster, and straight to a MariaDB server (--direct)", "[bench][mariadb]") {
  ClusterOptions options;
  options.nodes = 2;
  options.database = "mariadb";
  TestCluster cluster(options);
  auto tables = [&](int node, const std::string& like) {
    return cluster.scalar(node, "SELECT count(*) FROM information_schema.TABLES WHERE table_schema = DATABASE() AND "
                                "table_name LIKE '" +
                                    like + "'");
  };

  SECTION("inserts with hot-row updates, waiting for every node; the check reads MariaDB's copies") {
    auto r = TestCluster::klusterctl({"bench", "load", "--workload", "multi", "--clients", "4", "--duration", "2s",
                                      "--warmup", "0s", "--hot-rows", "1500", "-o", "json", "--brokers",
                                      cluster.brokers(), "--cluster", cluster.name()},
                                     std::chrono::minutes(2));
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE(r.exitCode == 0);
    auto j = nlohmann::json::parse(r.out);
    const auto completed = j["completed"].get<std::uint64_t>();
    CHECK(completed > 0);
    CHECK(j["ok"] == completed);
    CHECK(j["check"]["passed"] == true);
    REQUIRE(j["check"]["nodes"].size() == 2);
    for (const auto& line : j["check"]["nodes"])
      CHECK(line.get<std::string>().find("exactly the applied requests' rows and updates") != std::string::npos);
    for (int i = 1; i <= 2; ++i) CHECK(tables(i, "kluster\\_load\\_%") == "0");
  }

  SECTION("a node whose data differs fails the check") {
    const std::string table = "kluster_load_rogue";
    Process bench({klusterctlPath(), "bench", "load", "--table", table, "--clients", "2", "--duration", "4s",
                   "--warmup", "0s", "-o", "json", "--brokers", cluster.brokers(), "--cluster", cluster.name()},
                  {}, cluster.workDir() + "/rogue.out");
    REQUIRE(waitUntil([&] { return tables(2, table) == "1"; }, std::chrono::seconds(30)));
    cluster.query(2, "INSERT INTO " + table + " VALUES ('00000000-0000-4000-8000-000000000000', 0, 0)");
    auto status = bench.wait(std::chrono::minutes(1));
    std::ifstream in(cluster.workDir() + "/rogue.out");
    std::stringstream out;
    out << in.rdbuf();
    INFO(out.str());
    REQUIRE(status);
    CHECK(*status == 4);
    auto j = nlohmann::json::parse(out.str());
    REQUIRE(j["check"]["nodes"].size() == 2);
    for (const auto& line : j["check"]["nodes"]) {
      const auto text = line.get<std::string>();
      CHECK((text.rfind("node2: ", 0) == 0) == (text.find("DIFFER") != std::string::npos));
    }
  }

  SECTION("--direct: N connections inserting into one server, every copy checked") {
    const auto url = cluster.databaseUrl(1);
    auto r = TestCluster::klusterctl({"bench", "load", "--direct", url, "--direct-replica", url, "--clients", "3",
                                      "--duration", "2s", "--warmup", "1s", "-o", "json"},
                                     std::chrono::minutes(3));
    INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
    REQUIRE(r.exitCode == 0);
    auto j = nlohmann::json::parse(r.out);
    const auto completed = j["completed"].get<std::uint64_t>();
    CHECK(completed > 0);
    CHECK(j["ok"] == completed);
    CHECK(j["errors"].empty());
    CHECK(j["latency"]["count"] == completed);
    CHECK(j["latency"]["p50_ms"].get<double>() > 0);
    CHECK(j["check"]["passed"] == true);
    REQUIRE(j["check"]["nodes"].size() == 2); // the server, and the same server as its "replica"
    // every request sent (warm-up included) was acknowledged and is there
    const auto sent = j["sent"].get<std::uint64_t>();
    CHECK(sent > completed);
    for (const auto& line : j["check"]["nodes"])
      CHECK(line.get<std::string>().find(": " + std::to_string(sent) + " rows, exactly the acknowledged") !=
            std::string::npos);
    REQUIRE(j["cpu"].is_object());
    CHECK(j["cpu"]["writes"] == completed);
    CHECK(tables(1, "kluster\\_load\\_%") == "0");

    auto refused = TestCluster::klusterctl({"bench", "load", "--direct", "postgresql://x@127.0.0.1/y"});
    CHECK(refused.exitCode == 2);
    CHECK(refused.err.find("--direct takes a mariadb:// URL") != std::string::npos);
  }
}
