// The fault suite's scenarios of Kafka and clients (brokers killed, Kafka down, a client killed, a partition,
// a leader failover); the nodes' own are in faults_test.cpp. Each scenario runs the workload
// (tests/faults/workload.hpp) on a 3-broker Kafka cluster while one kind of fault happens, then the checker proves
// against every node's database that nothing acknowledged was lost, nothing was applied twice, the nodes are identical
// and no ONE read with a minimum offset was stale. KLUSTER_FAULTS_SCALE=N (default 1) repeats each fault N times as
// often (the soak mode, tests/faults/soak.sh, raises it).
#include "core/client/client.hpp"
#include "core/errors.hpp"
#include "core/kafka/admin.hpp"
#include "core/util.hpp"
#include "faults/scenario.hpp"
#include "support/topic_reader.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>

using namespace kluster;
using namespace kluster::test;
using namespace kluster::test::faults;
using namespace std::chrono_literals;
using nlohmann::json;

TEST_CASE("a 3-broker cluster: a broker SIGKILLed and back, then the leader of ALL killed", "[faults][brokers]") {
  REQUIRE(brokerCount() == 3);
  TestCluster cluster;
  const auto all = cluster.name() + ".ALL";
  // klusterctl init on three brokers: every topic has three replicas, two of which must acknowledge.
  {
    kafka::Admin admin(kafka::clientProperties(cluster.brokers(), {}));
    for (const auto& t : {all, cluster.name() + ".ONE", cluster.name() + ".RESPONSES", cluster.name() + ".ERRORS"}) {
      INFO(t);
      CHECK(replicasOf(cluster.brokers(), t, 0).first == 3);
      CHECK(admin.topicConfig(t, {"min.insync.replicas"})["min.insync.replicas"] == "2");
    }
  }
  Workload w(cluster);
  w.start();
  requireProgress(w, 20, 60s, "at the start");
  BrokersBack back;
  for (int round = 0; round < scale(); ++round) {
    const int leader = leaderOf(cluster.brokers(), all, 0);
    REQUIRE(leader >= 1);
    const int follower = leader % 3 + 1;
    killBroker(follower);
    back.down.insert(follower);
    requireProgress(w, 20, 120s, fmt::format("with broker {} (a follower) killed", follower));
    startBroker(follower);
    back.down.erase(follower);
    requireProgress(w, 10, 120s, "after the follower came back");
    // Wait for the follower to be in sync again, or the next kill leaves ALL below min.insync.replicas.
    REQUIRE(waitUntil([&] { return replicasOf(cluster.brokers(), all, 0).second == 3; }, 120s, 500ms));

    const int lead = leaderOf(cluster.brokers(), all, 0);
    killBroker(lead);
    back.down.insert(lead);
    REQUIRE(waitUntil(
        [&] {
          const int now = leaderOf(cluster.brokers(), all, 0);
          return now >= 1 && now != lead;
        },
        120s, 500ms));
    requireProgress(w, 20, 120s, fmt::format("with broker {} (the leader of ALL) killed", lead));
    startBroker(lead);
    back.down.erase(lead);
    REQUIRE(waitUntil([&] { return replicasOf(cluster.brokers(), all, 0).second == 3; }, 120s, 500ms));
    requireProgress(w, 10, 120s, "after the old leader came back");
  }
  // A broker restart moves group coordinators, which can fence a node's static members by their own rejoin: the
  // node must join again and go on, not stop as if another process had taken its place.
  for (int i = 1; i <= cluster.size(); ++i) {
    INFO("node" << i << " stopped during the broker restarts (see its log)");
    CHECK(cluster.nodeRunning(i));
  }
  finish(w, "broker-kill");
}

TEST_CASE("the whole Kafka cluster stopped for 20 s: clients get clear errors, nodes wait and resume",
          "[faults][kafka-down]") {
  TestCluster cluster;
  Workload w(cluster);
  w.start();
  requireProgress(w, 20, 60s, "at the start");
  for (int round = 0; round < scale(); ++round) {
    BrokersBack back;
    stopKafka();
    for (int k = 1; k <= 3; ++k) back.down.insert(k);
    const auto downAt = std::chrono::steady_clock::now();
    step("all brokers stopped");
    // A new client cannot reach Kafka: it says so and exits 5 (documented), it does not hang.
    auto r = cluster.exec({"--to", "ALL", "--timeout", "5s", "SELECT 1"}, 90s);
    CHECK(r.exitCode == 5);
    CHECK(r.err.find("cannot reach Kafka") != std::string::npos);
    step(fmt::format("a new client exited {}", r.exitCode));
    holdFor(20s - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - downAt));
    for (int i = 1; i <= 3; ++i) CHECK(cluster.nodeRunning(i)); // the nodes waited
    startKafka();
    back.down.clear();
    step("all brokers started");
    requireProgress(w, 20, 180s, "after Kafka came back");
  }
  finish(w, "kafka-down");
}

TEST_CASE("a client killed mid-request and re-sent with the same messageId is applied once", "[faults][client-kill]") {
  TestCluster cluster;
  Workload w(cluster);
  w.start();
  requireProgress(w, 20, 60s, "at the start");
  const auto prefix = "k" + util::uuid4().substr(0, 8);
  int duplicates = 0;
  for (int i = 0; i < 6 * scale(); ++i) {
    const auto id = fmt::format("{}-{}", prefix, i);
    const auto sql = fmt::format("INSERT INTO appends VALUES ('{}', 99)", id);
    std::vector<std::string> argv = {klusterctlPath(), "exec",         "--brokers", cluster.brokers(),
                                     "--cluster",      cluster.name(), "--to",      "ALL",
                                     "--message-id",   "app-" + id,    "-o",        "json"};
    // Even rounds: killed at a random moment (before or after its request reached Kafka). Odd rounds:
    // it waits for 4 answers from 3 nodes, so it is surely still waiting when its row is applied.
    const bool afterApply = i % 2 == 1;
    if (afterApply) argv.insert(argv.end(), {"--wait", "4", "--timeout", "120s"});
    argv.push_back(sql);
    w.recordAppend(id, false);
    {
      Process client(argv, {}, cluster.workDir() + "/killed-client.log");
      if (afterApply)
        REQUIRE(
            waitUntil([&] { return cluster.scalar(1, "SELECT count(*) FROM appends WHERE id = '" + id + "'") == "1"; },
                      90s, 50ms));
      else
        randomPause(0, 800);
      client.kill();
    }
    auto again = cluster.exec({"--to", "ALL", "--message-id", "app-" + id, "--timeout", "60s", "-o", "json", sql}, 90s);
    INFO(again.out << again.err);
    auto responses = json::parse(again.out, nullptr, false);
    REQUIRE(responses.is_array());
    REQUIRE_FALSE(responses.empty());
    const auto code = responses[0]["resultCode"].get<std::string>();
    CHECK((code == "OK" || code == "DUPLICATE"));
    if (afterApply) CHECK(code == "DUPLICATE");
    duplicates += code == "DUPLICATE";
    w.recordAppend(id, true);
  }
  CHECK(duplicates >= 3);
  finish(w, "client-kill");
}

TEST_CASE("a network partition between a node and Kafka: the node rejoins and catches up", "[faults][partition]") {
  KafkaProxies proxies; // node3 reaches every broker only through these
  ClusterOptions options;
  options.start = false;
  TestCluster cluster(options);
  replaceInFile(cluster.configPath(3), fmt::format("brokers = \"{}\"", cluster.brokers()),
                fmt::format("brokers = \"{}\"", proxies.bootstrap()));
  for (int i = 1; i <= 3; ++i) cluster.startNode(i);
  REQUIRE(cluster.waitForMembers(3, 60s));
  Workload w(cluster);
  w.start();
  requireProgress(w, 20, 60s, "at the start");
  for (int round = 0; round < scale(); ++round) {
    proxies.cut();
    const auto cutAt = std::chrono::steady_clock::now();
    requireProgress(w, 20, 120s, "with node3 cut off");
    holdFor(20s - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - cutAt));
    CHECK(cluster.nodeRunning(3));
    proxies.heal();
    REQUIRE(cluster.waitForMembers(3, 120s));
    requireProgress(w, 10, 120s, "after the partition healed");
  }
  finish(w, "partition");
}

TEST_CASE("a failover of the broker leading ALL neither duplicates nor reorders a client's requests",
          "[faults][producer]") {
  TestCluster cluster;
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE seqs (n int NOT NULL)"}).exitCode == 0);
  const auto all = cluster.name() + ".ALL";
  client::ClientOptions o;
  o.brokers = cluster.brokers();
  o.cluster = cluster.name();
  o.lingerMs = 5; // batches of several requests in flight when the leader dies
  client::Client client(o);
  const std::string prefix = "seq-" + client.clientId() + "-";
  constexpr int N = 3000;
  BrokersBack back;
  std::atomic<int> sent{0};
  int killed = -1;
  std::thread killer([&] {
    waitUntil([&] { return sent.load() >= N / 3; }, 120s, 5ms);
    killed = leaderOf(cluster.brokers(), all, 0);
    killBroker(killed);
    back.down.insert(killed);
  });
  std::vector<std::future<client::Result>> futures;
  for (int i = 0; i < N; ++i) {
    Request r;
    r.messageId = fmt::format("{}{:06}", prefix, i);
    r.statements = {fmt::format("INSERT INTO seqs VALUES ({})", i)};
    futures.push_back(client.send(r, client::Target::All, client::WaitPolicy::parse("first"), 180s));
    ++sent;
    if (i % 100 == 99) std::this_thread::sleep_for(50ms); // spread the requests over the failover
  }
  killer.join();
  REQUIRE(killed >= 1);
  std::set<int> acked;
  for (int i = 0; i < N; ++i)
    if (futures[static_cast<std::size_t>(i)].get().allOk()) acked.insert(i);
  startBroker(killed);
  back.down.clear();

  // ALL holds each request once, in the order the client sent them.
  const auto ours = [&](const Record& rec) { return rec.key.rfind(prefix, 0) == 0; };
  auto records = readTopic(
      cluster.brokers(), all, 0, 0,
      [&](const std::vector<Record>& rs) { return std::count_if(rs.begin(), rs.end(), ours) >= N; }, 120s);
  std::vector<int> order;
  for (const auto& rec : records)
    if (ours(rec)) order.push_back(std::stoi(rec.key.substr(prefix.size())));
  std::set<int> seen(order.begin(), order.end());
  CHECK(seen.size() == order.size()); // no duplicate
  CHECK(std::is_sorted(order.begin(), order.end()));
  for (int i : acked) CHECK(seen.count(i) == 1);
  CHECK(acked.size() == static_cast<std::size_t>(N)); // the producer rode out the failover
  for (int node = 1; node <= 3; ++node) {
    REQUIRE(waitUntil([&] { return cluster.scalar(node, "SELECT count(*) FROM seqs") == std::to_string(N); }, 120s));
    CHECK(cluster.scalar(node, "SELECT count(DISTINCT n) FROM seqs") == std::to_string(N));
  }
  std::cout << fmt::format("[faults] producer: sent={}, acked={}, in_all={}, duplicated={}, reordered={}\n", N,
                           acked.size(), order.size(), order.size() - seen.size(),
                           std::is_sorted(order.begin(), order.end()) ? 0 : 1);
}
