// klusterctl backup, restore and verify on MariaDB (`[database] type = "mariadb"`), against the services fixture's
// MariaDB server and a real Kafka:
// - verify's SQL applied by the adapter on two databases as a node applies a request on ALL, with every key type;
// - backup of a live node and its restore into a new node's database and, with --force, over a node's data; the
//   fence an interrupted restore leaves;
// - `klusterctl verify` through three nodes (their SQL analysis in MariaDB's dialect).
#include "core/db/mariadb/client.hpp"
#include "core/db/mariadb/mariadb.hpp"
#include "core/db/mariadb/operations.hpp"
#include "core/kafka/admin.hpp"
#include "core/ops/manifest.hpp"
#include "core/ops/verify.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;
namespace fs = std::filesystem;
namespace mdb = kluster::db::mariadb;

namespace {

std::string serverUrl() {
  const auto& urls = Services::get().mariadbUrls;
  if (urls.empty()) FAIL("no MariaDB server in the services env (scripts/services.sh up --mariadb 1)");
  return urls.front();
}

// A fresh database on the server, dropped at the end; connections pin the node's session settings.
struct Database {
  std::string name, url;
  explicit Database(const std::string& prefix) {
    std::random_device rd;
    name = fmt::format("{}_{:08x}", prefix, rd());
    mdb::Client(mdb::Url::parse(serverUrl())).exec("CREATE DATABASE " + name);
    const auto base = serverUrl();
    url = base.substr(0, base.rfind('/') + 1) + name;
  }
  ~Database() {
    try {
      mdb::Client(mdb::Url::parse(serverUrl())).exec("DROP DATABASE IF EXISTS " + name);
    } catch (...) {
    }
  }
  std::unique_ptr<mdb::Client> connect() const {
    auto c = std::make_unique<mdb::Client>(mdb::Url::parse(url));
    c->exec(mdb::kSessionSettings);
    return c;
  }
  void exec(const std::string& sql) const { connect()->exec(sql); }
};

// verify's AskFn over the adapter itself: each database answers as a node applying the request on ALL would (a
// batch of one request, its result as JSON), only without the SQL analysis in front.
ops::verify::AskFn directAsk(const std::map<std::string, const Database*>& nodes, std::vector<std::string>* asked) {
  return [nodes, asked](const std::string& sql) {
    asked->push_back(sql);
    ops::verify::Answers a;
    for (const auto& [node, db] : nodes) {
      auto conn = db::connect("mariadb", db->url);
      db::Work w;
      w.statements.push_back(db::Statement{sql, {}, true, {}});
      conn->begin();
      const auto out = conn->execute({&w});
      conn->rollback();
      if (out.at(0).ok())
        a.rows[node] = out[0].result;
      else
        a.errors[node] = out[0].resultCode + ": " + out[0].errorMessage;
    }
    return a;
  };
}

const char* const kSchema = R"(
CREATE TABLE items (id VARCHAR(36) PRIMARY KEY, n INT NOT NULL, label TEXT) COLLATE utf8mb4_general_ci;
CREATE TABLE pairs (a INT NOT NULL, b VARCHAR(10) NOT NULL, v DOUBLE, PRIMARY KEY (a, b));
CREATE TABLE typed (k BIGINT UNSIGNED PRIMARY KEY, d DECIMAL(10,2), ts DATETIME(6), bin VARBINARY(8), bits BIT(8),
                    day DATE, note VARCHAR(20) CHARACTER SET latin1);
CREATE TABLE blobs (k VARBINARY(16) PRIMARY KEY, v INT);
CREATE TABLE moments (k DATETIME(6) PRIMARY KEY, v INT);
CREATE TABLE loose (x INT, y VARCHAR(10), z VARBINARY(4));
)";

// The same rows in every database: 300 items (keys whose byte order differs from utf8mb4_general_ci's order), and
// a few rows of every key type.
void fill(const Database& db) {
  db::connect("mariadb", db.url)->ensureSchema(); // Kluster's own tables, which verify leaves out
  db.exec(kSchema);
  std::string items = "INSERT INTO items VALUES ";
  for (int i = 0; i < 300; ++i)
    items += fmt::format("{}('{}{:04}', {}, 'row {}')", i ? "," : "", i % 2 ? "K" : "k", i, i, i);
  db.exec(items);
  db.exec("INSERT INTO pairs VALUES (1, 'a', 0.5), (1, 'B', 1.5), (2, 'a', NULL), (2, 'b ', 2.25), (3, 'x', 1e100);"
          "INSERT INTO typed VALUES (18446744073709551615, 12.50, '2024-02-29 23:59:59.123456', 0x00ff10, b'101', "
          "'2024-01-01', 'caf\xC3\xA9'), (1, -0.01, NULL, '', b'0', NULL, NULL), (2, 1.5, '1970-01-01 00:00:00', "
          "'a,b', NULL, '1999-12-31', 'x,y');"
          "INSERT INTO blobs VALUES (0x00, 1), (0x0001, 2), (0xff, 3), ('abc', 4);"
          "INSERT INTO moments VALUES ('2024-01-01 00:00:00', 1), ('2024-01-01 00:00:00.000001', 2), "
          "('1000-01-01 00:00:00', 3);"
          "INSERT INTO loose VALUES (1, 'one', 0x01), (1, 'one', 0x01), (NULL, NULL, NULL), (2, 'it''s', 0x00)");
}

const ops::verify::TableReport& tableOf(const ops::verify::Report& r, const std::string& name) {
  for (const auto& t : r.tables)
    if (t.table.name == name) return t;
  FAIL("no table " << name << " in the report");
  throw std::logic_error("unreachable");
}

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

std::string databaseName(const TestCluster& c, int i) {
  const auto url = c.databaseUrl(i);
  return url.substr(url.rfind('/') + 1);
}

std::int64_t committedOffset(const TestCluster& c, int i) {
  kafka::Admin admin(kafka::clientProperties(c.brokers(), {}));
  return admin.committedOffsets(c.name() + ".node." + TestCluster::nodeId(i), c.name() + ".ALL", 1).at(0);
}

ClusterOptions mariadbCluster(int nodes, bool start) {
  ClusterOptions o;
  o.database = "mariadb";
  o.nodes = nodes;
  o.start = start;
  return o;
}

void insertItems(TestCluster& cluster, int from, int count) {
  std::string sql = "INSERT INTO items (id, n, label) VALUES ";
  for (int i = from; i < from + count; ++i)
    sql += fmt::format("{}('id-{:05}', {}, 'row {}')", i > from ? ", " : "", i, i, i);
  auto r = cluster.exec({"--to", "ALL", "--wait", "all", sql});
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
}

const char* const kItems = "SELECT id, n, label FROM items ORDER BY id";

// Waits until node i holds `rows` items and the same position as node 1.
bool caughtUp(const TestCluster& cluster, int i, int rows) {
  return waitUntil(
      [&] {
        try {
          return cluster.scalar(i, "SELECT count(*) FROM items") == std::to_string(rows) &&
                 cluster.scalar(i, "SELECT all_offset FROM _kluster_position") ==
                     cluster.scalar(1, "SELECT all_offset FROM _kluster_position");
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200));
}

// A client incrementing counter 1 through ALL, a few requests in flight at a time, until stopped: a position one
// request too early or too late in a backup shows as a count that differs after the restored node caught up.
class Incrementer {
public:
  explicit Incrementer(const TestCluster& c) : thread_([this, &c] { run(c); }) {}
  ~Incrementer() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int acked() const { return acked_.load(); }

private:
  void run(const TestCluster& c) {
    auto client = makeClient(c);
    while (!stop_.load()) {
      std::vector<std::future<client::Result>> inFlight;
      for (int k = 0; k < 5; ++k) {
        Request r;
        r.statements = {"UPDATE counter SET n = n + 1 WHERE id = 1"};
        inFlight.push_back(
            client.send(r, client::Target::All, client::WaitPolicy::parse("first"), std::chrono::seconds(30)));
      }
      for (auto& f : inFlight) acked_ += f.get().allOk() ? 1 : 0;
    }
  }
  std::atomic<bool> stop_{false};
  std::atomic<int> acked_{0};
  std::thread thread_;
};

} // namespace

TEST_CASE("verify's MariaDB SQL finds identical databases identical, and names the rows that differ", "[mariadb_ops]") {
  Database one("v1"), two("v2");
  fill(one);
  fill(two);
  const mdb::MariaDbVerifyQueries queries;
  std::vector<std::string> asked;
  const auto ask = directAsk({{"node1", &one}, {"node2", &two}}, &asked);
  ops::verify::Options options;
  options.buckets = 4;
  options.rowListLimit = 10;

  auto same = ops::verify::run(ask, queries, options);
  INFO(same.toJson().dump(2));
  CHECK(same.identical());
  CHECK(same.exitCode() == 0);
  // Every user table, named without its database (each node's has its own name); Kluster's own left out.
  std::vector<std::string> names;
  for (const auto& t : same.tables) names.push_back(t.table.qualified());
  CHECK(names == std::vector<std::string>{"blobs", "items", "loose", "moments", "pairs", "typed"});
  CHECK(tableOf(same, "items").nodes.at("node1").rows == 300);
  CHECK(tableOf(same, "pairs").table.key.size() == 2);
  CHECK_FALSE(tableOf(same, "loose").table.hasPrimaryKey);

  // Changes by hand on node2: values, a missing row, an extra row, a row of a table without a primary key.
  two.exec("UPDATE items SET label = 'changed' WHERE id = 'K0123';"
           "DELETE FROM pairs WHERE a = 2 AND b = 'b ';"
           "INSERT INTO typed VALUES (3, 3.00, NULL, NULL, NULL, NULL, 'new');"
           "UPDATE blobs SET v = 40 WHERE k = 0x0001;"
           "UPDATE moments SET v = 20 WHERE k = '2024-01-01 00:00:00.000001';"
           "INSERT INTO loose VALUES (3, 'it''s', NULL)");
  asked.clear();
  auto differs = ops::verify::run(ask, queries, options);
  const auto report = differs.toJson();
  INFO(report.dump(2));
  CHECK_FALSE(differs.identical());
  CHECK(differs.exitCode() == 4);
  for (const char* name : {"items", "pairs", "typed", "blobs", "moments", "loose"}) {
    INFO(name);
    const auto& t = tableOf(differs, name);
    CHECK(t.status == "differs");
    CHECK(t.differing == std::vector<std::string>{"node1", "node2"}); // two nodes: a tie, both named
    REQUIRE(t.rows.size() == 1);
  }
  // items (300 rows) was narrowed through key ranges (boundaries and range checksums) to its one row.
  CHECK_FALSE(tableOf(differs, "items").ranges.empty());
  CHECK(tableOf(differs, "items").rows[0].key == std::vector<std::string>{"K0123"});
  CHECK(tableOf(differs, "pairs").rows[0].key == std::vector<std::string>{"2", "b "});
  CHECK(tableOf(differs, "pairs").rows[0].hashes.count("node2") == 0); // node2 lacks it
  CHECK(tableOf(differs, "typed").rows[0].key == std::vector<std::string>{"3"});
  CHECK(tableOf(differs, "blobs").rows[0].key == std::vector<std::string>{"0001"}); // binary keys travel as hex
  CHECK(tableOf(differs, "moments").rows[0].key == std::vector<std::string>{"2024-01-01 00:00:00.000001"});
  CHECK(tableOf(differs, "loose").rows[0].key == std::vector<std::string>{"(3,'it\\'s',NULL)"});
  // The SQL is MariaDB's: backquoted identifiers, and only what every node computes alike.
  bool sawBoundaries = false;
  for (const auto& sql : asked) sawBoundaries = sawBoundaries || sql.find("NTILE(4)") != std::string::npos;
  CHECK(sawBoundaries);
}

TEST_CASE("a MariaDB node's backup restores into a new node's database, which catches up and matches",
          "[mariadb_ops]") {
  TestCluster cluster(mariadbCluster(4, false));
  for (int i = 1; i <= 3; ++i) cluster.startNode(i);
  REQUIRE(cluster.waitForMembers(3));
  auto create = cluster.exec(
      {"--to", "ALL", "--wait", "all", "CREATE TABLE items (id VARCHAR(36) PRIMARY KEY, n INT NOT NULL, label TEXT)"});
  INFO(create.out << create.err);
  REQUIRE(create.exitCode == 0);
  insertItems(cluster, 0, 200);
  // A routine, a trigger and a view: a node's database holds them, and a backup must too (made by hand here: the
  // SQL analysis does not read MariaDB's syntax for them yet).
  cluster.query(1, "CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2");
  cluster.query(1, "CREATE VIEW big_items AS SELECT id FROM items WHERE n >= 100");
  cluster.query(1, "CREATE TRIGGER items_guard BEFORE UPDATE ON items FOR EACH ROW SET NEW.n = NEW.n");
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE counter (id INT PRIMARY KEY, n INT NOT NULL)"})
              .exitCode == 0);
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "INSERT INTO counter VALUES (1, 0)"}).exitCode == 0);

  // The backup is taken while a client increments the counter on every node.
  Incrementer incrementer(cluster);
  REQUIRE(waitUntil([&] { return incrementer.acked() >= 50; }, std::chrono::seconds(60)));
  const auto dir = backupDir(cluster, "node1-backup");
  auto b = backup(cluster, 1, dir, {"-o", "json"});
  INFO(b.out << b.err);
  REQUIRE(b.exitCode == 0);
  const int ackedAtBackup = incrementer.acked();
  REQUIRE(waitUntil([&] { return incrementer.acked() >= ackedAtBackup + 50; }, std::chrono::seconds(60)));
  incrementer.stop();
  const auto manifest = parseJson(b.out);
  CHECK(manifest["method"] == "mariadb-dump");
  CHECK(manifest["format"] == "sql");
  CHECK(manifest["server"]["product"] == "MariaDB");
  CHECK(manifest["server"]["majorVersion"].get<int>() >= 10);
  CHECK(manifest["database"]["name"] == databaseName(cluster, 1));
  const auto allOffset = manifest["allOffset"].get<std::int64_t>();
  CHECK(allOffset > 0);
  const auto onDisk = ops::readManifest(dir);
  REQUIRE(onDisk.files.size() == 1);
  CHECK(onDisk.files[0].name == "database.sql");
  CHECK(ops::verifyFiles(dir, onDisk).empty());

  insertItems(cluster, 200, 100); // after the backup: the restored node replays them

  cluster.serverExec(4, fmt::format("DROP DATABASE `{}`", databaseName(cluster, 4))); // a brand-new node
  auto r = restore(cluster, 4, dir);
  INFO(r.out << r.err);
  REQUIRE(r.exitCode == 0);
  CHECK_THAT(r.out, Catch::Contains("created and loaded"));
  CHECK(committedOffset(cluster, 4) == allOffset + 1);
  CHECK(cluster.scalar(4, "SELECT all_offset FROM _kluster_position") == std::to_string(allOffset));
  CHECK(cluster.scalar(4, "SELECT count(*) FROM items") == "200");
  CHECK(cluster.scalar(4, "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
                          "TABLE_NAME = '_kluster_restoring'") == "0");
  CHECK(cluster.scalar(4, "SELECT twice(21)") == "42");
  CHECK(cluster.scalar(4, "SELECT count(*) FROM big_items") == "100");
  CHECK(cluster.scalar(4, "SELECT count(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()") == "1");

  cluster.startNode(4);
  REQUIRE(cluster.waitForMembers(4));
  INFO(cluster.nodeLog(4));
  REQUIRE(caughtUp(cluster, 4, 300));
  CHECK_THAT(cluster.nodeLog(4), Catch::Contains(fmt::format("from offset {}", allOffset + 1)));
  CHECK(cluster.query(4, kItems) == cluster.query(1, kItems));
  // Every increment once: the dump's position was exactly its data's.
  const auto count = cluster.scalar(1, "SELECT n FROM counter");
  CHECK(std::stoi(count) >= incrementer.acked());
  CHECK(cluster.scalar(4, "SELECT n FROM counter") == count);
  insertItems(cluster, 300, 10); // and it keeps applying with the others
  REQUIRE(caughtUp(cluster, 4, 310));
  CHECK(cluster.query(4, kItems) == cluster.query(2, kItems));
}

TEST_CASE("a MariaDB restore refuses a database that holds data without --force, replaces it with --force, and "
          "a node refuses a database an interrupted restore left",
          "[mariadb_ops]") {
  TestCluster cluster(mariadbCluster(3, true));
  REQUIRE(cluster
              .exec({"--to", "ALL", "--wait", "all",
                     "CREATE TABLE items (id VARCHAR(36) PRIMARY KEY, n INT NOT NULL, label TEXT)"})
              .exitCode == 0);
  insertItems(cluster, 0, 50);
  const auto dir = backupDir(cluster, "good");
  auto b = backup(cluster, 1, dir);
  INFO(b.out << b.err);
  REQUIRE(b.exitCode == 0);
  const auto allOffset = ops::readManifest(dir).allOffset;
  insertItems(cluster, 50, 10);

  cluster.stopNode(2);
  REQUIRE(cluster.waitForMembers(2));
  // Hand-made differences on node2, which --force must wipe out.
  cluster.query(2, "INSERT INTO items VALUES ('only-on-node2', -1, 'stray')");
  cluster.query(2, "CREATE TABLE stray (x INT)");
  auto full = restore(cluster, 2, dir);
  INFO(full.out << full.err);
  CHECK(full.exitCode == 1);
  CHECK_THAT(full.err, Catch::Contains("already holds") && Catch::Contains("items") && Catch::Contains("--force"));
  CHECK(cluster.scalar(2, "SELECT count(*) FROM items") == "61"); // untouched

  auto forced = restore(cluster, 2, dir, {"--force"});
  INFO(forced.out << forced.err);
  REQUIRE(forced.exitCode == 0);
  CHECK_THAT(forced.out, Catch::Contains("emptied"));
  CHECK(cluster.scalar(2, "SELECT all_offset FROM _kluster_position") == std::to_string(allOffset));
  CHECK(cluster.scalar(2, "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
                          "TABLE_NAME = 'stray'") == "0");
  cluster.startNode(2);
  REQUIRE(cluster.waitForMembers(3));
  REQUIRE(caughtUp(cluster, 2, 60));
  CHECK(cluster.query(2, kItems) == cluster.query(1, kItems));

  // A restore cut short leaves its fence: the node does not take the half-loaded database for its data, and a
  // restore without --force refuses it too.
  cluster.stopNode(3);
  REQUIRE(cluster.waitForMembers(2));
  cluster.query(3, "CREATE TABLE _kluster_restoring (started_at DATETIME(6) NOT NULL, backup_of VARCHAR(255))");
  cluster.startNode(3);
  REQUIRE(waitUntil([&] { return !cluster.nodeRunning(3); }, std::chrono::seconds(30)));
  CHECK_THAT(cluster.nodeLog(3), Catch::Contains("unfinished restore") && Catch::Contains("--force"));
  auto fenced = restore(cluster, 3, dir);
  CHECK(fenced.exitCode == 1);
  CHECK_THAT(fenced.err, Catch::Contains("an unfinished restore"));
  // Nor is it backed up as a node's data.
  auto refused = backup(cluster, 3, backupDir(cluster, "fenced"));
  CHECK(refused.exitCode == 1);
  CHECK_THAT(refused.err, Catch::Contains("unfinished restore"));
  CHECK_FALSE(fs::exists(backupDir(cluster, "fenced")));
  auto again = restore(cluster, 3, dir, {"--force"});
  INFO(again.out << again.err);
  REQUIRE(again.exitCode == 0);
  cluster.startNode(3);
  REQUIRE(cluster.waitForMembers(3));
  REQUIRE(caughtUp(cluster, 3, 60));
  CHECK(cluster.query(3, kItems) == cluster.query(1, kItems));
}

TEST_CASE("klusterctl verify on a MariaDB cluster reports identical nodes, then a row changed by hand",
          "[mariadb_ops]") {
  TestCluster cluster(mariadbCluster(3, true));
  REQUIRE(cluster
              .exec({"--to", "ALL", "--wait", "all",
                     "CREATE TABLE items (id VARCHAR(36) PRIMARY KEY, n INT NOT NULL, label TEXT)"})
              .exitCode == 0);
  insertItems(cluster, 0, 500);
  auto verify = [&] {
    return TestCluster::klusterctl(
        // The node config says the cluster's database type (the SQL is MariaDB's).
        {"verify", "--config", cluster.configPath(1), "-o", "json", "--timeout", "60s"}, std::chrono::seconds(180));
  };
  auto same = verify();
  INFO(same.out << same.err);
  REQUIRE(same.exitCode == 0);
  auto report = parseJson(same.out);
  CHECK(report["identical"] == true);
  CHECK(report["nodes"] == json::parse(R"(["node1","node2","node3"])"));
  REQUIRE(report["tables"].size() == 1);
  CHECK(report["tables"][0]["table"] == "items");

  cluster.query(2, "UPDATE items SET label = 'changed by hand' WHERE id = 'id-00321'");
  auto differs = verify();
  INFO(differs.out << differs.err);
  CHECK(differs.exitCode == 4);
  report = parseJson(differs.out);
  CHECK(report["identical"] == false);
  const auto& items = report["tables"][0];
  CHECK(items["status"] == "differs");
  CHECK(items["differingNodes"] == json::array({"node2"}));
  REQUIRE(items["rows"].size() == 1);
  CHECK(items["rows"][0]["key"]["id"] == "id-00321");
  CHECK(items["rows"][0]["differingNodes"] == json::array({"node2"}));
}
