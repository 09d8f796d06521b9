// Signed requests and permissions against a real cluster: a clients file published through ALL takes effect on
// every node at once; from then on a signed request is applied, an unsigned, forged, replayed or stale one is
// refused (UNAUTHENTICATED or DUPLICATE) by every node alike and changes nothing; a read-only client cannot write,
// a client without DDL cannot DROP TABLE; a node whose clients file differs refuses to start.
#include "core/auth.hpp"
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"
#include "support/raw_client.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace kluster;
using namespace kluster::test;
namespace fs = std::filesystem;

namespace {

const std::string kAppKey = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const std::string kReportsKey = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
const std::string kOpsKey = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";

std::string clientsToml(bool appMayChangeSchema) {
  return fmt::format("[clients.app]\nkeys = [\"{}\"]\naccess = \"write\"\nddl = {}\n\n"
                     "[clients.reports]\nkeys = [\"{}\"]\naccess = \"read\"\n\n"
                     "[clients.ops]\nkeys = [\"{}\"]\naccess = \"admin\"\n",
                     kAppKey, appMayChangeSchema ? "true" : "false", kReportsKey, kOpsKey);
}

std::string writeSecret(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0600);
  return path;
}

// `klusterctl ARGS...` against the cluster, signing as `client` with `key` (none when empty).
CommandResult as(const TestCluster& c, const std::string& client, const std::string& key,
                 const std::vector<std::string>& args) {
  // The cluster flags go right after the (sub)command: `exec ...`, `security publish ...`.
  const std::size_t words = args.at(0) == "security" ? 2 : 1;
  std::vector<std::string> argv{klusterctlPath()};
  argv.insert(argv.end(), args.begin(), args.begin() + static_cast<std::ptrdiff_t>(words));
  argv.insert(argv.end(), {"--brokers", c.brokers(), "--cluster", c.name()});
  argv.insert(argv.end(), args.begin() + static_cast<std::ptrdiff_t>(words), args.end());
  std::map<std::string, std::string> env;
  if (!client.empty()) env["KLUSTER_CLIENT_ID"] = client;
  if (!key.empty()) env["KLUSTER_CLIENT_KEY"] = key;
  return run(argv, std::chrono::seconds(60), env);
}

std::string count(const TestCluster& c, int node) { return c.scalar(node, "SELECT count(*) FROM items"); }

} // namespace

TEST_CASE("signed requests and permissions, in effect on every node from one ALL position", "[auth]") {
  const auto file = writeSecret(fmt::format("{}/kluster-auth-{}.toml", TEST_WORK_DIR, util::uuid4().substr(0, 8)),
                                clientsToml(false));
  ClusterOptions options;
  options.extraNodeConfig = fmt::format("\n[security]\nclients_file = \"{}\"", file);
  TestCluster cluster(options);

  // Not in effect until published: anyone may still write.
  auto create =
      as(cluster, "", "", {"exec", "--to", "ALL", "--wait", "all", "CREATE TABLE items (id int PRIMARY KEY)"});
  INFO(create.err);
  REQUIRE(create.exitCode == 0);

  auto digest = TestCluster::klusterctl({"security", "digest", file});
  REQUIRE(digest.exitCode == 0);
  CHECK(digest.out == auth::Clients::load(file).digest() + "\n");
  auto publish = as(cluster, "ops", kOpsKey, {"security", "publish", file});
  INFO(publish.out << publish.err);
  REQUIRE(publish.exitCode == 0);
  CHECK(publish.out.find("node1: clients file") != std::string::npos);
  CHECK(publish.out.find("node3: clients file") != std::string::npos);

  // A signed write is applied on every node.
  auto signedInsert =
      as(cluster, "app", kAppKey, {"exec", "--to", "ALL", "--wait", "all", "INSERT INTO items VALUES (1)"});
  INFO(signedInsert.out << signedInsert.err);
  CHECK(signedInsert.exitCode == 0);
  for (int i = 1; i <= 3; ++i) CHECK(count(cluster, i) == "1");

  // Unsigned, and signed with another key: refused by every node, nothing applied.
  auto unsignedInsert = as(cluster, "", "", {"exec", "--to", "ALL", "--wait", "all", "INSERT INTO items VALUES (2)"});
  CHECK(unsignedInsert.exitCode == 1);
  CHECK(unsignedInsert.out.find("UNAUTHENTICATED") != std::string::npos);
  auto forged =
      as(cluster, "app", kReportsKey, {"exec", "--to", "ALL", "--wait", "all", "INSERT INTO items VALUES (3)"});
  CHECK(forged.exitCode == 1);
  CHECK(forged.out.find("does not match any key") != std::string::npos);
  auto unsignedRead = as(cluster, "", "", {"exec", "--to", "ONE", "SELECT count(*) FROM items"});
  CHECK(unsignedRead.exitCode == 1);
  CHECK(unsignedRead.out.find("UNAUTHENTICATED") != std::string::npos);

  // A signed request sent twice (a replay): applied once, then DUPLICATE; one signed 10 minutes ago: refused.
  RawClient raw(cluster, "app");
  Request r;
  r.messageId = "app.replayed";
  r.clientId = "app";
  r.statements = {"INSERT INTO items VALUES (4)"};
  auth::sign(r, kAppKey, util::nowMillis());
  Request stale = r;
  stale.messageId = "app.stale";
  stale.statements = {"INSERT INTO items VALUES (5)"};
  auth::sign(stale, kAppKey, util::nowMillis() - 10 * 60 * 1000);
  raw.send({r.toJson()});
  auto first = raw.codes(3);
  CHECK(first["app.replayed"] == std::multiset<std::string>{"OK", "OK", "OK"});
  raw.send({r.toJson(), stale.toJson()});
  auto again = raw.codes(9); // the three OKs again, then the replay and the stale one from each node
  CHECK(again["app.replayed"] == std::multiset<std::string>{"OK", "OK", "OK", "DUPLICATE", "DUPLICATE", "DUPLICATE"});
  CHECK(again["app.stale"] == std::multiset<std::string>{"UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"});

  // Permissions: a read-only client cannot write (but reads), a client without DDL cannot drop the table.
  auto readerWrites =
      as(cluster, "reports", kReportsKey, {"exec", "--to", "ALL", "--wait", "all", "INSERT INTO items VALUES (6)"});
  CHECK(readerWrites.exitCode == 1);
  CHECK(readerWrites.out.find("FORBIDDEN") != std::string::npos);
  CHECK(readerWrites.out.find("may only read") != std::string::npos);
  auto readerReads =
      as(cluster, "reports", kReportsKey, {"exec", "--to", "ONE", "-o", "csv", "SELECT count(*) FROM items"});
  INFO(readerReads.err);
  CHECK(readerReads.exitCode == 0);
  auto drop = as(cluster, "app", kAppKey, {"exec", "--to", "ALL", "--wait", "all", "DROP TABLE items"});
  CHECK(drop.exitCode == 1);
  CHECK(drop.out.find("may not change the schema") != std::string::npos);
  auto notAdmin = as(cluster, "app", kAppKey, {"security", "publish", file});
  CHECK(notAdmin.exitCode == 1);
  CHECK(notAdmin.out.find("may not publish") != std::string::npos);

  for (int i = 1; i <= 3; ++i) {
    INFO("node" << i);
    CHECK(cluster.scalar(i, "SELECT string_agg(id::text, ',' ORDER BY id) FROM items") == "1,4");
  }

  // A node whose clients file differs from the one in effect refuses to start (and says why).
  const auto other = writeSecret(file + ".other", clientsToml(true));
  const auto config = [&](const std::string& from, const std::string& to) {
    std::ifstream in(cluster.configPath(3));
    std::stringstream text;
    text << in.rdbuf();
    auto toml = text.str();
    toml.replace(toml.find(from), from.size(), to);
    std::ofstream(cluster.configPath(3)) << toml;
  };
  cluster.stopNode(3);
  config(file, other);
  cluster.startNode(3);
  CHECK(waitUntil([&] { return !cluster.nodeRunning(3); }, std::chrono::seconds(30)));
  CHECK(cluster.nodeLog(3).find("has digest") != std::string::npos);

  // A new file (the app may now change the schema) deployed and published while node3 is down: node3 catches up
  // with the nodes' copy of the old file up to the publication, then takes the new one.
  config(other, file);
  writeSecret(file, clientsToml(true));
  auto republish = as(cluster, "ops", kOpsKey, {"security", "publish", file});
  INFO(republish.out << republish.err);
  CHECK(republish.exitCode == 0); // the live nodes took it; node3, stopped, is not waited for
  // Nodes 1 and 2 kept a copy of the old file beside it (they share the path here, as the file's one copy).
  CHECK(fs::exists(auth::copyPath(file, auth::Clients::parse(clientsToml(false), "old").digest())));
  cluster.startNode(3);
  REQUIRE(cluster.waitForMembers(3));
  auto ddl = as(cluster, "app", kAppKey, {"exec", "--to", "ALL", "--wait", "all", "CREATE INDEX ON items (id)"});
  INFO(ddl.out << ddl.err << cluster.nodeLog(3));
  CHECK(ddl.exitCode == 0);
  CHECK(cluster.nodeLog(3).find("catching up with the clients file in effect") != std::string::npos);
  for (const auto& p : fs::directory_iterator(fs::path(file).parent_path()))
    if (p.path().string().rfind(file, 0) == 0) fs::remove(p.path());
}
