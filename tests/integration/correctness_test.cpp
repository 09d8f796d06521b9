// Node correctness (issue 3): exactly-once apply across crashes, duplicates, deterministic execution,
// read-only ONE, atomic multi-statement requests, and errors that are the request's versus the node's.
#include "core/client/client.hpp"
#include "core/kafka/kafka.hpp"
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"
#include "support/raw_client.hpp"
#include "support/topic_reader.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <map>
#include <random>
#include <set>
#include <thread>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;

namespace {

void allOk(TestCluster& c, const std::string& sql) {
  auto r = c.exec({"--to", "ALL", "--wait", "all", "-o", "json", sql});
  INFO(sql << "\n" << r.err);
  REQUIRE(r.exitCode == 0);
}

} // namespace

TEST_CASE("a node killed at random moments while 2,000 increments go to ALL ends exact", "[correctness][crash]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)");
  allOk(cluster, "INSERT INTO counter VALUES (1, 0)");

  // A killer restarts a random node with SIGKILL every 0.2-0.6 s while the increments flow.
  std::atomic<bool> done{false};
  std::atomic<int> kills{0};
  std::thread killer([&] {
    std::mt19937 rng(12345);
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 400));
      if (done.load()) break;
      int victim = 1 + static_cast<int>(rng() % 3);
      cluster.killNode(victim);
      ++kills;
      cluster.startNode(victim);
    }
  });
  auto client = makeClient(cluster);
  std::vector<std::future<client::Result>> futures;
  for (int i = 0; i < 2000; ++i) {
    Request r;
    r.statements = {"UPDATE counter SET n = n + 1 WHERE id = 1"};
    futures.push_back(
        client.send(r, client::Target::All, client::WaitPolicy::parse("first"), std::chrono::seconds(120)));
    if (i % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(150)); // spread over the kills
  }
  for (auto& f : futures) f.wait();
  done.store(true);
  killer.join();
  CHECK(kills.load() >= 5);

  // Every node applies every increment exactly once, whatever moment it was killed at.
  for (int i = 1; i <= 3; ++i) {
    INFO("node" << i);
    if (!cluster.nodeRunning(i)) cluster.startNode(i);
    CHECK(waitUntil([&] { return cluster.scalar(i, "SELECT n FROM counter WHERE id = 1") == "2000"; },
                    std::chrono::seconds(90)));
  }
  CHECK(cluster.scalar(1, "SELECT n FROM counter") == "2000");
}

TEST_CASE("the same messageId sent twice is applied once", "[correctness]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)");
  allOk(cluster, "INSERT INTO counter VALUES (1, 0)");
  const std::vector<std::string> send = {
      "--to", "ALL", "--wait", "all", "-o", "json", "--message-id", "retry-1", "UPDATE counter SET n = n + 1"};
  auto first = cluster.exec(send);
  REQUIRE(first.exitCode == 0);
  const auto offset = parseJson(first.out)[0]["allOffset"];
  auto second = cluster.exec(send);
  CHECK(second.exitCode == 1);
  for (const auto& r : parseJson(second.out)) {
    CHECK(r["resultCode"] == "DUPLICATE");
    CHECK(r["allOffset"] == offset); // points at the original application
  }
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT n FROM counter") == "1");
}

TEST_CASE("one batch mixing earlier requests, repeats within it and a failing request applies each new request once",
          "[correctness][duplicates]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)");
  allOk(cluster, "INSERT INTO counter VALUES (1, 0)");
  auto first = cluster.exec(
      {"--to", "ALL", "--wait", "all", "-o", "json", "--message-id", "early", "UPDATE counter SET n = n + 1"});
  REQUIRE(first.exitCode == 0);
  const auto earlyOffset = parseJson(first.out)[0]["allOffset"].get<std::int64_t>();

  // With node1 stopped, everything below waits in the log and node1 applies it as one batch when it comes
  // back; nodes 2 and 3 apply it as it arrives. Either way the outcome must be the same.
  REQUIRE(cluster.stopNode(1) == 0);
  RawClient client(cluster, "mixed-" + util::uuid4().substr(0, 8));
  const auto request = [&](const std::string& id, const std::string& sql) {
    return fmt::format(R"({{"messageId":"{}","clientId":"{}","sqlString":"{}"}})", id, client.id(), sql);
  };
  client.send({
      request("early", "UPDATE counter SET n = n + 1"), // applied by an earlier batch: DUPLICATE
      request("b", "UPDATE counter SET n = n + 10"),    // new
      request("c", "UPDATE counter SET n = n / 0"),     // fails: undone alone
      request("d", "UPDATE counter SET n = n + 100"),   // new
      request("b", "UPDATE counter SET n = n + 10"),    // repeated within the batch: DUPLICATE
  });
  cluster.startNode(1);
  std::map<std::string, std::multiset<std::string>> codes; // request id -> result codes from all nodes
  for (const auto& j : client.responses(5 * 3)) {
    codes[j["requestId"]].insert(j["resultCode"].get<std::string>());
    if (j["requestId"] == "early") CHECK(j["allOffset"] == earlyOffset);
  }
  CHECK(codes["early"] == std::multiset<std::string>{"DUPLICATE", "DUPLICATE", "DUPLICATE"});
  CHECK(codes["b"] == std::multiset<std::string>{"OK", "OK", "OK", "DUPLICATE", "DUPLICATE", "DUPLICATE"});
  CHECK(codes["c"] == std::multiset<std::string>{"DATA_EXCEPTION", "DATA_EXCEPTION", "DATA_EXCEPTION"});
  CHECK(codes["d"] == std::multiset<std::string>{"OK", "OK", "OK"});
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT n FROM counter") == "111");
}

// Sequences are not transactional in PostgreSQL: a batch rolled back (for a failing request, a request an
// earlier batch applied, a crash) would leave nextval() ahead on that node only. Node1 applies everything
// below as one batch, rolled back and replayed twice; nodes 2 and 3 apply it as it comes. The values drawn
// must be the same everywhere: a request that fails draws nothing, a duplicate draws nothing.
TEST_CASE("SERIAL, IDENTITY and nextval() draw the same values on every node across rollbacks and retries",
          "[correctness][sequences]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE items (id serial PRIMARY KEY, tag text UNIQUE, ref bigint GENERATED ALWAYS AS "
                 "IDENTITY (START 100 INCREMENT 10))");
  allOk(cluster, "CREATE SEQUENCE tickets START 7");
  auto first = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "--message-id", "early",
                             "INSERT INTO items (tag) VALUES ('early')"});
  REQUIRE(first.exitCode == 0);

  REQUIRE(cluster.stopNode(1) == 0);
  RawClient client(cluster, "seq-" + util::uuid4().substr(0, 8));
  const auto request = [&](const std::string& id, const std::string& sql) { return client.request(id, sql); };
  client.send({
      request("a", "INSERT INTO items (tag) VALUES ('a')"),
      request("b", "INSERT INTO items (tag) VALUES ('b'), ('a')"),  // draws twice, then fails: draws nothing
      request("early", "INSERT INTO items (tag) VALUES ('early')"), // DUPLICATE: the batch is run again
      request("c", "INSERT INTO items (tag) SELECT 'c' || nextval('tickets')"),
      request("d", "SELECT setval('tickets', 20); INSERT INTO items (tag) VALUES ('d' || nextval('tickets'))"),
      request("e", "INSERT INTO items (tag) SELECT 'e' || g FROM generate_series(1, 3) g"),
  });
  cluster.startNode(1);
  auto codes = client.codes(6 * 3);
  CHECK(codes["b"] ==
        std::multiset<std::string>{"CONSTRAINT_VIOLATION", "CONSTRAINT_VIOLATION", "CONSTRAINT_VIOLATION"});
  CHECK(codes["early"] == std::multiset<std::string>{"DUPLICATE", "DUPLICATE", "DUPLICATE"});
  for (const char* id : {"a", "c", "d", "e"}) CHECK(codes[id] == std::multiset<std::string>{"OK", "OK", "OK"});
  const std::string expected = "1:early:100 2:a:110 3:c7:120 4:d21:130 5:e1:140 6:e2:150 7:e3:160";
  for (int i = 1; i <= 3; ++i) {
    INFO("node" << i);
    CHECK(cluster.scalar(i, "SELECT string_agg(id || ':' || tag || ':' || ref, ' ' ORDER BY id) FROM items") ==
          expected);
    CHECK(cluster.scalar(i, "SELECT last_value || '/' || is_called FROM items_id_seq") == "7/true");
    CHECK(cluster.scalar(i, "SELECT last_value FROM tickets") == "21");
  }
  // Drawing per scanned row is refused unless the order is total; with ORDER BY over the key it applies.
  auto r = cluster.exec(
      {"--to", "ALL", "--wait", "all", "-o", "json", "INSERT INTO items (tag) SELECT tag || '+' FROM items"});
  CHECK(r.exitCode == 1);
  CHECK(parseJson(r.out).at(0)["resultCode"] == "NONDETERMINISTIC");
  allOk(cluster, "INSERT INTO items (tag) SELECT tag || '+' FROM items ORDER BY id");
  const auto reference = cluster.tableChecksum(1, "items", "id");
  for (int i = 2; i <= 3; ++i) CHECK(cluster.tableChecksum(i, "items", "id") == reference);
  r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "SELECT currval('tickets')"});
  CHECK(parseJson(r.out).at(0)["resultCode"] == "NONDETERMINISTIC");
}

TEST_CASE("gen_random_uuid() draws the same UUIDs on every node, derived from the request that draws them",
          "[correctness][determinism][uuid]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE docs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), n int UNIQUE NOT NULL, "
                 "other uuid)");
  allOk(cluster, "CREATE TABLE src (k int PRIMARY KEY)");
  allOk(cluster, "INSERT INTO src SELECT g FROM generate_series(1, 20) g");

  // Retries, a request that fails after drawing and a duplicate, in one batch of a node that was stopped.
  REQUIRE(cluster.stopNode(1) == 0);
  RawClient client(cluster, "uuid-" + util::uuid4().substr(0, 8));
  const auto request = [&](const std::string& id, const std::string& sql) { return client.request(id, sql); };
  client.send({
      request("u1", "INSERT INTO docs (n, other) VALUES (1, gen_random_uuid()), (2, gen_random_uuid())"),
      request("u2", "INSERT INTO docs (n) VALUES (3), (1)"), // draws twice, then fails: the batch runs again
      request("u1", "INSERT INTO docs (n) VALUES (4)"),      // DUPLICATE
      request("u3", "INSERT INTO docs (n, other) SELECT 100 + k, gen_random_uuid() FROM src ORDER BY k"),
  });
  cluster.startNode(1);
  auto codes = client.codes(4 * 3);
  CHECK(codes["u1"] == std::multiset<std::string>{"OK", "OK", "OK", "DUPLICATE", "DUPLICATE", "DUPLICATE"});
  CHECK(codes["u2"] ==
        std::multiset<std::string>{"CONSTRAINT_VIOLATION", "CONSTRAINT_VIOLATION", "CONSTRAINT_VIOLATION"});
  CHECK(codes["u3"] == std::multiset<std::string>{"OK", "OK", "OK"});

  // Exactly what docs/determinism.md says a UUID is derived from: the n-th UUID a request draws is md5 of
  // '<ALL offset>/<messageId>/<n>' with the version (4) and variant bits set.
  const std::string derived =
      "(SELECT (substr(h, 1, 12) || '4' || substr(h, 14, 3) || substr('89ab', (position(substr(h, 17, 1) IN "
      "'0123456789abcdef') - 1) % 4 + 1, 1) || substr(h, 18))::uuid FROM (SELECT md5(a.all_offset || '/' || "
      "a.message_id || '/' || k) AS h) x)";
  const std::string notDerived = fmt::format(
      "SELECT count(*) FROM docs d, LATERAL (VALUES (d.id), (d.other)) v(u) WHERE v.u IS NOT NULL AND NOT EXISTS "
      "(SELECT 1 FROM _kluster.applied a, generate_series(1, 50) k WHERE a.message_id IN ('u1', 'u3') AND v.u = {})",
      derived);
  const auto reference = cluster.tableChecksum(1, "docs", "n");
  for (int i = 1; i <= 3; ++i) {
    INFO("node" << i);
    CHECK(cluster.scalar(i, "SELECT count(*) FROM docs") == "22");
    CHECK(cluster.scalar(i, notDerived) == "0");
    CHECK(cluster.scalar(i, "SELECT count(DISTINCT u) FROM docs, LATERAL (VALUES (id), (other)) v(u)") == "44");
    CHECK(cluster.tableChecksum(i, "docs", "n") == reference);
  }
  // Per scanned row without a total order, per row of an UPDATE, and filling existing rows: refused everywhere.
  for (const char* sql : {"INSERT INTO docs (n) SELECT 200 + k FROM src", "UPDATE docs SET other = gen_random_uuid()",
                          "ALTER TABLE docs ADD COLUMN extra uuid DEFAULT gen_random_uuid()"}) {
    INFO(sql);
    auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", sql});
    CHECK(r.exitCode == 1);
    for (const auto& j : parseJson(r.out)) CHECK(j["resultCode"] == "NONDETERMINISTIC");
  }
  for (int i = 1; i <= 3; ++i) CHECK(cluster.tableChecksum(i, "docs", "n") == reference);
  // A read on ALL answers the same UUID everywhere, in a column still named gen_random_uuid.
  auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "SELECT gen_random_uuid()"});
  REQUIRE(r.exitCode == 0);
  auto answers = parseJson(r.out);
  REQUIRE(answers.size() == 3);
  for (const auto& j : answers) {
    CHECK(j["resultHash"] == answers[0]["resultHash"]);
    CHECK(j["result"].dump().find("gen_random_uuid") != std::string::npos);
  }
  // Outside a Kluster request the DEFAULT is an error, never the server's own randomness.
  CHECK_THROWS_WITH(cluster.query(1, "INSERT INTO docs (n) VALUES (999)"),
                    Catch::Contains("outside a Kluster request"));
}

TEST_CASE("now() and random() give identical rows on every node; volatile functions are refused",
          "[correctness][determinism]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE samples (id int PRIMARY KEY, at timestamptz, day date, r float8)");
  allOk(cluster, "INSERT INTO samples VALUES (1, now(), CURRENT_DATE, random()), (2, CURRENT_TIMESTAMP, "
                 "'today', random())");
  const auto reference = cluster.tableChecksum(1, "samples", "id");
  for (int i = 2; i <= 3; ++i) CHECK(cluster.tableChecksum(i, "samples", "id") == reference);
  // Two random() calls in one statement still differ from each other, as users expect.
  CHECK(cluster.scalar(1, "SELECT count(DISTINCT r) FROM samples") == "2");
  // random() in a DEFAULT is seeded too, though the INSERT does not name it.
  allOk(cluster, "CREATE TABLE draws (id int PRIMARY KEY, r float8 NOT NULL DEFAULT random())");
  REQUIRE(cluster.stopNode(2) == 0); // a new connection: a backend whose random() state is its own
  cluster.startNode(2);
  allOk(cluster, "INSERT INTO draws (id) VALUES (1), (2), (3)");
  allOk(cluster, "INSERT INTO draws (id) SELECT g FROM generate_series(4, 6) g");
  const auto drawn = cluster.tableChecksum(1, "draws", "id");
  for (int i = 2; i <= 3; ++i) CHECK(cluster.tableChecksum(i, "draws", "id") == drawn);
  CHECK(cluster.scalar(1, "SELECT count(DISTINCT r) FROM draws") == "6");

  auto refused = cluster.exec(
      {"--to", "ALL", "--wait", "all", "-o", "json", "INSERT INTO samples VALUES (3, clock_timestamp(), NULL, 0)"});
  CHECK(refused.exitCode == 1);
  auto volatileCall =
      cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "CREATE TABLE u AS SELECT timeofday() AS id"});
  CHECK(volatileCall.exitCode == 1);
  auto responses = parseJson(volatileCall.out);
  REQUIRE(responses.size() == 3);
  for (const auto& r : responses) {
    CHECK(r["resultCode"] == "NONDETERMINISTIC");
    CHECK(r["errorMessage"].get<std::string>().find("timeofday") != std::string::npos);
  }
  for (int i = 1; i <= 3; ++i) {
    CHECK(cluster.scalar(i, "SELECT count(*) FROM samples") == "2");
    CHECK(cluster.scalar(i, "SELECT count(*) FROM pg_tables WHERE tablename = 'u'") == "0");
  }
}

TEST_CASE("a write sent to ONE is refused by PostgreSQL and changes nothing", "[correctness]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE t (id int PRIMARY KEY)");
  auto r = cluster.exec({"--to", "ONE", "-o", "json", "INSERT INTO t VALUES (1)"});
  CHECK(r.exitCode == 1);
  auto responses = parseJson(r.out);
  REQUIRE(responses.size() == 1);
  CHECK(responses[0]["resultCode"] == "READ_ONLY");
  CHECK(responses[0]["sqlState"] == "25006");
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT count(*) FROM t") == "0");
}

TEST_CASE("a request's statements apply atomically, with bound parameters", "[correctness]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE t (id int PRIMARY KEY, label text)");
  auto failed = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json",
                              "INSERT INTO t VALUES (1, 'first'); INSERT INTO t VALUES (1, 'clash')"});
  CHECK(failed.exitCode == 1);
  for (const auto& r : parseJson(failed.out)) CHECK(r["resultCode"] == "CONSTRAINT_VIOLATION");
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT count(*) FROM t") == "0");

  // Parameters are bound by the driver, never spliced into the SQL text.
  auto bound = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "-p", "2", "-p", "it's'); DROP TABLE t; --",
                             "INSERT INTO t VALUES ($1, $2)"});
  CHECK(bound.exitCode == 0);
  for (int i = 1; i <= 3; ++i)
    CHECK(cluster.scalar(i, "SELECT label FROM t WHERE id = 2") == "it's'); DROP TABLE t; --");
}

TEST_CASE("bad input sent raw to ALL gets its error code and the nodes go on", "[correctness][input]") {
  ClusterOptions options;
  options.extraNodeConfig = "max_request_bytes = 4096";
  TestCluster cluster(options);
  allOk(cluster, "CREATE TABLE t (id int PRIMARY KEY)");
  RawClient client(cluster, "raw-client-" + util::uuid4().substr(0, 8));
  const auto request = [&](const std::string& id, const std::string& rest) {
    return fmt::format(R"({{"messageId":"{}","clientId":"{}"{}}})", id, client.id(), rest);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {request("missing-sql", ""), "BAD_REQUEST"},
      {request("wrong-type", R"j(,"sqlString":["INSERT INTO t VALUES (1)"])j"), "BAD_REQUEST"},
      {request("version", R"j(,"version":99,"sqlString":"INSERT INTO t VALUES (2)")j"), "UNSUPPORTED_VERSION"},
      {request("empty", R"j(,"sqlString":"   ")j"), "EMPTY_SQL"},
      {request("too-large", R"j(,"sqlString":"INSERT INTO t VALUES (3) -- )j" + std::string(5000, 'x') + "\""),
       "TOO_LARGE"},
      {request("utf8", ",\"sqlString\":\"INSERT INTO t VALUES (4) -- \xff\xfe\""), "INVALID_UTF8"},
      {request("params", R"j(,"sqlString":"INSERT INTO t VALUES ($1)","params":[5,6])j"), "PARAM_MISMATCH"},
      {request("tx", R"j(,"sqlString":"BEGIN; INSERT INTO t VALUES (7); COMMIT")j"), "TRANSACTION_CONTROL"},
      {request("vacuum", R"j(,"sqlString":"VACUUM t")j"), "NOT_TRANSACTIONAL"},
  };
  std::vector<std::string> payloads{"{ not json at all"};
  for (const auto& [payload, code] : cases) payloads.push_back(payload);
  client.send(payloads);
  std::map<std::string, std::set<std::string>> codesById;
  std::map<std::string, std::set<std::string>> nodesById;
  for (const auto& j : client.responses(cases.size() * 3)) {
    codesById[j["requestId"]].insert(j["resultCode"].get<std::string>());
    nodesById[j["requestId"]].insert(j["nodeId"].get<std::string>());
  }
  for (const auto& [payload, code] : cases) {
    auto id = json::parse(payload.substr(0, payload.find(',')) + "}", nullptr, false);
    const std::string requestId = id.is_discarded() ? "" : id["messageId"].get<std::string>();
    INFO(requestId);
    CHECK(codesById[requestId] == std::set<std::string>{code});
    CHECK(nodesById[requestId].size() == 3);
  }
  // The unreadable one has no request id: every node reports it on ERRORS instead.
  auto errors = readTopic(
      cluster.brokers(), cluster.name() + ".ERRORS", 0, 0, [](const std::vector<Record>& rs) { return rs.size() >= 3; },
      std::chrono::seconds(30));
  std::set<std::string> reporters;
  for (const auto& e : errors) reporters.insert(json::parse(e.payload)["nodeId"].get<std::string>());
  CHECK(reporters == std::set<std::string>{"node1", "node2", "node3"});

  for (int i = 1; i <= 3; ++i) {
    CHECK(cluster.nodeRunning(i));
    CHECK(cluster.scalar(i, "SELECT count(*) FROM t") == "0"); // nothing was applied
  }
  allOk(cluster, "INSERT INTO t VALUES (100)"); // and they go on
}

TEST_CASE("a result larger than one Kafka message is answered TOO_LARGE at once, on ONE and on ALL",
          "[correctness][input]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE big (id int PRIMARY KEY, v text)");
  // About 2 MB of rows: more than a response may carry (1 MB). The client gets TOO_LARGE, not a timeout.
  const auto started = std::chrono::steady_clock::now();
  auto read = cluster.exec({"--to", "ONE", "--timeout", "30s", "-o", "json",
                            "SELECT g AS id, repeat('x', 2000) AS v FROM generate_series(1, 1000) g"});
  INFO(read.out << read.err);
  CHECK(read.exitCode == 1);
  const auto answer = parseJson(read.out);
  REQUIRE(answer.size() == 1);
  CHECK(answer[0]["resultCode"] == "TOO_LARGE");
  CHECK(answer[0]["errorMessage"].get<std::string>().find("more than one response may carry") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
  // A write whose RETURNING is too large is applied all the same, on every node, and says so alike.
  auto write =
      cluster.exec({"--to", "ALL", "--wait", "all", "--timeout", "30s", "-o", "json",
                    "INSERT INTO big SELECT g, repeat('y', 2000) FROM generate_series(1, 1000) g RETURNING *"});
  INFO(write.out << write.err);
  CHECK(write.exitCode == 1); // an error response, not a divergence (4) or a timeout (3)
  const auto responses = parseJson(write.out);
  CHECK(responses.size() == 3);
  for (const auto& r : responses) CHECK(r["resultCode"] == "TOO_LARGE");
  for (int i = 1; i <= 3; ++i)
    CHECK(waitUntil([&] { return cluster.scalar(i, "SELECT count(*) FROM big") == "1000"; }, std::chrono::seconds(30)));
}

TEST_CASE("an error local to one node is retried and reported, never answered; the node catches up",
          "[correctness][node-error]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE t (id int PRIMARY KEY)");
  // Make node2's database read-only: its writes now fail there only (a node-level error).
  const auto db2 = cluster.scalar(2, "SELECT current_database()");
  cluster.serverExec(2, fmt::format("ALTER DATABASE \"{}\" SET default_transaction_read_only = on", db2));
  cluster.serverExec(2, fmt::format("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' "
                                    "AND application_name = 'kluster'",
                                    db2));
  auto r = cluster.exec({"--to", "ALL", "--wait", "all", "--timeout", "6s", "-o", "json", "INSERT INTO t VALUES (1)"});
  CHECK(r.exitCode == 3); // node2 never answers while it cannot apply
  auto responses = parseJson(r.out);
  CHECK(responses.size() == 2);
  for (const auto& resp : responses) CHECK(resp["resultCode"] == "OK");
  CHECK(r.err.find("node2") != std::string::npos);
  auto errors = readTopic(
      cluster.brokers(), cluster.name() + ".ERRORS", 0, 0, [](const std::vector<Record>& rs) { return !rs.empty(); },
      std::chrono::seconds(30));
  REQUIRE_FALSE(errors.empty());
  auto report = json::parse(errors.front().payload);
  CHECK(report["nodeId"] == "node2");
  CHECK(report["sqlState"] == "25006");
  CHECK(cluster.nodeRunning(2));

  // Repaired: node2 applies the request it never skipped, and ends identical.
  cluster.serverExec(2, fmt::format("ALTER DATABASE \"{}\" RESET default_transaction_read_only", db2));
  cluster.serverExec(2, fmt::format("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' "
                                    "AND application_name = 'kluster'",
                                    db2));
  CHECK(waitUntil([&] { return cluster.scalar(2, "SELECT count(*) FROM t") == "1"; }, std::chrono::seconds(30)));
}

TEST_CASE("a node error that lasts past max_retry stops the node instead of skipping", "[correctness][node-error]") {
  ClusterOptions options;
  options.extraNodeConfig = "max_retry = \"3s\"";
  TestCluster cluster(options);
  allOk(cluster, "CREATE TABLE t (id int PRIMARY KEY)");
  const auto db3 = cluster.scalar(3, "SELECT current_database()");
  cluster.serverExec(3, fmt::format("ALTER DATABASE \"{}\" SET default_transaction_read_only = on", db3));
  cluster.serverExec(3, fmt::format("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' "
                                    "AND application_name = 'kluster'",
                                    db3));
  cluster.exec({"--to", "ALL", "--wait", "first", "INSERT INTO t VALUES (1)"});
  CHECK(waitUntil([&] { return !cluster.nodeRunning(3); }, std::chrono::seconds(30)));
  CHECK(cluster.scalar(3, "SELECT count(*) FROM t") == "0");
  CHECK(cluster.nodeLog(3).find("kept failing") != std::string::npos);
}

TEST_CASE("a node whose database differs in collation from the cluster's record refuses to run",
          "[correctness][fingerprint]") {
  ClusterOptions options;
  options.start = false;
  TestCluster cluster(options);
  cluster.startNode(1);
  cluster.startNode(2);
  REQUIRE(cluster.waitForMembers(2));
  allOk(cluster, "CREATE TABLE t (id int PRIMARY KEY)");
  // node3's database is recreated with another collation before it first starts.
  const auto db3 = cluster.databaseUrl(3).substr(cluster.databaseUrl(3).rfind('/') + 1);
  cluster.serverExec(3, fmt::format("DROP DATABASE \"{}\"", db3));
  cluster.serverExec(3, fmt::format("CREATE DATABASE \"{}\" TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'", db3));
  cluster.startNode(3);
  CHECK(waitUntil([&] { return !cluster.nodeRunning(3); }, std::chrono::seconds(60)));
  CHECK(cluster.nodeLog(3).find("differs from the cluster's") != std::string::npos);
  CHECK(cluster.scalar(3, "SELECT count(*) FROM pg_tables WHERE tablename = 't'") == "0");
  // It also refuses at once on the next start, from the record in its own database.
  cluster.startNode(3);
  CHECK(waitUntil([&] { return !cluster.nodeRunning(3); }, std::chrono::seconds(30)));
}

TEST_CASE("statements a node keeps prepared never run against a schema changed since", "[correctness][prepared]") {
  TestCluster cluster;
  allOk(cluster, "CREATE TABLE t (id int PRIMARY KEY)");
  const auto readAll = [&] {
    auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "SELECT * FROM t ORDER BY id"});
    INFO(r.err);
    REQUIRE(r.exitCode == 0);
    return parseJson(r.out);
  };
  for (int i = 1; i <= 3; ++i)
    allOk(cluster, fmt::format("INSERT INTO t (id) VALUES ({})", i)); // literal texts: one statement each
  const auto insert = std::vector<std::string>{
      "--to", "ALL", "--wait", "all", "-o", "json", "-p", "4", "INSERT INTO t (id) VALUES ($1)"};
  REQUIRE(cluster.exec(insert).exitCode == 0);
  // A text is prepared on its second run (the first runs unnamed): SELECT * is now prepared on every node.
  for (int run = 0; run < 2; ++run)
    for (const auto& r : readAll()) CHECK(r["result"].size() == 4);

  // DDL through ALL: every node drops what it prepared, so SELECT * sees the new column everywhere.
  allOk(cluster, "ALTER TABLE t ADD COLUMN note text NOT NULL DEFAULT 'x'");
  for (const auto& r : readAll()) {
    CHECK(r["resultCode"] == "OK");
    CHECK(r["result"][0]["note"] == "x");
  }
  auto again = insert;
  again[7] = "5";
  auto r = cluster.exec(again);
  CHECK(r.exitCode == 0);

  // A column added by hand on node2 alone: node2's prepared SELECT * must not answer with PostgreSQL's
  // "cached plan must not change result type"; it prepares again and answers (the extra column then
  // shows as a divergence, which is the truth).
  cluster.query(2, "ALTER TABLE t ADD COLUMN extra int");
  auto diverged = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "SELECT * FROM t ORDER BY id"});
  INFO(diverged.err);
  CHECK(diverged.exitCode == 4); // divergence: node2 has a column the others do not
  for (const auto& resp : parseJson(diverged.out)) {
    INFO(resp.dump());
    CHECK(resp["resultCode"] == "OK");
    CHECK(resp["result"].size() == 5);
  }
}

// A database can lose commits it acknowledged (synchronous_commit off and a crash, a restore, a failover to
// a lagging standby) while its node's memory still counts them. Simulated by hand on a single, idle node:
// its last five writes vanish from the database, bookkeeping included. A ONE read that must see the last
// write never answers from the reverted database: the node notices, reads ALL again, and answers after.
TEST_CASE("a ONE read with minAllOffset never answers from a database that lost commits", "[correctness][lost]") {
  ClusterOptions options;
  options.nodes = 1;
  options.onePartitions = 1;
  TestCluster cluster(options);
  allOk(cluster, "CREATE TABLE t (id int PRIMARY KEY)");
  std::vector<std::int64_t> offsets;
  for (int i = 1; i <= 10; ++i) {
    auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", fmt::format("INSERT INTO t VALUES ({})", i)});
    REQUIRE(r.exitCode == 0);
    offsets.push_back(parseJson(r.out).at(0)["allOffset"].get<std::int64_t>());
  }
  const auto kept = offsets[4];
  cluster.query(1,
                fmt::format("BEGIN; DELETE FROM t WHERE id > 5; DELETE FROM _kluster.applied WHERE all_offset > {0}; "
                            "UPDATE _kluster.position SET all_offset = {0}, message_id = (SELECT message_id FROM "
                            "_kluster.applied WHERE all_offset = {0}); COMMIT",
                            kept));
  REQUIRE(cluster.scalar(1, "SELECT count(*) FROM t") == "5");

  auto read = cluster.exec({"--to", "ONE", "--after", std::to_string(offsets.back()), "--timeout", "30s", "-o", "json",
                            "SELECT count(*) AS n FROM t"});
  INFO(read.err << read.out);
  REQUIRE(read.exitCode == 0);
  CHECK(parseJson(read.out).at(0)["result"][0]["n"] == 10);
  CHECK(cluster.scalar(1, "SELECT count(*) FROM t") == "10");
  CHECK(cluster.scalar(1, "SELECT all_offset FROM _kluster.position") == std::to_string(offsets.back()));
  CHECK(cluster.nodeLog(1).find("lost commits") != std::string::npos);
}
