// The fault suite (issue 11): each scenario runs the workload (tests/faults/workload.hpp) on a 3-broker
// Kafka cluster while one kind of fault happens, then the checker proves against every node's database
// that nothing acknowledged was lost, nothing was applied twice, the nodes are identical and no ONE read
// with a minimum offset was stale. KLUSTER_FAULTS_SCALE=N (default 1) repeats each fault N times as often
// (the soak mode, tests/faults/soak.sh, raises it).
#include "core/client/client.hpp"
#include "core/errors.hpp"
#include "core/kafka/admin.hpp"
#include "core/util.hpp"
#include "faults/faults.hpp"
#include "faults/workload.hpp"
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

namespace {

int scale() {
  const char* s = std::getenv("KLUSTER_FAULTS_SCALE");
  return s ? std::max(1, std::atoi(s)) : 1;
}

/// A random number below n (the fault schedule's randomness; the suite's threads do not share it).
unsigned roll(unsigned n) {
  static std::mt19937 engine(std::random_device{}());
  return static_cast<unsigned>(engine() % n);
}

/// A random pause of the fault schedule (when the next fault strikes), not a wait for a condition.
void randomPause(int minMs, int maxMs) {
  std::this_thread::sleep_for(
      std::chrono::milliseconds(minMs + static_cast<int>(roll(static_cast<unsigned>(maxMs - minMs)))));
}

/// Holds a fault for `duration` while checking the workload keeps going on the other nodes.
void holdFor(std::chrono::milliseconds duration) {
  const auto until = std::chrono::steady_clock::now() + duration;
  waitUntil([&] { return std::chrono::steady_clock::now() >= until; }, duration + 1s, 200ms);
}

/// Seconds since the scenario began, for the step lines on stdout.
double elapsed() {
  static const auto start = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void requireProgress(Workload& w, std::int64_t more, std::chrono::milliseconds timeout, const std::string& when) {
  INFO("the workload made no progress " << when << " (acked " << w.acked() << ")");
  const bool progressed = w.waitForProgress(more, timeout);
  if (!progressed) std::cout << w.diagnostics() << std::endl;
  REQUIRE(progressed);
  std::cout << fmt::format("[faults] {:7.1f}s progress {}: acked {}\n", elapsed(), when, w.acked()) << std::flush;
}

void step(const std::string& what) {
  std::cout << fmt::format("[faults] {:7.1f}s {}\n", elapsed(), what) << std::flush;
}

void finish(Workload& w, const std::string& scenario) {
  w.stop();
  std::cout << fmt::format("[faults] {:7.1f}s workload stopped\n", elapsed()) << std::flush;
  auto result = check(w, scenario);
  std::cout << fmt::format("[faults] {:7.1f}s checked\n", elapsed()) << std::flush;
  std::string anomalies;
  for (const auto& a : result.anomalies) anomalies += "\n  " + a;
  INFO(result.summary() << anomalies);
  CHECK(result.acked > 0);
  CHECK(result.ok());
}

/// Reports on ERRORS by `node` from offset 0, waiting until one with `sqlStatePrefix` (or any) appears.
bool nodeReported(TestCluster& c, const std::string& node, const std::string& sqlStatePrefix,
                  std::chrono::milliseconds timeout) {
  auto match = [&](const Record& r) {
    auto j = json::parse(r.payload, nullptr, false);
    return !j.is_discarded() && j.value("nodeId", "") == node && j.value("sqlState", "").rfind(sqlStatePrefix, 0) == 0;
  };
  auto records = readTopic(
      c.brokers(), c.name() + ".ERRORS", 0, 0,
      [&](const std::vector<Record>& rs) { return std::any_of(rs.begin(), rs.end(), match); }, timeout);
  return std::any_of(records.begin(), records.end(), match);
}

void replaceInFile(const std::string& path, const std::string& from, const std::string& to) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = ss.str();
  auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  std::ofstream(path) << text;
}

/// Brokers a scenario stopped are started again whatever happens, so the next scenario has all three.
struct BrokersBack {
  std::set<int> down;
  ~BrokersBack() {
    for (int k : down) try {
        startBroker(k);
      } catch (const std::exception& e) {
        std::cerr << "restarting broker " << k << ": " << e.what() << "\n";
      }
  }
};

} // namespace

TEST_CASE("a node SIGKILLed again and again at random moments loses and doubles nothing", "[faults][node-kill]") {
  TestCluster cluster;
  Workload w(cluster);
  w.start();
  requireProgress(w, 20, 60s, "at the start");
  const int kills = 6 * scale();
  for (int k = 0; k < kills; ++k) {
    const int victim = 1 + static_cast<int>(roll(3));
    randomPause(100, 1500);
    cluster.killNode(victim);
    randomPause(0, 1000);
    cluster.startNode(victim);
    requireProgress(w, 5, 120s, fmt::format("after kill {} of node{}", k + 1, victim));
  }
  finish(w, "node-kill");
}

namespace {

/// How often node i's log says it started serving (its log is appended to by every instance).
std::size_t timesServing(TestCluster& c, int i) {
  const auto log = c.nodeLog(i);
  std::size_t n = 0;
  for (auto at = log.find("serving cluster"); at != std::string::npos; at = log.find("serving cluster", at + 1)) ++n;
  return n;
}

std::string joined(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

/// Writes on ALL with `--wait all`, each of which must be answered OK by exactly the nodes `expected` within 2 s.
struct WaitAllWriter {
  Workload& workload;
  client::Client& client;
  std::string prefix = "w" + util::uuid4().substr(0, 8);
  int sent = 0;
  void write(const std::string& expected, const std::string& when) {
    const auto id = fmt::format("{}-{}", prefix, sent++);
    Request r;
    r.messageId = "app-" + id;
    r.statements = {fmt::format("INSERT INTO appends VALUES ('{}', 98)", id)};
    workload.recordAppend(id, false);
    const auto res = client.send(r, client::Target::All, client::WaitPolicy::parse("all"), 2s).get();
    std::vector<std::string> answered;
    for (const auto& x : res.responses) {
      answered.push_back(x.nodeId);
      if (x.resultCode == code::Ok || x.resultCode == code::Duplicate) workload.recordAppend(id, true);
    }
    const auto line =
        fmt::format("{}: write {} expected {}, answered by {} in {} ms{}", when, id, joined(res.expectedNodes),
                    joined(answered), res.elapsed.count(), res.timedOut ? " (timed out)" : "");
    step(line);
    INFO(line);
    CHECK_FALSE(res.timedOut);
    CHECK(res.allOk());
    CHECK(joined(res.expectedNodes) == expected);
    CHECK(joined(answered) == expected);
  }
};

} // namespace

// Issue 27: a node SIGKILLed and started again and again used to leave its dead instances in its ALL group until
// their sessions timed out, each expiry a rebalance, so the instance that finally ran got ALL ~10 s later and
// every `--wait all` write waited for it. Nodes are static members of their groups (group.instance.id = node id):
// an instance takes the place of the one before at once.
TEST_CASE("a node restarted 5 times in 5 s takes its place at once: --wait all writes answered by every node in 2 s",
          "[faults][node-restarts]") {
  TestCluster cluster;
  Workload w(cluster);
  w.start();
  requireProgress(w, 20, 60s, "at the start");
  client::ClientOptions o;
  o.brokers = cluster.brokers();
  o.cluster = cluster.name();
  client::Client client(o);
  WaitAllWriter writer{w, client};
  const auto live = [&] { return joined(client.liveNodes()); };
  writer.write("node1,node2,node3", "before the restarts");
  for (int round = 0; round < scale(); ++round) {
    const auto begin = std::chrono::steady_clock::now();
    for (int k = 1; k <= 5; ++k) {
      const auto before = timesServing(cluster, 2);
      cluster.killNode(2);
      cluster.startNode(2);
      // Each instance runs until it serves (it has subscribed to its groups); the next restart comes on the second.
      REQUIRE(waitUntil([&] { return timesServing(cluster, 2) > before; }, 30s, 20ms));
      const auto next = begin + k * 1s;
      if (k < 5) waitUntil([&] { return std::chrono::steady_clock::now() >= next; }, 2s, 10ms);
    }
    step(fmt::format("node2 SIGKILLed and started 5 times in {:.1f} s",
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count()));
    for (int i = 0; i < 5; ++i) writer.write("node1,node2,node3", fmt::format("after restart round {}", round + 1));
    requireProgress(w, 5, 60s, "after the restarts");
  }

  // A clean stop leaves the groups at once (a static member would keep its place until its session timed out).
  REQUIRE(cluster.stopNode(2) == 0);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(waitUntil([&] { return live() == "node1,node3"; }, 5s, 100ms));
  step(fmt::format(
      "node2 stopped: no longer a live node after {} ms",
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()));
  writer.write("node1,node3", "with node2 stopped");
  cluster.startNode(2);
  REQUIRE(waitUntil([&] { return live() == "node1,node2,node3"; }, 30s, 100ms));
  writer.write("node1,node2,node3", "after node2 started again");

  // A node that really died drops out once its session times out (session.timeout.ms, 10 s).
  cluster.killNode(2);
  t0 = std::chrono::steady_clock::now();
  CHECK(waitUntil([&] { return live() == "node1,node3"; }, 30s, 200ms));
  step(fmt::format(
      "node2 killed: no longer a live node after {} ms",
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()));
  writer.write("node1,node3", "with node2 dead");
  const auto before = timesServing(cluster, 2);
  cluster.startNode(2);
  REQUIRE(waitUntil([&] { return timesServing(cluster, 2) > before; }, 30s, 20ms));
  REQUIRE(waitUntil([&] { return live() == "node1,node2,node3"; }, 30s, 100ms));
  writer.write("node1,node2,node3", "after node2 started again");

  // A second process run with node2's id takes its place; the first, fenced, stops with an error.
  {
    Process twin({klusterctlPath(), "node", "run", "--config", cluster.configPath(2)}, {},
                 cluster.workDir() + "/node2-twin.log");
    CHECK(waitUntil([&] { return !cluster.nodeRunning(2); }, 30s, 100ms));
    CHECK(cluster.stopNode(2) != 0);
    CHECK(cluster.nodeLog(2).find("fenced") != std::string::npos);
    step("a second node2 started: the first one stopped, fenced");
    CHECK(twin.running());
    CHECK(twin.stop() == 0);
  }
  cluster.startNode(2);
  REQUIRE(waitUntil([&] { return live() == "node1,node2,node3"; }, 30s, 100ms));
  finish(w, "node-restarts");
}

namespace {

// Node2's server flushes its WAL only every 10 s (for one scenario, then reset): a commit that did not wait for
// the flush is then almost surely lost by an immediate stop, so the node's catch-up from ALL is exercised.
struct LazyWalWriter {
  TestCluster& cluster;
  explicit LazyWalWriter(TestCluster& c) : cluster(c) {
    cluster.serverExec(2, "ALTER SYSTEM SET wal_writer_delay = '10s'");
    cluster.serverExec(2, "SELECT pg_reload_conf()");
  }
  ~LazyWalWriter() {
    try {
      cluster.serverExec(2, "ALTER SYSTEM RESET wal_writer_delay");
      cluster.serverExec(2, "SELECT pg_reload_conf()");
    } catch (const std::exception& e) {
      std::cerr << "resetting wal_writer_delay: " << e.what() << "\n";
    }
  }
};

// Node2's PostgreSQL stopped -m fast, then -m immediate, with the workload running.
void stopAndStartPostgres(const ClusterOptions& options, const std::string& scenario, bool expectLostCommits) {
  TestCluster cluster(options);
  std::optional<LazyWalWriter> lazy;
  if (expectLostCommits) lazy.emplace(cluster);
  Workload w(cluster);
  w.start();
  requireProgress(w, 20, 60s, "at the start");
  for (int round = 0; round < scale(); ++round) {
    for (const std::string mode : {"fast", "immediate"}) {
      INFO("pg_ctl stop -m " << mode);
      if (expectLostCommits && mode == "immediate") {
        // Node2 is back and committing (its retries may still have been waiting after the last start).
        const auto position = [&] {
          return std::stoll(cluster.scalar(2, "SELECT coalesce(max(all_offset), -1) FROM _kluster.position"));
        };
        const auto before = position();
        REQUIRE(waitUntil([&] { return position() >= before + 5; }, 60s, 50ms));
      }
      stopPostgres(2, mode);
      requireProgress(w, 20, 120s, "while node2's database was down"); // the others go on
      CHECK(nodeReported(cluster, "node2", "", 60s));                  // node2 says so on ERRORS
      startPostgres(2);
      CHECK(cluster.nodeRunning(2)); // it waited and retried; it did not give up
      requireProgress(w, 10, 120s, "after node2's database came back");
    }
  }
  finish(w, scenario);
  // Whether the immediate stop cost node2's database commits it had answered, which node2 then applied again.
  const bool lost = cluster.nodeLog(2).find("it lost commits") != std::string::npos;
  std::cout << fmt::format("[faults] {:7.1f}s node2's database lost commits and node2 applied them again: {}\n",
                           elapsed(), lost ? "yes" : "no")
            << std::flush;
  if (expectLostCommits) CHECK(lost);
}

} // namespace

TEST_CASE("a node's PostgreSQL stopped -m fast and -m immediate: the node retries, reports, skips nothing",
          "[faults][postgres]") {
  stopAndStartPostgres({}, "postgres-stop", false);
}

TEST_CASE("the same with synchronous_commit off: commits the database lost are applied again from ALL",
          "[faults][postgres-async]") {
  ClusterOptions options;
  options.extraNodeConfig = "synchronous_commit = \"off\"";
  stopAndStartPostgres(options, "postgres-stop-async", true);
}

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

TEST_CASE("a node SIGSTOPped for 15 s: the others go on, monitor --check reports it, it catches up, no stale read",
          "[faults][slow-node]") {
  TestCluster cluster;
  Workload w(cluster);
  w.start();
  requireProgress(w, 20, 60s, "at the start");
  // Thresholds tighter than the defaults (lag 1000, silent after 30 s), so 15 s of silence shows.
  const std::vector<std::string> thresholds = {"--max-lag", "50", "--silent-after", "5s"};
  REQUIRE(waitUntil([&] { return monitorCheck(cluster, thresholds).exitCode == 0; }, 60s, 1s));
  for (int round = 0; round < scale(); ++round) {
    cluster.signalNode(2, SIGSTOP);
    const auto stoppedAt = std::chrono::steady_clock::now();
    requireProgress(w, 20, 60s, "with node2 stopped");
    CommandResult alert;
    CHECK(waitUntil([&] { return (alert = monitorCheck(cluster, thresholds)).exitCode == 1; }, 60s, 1s));
    INFO(alert.err);
    CHECK(alert.err.find("node2") != std::string::npos);
    holdFor(15s - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - stoppedAt));
    cluster.signalNode(2, SIGCONT);
    CommandResult green;
    CHECK(waitUntil([&] { return (green = monitorCheck(cluster, thresholds)).exitCode == 0; }, 120s, 1s));
    INFO(green.err);
    requireProgress(w, 10, 60s, "after node2 resumed");
  }
  finish(w, "slow-node");
}

TEST_CASE("a node's database refusing writes (privileges revoked): it reports, skips nothing, resumes when fixed",
          "[faults][db-refuses]") {
  ClusterOptions options;
  options.start = false;
  TestCluster cluster(options);
  // node2 connects as an ordinary role that owns its database (a superuser ignores privileges).
  const auto role = cluster.name() + "_r2";
  const auto db2 = cluster.scalar(2, "SELECT current_database()");
  cluster.serverExec(2, fmt::format("CREATE ROLE \"{}\" LOGIN", role));
  cluster.serverExec(2, fmt::format("ALTER DATABASE \"{}\" OWNER TO \"{}\"", db2, role));
  cluster.serverExec(2, fmt::format("GRANT pg_monitor TO \"{}\"", role));
  replaceInFile(cluster.configPath(2), "postgresql://kluster@", fmt::format("postgresql://{}@", role));
  for (int i = 1; i <= 3; ++i) cluster.startNode(i);
  REQUIRE(cluster.waitForMembers(3, 60s));
  Workload w(cluster);
  w.start();
  requireProgress(w, 20, 60s, "at the start");
  for (int round = 0; round < scale(); ++round) {
    cluster.query(2, fmt::format("REVOKE INSERT, UPDATE, DELETE ON accounts, transfers, appends FROM \"{}\"", role));
    requireProgress(w, 20, 120s, "while node2 could not write");
    CHECK(nodeReported(cluster, "node2", "42501", 60s));
    CHECK(cluster.nodeRunning(2));
    cluster.query(2, fmt::format("GRANT INSERT, UPDATE, DELETE ON accounts, transfers, appends TO \"{}\"", role));
    requireProgress(w, 10, 120s, "after node2's privileges came back");
  }
  finish(w, "db-refuses");
  cluster.serverExec(2, fmt::format("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", db2));
  cluster.serverExec(2, fmt::format("DROP ROLE IF EXISTS \"{}\"", role));
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
