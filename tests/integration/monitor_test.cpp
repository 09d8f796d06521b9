// klusterctl monitor against a real cluster: a frozen node (SIGSTOP) shows as silent or stopped with a growing
// lag while a client keeps writing, and ok again after SIGCONT; --check follows; divergent answers and the
// ERRORS feed show up; the live view refreshes and quits on a signal.
#include "core/client/client.hpp"
#include "core/kafka/admin.hpp"
#include "core/message.hpp"
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;

namespace {


/// `klusterctl monitor --brokers B --cluster C` with a small silence threshold, plus `args`.
CommandResult monitor(const TestCluster& c, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"monitor",        "--brokers", c.brokers(), "--cluster", c.name(),
                                "--silent-after", "2s",        "--window",  "30s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return TestCluster::klusterctl(argv, std::chrono::seconds(60));
}

json snapshot(const TestCluster& c) {
  auto r = monitor(c, {"--once", "-o", "json"});
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  return parseJson(r.out);
}

json nodeOf(const json& snap, const std::string& id) {
  for (const auto& n : snap["nodes"])
    if (n["nodeId"] == id) return n;
  FAIL("no node " << id << " in " << snap.dump());
  return {};
}

bool allOk(const json& snap) {
  for (const auto& n : snap["nodes"])
    if (n["state"] != "ok") return false;
  return snap["healthy"] == true;
}

/// Keeps writing to ALL (waiting for the first answer only) until destroyed.
class Writer {
public:
  explicit Writer(const TestCluster& c) {
    client::ClientOptions o;
    o.brokers = c.brokers();
    o.cluster = c.name();
    client_ = std::make_unique<client::Client>(o);
    thread_ = std::thread([this] {
      while (!stop_) {
        Request r;
        r.statements = {fmt::format("INSERT INTO items VALUES ('{}')", util::uuid4())};
        if (client_->send(r, client::Target::All, client::WaitPolicy::parse("first"), std::chrono::seconds(10))
                .get()
                .allOk())
          ++written_;
        std::this_thread::sleep_for(std::chrono::milliseconds(20)); // a steady trickle, not a flood
      }
    });
  }
  ~Writer() {
    stop_ = true;
    thread_.join();
  }
  int written() const { return written_; }

private:
  std::unique_ptr<client::Client> client_;
  std::atomic<bool> stop_{false};
  std::atomic<int> written_{0};
  std::thread thread_;
};

} // namespace

TEST_CASE("a SIGSTOPped node is silent or stopped with a growing lag, and ok after SIGCONT; --check follows",
          "[monitor]") {
  TestCluster cluster;
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE items (id uuid PRIMARY KEY)"}).exitCode == 0);
  Writer writer(cluster);
  json snap;
  REQUIRE(
      waitUntil([&] { return allOk(snap = snapshot(cluster)); }, std::chrono::seconds(30), std::chrono::seconds(1)));
  CHECK(nodeOf(snap, "node1")["responsesPerSec"].get<double>() > 0);
  CHECK(nodeOf(snap, "node1")["member"] == true);
  auto healthy = monitor(cluster, {"--check"});
  INFO(healthy.err);
  CHECK(healthy.exitCode == 0);

  cluster.signalNode(2, SIGSTOP);
  REQUIRE(waitUntil(
      [&] {
        snap = snapshot(cluster);
        auto state = nodeOf(snap, "node2")["state"];
        return state == "silent" || state == "stopped";
      },
      std::chrono::seconds(30), std::chrono::milliseconds(500)));
  INFO(snap.dump(2));
  CHECK(nodeOf(snap, "node1")["state"] == "ok");
  CHECK(nodeOf(snap, "node3")["state"] == "ok");
  CHECK(snap["healthy"] == false);
  const auto lag = nodeOf(snap, "node2")["lag"].get<std::int64_t>();
  CHECK(lag > 0);
  // The writer goes on without node2, so node2 falls further behind.
  CHECK(waitUntil([&] { return nodeOf(snapshot(cluster), "node2")["lag"].get<std::int64_t>() > lag + 10; },
                  std::chrono::seconds(20), std::chrono::milliseconds(500)));
  auto alert = monitor(cluster, {"--check", "-o", "json"});
  CHECK(alert.exitCode == 1);
  CHECK(alert.err.find("problem: node2 ") != std::string::npos);
  CHECK(parseJson(alert.out)["healthy"] == false);

  cluster.signalNode(2, SIGCONT);
  CHECK(waitUntil([&] { return allOk(snap = snapshot(cluster)); }, std::chrono::seconds(60), std::chrono::seconds(1)));
  INFO(snap.dump(2));
  CHECK(nodeOf(snap, "node2")["lag"].get<std::int64_t>() <= 1000);
  CHECK(waitUntil([&] { return monitor(cluster, {"--check"}).exitCode == 0; }, std::chrono::seconds(20),
                  std::chrono::seconds(1)));
  CHECK(writer.written() > 0);
}

TEST_CASE("divergent answers and ERRORS reports show up, newest first; the live view refreshes until a signal",
          "[monitor]") {
  TestCluster cluster;
  auto select = cluster.exec(
      {"--to", "ALL", "--wait", "all", "-o", "json", "--client-id", cluster.name() + "-probe", "SELECT 1 AS one"});
  INFO(select.err);
  REQUIRE(select.exitCode == 0);
  const auto answers = parseJson(select.out);
  REQUIRE(answers.size() == 3);
  const auto requestId = answers[0]["requestId"].get<std::string>();
  const auto allOffset = answers[0]["allOffset"].get<std::int64_t>();
  const auto realHash = answers[0]["resultHash"].get<std::string>();

  // node3 "answers" the same request differently, after its real answer, on the same partition.
  kafka::Admin admin(kafka::clientProperties(cluster.brokers(), {}));
  const auto responses = cluster.name() + ".RESPONSES";
  const int partition = util::responsePartition(cluster.name() + "-probe", admin.partitionCount(responses).value());
  kafka::Producer producer(kafka::clientProperties(cluster.brokers(), {}), false);
  Response forged;
  forged.nodeId = "node3";
  forged.requestId = requestId;
  forged.clientId = cluster.name() + "-probe";
  forged.requestTopic = "ALL";
  forged.allOffset = allOffset;
  forged.resultHash = "0123456789abcdef0123456789abcdef";
  forged.timestamp = util::nowMillis();
  producer.produce(responses, partition, forged.clientId, forged.toJson());
  const auto now = util::nowMillis();
  for (const auto& [message, age] :
       std::vector<std::pair<std::string, int>>{{"older report", 2000}, {"newer report", 1000}}) {
    NodeErrorReport report;
    report.nodeId = "node2";
    report.code = "TRANSIENT";
    report.severity = "warning";
    report.message = message;
    report.timestamp = now - age;
    producer.produce(cluster.name() + ".ERRORS", -1, "node2", report.toJson());
  }
  REQUIRE(producer.flush(std::chrono::seconds(10)));

  auto snap = snapshot(cluster);
  INFO(snap.dump(2));
  REQUIRE(snap["divergences"].size() == 1);
  const auto& d = snap["divergences"][0];
  CHECK(d["requestId"] == requestId);
  CHECK(d["allOffset"] == allOffset);
  CHECK(d["majorityHash"] == realHash);
  CHECK(d["divergedNodes"] == json::array({"node3"}));
  CHECK(nodeOf(snap, "node3")["state"] == "diverged");
  CHECK(nodeOf(snap, "node1")["state"] == "ok");
  REQUIRE(snap["errors"].size() == 2);
  CHECK(snap["errors"][0]["message"] == "newer report");
  CHECK(snap["errors"][1]["message"] == "older report");
  CHECK(snap["errors"][0]["nodeId"] == "node2");
  CHECK(nodeOf(snap, "node2")["errorsPerSec"].get<double>() > 0);

  auto alert = monitor(cluster, {"--check"});
  CHECK(alert.exitCode == 1);
  CHECK(alert.err.find("node3 diverged: request " + requestId) != std::string::npos);
  CHECK(alert.out.find("DIVERGENCES") != std::string::npos);
  CHECK(alert.out.find("newer report") != std::string::npos);

  // The live view: refreshes every interval until SIGINT, then exits 0.
  const auto log = fmt::format("{}/{}-monitor.log", TEST_WORK_DIR, cluster.name());
  Process live(
      {klusterctlPath(), "monitor", "--brokers", cluster.brokers(), "--cluster", cluster.name(), "--interval", "200ms"},
      {}, log);
  auto refreshes = [&] {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    const auto all = text.str();
    int count = 0;
    for (auto pos = all.find("cluster " + cluster.name()); pos != std::string::npos;
         pos = all.find("cluster " + cluster.name(), pos + 1))
      ++count;
    return count;
  };
  CHECK(waitUntil([&] { return refreshes() >= 3; }, std::chrono::seconds(20)));
  live.signal(SIGINT);
  CHECK(live.wait(std::chrono::seconds(10)) == 0);
}
