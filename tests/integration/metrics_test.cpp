// A running node's /metrics, /health and /ready, scraped over HTTP as Prometheus and a load balancer would.
#include "core/db/postgres/pg_tools.hpp"
#include "core/kafka/kafka.hpp"
#include "core/message.hpp"
#include "core/topics.hpp"
#include "support/cluster.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <httplib.h>

#include <cmath>
#include <fstream>
#include <future>
#include <regex>
#include <thread>

using namespace kluster;
using namespace kluster::test;

namespace {

/// The port the node logged for its endpoint (it listens on port 0, any free port); 0 until it did.
int loggedPort(const TestCluster& cluster, int node) {
  std::smatch m;
  const auto log = cluster.nodeLog(node);
  if (!std::regex_search(log, m, std::regex(R"(serving /metrics, /health and /ready on http://127\.0\.0\.1:([0-9]+))")))
    return 0;
  return std::stoi(m[1]);
}

/// The value of a sample (name and labels as printed), NaN when absent.
double sampleValue(const std::string& text, const std::string& series) {
  std::smatch m;
  const std::regex pattern("(^|\n)" + std::regex_replace(series, std::regex(R"([\[\]{}()*+?.\\^$|])"), R"(\$&)") +
                           " ([^\n]+)");
  if (!std::regex_search(text, m, pattern)) return std::nan("");
  return m[2] == "NaN" ? std::nan("") : std::stod(m[2]);
}

struct Scrape {
  int status = 0;
  std::string body;
};

Scrape get(int port, const std::string& path) {
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5, 0);
  http.set_read_timeout(10, 0);
  auto r = http.Get(path.c_str());
  if (!r) return {};
  return {r->status, r->body};
}

} // namespace

TEST_CASE("a node's /metrics shows its applied offset moving and its lag back to 0; /ready is 503 while it catches "
          "up, 200 after",
          "[metrics]") {
  ClusterOptions options;
  options.nodes = 1;
  options.start = false;
  // Small batches make the catch-up below take many transactions.
  options.extraNodeConfig = "batch_max = 20\n\n[metrics]\naddress = \"127.0.0.1:0\"\nready_max_lag = 5\n";
  TestCluster cluster(options);
  const std::string labels = fmt::format("cluster=\"{}\",node=\"node1\"", cluster.name());
  auto metric = [&](const std::string& body, const std::string& name, const std::string& extra = {}) {
    return sampleValue(body, name + "{" + labels + extra + "}");
  };

  cluster.startNode(1);
  int port = 0;
  REQUIRE(waitUntil([&] { return (port = loggedPort(cluster, 1)) > 0; }, std::chrono::seconds(60)));
  REQUIRE(cluster.waitForMembers(1));
  INFO(cluster.nodeLog(1));
  CHECK(get(port, "/health").status == 200);
  REQUIRE(waitUntil([&] { return get(port, "/ready").status == 200; }, std::chrono::seconds(60)));

  Scrape before;
  REQUIRE(waitUntil(
      [&] {
        before = get(port, "/metrics");
        return metric(before.body, "kluster_node_lag_messages") == 0; // its own fingerprint applied
      },
      std::chrono::seconds(30)));
  REQUIRE(before.status == 200);
  INFO(before.body);
  CHECK(sampleValue(before.body, fmt::format("kluster_build_info{{{},version=\"0.1.0\"}}", labels)) == 1);
  const double offset0 = metric(before.body, "kluster_node_applied_offset");
  CHECK(offset0 >= 0); // the node's own fingerprint at least
  CHECK(metric(before.body, "kluster_node_ready") == 1);
  CHECK(metric(before.body, "kluster_divergences_total") == 0);

  REQUIRE(cluster.exec({"--wait", "all", "CREATE TABLE m (id int PRIMARY KEY, v text)"}).exitCode == 0);
  for (int i = 0; i < 5; ++i)
    REQUIRE(cluster.exec({"--wait", "all", fmt::format("INSERT INTO m VALUES ({}, 'v{}')", i, i)}).exitCode == 0);
  CHECK(cluster.exec({"--wait", "all", "INSERT INTO m VALUES (0, 'again')"}).exitCode == 1);
  REQUIRE(cluster.exec({"--to", "ONE", "SELECT count(*) FROM m"}).exitCode == 0);

  Scrape after;
  REQUIRE(waitUntil(
      [&] {
        after = get(port, "/metrics");
        return metric(after.body, "kluster_node_lag_messages") == 0;
      },
      std::chrono::seconds(30)));
  INFO(after.body);
  CHECK(metric(after.body, "kluster_node_applied_offset") == offset0 + 7);
  CHECK(metric(after.body, "kluster_node_lag_seconds") == 0);
  CHECK(metric(after.body, "kluster_requests_total", ",topic=\"ALL\",code=\"OK\"") >= 6);
  CHECK(metric(after.body, "kluster_requests_total", ",topic=\"ALL\",code=\"CONSTRAINT_VIOLATION\"") == 1);
  CHECK(metric(after.body, "kluster_requests_total", ",topic=\"ONE\",code=\"OK\"") == 1);
  CHECK(metric(after.body, "kluster_apply_batch_size_count") >= 7);
  CHECK(metric(after.body, "kluster_apply_duration_seconds_count") >= 7);
  CHECK(metric(after.body, "kluster_apply_duration_seconds_sum") > 0);

  // A backlog published while the node is stopped: when it starts again it is not ready until it has
  // applied it (the endpoint answers from the start, before the node has even connected).
  REQUIRE(cluster.stopNode(1) == 0);
  constexpr int kBacklog = 3000;
  {
    kafka::Producer producer(kafka::clientProperties(cluster.brokers(), {}), true);
    const Topics topics{cluster.name()};
    for (int i = 0; i < kBacklog; ++i) {
      Request r;
      r.messageId = fmt::format("backlog-{}", i);
      r.clientId = "metrics-test";
      r.statements = {fmt::format("INSERT INTO m VALUES ({}, 'backlog')", 100 + i)};
      producer.produce(topics.all(), 0, r.messageId, r.toJson());
    }
    REQUIRE(producer.flush(std::chrono::seconds(60)));
    REQUIRE(producer.failedDeliveries() == 0);
  }
  const double target = offset0 + 7 + kBacklog;
  // The backlog's table held by the test: the node cannot apply it (its batch waits for the lock) until the checks
  // of a node behind are done, however fast it would catch up.
  db::PgSession lock(cluster.databaseUrl(1));
  lock.exec("BEGIN");
  lock.exec("LOCK TABLE m IN ACCESS EXCLUSIVE MODE");
  cluster.startNode(1);
  // The port changes with each start: wait for the second "serving" line.
  REQUIRE(waitUntil(
      [&] {
        const auto log = cluster.nodeLog(1);
        const auto first = log.find("serving /metrics");
        return first != std::string::npos && log.find("serving /metrics", first + 1) != std::string::npos;
      },
      std::chrono::seconds(60)));
  {
    const auto log = cluster.nodeLog(1);
    std::smatch m;
    const std::regex pattern(R"(serving /metrics, /health and /ready on http://127\.0\.0\.1:([0-9]+))");
    for (auto it = std::sregex_iterator(log.begin(), log.end(), pattern); it != std::sregex_iterator(); ++it)
      port = std::stoi((*it)[1]);
  }
  Scrape first;
  REQUIRE(waitUntil([&] { return (first = get(port, "/ready")).status != 0; }, std::chrono::seconds(30)));
  INFO(first.body);
  CHECK(first.status == 503);
  CHECK(first.body.find("\"ready\":false") != std::string::npos);
  CHECK(get(port, "/health").status == 200);
  // While not ready, the metrics say why: the node is behind.
  CHECK(waitUntil(
      [&] {
        auto m = get(port, "/metrics");
        return metric(m.body, "kluster_node_lag_messages") > 5 && metric(m.body, "kluster_node_ready") == 0;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(50)));
  CHECK(get(port, "/ready").status == 503);
  lock.exec("ROLLBACK");
  Scrape ready;
  REQUIRE(waitUntil([&] { return (ready = get(port, "/ready")).status == 200; }, std::chrono::minutes(3),
                    std::chrono::milliseconds(50)));
  Scrape caughtUp;
  REQUIRE(waitUntil(
      [&] {
        caughtUp = get(port, "/metrics");
        return metric(caughtUp.body, "kluster_node_lag_messages") == 0;
      },
      std::chrono::seconds(60)));
  INFO(caughtUp.body);
  CHECK(metric(caughtUp.body, "kluster_node_applied_offset") == target);
  CHECK(metric(caughtUp.body, "kluster_node_lag_seconds") == 0);
  CHECK(metric(caughtUp.body, "kluster_requests_total", ",topic=\"ALL\",code=\"OK\"") == kBacklog);
  // Batches of at most 20: the histogram saw the whole backlog, none above its bound.
  CHECK(metric(caughtUp.body, "kluster_apply_batch_size_sum") == kBacklog);
  CHECK(metric(caughtUp.body, "kluster_apply_batch_size_bucket", ",le=\"20\"") ==
        metric(caughtUp.body, "kluster_apply_batch_size_count"));
  CHECK(cluster.scalar(1, "SELECT count(*) FROM m") == std::to_string(5 + kBacklog));
}

TEST_CASE("node run refuses a metrics address it cannot use, before connecting to anything", "[metrics]") {
  auto bad = TestCluster::klusterctl({"node", "run", "--id", "n1", "--metrics-address", "127.0.0.1:notaport"},
                                     std::chrono::seconds(30));
  CHECK(bad.exitCode == 2);
  CHECK(bad.err.find("invalid metrics address '127.0.0.1:notaport'") != std::string::npos);
}

TEST_CASE("a speculation gives way to the apply loop for node.speculation_yield, and /metrics counts it", "[metrics]") {
  ClusterOptions options;
  options.nodes = 1;
  options.onePartitions = 1;
  options.extraNodeConfig = "speculation_yield = \"30s\"\n\n[metrics]\naddress = \"127.0.0.1:0\"\n";
  TestCluster cluster(options);
  int port = 0;
  REQUIRE(waitUntil([&] { return (port = loggedPort(cluster, 1)) > 0; }, std::chrono::seconds(60)));
  const std::string labels = fmt::format("{{cluster=\"{}\",node=\"node1\"}}", cluster.name());
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE big (n int)"}).exitCode == 0);
  const auto before = get(port, "/metrics");
  REQUIRE(before.status == 200);
  CHECK(sampleValue(before.body, "kluster_speculations_yielded_total" + labels) == 0);

  // A write that keeps the apply loop busy for a few seconds...
  auto write = std::async(std::launch::async, [&] {
    return cluster.exec(
        {"--to", "ALL", "--wait", "all", "--timeout", "120s", "INSERT INTO big SELECT generate_series(1, 3000000)"});
  });
  REQUIRE(waitUntil(
      [&] {
        return cluster.scalar(
                   1, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE "
                      "'%INSERT INTO big SELECT generate_series%' AND query NOT LIKE '%pg_stat_activity%'") == "1";
      },
      std::chrono::seconds(60)));
  // ...and a transaction's read, sent while it runs: its speculation waits for the write to be applied, so it sees
  // the write's rows (without waiting it would read the snapshot from before the write: 0 rows).
  const auto path = fmt::format("{}/read.sql", cluster.workDir());
  std::ofstream(path) << "BEGIN;\nSELECT count(*) AS n FROM big;\nCOMMIT;\n";
  auto read = cluster.exec({"-o", "jsonl", "--timeout", "60s", "-f", path});
  INFO(read.out << read.err);
  REQUIRE(read.exitCode == 0);
  CHECK(read.out.find(R"({"n":3000000})") != std::string::npos);
  REQUIRE(write.get().exitCode == 0);
  const auto after = get(port, "/metrics");
  CHECK(sampleValue(after.body, "kluster_speculations_yielded_total" + labels) == 1);
  CHECK(sampleValue(after.body, "kluster_speculation_yield_seconds_total" + labels) > 0);
}

TEST_CASE("while writes flow, a node's speculations take at most node.speculation_budget per second, and /metrics "
          "counts their waits",
          "[metrics]") {
  ClusterOptions options;
  options.nodes = 1;
  options.onePartitions = 1;
  // 5 ms of each second; the yield off, so that only the budget makes speculations wait; one worker for ONE, which a
  // speculation waiting for the budget must not hold.
  options.extraNodeConfig = "speculation_budget = \"5ms\"\nspeculation_yield = \"0\"\none_workers = 1\n\n[metrics]\n"
                            "address = \"127.0.0.1:0\"\n";
  TestCluster cluster(options);
  int port = 0;
  REQUIRE(waitUntil([&] { return (port = loggedPort(cluster, 1)) > 0; }, std::chrono::seconds(60)));
  const std::string labels = fmt::format("{{cluster=\"{}\",node=\"node1\"}}", cluster.name());
  for (const auto* sql : {"CREATE TABLE held (n int)", "CREATE TABLE t (n int)", "INSERT INTO t SELECT 1"})
    REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", sql}).exitCode == 0);
  // A read-only transaction of 30 statements: 30 speculations, the k-th running the k statements so far (it commits
  // without a request, so it needs nothing of the apply loop).
  const auto path = fmt::format("{}/reads.sql", cluster.workDir());
  {
    std::ofstream file(path);
    file << "BEGIN;\n";
    for (int i = 1; i <= 30; ++i) file << "SELECT count(*) + " << i << " AS n FROM t;\n";
    file << "COMMIT;\n";
  }
  struct Figures {
    double waits, waited, ran, waiting;
  };
  auto figures = [&] {
    const auto scrape = get(port, "/metrics");
    REQUIRE(scrape.status == 200);
    return Figures{sampleValue(scrape.body, "kluster_speculation_budget_waits_total" + labels),
                   sampleValue(scrape.body, "kluster_speculation_budget_wait_seconds_total" + labels),
                   sampleValue(scrape.body, "kluster_speculation_seconds_total" + labels),
                   sampleValue(scrape.body, "kluster_speculations_waiting_for_budget" + labels)};
  };
  auto transaction = [&](int rows) {
    auto read = cluster.exec({"-o", "jsonl", "--timeout", "120s", "-f", path});
    INFO(read.out << read.err);
    REQUIRE(read.exitCode == 0);
    CHECK(read.out.find(fmt::format(R"({{"n":{}}})", rows + 30)) != std::string::npos); // the last statement's
  };

  // No writes flowing (the apply loop has had none for longer than ApplyActivity::kFlowing): the budget does not
  // apply, and the transaction's statements run as they come.
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // kFlowing after the CREATE and INSERT above
  const auto quiet0 = figures();
  transaction(1);
  const auto quiet1 = figures();
  CHECK(quiet1.ran > quiet0.ran);
  CHECK(quiet1.waits == quiet0.waits);

  // The apply loop held at the end of its next batch: the test locks the node's position against writes (the
  // speculations' position checks only read it) until `release`.
  db::PgSession lock(cluster.databaseUrl(1));
  auto hold = [&] {
    lock.exec("BEGIN");
    lock.exec("LOCK TABLE _kluster.position IN EXCLUSIVE MODE");
  };
  auto held = [&] {
    return waitUntil(
        [&] {
          return cluster.scalar(1, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname "
                                   "= current_database() AND pid <> pg_backend_pid()") == "1";
        },
        std::chrono::seconds(60));
  };

  // The apply loop busy with an interactive transaction's commit, and no other writes: the budget protects no
  // writes there, so it does not apply.
  const auto commitPath = fmt::format("{}/commit.sql", cluster.workDir());
  std::ofstream(commitPath) << "BEGIN;\nINSERT INTO t VALUES (2);\nCOMMIT;\n";
  hold();
  auto commit = std::async(std::launch::async, [&] {
    return cluster.exec({"-o", "jsonl", "--timeout", "120s", "-f", commitPath});
  });
  REQUIRE(held());
  const auto commits0 = figures();
  transaction(1);
  const auto commits1 = figures();
  lock.exec("COMMIT");
  {
    const auto committed = commit.get();
    INFO(committed.out << committed.err);
    REQUIRE(committed.exitCode == 0);
  }
  CHECK(commits1.ran > commits0.ran);
  CHECK(commits1.waits == commits0.waits);

  // Writes flowing: the apply loop busy with a plain write.
  hold();
  auto write = std::async(std::launch::async, [&] {
    return cluster.exec({"--to", "ALL", "--wait", "all", "--timeout", "120s", "INSERT INTO held VALUES (1)"});
  });
  REQUIRE(held());
  const auto busy0 = figures();
  const auto started = std::chrono::steady_clock::now();
  transaction(2);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto busy1 = figures();

  // A statement whose client stops waiting while it waits for the budget is dropped, not run: the budget in debt by
  // a long statement (half a second: 100 s of a 5 ms budget), the next transaction's client gives up after 5 s.
  // Meanwhile the statement holds no worker: a plain read on ONE is answered by the node's only one.
  const auto sleepPath = fmt::format("{}/sleep.sql", cluster.workDir());
  std::ofstream(sleepPath) << "BEGIN;\nSELECT pg_sleep(0.5);\nCOMMIT;\n";
  const auto slept = cluster.exec({"--timeout", "120s", "-f", sleepPath});
  INFO(slept.out << slept.err);
  REQUIRE(slept.exitCode == 0);
  const auto debt0 = figures();
  CHECK(debt0.ran - busy1.ran >= 0.5);
  const auto onePath = fmt::format("{}/one.sql", cluster.workDir());
  std::ofstream(onePath) << "BEGIN;\nSELECT 1 AS n;\nCOMMIT;\n";
  auto late = std::async(std::launch::async, [&] { return cluster.exec({"--timeout", "5s", "-f", onePath}); });
  CHECK(waitUntil([&] { return figures().waiting == 1; }, std::chrono::seconds(30)));
  const auto read = cluster.exec({"--to", "ONE", "-o", "jsonl", "--timeout", "30s", "SELECT 7 AS n"});
  INFO(read.out << read.err);
  CHECK(read.exitCode == 0);
  CHECK(read.out.find(R"({"n":7})") != std::string::npos);
  CHECK(figures().waiting == 1); // answered while the speculation was still set aside
  {
    const auto gaveUp = late.get();
    INFO(gaveUp.out << gaveUp.err);
    CHECK(gaveUp.exitCode != 0);
  }
  Figures debt1{};
  CHECK(waitUntil([&] { return (debt1 = figures()).waits > debt0.waits; }, std::chrono::seconds(30)));
  CHECK(debt1.waiting == 0);
  CHECK(debt1.waited - debt0.waited >= 4.0); // it waited until its client gave up...
  CHECK(debt1.ran == debt0.ran);             // ...and then did not run
  lock.exec("COMMIT");
  REQUIRE(write.get().exitCode == 0);
  // The speculations took `spent` at the database while writes flowed: at 5 ms of each second, 200 times as long of
  // the budget. One second's was held, and the last speculation ran into debt nobody waited for (its 30 statements
  // take a few milliseconds); the rest is time the transaction took, most of it waiting. Without the budget it
  // takes its 30 round trips through Kafka, a fraction of that.
  const double spent = busy1.ran - busy0.ran;
  const double waited = busy1.waited - busy0.waited;
  INFO("speculations ran " << spent << " s while writes flowed; the transaction took " << elapsed << " s, " << waited
                           << " s of it waiting for the budget");
  CHECK(busy1.waits > busy0.waits);
  CHECK(waited > 0);
  CHECK(elapsed >= waited);
  CHECK(elapsed >= spent * 200 - 2.0);
}
