// klusterctl config check against the real services, and a node's JSON logs.
#include "support/cluster.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>
#include <sstream>

using namespace kluster::test;

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Node 1's config with one line replaced (the first that matches `pattern`), written beside it.
std::string variant(const TestCluster& cluster, const std::string& name, const std::string& pattern,
                    const std::string& replacement) {
  const auto text = std::regex_replace(readFile(cluster.configPath(1)), std::regex(pattern), replacement,
                                       std::regex_constants::format_first_only);
  const auto path = cluster.workDir() + "/" + name + ".toml";
  std::ofstream(path) << text;
  return path;
}

} // namespace

TEST_CASE("config check validates a node config and tries its Kafka and its database, with hints", "[config]") {
  ClusterOptions options;
  options.nodes = 1;
  options.start = false;
  TestCluster cluster(options);

  auto good = TestCluster::klusterctl({"config", "check", cluster.configPath(1)});
  INFO(good.out << good.err);
  CHECK(good.exitCode == 0);
  CHECK(good.out.find("ok    config " + cluster.configPath(1) + ": node node1 of cluster " + cluster.name()) !=
        std::string::npos);
  CHECK(good.out.find("ok    kafka " + cluster.brokers() + ": ") != std::string::npos);
  CHECK(good.out.find(cluster.name() + ".ALL (1)") != std::string::npos);
  CHECK(good.out.find("ok    database postgresql://") != std::string::npos);
  CHECK(good.out.find("FAIL") == std::string::npos);

  // The cluster's topics do not exist: say how to create them.
  auto noTopics = TestCluster::klusterctl(
      {"config", "check",
       variant(cluster, "other-cluster", "name = \"[^\"]*\"", "name = \"" + cluster.name() + "x\"")});
  INFO(noTopics.out);
  CHECK(noTopics.exitCode == 2);
  CHECK(noTopics.out.find("FAIL  kafka") != std::string::npos);
  CHECK(noTopics.out.find("hint: create them once for the cluster: klusterctl init") != std::string::npos);

  // Nothing listens there: exit 5, and the hint names the setting and where it came from.
  auto noKafka = TestCluster::klusterctl(
      {"config", "check", variant(cluster, "no-kafka", "brokers = \"[^\"]*\"", "brokers = \"127.0.0.1:1\"")},
      std::chrono::seconds(90));
  INFO(noKafka.out);
  CHECK(noKafka.exitCode == 5);
  CHECK(noKafka.out.find("FAIL  kafka 127.0.0.1:1") != std::string::npos);
  CHECK(std::regex_search(noKafka.out, std::regex("hint: check cluster.brokers \\(from file [^)]*no-kafka.toml\\)")));
  CHECK(noKafka.out.find("ok    database") != std::string::npos);

  auto noDb = TestCluster::klusterctl(
      {"config", "check",
       variant(cluster, "no-db", "url = \"[^\"]*\"", "url = \"postgresql://kluster@127.0.0.1:1/x\"")});
  INFO(noDb.out);
  CHECK(noDb.exitCode == 5);
  CHECK(noDb.out.find("FAIL  database postgresql://kluster@127.0.0.1:1/x") != std::string::npos);
  CHECK(noDb.out.find("hint: check database.url") != std::string::npos);

  // Values: an unknown key, a bad number; --offline checks them without connecting.
  auto typo =
      TestCluster::klusterctl({"config", "check", variant(cluster, "typo", "\\[node\\]", "[node]\nbatch_mx = 5")});
  CHECK(typo.exitCode == 2);
  CHECK(typo.out.find("unknown key 'node.batch_mx'") != std::string::npos);
  auto badNumber = TestCluster::klusterctl(
      {"config", "check", variant(cluster, "bad-number", "\\[node\\]", "[node]\nbatch_max = 0")});
  CHECK(badNumber.exitCode == 2);
  CHECK(badNumber.out.find("batch_max") != std::string::npos);
  auto offline =
      TestCluster::klusterctl({"config", "check", "--offline",
                               variant(cluster, "offline", "brokers = \"[^\"]*\"", "brokers = \"127.0.0.1:1\"")});
  CHECK(offline.exitCode == 0);
  CHECK(offline.out.find("kafka") == std::string::npos);
  CHECK(TestCluster::klusterctl({"config", "check", cluster.workDir() + "/missing.toml"}).exitCode == 2);
}

TEST_CASE("node run --log-format json writes one JSON object per line", "[config]") {
  ClusterOptions options;
  options.nodes = 1;
  options.start = false;
  TestCluster cluster(options);
  const auto log = cluster.workDir() + "/json-node.log";
  Process node({klusterctlPath(), "node", "run", "--config", cluster.configPath(1), "--log-format", "json"}, {}, log);
  REQUIRE(
      waitUntil([&] { return readFile(log).find("serving cluster") != std::string::npos; }, std::chrono::seconds(60)));
  CHECK(node.stop() == 0);
  std::istringstream lines(readFile(log));
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    auto j = nlohmann::json::parse(line); // throws, failing the test, on anything but JSON
    CHECK(j.at("time").get<std::string>().size() == 24);
    CHECK(j.at("module") == "node");
    CHECK((j.at("level") == "info" || j.at("level") == "warn"));
    CHECK(!j.at("message").get<std::string>().empty());
    ++count;
  }
  CHECK(count >= 3);
}
