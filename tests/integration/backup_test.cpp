// klusterctl backup and restore against a real cluster: a node rebuilt from another node's backup while a
// client writes, a new node added from a backup, and every refusal (limited retention, a deleted log start,
// a damaged backup, a running node, a database with data, a non-empty output directory).
#include "core/client/client.hpp"
#include "core/db/postgres/pg_tools.hpp"
#include "core/kafka/admin.hpp"
#include "core/ops/manifest.hpp"
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string backupDir(const TestCluster& c, const std::string& name) {
  return (fs::path(TEST_WORK_DIR) / c.name() / name).string();
}

CommandResult backup(const TestCluster& c, int node, const std::string& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"backup", "--node-config", c.configPath(node), "--out", dir};
  args.insert(args.end(), extra.begin(), extra.end());
  return TestCluster::klusterctl(args, std::chrono::seconds(120));
}

CommandResult restore(const TestCluster& c, int node, const std::string& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"restore", "--node-config", c.configPath(node), "--from", dir};
  args.insert(args.end(), extra.begin(), extra.end());
  return TestCluster::klusterctl(args, std::chrono::seconds(120));
}

CommandResult verify(const TestCluster& c) {
  return TestCluster::klusterctl(
      {"verify", "--brokers", c.brokers(), "--cluster", c.name(), "-o", "json", "--timeout", "60s"},
      std::chrono::seconds(180));
}

// Drops node i's database and creates it again, empty, as an operator replacing a broken disk would.
void recreateDatabase(const TestCluster& c, int i) {
  const auto params = db::ConnParams::parse(c.databaseUrl(i));
  db::PgSession server(params.withDatabase("kluster").conninfo(true));
  server.exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", db::quoteIdent(params.database())));
  server.exec(fmt::format("CREATE DATABASE {}", db::quoteIdent(params.database())));
}

void dropDatabase(const TestCluster& c, int i) {
  const auto params = db::ConnParams::parse(c.databaseUrl(i));
  db::PgSession server(params.withDatabase("kluster").conninfo(true));
  server.exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", db::quoteIdent(params.database())));
}

std::int64_t committedOffset(const TestCluster& c, int i) {
  kafka::Admin admin(kafka::clientProperties(c.brokers(), {}));
  return admin.committedOffsets(c.name() + ".node." + TestCluster::nodeId(i), c.name() + ".ALL", 1).at(0);
}

std::set<std::string> ids(const TestCluster& c, int i) {
  std::set<std::string> out;
  for (const auto& row : c.query(i, "SELECT id::text FROM items")) out.insert(row.at(0).value_or(""));
  return out;
}

// A client inserting rows with UUID keys into ALL, a few in flight at a time, remembering each id a node
// acknowledged (answered OK).
class Writer {
public:
  explicit Writer(const TestCluster& c) : thread_([this, &c] { run(c); }) {}
  ~Writer() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int acked() const { return count_.load(); }
  std::vector<std::string> ackedIds() {
    std::lock_guard lock(mutex_);
    return acked_;
  }
  bool waitForMore(int more) {
    const int target = acked() + more;
    return waitUntil([&] { return acked() >= target; }, std::chrono::seconds(60));
  }

private:
  void run(const TestCluster& c) {
    client::ClientOptions o;
    o.brokers = c.brokers();
    o.cluster = c.name();
    client::Client client(o);
    for (int n = 0; !stop_.load(); ++n) {
      std::vector<std::pair<std::string, std::future<client::Result>>> inFlight;
      for (int k = 0; k < 5; ++k, ++n) {
        Request r;
        auto id = util::uuid4();
        r.statements = {fmt::format("INSERT INTO items (id, n, label) VALUES ('{}', {}, 'row {}')", id, n, n)};
        inFlight.emplace_back(
            id, client.send(r, client::Target::All, client::WaitPolicy::parse("first"), std::chrono::seconds(30)));
      }
      for (auto& [id, f] : inFlight)
        if (f.get().allOk()) {
          std::lock_guard lock(mutex_);
          acked_.push_back(id);
          ++count_;
        }
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> count_{0};
  std::mutex mutex_;
  std::vector<std::string> acked_;
  std::thread thread_;
};

void createItems(TestCluster& c) {
  auto r =
      c.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE items (id uuid PRIMARY KEY, n int NOT NULL, label text)"});
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
}

void insertSome(TestCluster& c, int from, int count) {
  auto r = c.exec({"--to", "ALL", "--wait", "all",
                   fmt::format("INSERT INTO items SELECT md5(g::text || 'x')::uuid, g, 'row ' || g "
                               "FROM generate_series({}, {}) g",
                               from, from + count - 1)});
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
}

// Runs one librdkafka admin call on a fresh client and checks its result event.
template <typename Call> void adminCall(const std::string& brokers, Call call) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  REQUIRE(rk);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  call(rk, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, 15000);
  REQUIRE(ev);
  INFO(rd_kafka_event_error_string(ev));
  CHECK(rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(queue);
  rd_kafka_destroy(rk);
}

// Sets one configuration value of a topic (AlterConfigs: the topic's other values go back to defaults).
void alterTopicConfig(const std::string& brokers, const std::string& topic, const std::string& key,
                      const std::string& value) {
  auto* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_ConfigResource_set_config(resource, key.c_str(), value.c_str());
  adminCall(brokers, [&](rd_kafka_t* rk, rd_kafka_queue_t* q) { rd_kafka_AlterConfigs(rk, &resource, 1, nullptr, q); });
  rd_kafka_ConfigResource_destroy(resource);
}

// Deletes the records of partition 0 of `topic` before `offset`: the log start moves there.
void deleteRecordsBefore(const std::string& brokers, const std::string& topic, std::int64_t offset) {
  auto* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), 0)->offset = offset;
  auto* del = rd_kafka_DeleteRecords_new(parts);
  adminCall(brokers, [&](rd_kafka_t* rk, rd_kafka_queue_t* q) { rd_kafka_DeleteRecords(rk, &del, 1, nullptr, q); });
  rd_kafka_DeleteRecords_destroy(del);
  rd_kafka_topic_partition_list_destroy(parts);
}

} // namespace

TEST_CASE("while a client writes, node3 is rebuilt from node1's backup, catches up and nothing acknowledged is lost",
          "[backup]") {
  TestCluster cluster;
  createItems(cluster);
  Writer writer(cluster);
  REQUIRE(writer.waitForMore(100));

  const auto dir = backupDir(cluster, "node1-backup");
  auto b = backup(cluster, 1, dir, {"-o", "json"});
  INFO(b.err);
  REQUIRE(b.exitCode == 0);
  const auto manifest = parseJson(b.out);
  const auto allOffset = manifest["allOffset"].get<std::int64_t>();
  CHECK(allOffset > 0);
  CHECK(manifest["replayFrom"] == allOffset + 1);
  CHECK(manifest["node"] == "node1");
  CHECK(manifest["cluster"] == cluster.name());
  CHECK(manifest["server"]["majorVersion"].get<int>() >= 10);
  // The manifest on disk is the one printed, and its checksum is the dump's.
  const auto onDisk = ops::readManifest(dir);
  CHECK(onDisk.allOffset == allOffset);
  CHECK(ops::verifyFiles(dir, onDisk).empty());
  CHECK(onDisk.files.at(0).sha256 == ops::hashFile(fs::path(dir) / ops::kDumpFile).sha256);

  REQUIRE(writer.waitForMore(50)); // the backup falls behind: the restored node has something to replay
  cluster.stopNode(3);
  REQUIRE(cluster.waitForMembers(2));
  recreateDatabase(cluster, 3);
  REQUIRE(writer.waitForMore(50));

  auto r = restore(cluster, 3, dir);
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
  CHECK_THAT(r.out, Catch::Contains(fmt::format("committed offset {}", allOffset + 1)));
  CHECK(committedOffset(cluster, 3) == allOffset + 1);
  CHECK(cluster.scalar(3, "SELECT all_offset FROM _kluster.position") == std::to_string(allOffset));

  cluster.startNode(3);
  REQUIRE(cluster.waitForMembers(3));
  REQUIRE(writer.waitForMore(50));
  writer.stop();
  // The node resumed right after the backup's position, from the position its restored database holds.
  CHECK_THAT(cluster.nodeLog(3), Catch::Contains(fmt::format("from offset {}", allOffset + 1)));

  auto v = verify(cluster);
  INFO(v.err);
  CHECK(v.exitCode == 0);
  auto report = parseJson(v.out);
  CHECK(report["identical"] == true);
  CHECK(report["nodes"].size() == 3);

  const auto acked = writer.ackedIds();
  REQUIRE(acked.size() >= 250);
  for (int i = 1; i <= 3; ++i) {
    const auto present = ids(cluster, i);
    std::size_t lost = 0;
    for (const auto& id : acked) lost += present.count(id) ? 0 : 1;
    INFO("node" << i);
    CHECK(lost == 0);
  }
}

TEST_CASE("a new node4 restored from node1's backup joins the cluster and is identical", "[backup]") {
  ClusterOptions options;
  options.nodes = 4;
  options.start = false;
  TestCluster cluster(options);
  for (int i = 1; i <= 3; ++i) cluster.startNode(i);
  REQUIRE(cluster.waitForMembers(3));
  createItems(cluster);
  insertSome(cluster, 1, 300);
  const auto dir = backupDir(cluster, "for-node4");
  auto b = backup(cluster, 1, dir);
  INFO(b.err);
  REQUIRE(b.exitCode == 0);
  CHECK_THAT(b.out, Catch::Contains("a restore replays from offset"));
  insertSome(cluster, 301, 100);

  dropDatabase(cluster, 4); // a brand-new node: restore creates its database
  auto r = restore(cluster, 4, dir);
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
  CHECK_THAT(r.out, Catch::Contains("created and loaded") && Catch::Contains("to replay  1 request(s)"));

  cluster.startNode(4);
  REQUIRE(cluster.waitForMembers(4));
  auto v = verify(cluster);
  INFO(v.err);
  CHECK(v.exitCode == 0);
  auto report = parseJson(v.out);
  CHECK(report["nodes"] == json::parse(R"(["node1","node2","node3","node4"])"));
  CHECK(report["identical"] == true);
  CHECK(cluster.scalar(4, "SELECT count(*) FROM items") == "400");
  CHECK(cluster.tableChecksum(4, "items", "id") == cluster.tableChecksum(1, "items", "id"));
}

TEST_CASE("backup and restore refuse what would not be safe, and say what to do", "[backup]") {
  TestCluster cluster;
  createItems(cluster);
  insertSome(cluster, 1, 50);
  const auto dir = backupDir(cluster, "good");

  // A non-empty output directory.
  fs::create_directories(backupDir(cluster, "busy"));
  std::ofstream(backupDir(cluster, "busy") + "/other-file") << "x";
  auto busy = backup(cluster, 1, backupDir(cluster, "busy"));
  CHECK(busy.exitCode == 2);
  CHECK_THAT(busy.err, Catch::Contains("not empty"));

  // --stop-node wants the node stopped; then it backs it up and says it can start again.
  auto running = backup(cluster, 1, dir, {"--stop-node"});
  CHECK(running.exitCode == 1);
  CHECK_THAT(running.err, Catch::Contains("node1 is running") && Catch::Contains("hint:"));
  CHECK_FALSE(fs::exists(dir));
  cluster.stopNode(1);
  REQUIRE(cluster.waitForMembers(2));
  auto stopped = backup(cluster, 1, dir, {"--stop-node", "-o", "json"});
  INFO(stopped.err);
  REQUIRE(stopped.exitCode == 0);
  CHECK(parseJson(stopped.out)["nodeStopped"] == true);
  CHECK_THAT(stopped.err, Catch::Contains("can be started again"));
  const auto allOffset = ops::readManifest(dir).allOffset;
  cluster.startNode(1);
  REQUIRE(cluster.waitForMembers(3));

  // A damaged backup is refused before anything is touched.
  const auto damaged = backupDir(cluster, "damaged");
  fs::copy(dir, damaged);
  {
    std::fstream f(damaged + "/" + ops::kDumpFile, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  cluster.stopNode(2);
  REQUIRE(cluster.waitForMembers(2));
  auto bad = restore(cluster, 2, damaged, {"--force"});
  CHECK(bad.exitCode == 1);
  CHECK_THAT(bad.err, Catch::Contains("damaged") && Catch::Contains("SHA-256"));
  CHECK(cluster.scalar(2, "SELECT count(*) FROM items") == "50");

  // A running node, and a database with data, are not overwritten.
  auto live = restore(cluster, 3, dir);
  CHECK(live.exitCode == 1);
  CHECK_THAT(live.err, Catch::Contains("node3 is running"));
  auto full = restore(cluster, 2, dir);
  CHECK(full.exitCode == 1);
  CHECK_THAT(full.err,
             Catch::Contains("already holds") && Catch::Contains("public.items") && Catch::Contains("--force"));
  // --force replaces it: the node, started again, is identical to the others.
  cluster.query(2, "INSERT INTO items VALUES ('00000000-0000-4000-8000-000000000000', -1, 'only on node2')");
  cluster.query(2, "CREATE TABLE stray (x int)");
  auto forced = restore(cluster, 2, dir, {"--force"});
  INFO(forced.out << forced.err);
  REQUIRE(forced.exitCode == 0);
  CHECK_THAT(forced.out, Catch::Contains("emptied"));
  cluster.startNode(2);
  REQUIRE(cluster.waitForMembers(3));
  auto v = verify(cluster);
  INFO(v.out << v.err);
  CHECK(v.exitCode == 0);

  // When Kafka has deleted the requests after the backup's position, restore refuses and says why.
  insertSome(cluster, 51, 10);
  const auto all = cluster.name() + ".ALL";
  deleteRecordsBefore(cluster.brokers(), all, allOffset + 3);
  cluster.stopNode(3);
  REQUIRE(cluster.waitForMembers(2));
  auto gone = restore(cluster, 3, dir, {"--force"});
  CHECK(gone.exitCode == 1);
  CHECK_THAT(gone.err,
             Catch::Contains("no longer holds") && Catch::Contains(fmt::format("starts at offset {}", allOffset + 3)));
  CHECK(cluster.scalar(3, "SELECT count(*) FROM items") == "60"); // untouched

  // Limited retention on ALL: backup refuses before writing anything, naming the fix.
  alterTopicConfig(cluster.brokers(), all, "retention.ms", "3600000");
  REQUIRE(waitUntil(
      [&] {
        kafka::Admin admin(kafka::clientProperties(cluster.brokers(), {}));
        return admin.topicConfig(all, {"retention.ms"})["retention.ms"] == "3600000";
      },
      std::chrono::seconds(20)));
  auto limited = backup(cluster, 1, backupDir(cluster, "limited"));
  CHECK(limited.exitCode == 1);
  CHECK_THAT(limited.err, Catch::Contains("retention.ms=3600000") && Catch::Contains("kafka-configs") &&
                              Catch::Contains("retention.ms=-1"));
  CHECK_FALSE(fs::exists(backupDir(cluster, "limited")));
}
