// klusterctl exec with a script (-f FILE or standard input): one request per statement, in order, stopping
// at the first failure; --tx makes the script one atomic request; reads in a script see its writes; a
// script re-run with the same --message-id applies nothing twice.
#include "core/kafka/admin.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"
#include "support/topic_reader.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;

namespace {

std::string writeScript(const TestCluster& c, const std::string& name, const std::string& text) {
  const auto path = fmt::format("{}/{}", c.workDir(), name);
  std::ofstream(path) << text;
  return path;
}

std::vector<json> jsonLines(const std::string& out) {
  std::vector<json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(json::parse(line));
  return lines;
}

} // namespace

TEST_CASE("a script runs a statement at a time and stops at the first failure; --tx applies it atomically",
          "[exec-script]") {
  TestCluster cluster;
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE t (id int PRIMARY KEY)"}).exitCode == 0);
  const auto script = writeScript(cluster, "partial.sql",
                                  "INSERT INTO t VALUES (1);\n"
                                  "INSERT INTO t VALUES (1); -- a duplicate key: fails\n"
                                  "INSERT INTO t VALUES (3);\n");
  auto atomic = cluster.exec({"--to", "ALL", "--wait", "all", "--tx", "-f", script});
  CHECK(atomic.exitCode == 1);
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT count(*) FROM t") == "0"); // one transaction

  auto partial = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "jsonl", "-f", script});
  INFO(partial.err);
  CHECK(partial.exitCode == 1);
  CHECK(partial.err.find("stopped at statement 2 of 3") != std::string::npos);
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT string_agg(id::text, ',') FROM t") == "1");

  // Standard input is a script too; -p values go to the statements that use them.
  auto piped = TestCluster::klusterctl(
      {"exec", "--brokers", cluster.brokers(), "--cluster", cluster.name(), "--to", "ALL", "--wait", "all", "-o",
       "jsonl", "-p", "5", "-p", "6"},
      std::chrono::seconds(60), "INSERT INTO t VALUES ($1); INSERT INTO t VALUES ($2); INSERT INTO t VALUES ($1 + 10)");
  INFO(piped.err);
  CHECK(piped.exitCode == 0);
  CHECK(jsonLines(piped.out).size() == 9); // three requests, three nodes each
  for (int i = 1; i <= 3; ++i)
    CHECK(cluster.scalar(i, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t") == "1,5,6,15");

  auto mismatch = cluster.exec({"-p", "1", "-f", writeScript(cluster, "params.sql", "SELECT $1; SELECT $2;")});
  CHECK(mismatch.exitCode == 2);
  CHECK(mismatch.err.find("uses 2 parameter(s)") != std::string::npos);
}

TEST_CASE("a script's reads wait for its writes; re-run with the same --message-id it applies nothing twice",
          "[exec-script]") {
  TestCluster cluster;
  REQUIRE(
      cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE c (id int PRIMARY KEY, n int NOT NULL)"}).exitCode ==
      0);
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "all", "INSERT INTO c VALUES (1, 0)"}).exitCode == 0);
  const auto script = writeScript(cluster, "bump.sql",
                                  "UPDATE c SET n = n + 1 WHERE id = 1;\n"
                                  "SELECT n FROM c WHERE id = 1;\n"
                                  "UPDATE c SET n = n + 10 WHERE id = 1;\n");
  auto first = cluster.exec({"--wait", "all", "-o", "jsonl", "--message-id", "bump", "-f", script});
  INFO(first.err);
  REQUIRE(first.exitCode == 0);
  std::int64_t updateOffset = -1;
  for (const auto& r : jsonLines(first.out))
    if (r["requestId"] == "bump.1") updateOffset = r["allOffset"].get<std::int64_t>();
  REQUIRE(updateOffset >= 0);

  // The read went to ONE carrying the update's offset: whichever node took it had applied the update.
  kafka::Admin admin(kafka::clientProperties(cluster.brokers(), {}));
  const auto onePartitions = admin.partitionCount(cluster.name() + ".ONE").value_or(0);
  std::optional<json> read;
  for (int p = 0; p < onePartitions && !read; ++p)
    for (const auto& rec : readTopic(
             cluster.brokers(), cluster.name() + ".ONE", p, 0, [](const auto&) { return false; },
             std::chrono::milliseconds(300))) {
      auto j = json::parse(rec.payload);
      if (j["messageId"] == "bump.2") read = j;
    }
  REQUIRE(read);
  CHECK((*read)["minAllOffset"] == updateOffset);

  auto again = cluster.exec({"--wait", "all", "-o", "jsonl", "--message-id", "bump", "-f", script});
  INFO(again.err);
  CHECK(again.exitCode == 0);
  CHECK(again.err.find("applied before") != std::string::npos);
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT n FROM c") == "11");
}

TEST_CASE("BEGIN ... COMMIT in a script: reads see the transaction's writes, COMMIT applies it on every node, "
          "ROLLBACK drops it",
          "[exec-script]") {
  TestCluster cluster;
  REQUIRE(
      cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE acct (id int PRIMARY KEY, balance int)"}).exitCode ==
      0);
  const auto script = writeScript(cluster, "transfer.sql",
                                  "BEGIN;\n"
                                  "INSERT INTO acct VALUES (1, 100), (2, 50);\n"
                                  "UPDATE acct SET balance = balance - 30 WHERE id = 1 RETURNING balance;\n"
                                  "SELECT sum(balance) AS total FROM acct;\n"
                                  "COMMIT;\n"
                                  "BEGIN;\n"
                                  "DELETE FROM acct;\n"
                                  "SELECT count(*) AS n FROM acct;\n"
                                  "ROLLBACK;\n"
                                  "SELECT count(*) AS n FROM acct;\n");
  auto run = cluster.exec({"--wait", "all", "-o", "jsonl", "-f", script});
  INFO(run.out << run.err);
  REQUIRE(run.exitCode == 0);
  const auto lines = jsonLines(run.out);
  // The rows each statement returned (tags such as BEGIN are printed in the table format only).
  std::string seen;
  for (const auto& l : lines) seen += l.dump() + "\n";
  INFO(seen);
  CHECK(seen.find(R"({"balance":70})") != std::string::npos); // RETURNING, before COMMIT
  CHECK(seen.find(R"({"total":120})") != std::string::npos);  // the transaction's own writes
  CHECK(seen.find(R"({"n":0})") != std::string::npos);        // the DELETE seen inside its transaction...
  CHECK(seen.find(R"({"n":2})") != std::string::npos);        // ...and dropped by ROLLBACK
  for (int i = 1; i <= 3; ++i)
    CHECK(waitUntil(
        [&] {
          return cluster.scalar(i, "SELECT string_agg(id || ':' || balance, ',' ORDER BY id) FROM acct") == "1:70,2:50";
        },
        std::chrono::seconds(30)));

  // A failed statement aborts the transaction: the script stops there, and nothing of it is applied.
  const auto failing = writeScript(
      cluster, "failing.sql", "BEGIN;\nINSERT INTO acct VALUES (3, 1);\nINSERT INTO acct VALUES (1, 1);\nCOMMIT;\n");
  auto failed = cluster.exec({"--wait", "all", "-f", failing});
  CHECK(failed.exitCode == 1);
  CHECK(failed.err.find("duplicate key") != std::string::npos);
  for (int i = 1; i <= 3; ++i) CHECK(cluster.scalar(i, "SELECT count(*) FROM acct") == "2");
}
