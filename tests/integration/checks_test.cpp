// Continuous verification against a real cluster: the nodes checksum their tables at the same ALL offsets and
// agree while nothing is wrong; a row changed by hand on one node, with no client writing, is reported by that
// node on ERRORS and by `monitor` (state diverged, naming the table) within a few check periods, without
// `verify`; once the row is put back, the next full check clears it. Incremental checks: a table no request
// writes is not summed again between full checks (its published sums say where they come from), the nodes agree
// all the same, and a row changed by hand in it is found at the next full check, the report naming the table and
// the key range (bucket) that holds the row.
#include "core/checks.hpp"
#include "core/db/adapter.hpp"
#include "core/kafka/admin.hpp"
#include "core/kafka/kafka.hpp"
#include "core/message.hpp"
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"
#include "support/topic_reader.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>
#include <set>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;

namespace {

constexpr auto kPeriod = std::chrono::seconds(2);

/// Runs `sql` on ALL, every node answering; returns its ALL offset.
std::int64_t all(TestCluster& c, const std::string& sql) {
  auto r = c.exec({"--to", "ALL", "--wait", "all", "-o", "json", sql});
  INFO(sql << "\n" << r.err);
  REQUIRE(r.exitCode == 0);
  return parseJson(r.out)[0]["allOffset"].get<std::int64_t>();
}

CommandResult monitor(const TestCluster& c, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"monitor", "--brokers", c.brokers(), "--cluster", c.name(), "--window", "30s"};
  argv.insert(argv.end(), args.begin(), args.end());
  return TestCluster::klusterctl(argv, std::chrono::seconds(60));
}

std::string nodeState(const json& snap, const std::string& id) {
  for (const auto& n : snap["nodes"])
    if (n["nodeId"] == id) return n["state"];
  return "absent";
}

// The check results on RESPONSES, by ALL offset and node: the rounds at offsets after `after` (those before it
// checked the tables as the setup left them at the time).
std::map<std::int64_t, std::map<std::string, checks::Result>> checkResults(const TestCluster& c,
                                                                           std::chrono::milliseconds timeout,
                                                                           std::size_t roundsWanted,
                                                                           std::int64_t after = -1) {
  kafka::Admin admin(kafka::clientProperties(c.brokers(), {}));
  const auto partitions = admin.partitionCount(c.name() + ".RESPONSES");
  REQUIRE(partitions);
  std::map<std::int64_t, std::map<std::string, checks::Result>> rounds;
  auto complete = [&] {
    std::size_t n = 0;
    for (const auto& [_, results] : rounds) n += results.size() == 3 ? 1 : 0;
    return n >= roundsWanted;
  };
  readTopic(
      c.brokers(), c.name() + ".RESPONSES", util::responsePartition(checks::kClientId, *partitions), 0,
      [&](const std::vector<Record>& records) {
        rounds.clear();
        for (const auto& r : records) {
          if (r.key != checks::kClientId) continue;
          if (auto result = checks::Result::fromResponse(Response::fromJson(r.payload)))
            if (result->allOffset > after) rounds[result->allOffset][result->nodeId] = *result;
        }
        return complete();
      },
      timeout);
  return rounds;
}

} // namespace

TEST_CASE("continuous verification: identical nodes agree; a row changed by hand on one node is reported", "[checks]") {
  ClusterOptions options;
  // A full check every other period: a row changed by hand in a table no request writes is found by those.
  options.extraNodeConfig = fmt::format("check_interval = \"{}s\"\ncheck_full_every = 2", kPeriod.count());
  TestCluster cluster(options);
  all(cluster, "CREATE TABLE items (id int PRIMARY KEY, label text, price numeric(10,2), at timestamptz)");
  all(cluster, "CREATE TABLE notes (body text)"); // no primary key
  for (int i = 0; i < 5; ++i)
    all(cluster, fmt::format("INSERT INTO items SELECT g, 'row ' || g, g * 1.5, '2024-01-01'::timestamptz + g * "
                             "interval '1 hour' FROM generate_series({}, {}) g",
                             i * 200 + 1, i * 200 + 200));
  const auto setUp = all(cluster, "INSERT INTO notes SELECT 'note ' || g FROM generate_series(1, 50) g");

  SECTION("checks run on every node at the same offsets and agree") {
    // Writes and ticks both make checkpoints: wait for two rounds every node answered after the setup (on a slow
    // machine rounds also fall between its writes, before both tables exist).
    const auto rounds = checkResults(cluster, std::chrono::seconds(60), 2, setUp);
    std::size_t complete = 0;
    for (const auto& [offset, results] : rounds) {
      if (results.size() != 3) continue;
      ++complete;
      std::set<std::string> digests;
      for (const auto& [node, r] : results) {
        digests.insert(r.digest());
        std::set<std::string> tables;
        for (const auto& t : r.tables) tables.insert(t.table);
        CHECK(tables.count("public.items") == 1);
        CHECK(tables.count("public.notes") == 1);
        CHECK(tables.count("_kluster.applied") == 0); // Kluster's own bookkeeping is not compared
      }
      INFO("ALL offset " << offset);
      CHECK(digests.size() == 1);
    }
    CHECK(complete >= 2);
    auto healthy = monitor(cluster, {"--check"});
    INFO(healthy.out << healthy.err);
    CHECK(healthy.exitCode == 0);
  }

  SECTION("a change made by hand on node2 is reported by node2 and by monitor, and cleared once undone") {
    REQUIRE(checkResults(cluster, std::chrono::seconds(60), 1).size() >= 1); // the checks run
    cluster.query(2, "UPDATE items SET label = 'changed by hand' WHERE id = 421");
    const auto changedAt = std::chrono::steady_clock::now();

    // No client writes from here on: the nodes' ticks make the checkpoints.
    json snap;
    const bool seen = waitUntil(
        [&] {
          auto r = monitor(cluster, {"--once", "-o", "json"});
          if (r.exitCode != 0) return false;
          snap = parseJson(r.out);
          return nodeState(snap, "node2") == "diverged";
        },
        std::chrono::seconds(60), std::chrono::milliseconds(500));
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - changedAt);
    INFO(snap.dump(2));
    REQUIRE(seen);
    WARN(fmt::format("monitor showed node2 diverged {} ms after the change (check period {} s)", took.count(),
                     kPeriod.count()));
    // A check period, the stagger of the ticks, the check itself and monitor's own run: well under 5 periods.
    CHECK(took < 5 * kPeriod + std::chrono::seconds(10));
    CHECK(nodeState(snap, "node1") == "ok");
    CHECK(nodeState(snap, "node3") == "ok");
    REQUIRE_FALSE(snap["divergences"].empty());
    const auto& d = snap["divergences"][0];
    CHECK(d["kind"] == "check");
    CHECK(d["divergedNodes"] == json::array({"node2"}));
    REQUIRE(d["tables"].size() == 1);
    CHECK(d["tables"][0].get<std::string>().rfind("public.items:", 0) == 0);

    // node2 reported itself on ERRORS; the others did not report anything.
    const bool reported = waitUntil(
        [&] {
          auto r = monitor(cluster, {"--once", "-o", "json", "--errors", "50"});
          if (r.exitCode != 0) return false;
          snap = parseJson(r.out);
          for (const auto& e : snap["errors"]) {
            if (e["code"] != "DIVERGED") continue;
            CHECK(e["nodeId"] == "node2");
            CHECK(e["message"].get<std::string>().find("public.items") != std::string::npos);
            return true;
          }
          return false;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(500));
    INFO(snap.dump(2));
    CHECK(reported);
    auto alert = monitor(cluster, {"--check"});
    CHECK(alert.exitCode == 1);
    CHECK(alert.out.find("node2 diverged: continuous verification") != std::string::npos);

    // Put back by hand: the next complete full check finds the nodes identical again.
    cluster.query(2, "UPDATE items SET label = 'row 421' WHERE id = 421");
    const bool cleared = waitUntil(
        [&] {
          auto r = monitor(cluster, {"--once", "-o", "json"});
          return r.exitCode == 0 && nodeState(parseJson(r.out), "node2") == "ok";
        },
        std::chrono::seconds(60), std::chrono::milliseconds(500));
    CHECK(cleared);
  }
}

TEST_CASE("incremental checks: a table no request writes is not summed again; a row changed by hand in it is found "
          "at the next full check, with its key range",
          "[checks]") {
  constexpr int kFullEvery = 4;
  ClusterOptions options;
  options.extraNodeConfig = fmt::format("check_interval = \"{}s\"\ncheck_full_every = {}", kPeriod.count(), kFullEvery);
  TestCluster cluster(options);
  all(cluster, "CREATE TABLE items (id int PRIMARY KEY, label text)");
  all(cluster, "CREATE TABLE ballast (id int PRIMARY KEY, label text)"); // written once, then only read
  all(cluster, "INSERT INTO ballast SELECT g, 'row ' || g FROM generate_series(1, 2000) g");
  const auto setUp = all(cluster, "INSERT INTO items VALUES (0, 'first')");
  // Writes to items only, across several check periods (full ones and incremental ones).
  const auto until = std::chrono::steady_clock::now() + 3 * kFullEvery * kPeriod;
  for (int id = 1; std::chrono::steady_clock::now() < until; ++id)
    all(cluster, fmt::format("INSERT INTO items VALUES ({}, 'row {}')", id, id));

  const auto rounds = checkResults(cluster, std::chrono::seconds(60), kFullEvery + 2, setUp);
  std::size_t complete = 0, reused = 0, full = 0;
  for (const auto& [offset, results] : rounds) {
    std::set<std::string> digests;
    for (const auto& [node, r] : results) {
      INFO(node << " at ALL offset " << offset << (r.full ? " (full)" : " (incremental)"));
      digests.insert(r.digest());
      REQUIRE(r.tables.size() == 2);
      const auto& ballast = r.tables[0];
      REQUIRE(ballast.table == "public.ballast");
      CHECK(ballast.rows == 2000);
      CHECK(ballast.buckets.size() == 32 * 8);
      CHECK(ballast.bucketOf == "hashtextextended(ROW(id)::text, 0) & 31");
      if (r.full) {
        ++full;
        CHECK(ballast.summedAt == offset);
      } else if (ballast.summedAt < offset) {
        ++reused; // not written since this node's previous check: not summed again
      }
    }
    if (results.size() != 3) continue;
    ++complete;
    INFO("ALL offset " << offset);
    CHECK(digests.size() == 1);
  }
  CHECK(complete >= kFullEvery);
  CHECK(full >= 3);
  CHECK(reused >= 3);

  // A row of ballast changed by hand on node2: no request writes ballast, so only a full check sums it again.
  const auto bucket = cluster.scalar(2, "SELECT hashtextextended(ROW(id)::text, 0) & 31 FROM ballast WHERE id = 421");
  cluster.query(2, "UPDATE ballast SET label = 'changed by hand' WHERE id = 421");
  const auto changedAt = std::chrono::steady_clock::now();
  std::string message, last;
  const bool reported = waitUntil(
      [&] {
        auto r = monitor(cluster, {"--once", "-o", "json", "--errors", "50"});
        last = r.out + r.err;
        if (r.exitCode != 0) return false;
        const auto snapshot = parseJson(r.out);
        for (const auto& e : snapshot["errors"])
          if (e["code"] == "DIVERGED" && e["nodeId"] == "node2") message = e["message"].get<std::string>();
        return !message.empty();
      },
      std::chrono::seconds(90), std::chrono::milliseconds(500));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - changedAt);
  INFO(message);
  INFO(last);
  REQUIRE(reported);
  WARN(fmt::format("node2 reported the change {} ms after it was made (check period {} s, a full check every {})",
                   took.count(), kPeriod.count(), kFullEvery));
  // At most kFullEvery periods to the next full checkpoint (ticks make them), then the check and the report.
  CHECK(took < (kFullEvery + 2) * kPeriod + std::chrono::seconds(10));
  CHECK(message.find("public.ballast: node1, node3 2000 rows") != std::string::npos);
  CHECK(message.find(fmt::format("first differing key range: bucket {} of 32 (hashtextextended(ROW(id)::text, 0) & "
                                 "31 = {}), 1 of 32 buckets differ",
                                 bucket, bucket)) != std::string::npos);
  CHECK(message.find("public.items") == std::string::npos);
  // The range the report names holds the row, and only rows of that range: listing it on node2 finds the change.
  const auto listed =
      cluster.scalar(2, fmt::format("SELECT string_agg(id::text, ',') FROM ballast WHERE label = 'changed by hand' AND "
                                    "hashtextextended(ROW(id)::text, 0) & 31 = {}",
                                    bucket));
  CHECK(listed == "421");
}

TEST_CASE("what a write may have changed, from the snapshot's catalog: the table it names, or any table when it may "
          "reach further",
          "[checks]") {
  ClusterOptions options;
  options.nodes = 1;
  options.start = false;
  TestCluster cluster(options);
  cluster.query(1, R"(
    CREATE TABLE plain (id int PRIMARY KEY, v text);
    CREATE TABLE checked (id int PRIMARY KEY, p int REFERENCES plain); -- a foreign key that only checks
    CREATE TABLE parent (id int PRIMARY KEY);
    CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent ON DELETE CASCADE);
    CREATE TABLE audited (id int PRIMARY KEY);
    CREATE TABLE audit (id int);
    CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NEW;
      END$$;
    CREATE TRIGGER log AFTER INSERT ON audited FOR EACH ROW EXECUTE FUNCTION log_it();
    CREATE TABLE parted (id int PRIMARY KEY) PARTITION BY RANGE (id);
    CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
    CREATE TABLE base (id int);
    CREATE TABLE derived (x int) INHERITS (base);
    CREATE VIEW plain_view AS SELECT * FROM plain;
    CREATE FUNCTION next_id() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1';
    CREATE TABLE defaulted (id int DEFAULT next_id());
    CREATE FUNCTION pure(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1';
    CREATE SCHEMA s;
    CREATE TABLE s.other (id int);
    INSERT INTO plain SELECT g, 'row ' || g FROM generate_series(1, 100) g;
  )");
  auto c = db::connect("postgresql", cluster.databaseUrl(1));
  c->ensureSchema();
  c->openSnapshot("checks");
  const auto tables = c->snapshotTables();
  CHECK(std::find(tables.begin(), tables.end(), "public.parted") != tables.end());
  CHECK(std::find(tables.begin(), tables.end(), "public.parted_1") == tables.end()); // in its root's sums
  using Names = std::optional<std::set<std::string>>;
  auto written = [&](std::set<std::pair<std::string, std::string>> t, std::set<std::string> f = {}) {
    return c->snapshotWritten({false, std::move(t), std::move(f)});
  };
  CHECK(written({{"", "plain"}}) == Names{{"public.plain"}}); // its foreign key's triggers on it only check
  CHECK(written({{"public", "checked"}, {"s", "other"}}) == Names{{"public.checked", "s.other"}});
  CHECK(written({{"", "parted_1"}}) == Names{{"public.parted"}});
  CHECK(written({{"", "child"}}) == Names{{"public.child"}});
  CHECK(written({{"", "plain"}}, {"pure", "lower"}) == Names{{"public.plain"}}); // functions that cannot write
  CHECK(written({}) == Names{std::set<std::string>{}});
  CHECK_FALSE(written({{"", "audited"}}));            // a trigger writes audit
  CHECK_FALSE(written({{"", "parent"}}));             // a cascading foreign key writes child
  CHECK_FALSE(written({{"", "base"}}));               // old-style inheritance
  CHECK_FALSE(written({{"", "plain_view"}}));         // a view writes its table
  CHECK_FALSE(written({{"", "missing"}}));            // not a table now
  CHECK_FALSE(written({{"", "defaulted"}}));          // a DEFAULT calls a volatile function
  CHECK_FALSE(written({{"", "plain"}}, {"next_id"})); // a volatile user-defined function may write anything
  CHECK_FALSE(c->snapshotWritten({true, {}, {}}));

  // A table's sums: the whole table's and its 32 buckets', the rows of each bucket as the expression selects them.
  const auto sum = c->snapshotChecksum("public.plain");
  CHECK(sum.rows == 100);
  CHECK(sum.checksum.size() == 32);
  CHECK(sum.bucketOf == "hashtextextended(ROW(id)::text, 0) & 31");
  REQUIRE(sum.buckets.size() == 32 * 8);
  const auto empty = c->snapshotChecksum("public.audit"); // no primary key, no rows
  CHECK(empty.rows == 0);
  CHECK(empty.bucketOf == "hashtextextended((audit.*)::text, 0) & 31");
  CHECK(empty.buckets == std::string(32 * 8, '0'));
  c->closeSnapshot();
  // A row changed: the table's checksum and exactly its bucket's digest change.
  const auto bucket =
      std::stoi(cluster.scalar(1, "SELECT hashtextextended(ROW(id)::text, 0) & 31 FROM plain WHERE id = 7"));
  cluster.query(1, "UPDATE plain SET v = 'changed' WHERE id = 7");
  c->openSnapshot("checks");
  c->snapshotTables();
  const auto changed = c->snapshotChecksum("public.plain");
  c->closeSnapshot();
  CHECK(changed.checksum != sum.checksum);
  const auto d = checks::differingBuckets({sum.buckets, changed.buckets});
  CHECK(d.first == bucket);
  CHECK(d.count == 1);
}
