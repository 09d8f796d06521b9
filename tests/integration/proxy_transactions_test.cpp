// Interactive transactions through klusterctl proxy against a real 3-node cluster: psql's BEGIN ... COMMIT in one
// string, psycopg 3 with its defaults, a lost update and a write skew under concurrency, SQLAlchemy's ORM, pgbench's
// TPC-B-like script with retries; and psql's catalog commands, answered by one node per connection.
#include "core/kafka/admin.hpp"
#include "core/kafka/kafka.hpp"
#include "support/cluster.hpp"
#include "support/proxy.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <regex>

using namespace kluster::test;

namespace {

const std::string kSource = KLUSTER_SOURCE_DIR;
const std::string kDrivers = KLUSTER_DRIVERS_DIR;

void installDrivers() {
  const auto& setup = installProxyDrivers(kSource, kDrivers);
  INFO(setup.out << setup.err);
  REQUIRE(setup.exitCode == 0);
}

// Runs tests/proxy/python/transactions_test.py CASE against the proxy; returns its output.
std::string python(TestProxy& proxy, const std::string& which) {
  auto r = run({kDrivers + "/python/bin/python", kSource + "/tests/proxy/python/transactions_test.py",
                proxy.url() + "?sslmode=disable", which},
               std::chrono::minutes(5));
  INFO(which << "\n" << r.out << r.err << proxy.log());
  CHECK(r.exitCode == 0);
  CHECK(r.out.find("OK") != std::string::npos);
  return r.out;
}

// Every node holds the same rows: the ALL writes wait for the first node only, so wait until the nodes agree.
void checkIdentical(const TestCluster& c, const std::string& table, const std::string& orderBy) {
  CHECK(waitUntil(
      [&] {
        const auto count = c.scalar(1, "SELECT count(*) FROM " + table);
        for (int i = 2; i <= c.size(); ++i)
          if (c.scalar(i, "SELECT count(*) FROM " + table) != count) return false;
        return true;
      },
      std::chrono::seconds(30)));
  const auto first = c.tableChecksum(1, table, orderBy);
  for (int i = 2; i <= c.size(); ++i) CHECK(c.tableChecksum(i, table, orderBy) == first);
}

} // namespace

TEST_CASE("psql: BEGIN; ...; COMMIT in one string, reads of the block's own writes, ROLLBACK, savepoints",
          "[proxy][transactions]") {
  TestCluster cluster;
  TestProxy proxy(cluster);
  REQUIRE(proxy.psql({"-c", "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)"}).exitCode == 0);

  auto one = proxy.psql({"-v", "ON_ERROR_STOP=1", "-A", "-t", "-c",
                         "BEGIN; INSERT INTO accounts VALUES (1, 100), (2, 50); "
                         "UPDATE accounts SET balance = balance - 30 WHERE id = 1 RETURNING balance; "
                         "SELECT sum(balance) FROM accounts; COMMIT;"});
  INFO(one.out << one.err << proxy.log());
  CHECK(one.exitCode == 0);
  // RETURNING and the sum see the block's own writes, before COMMIT.
  CHECK(one.out == "BEGIN\nINSERT 0 2\n70\nUPDATE 1\n120\nCOMMIT\n");
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(waitUntil([&] { return cluster.scalar(i, "SELECT sum(balance) FROM accounts") == "120"; },
                    std::chrono::seconds(30)));

  auto script = proxy.psql({"-v", "ON_ERROR_STOP=1"}, "BEGIN;\n"
                                                      "UPDATE accounts SET balance = 0;\n"
                                                      "SELECT count(*) FROM accounts WHERE balance = 0;\n"
                                                      "ROLLBACK;\n"
                                                      "BEGIN;\n"
                                                      "INSERT INTO accounts VALUES (3, 10);\n"
                                                      "SAVEPOINT s;\n"
                                                      "INSERT INTO accounts VALUES (4, 10);\n"
                                                      "ROLLBACK TO SAVEPOINT s;\n"
                                                      "INSERT INTO accounts VALUES (5, 10);\n"
                                                      "COMMIT;\n");
  INFO(script.out << script.err);
  CHECK(script.exitCode == 0);
  CHECK(script.out == "BEGIN\nUPDATE 2\n count \n-------\n     2\n(1 row)\n\nROLLBACK\nBEGIN\nINSERT 0 1\n"
                      "SAVEPOINT\nINSERT 0 1\nROLLBACK\nINSERT 0 1\nCOMMIT\n");
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(waitUntil(
        [&] {
          return cluster.scalar(i, "SELECT string_agg(id || ':' || balance, ',' ORDER BY id) FROM accounts") ==
                 "1:70,2:50,3:10,5:10";
        },
        std::chrono::seconds(30)));

  // An error aborts the block; COMMIT then rolls it back, as PostgreSQL does.
  auto failed = proxy.psql({}, "BEGIN;\nINSERT INTO accounts VALUES (6, 1);\nINSERT INTO accounts VALUES (1, 1);\n"
                               "SELECT 1;\nCOMMIT;\n");
  CHECK(failed.err.find("duplicate key") != std::string::npos);
  CHECK(failed.err.find("current transaction is aborted") != std::string::npos);
  CHECK(failed.out.find("ROLLBACK") != std::string::npos);
  for (int i = 1; i <= cluster.size(); ++i) CHECK(cluster.scalar(i, "SELECT count(*) FROM accounts") == "4");
  checkIdentical(cluster, "accounts", "id");
}

TEST_CASE("COPY inside BEGIN ... COMMIT: its rows are applied at COMMIT on every node, atomically with the rest",
          "[proxy][transactions]") {
  TestCluster cluster;
  TestProxy proxy(cluster);
  REQUIRE(proxy.psql({"-c", "CREATE TABLE copied (id int PRIMARY KEY, note text)"}).exitCode == 0);
  // 2,500 rows: three parts of at most 1,000 rows, each staged on ALL before the commit.
  std::string rows;
  for (int id = 1; id <= 2500; ++id) rows += fmt::format("{}\tnote {}\n", id, id);
  auto loaded = proxy.psql({"-v", "ON_ERROR_STOP=1"}, "BEGIN;\n"
                                                      "INSERT INTO copied VALUES (0, 'before');\n"
                                                      "COPY copied FROM STDIN;\n" +
                                                          rows +
                                                          "\\.\n"
                                                          "SAVEPOINT s;\n"
                                                          "COPY copied FROM STDIN;\n"
                                                          "9001\tdropped\n"
                                                          "\\.\n"
                                                          "ROLLBACK TO SAVEPOINT s;\n"
                                                          "UPDATE copied SET note = 'after' WHERE id = 0;\n"
                                                          "COMMIT;\n");
  INFO(loaded.out << loaded.err << proxy.log());
  CHECK(loaded.exitCode == 0);
  CHECK(loaded.out == "BEGIN\nINSERT 0 1\nCOPY 2500\nSAVEPOINT\nCOPY 1\nROLLBACK\nUPDATE 1\nCOMMIT\n");
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(waitUntil(
        [&] {
          return cluster.scalar(i, "SELECT count(*) || ' ' || max(id) || ' ' || min(note) FROM copied") ==
                 "2501 2500 after";
        },
        std::chrono::seconds(30)));
  checkIdentical(cluster, "copied", "id");

  // A row the table refuses (a duplicate key) fails the COMMIT, with nothing of the transaction applied.
  auto duplicate = proxy.psql({}, "BEGIN;\nINSERT INTO copied VALUES (5000, 'new');\nCOPY copied FROM STDIN;\n"
                                  "5001\tnew\n7\tagain\n\\.\nCOMMIT;\n");
  INFO(duplicate.out << duplicate.err);
  CHECK(duplicate.out.find("COPY 2") != std::string::npos);
  CHECK(duplicate.err.find("duplicate key") != std::string::npos);
  // ROLLBACK drops the staged rows; a read of the copied rows before COMMIT does not see them (they are applied
  // at COMMIT), so that COMMIT fails with 40001 rather than commit what its client did not see.
  auto rolledBack =
      proxy.psql({}, "BEGIN;\nCOPY copied FROM STDIN;\n6001\tgone\n\\.\nROLLBACK;\n"
                     "BEGIN;\nCOPY copied FROM STDIN;\n6002\tunseen\n\\.\nSELECT count(*) FROM copied;\nCOMMIT;\n");
  INFO(rolledBack.out << rolledBack.err);
  CHECK(rolledBack.out.find("ROLLBACK\nBEGIN\nCOPY 1\n") != std::string::npos);
  CHECK(std::regex_search(rolledBack.err, std::regex("ERROR: .*gives a different result")));
  // Nothing of the three: the counts are those of the first load.
  for (int i = 1; i <= cluster.size(); ++i) CHECK(cluster.scalar(i, "SELECT count(*) FROM copied") == "2501");
  checkIdentical(cluster, "copied", "id");
}

TEST_CASE("\\d TABLE works from 20 fresh connections: one node answers a connection's catalog queries",
          "[proxy][transactions]") {
  TestCluster cluster;
  TestProxy proxy(cluster);
  // Object ids differ between nodes once their catalogs diverge in allocation order; make them differ.
  for (int i = 2; i <= cluster.size(); ++i)
    for (int k = 0; k < i * 3; ++k) cluster.query(i, fmt::format("CREATE TEMP TABLE pad{} (x int)", k));
  REQUIRE(proxy.psql({"-c", "CREATE TABLE shelves (id int PRIMARY KEY, label text NOT NULL)"}).exitCode == 0);
  REQUIRE(proxy.psql({"-c", "CREATE INDEX shelves_label ON shelves (label)"}).exitCode == 0);
  // Once the three nodes share ONE: a rebalance moves partitions between a connection's queries (the cluster has
  // just started, and the nodes' ONE consumers join one after the other), which this test is not about.
  kluster::kafka::Admin admin(kluster::kafka::clientProperties(cluster.brokers(), {}));
  REQUIRE(waitUntil(
      [&] {
        for (const auto& g : admin.listGroups())
          if (g.groupId == cluster.name() + ".one" && g.state == "Stable")
            return admin.groupMembers(g.groupId).size() == static_cast<std::size_t>(cluster.size());
        return false;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100)));
  for (int k = 0; k < 20; ++k) {
    auto d = proxy.psql({"-c", "\\d shelves"});
    INFO(k << "\n" << d.out << d.err);
    CHECK(d.exitCode == 0);
    CHECK(d.out.find("Table \"public.shelves\"") != std::string::npos);
    CHECK(d.out.find("label") != std::string::npos);
    CHECK(d.out.find("\"shelves_label\" btree (label)") != std::string::npos);
  }
}

TEST_CASE("psycopg 3 with its defaults; a lost update and a write skew prevented; SQLAlchemy's ORM",
          "[proxy][transactions]") {
  installDrivers();
  TestCluster cluster;
  // Writes answered once every node applied them: a client that starts after another committed reads from any
  // node, which has it (a new connection reads its own writes only).
  TestProxy proxy(cluster, {"--wait", "all"});

  SECTION("psycopg's default transactions") {
    python(proxy, "defaults");
    checkIdentical(cluster, "tx_items", "id");
    for (int i = 1; i <= cluster.size(); ++i) CHECK(cluster.scalar(i, "SELECT name FROM tx_items") == "uno");
  }
  SECTION("lost update: 16 clients increment a counter read in their transaction") {
    const auto out = python(proxy, "lost-update");
    std::smatch m;
    REQUIRE(std::regex_search(out, m, std::regex("commits (\\d+) retries (\\d+)")));
    WARN("lost update: " << m[1] << " commits, " << m[2] << " retries on 40001");
    for (int i = 1; i <= cluster.size(); ++i)
      CHECK(waitUntil([&] { return cluster.scalar(i, "SELECT n FROM tx_counter") == m[1].str(); },
                      std::chrono::seconds(30)));
  }
  SECTION("write skew: the second of two transactions that read each other's writes fails") {
    python(proxy, "write-skew");
    checkIdentical(cluster, "tx_doctors", "id");
  }
  SECTION("SQLAlchemy 2.0 ORM on psycopg with its defaults") {
    python(proxy, "orm");
    checkIdentical(cluster, "orm_authors", "id");
    checkIdentical(cluster, "orm_books", "id");
  }
  SECTION("16 ORM clients inserting rows with SERIAL keys") {
    const auto out = python(proxy, "orm-serial");
    std::smatch m;
    REQUIRE(std::regex_search(out, m, std::regex("retry rate ([0-9.]+)")));
    WARN("SERIAL inserts by 16 ORM clients: " << out);
    checkIdentical(cluster, "orm_events", "id");
  }
  CHECK(proxy.running());
}

TEST_CASE("pgbench -i, then the TPC-B-like script with 8 clients and retries: no failed transaction",
          "[proxy][transactions]") {
  TestCluster cluster;
  TestProxy proxy(cluster);
  const std::vector<std::string> target = {"-h", "127.0.0.1", "-p",     std::to_string(proxy.port()),
                                           "-U", "app",       "kluster"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), programPath("pgbench"));
    args.insert(args.end(), target.begin(), target.end());
    return args;
  };
  // pgbench's own defaults (steps dtgvp): its client-side data generation sends TRUNCATE and a COPY of 100,000 rows
  // in one transaction, then VACUUM, which the proxy answers with a notice.
  auto init = run(with({"-i", "-s", "1"}), std::chrono::minutes(5));
  INFO(init.out << init.err << proxy.log());
  REQUIRE(init.exitCode == 0);
  CHECK(init.err.find("VACUUM is not sent to the nodes") != std::string::npos);
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(waitUntil([&] { return cluster.scalar(i, "SELECT count(*) FROM pgbench_accounts") == "100000"; },
                    std::chrono::seconds(60)));
  const auto seconds = std::getenv("KLUSTER_TPCB_SECONDS") ? std::getenv("KLUSTER_TPCB_SECONDS") : "20";
  auto bench = run(with({"-n", "-b", "tpcb-like", "-M", "prepared", "-c", "8", "-j", "2", "--max-tries", "10", "-T",
                         seconds, "--failures-detailed"}),
                   std::chrono::minutes(5));
  INFO(bench.out << bench.err << proxy.log());
  CHECK(bench.exitCode == 0);
  CHECK(bench.out.find("number of failed transactions: 0 (0.000%)") != std::string::npos);
  auto figures = [](const std::string& out) {
    std::smatch tps, retried;
    std::regex_search(out, tps, std::regex("tps = ([0-9.]+)"));
    std::regex_search(out, retried, std::regex("number of transactions retried: ([0-9]+) \\(([0-9.]+)%\\)"));
    return fmt::format("{} transactions/s, {} retried ({}%)", tps[1].str(), retried[1].str(), retried[2].str());
  };
  CHECK(bench.out.find("tps = ") != std::string::npos);
  const auto kluster = figures(bench.out);

  // Beside it, in the same run, one PostgreSQL at SERIALIZABLE: a benchmark, printed, not asserted.
  const auto direct = cluster.name() + "_direct";
  cluster.serverExec(1, "CREATE DATABASE " + direct);
  const auto server = cluster.serverUrl(1);
  const auto url = server.substr(0, server.rfind('/') + 1) + direct;
  auto directInit = run({programPath("pgbench"), "-i", "-s", "1", url}, std::chrono::minutes(5));
  INFO(directInit.out << directInit.err);
  CHECK(directInit.exitCode == 0);
  auto directRun =
      run({programPath("env"), "PGOPTIONS=-c default_transaction_isolation=serializable", programPath("pgbench"), "-n",
           "-b", "tpcb-like", "-M", "prepared", "-c", "8", "-j", "2", "--max-tries", "10", "-T", seconds, url},
          std::chrono::minutes(5));
  INFO(directRun.out << directRun.err);
  CHECK(directRun.exitCode == 0);
  cluster.serverExec(1, "DROP DATABASE " + direct);
  WARN("pgbench tpcb-like -M prepared, 8 clients, " << seconds << " s: through the proxy (3 nodes) " << kluster
                                                    << "; one PostgreSQL at SERIALIZABLE " << figures(directRun.out));
  for (const auto* table : {"pgbench_branches", "pgbench_tellers", "pgbench_accounts"})
    checkIdentical(cluster, table,
                   table == std::string("pgbench_accounts")  ? "aid"
                   : table == std::string("pgbench_tellers") ? "tid"
                                                             : "bid");
  checkIdentical(cluster, "pgbench_history", "tid, bid, aid, delta, mtime");
  // The balances add up: every committed transaction moved the same delta through account, teller and branch.
  const auto branches = cluster.scalar(1, "SELECT sum(bbalance) FROM pgbench_branches");
  CHECK(cluster.scalar(1, "SELECT sum(tbalance) FROM pgbench_tellers") == branches);
  CHECK(cluster.scalar(1, "SELECT sum(abalance) FROM pgbench_accounts") == branches);
  CHECK(cluster.scalar(1, "SELECT coalesce(sum(delta), 0) FROM pgbench_history") == branches);
}
