// klusterctl verify against a real cluster: rows changed or deleted by hand on one node are found and
// located (table, key range, key) even while a client writes, and a node that does not answer is a timeout.
#include "core/client/client.hpp"
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <thread>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;

namespace {

CommandResult verify(const TestCluster& c, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"verify", "--brokers", c.brokers(), "--cluster", c.name()};
  args.insert(args.end(), extra.begin(), extra.end());
  return TestCluster::klusterctl(args, std::chrono::seconds(180));
}

void all(TestCluster& c, const std::string& sql) {
  auto r = c.exec({"--to", "ALL", "--wait", "all", sql});
  INFO(sql << "\n" << r.err);
  REQUIRE(r.exitCode == 0);
}

const json& table(const json& report, const std::string& name) {
  for (const auto& t : report["tables"])
    if (t["table"] == name) return t;
  FAIL("no table " << name << " in " << report.dump());
  static json none;
  return none;
}

// Three tables: a UUID key, a composite key with text (compared in the C collation), and no key at all.
void createTables(TestCluster& c) {
  all(c, "CREATE TABLE items (id uuid PRIMARY KEY, n int NOT NULL, label text)");
  all(c, "CREATE TABLE accounts (region text, id int, balance numeric, PRIMARY KEY (region, id))");
  all(c, "CREATE TABLE notes (body text)");
  all(c, "CREATE TABLE events (id uuid PRIMARY KEY, at bigint)");
  all(c, "INSERT INTO items SELECT md5(g::text)::uuid, g, 'row ' || g FROM generate_series(1, 3000) g");
  all(c, "INSERT INTO accounts SELECT (ARRAY['eu', 'us', 'Ap'])[g % 3 + 1], g, g * 1.5 FROM generate_series(1, 900) g");
  all(c, "INSERT INTO notes SELECT 'note ' || g FROM generate_series(1, 40) g");
}

} // namespace

TEST_CASE("rows changed by hand on one node are found by verify, which names the table, key range and key",
          "[verify]") {
  TestCluster cluster;
  createTables(cluster);

  // A client keeps writing to another table meanwhile: the comparison is still exact.
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    client::ClientOptions o;
    o.brokers = cluster.brokers();
    o.cluster = cluster.name();
    client::Client client(o);
    for (int n = 0; !stop.load(); ++n) {
      Request r;
      r.statements = {fmt::format("INSERT INTO events VALUES ('{}', {})", util::uuid4(), n)};
      if (client.send(r, client::Target::All, client::WaitPolicy::parse("first"), std::chrono::seconds(30))
              .get()
              .allOk())
        ++written;
    }
  });

  auto clean = verify(cluster, {"-o", "json"});
  INFO(clean.err);
  CHECK(clean.exitCode == 0);
  CHECK(parseJson(clean.out)["identical"] == true);

  const auto changedId = cluster.scalar(2, "SELECT id::text FROM items WHERE n = 1234");
  cluster.query(2, "UPDATE items SET label = 'changed by hand' WHERE n = 1234");
  cluster.query(3, "DELETE FROM accounts WHERE region = 'us' AND id = 499");
  REQUIRE(waitUntil([&] { return written.load() >= 20; }, std::chrono::seconds(30)));

  auto r = verify(cluster, {"-o", "json"});
  INFO(r.err);
  CHECK(r.exitCode == 4);
  CHECK_THAT(r.err, Catch::Contains("DIVERGENCE") && Catch::Contains("public.items (node2)"));
  const auto report = parseJson(r.out);
  CHECK(report["identical"] == false);
  CHECK(report["nodes"] == json::parse(R"(["node1","node2","node3"])"));

  const auto& items = table(report, "public.items");
  CHECK(items["status"] == "differs");
  CHECK(items["differingNodes"] == json::parse(R"(["node2"])"));
  CHECK(items["nodes"]["node1"]["rows"] == 3000);
  REQUIRE_FALSE(items["ranges"].empty());
  const auto& range = items["ranges"].back();
  CHECK(range["differingNodes"] == json::parse(R"(["node2"])"));
  CHECK_THAT(range["where"].get<std::string>(), Catch::Contains("id >= '") || Catch::Contains("id < '"));
  // The range holds the changed key.
  if (!range["from"].is_null()) CHECK(range["from"][0].get<std::string>() <= changedId);
  if (!range["to"].is_null()) CHECK(changedId < range["to"][0].get<std::string>());
  REQUIRE(items["rows"].size() == 1);
  CHECK(items["rows"][0]["key"]["id"] == changedId);
  CHECK(items["rows"][0]["differingNodes"] == json::parse(R"(["node2"])"));

  const auto& accounts = table(report, "public.accounts");
  CHECK(accounts["status"] == "differs");
  CHECK(accounts["differingNodes"] == json::parse(R"(["node3"])"));
  CHECK(accounts["nodes"]["node3"]["rows"] == 899);
  REQUIRE(accounts["rows"].size() == 1);
  CHECK(accounts["rows"][0]["key"] == json::parse(R"({"region":"us","id":"499"})"));
  CHECK(accounts["rows"][0]["nodes"]["node3"].is_null()); // the row is missing there

  CHECK(table(report, "public.notes")["status"] == "identical");
  CHECK(table(report, "public.events")["status"] == "identical");

  // People get the same as a table: every node per table, mismatches marked, then where they are.
  auto text = verify(cluster, {"-o", "table"});
  CHECK(text.exitCode == 4);
  // The same rows as CSV, one per table and node.
  auto csv = verify(cluster, {"-o", "csv", "--table", "items"});
  CHECK(csv.exitCode == 4);
  CHECK_THAT(csv.out, Catch::StartsWith("TABLE,NODE,ROWS,CHECKSUM,STATUS\r\n") &&
                          Catch::Contains("public.items,node1,") && Catch::Contains(",DIFFERS"));
  CHECK_THAT(text.out, Catch::Contains("DIFFERS") && Catch::Contains("public.items") &&
                           Catch::Contains(fmt::format("row id = '{}': changed on node2", changedId)) &&
                           Catch::Contains("row region = 'us', id = '499': missing on node3") &&
                           Catch::Contains("key range"));

  stop.store(true);
  writer.join();
  CHECK(written.load() >= 20);
}

TEST_CASE("a node that does not answer makes verify time out with exit status 3", "[verify]") {
  TestCluster cluster;
  all(cluster, "CREATE TABLE t (id int PRIMARY KEY, v text)");
  all(cluster, "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g");
  cluster.signalNode(3, SIGSTOP); // still a member of its group, but silent
  auto r = verify(cluster, {"-o", "json", "--timeout", "3s"});
  cluster.signalNode(3, SIGCONT);
  INFO(r.err);
  CHECK(r.exitCode == 3);
  CHECK_THAT(r.err, Catch::Contains("no answer from node3"));
  const auto report = parseJson(r.out);
  CHECK(report["missingNodes"] == json::parse(R"(["node3"])"));
  CHECK(report["nodes"] == json::parse(R"(["node1","node2"])"));
  CHECK(table(report, "public.t")["status"] == "identical");

  auto again = verify(cluster, {"-o", "json", "--timeout", "60s"});
  INFO(again.err);
  CHECK(again.exitCode == 0);
  CHECK(parseJson(again.out)["nodes"].size() == 3);
}
