#include "core/checks.hpp"
#include "core/node/checker.hpp"
#include "core/ops/activity.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>

using namespace kluster;
using namespace kluster::checks;

namespace {

Result result(const std::string& node, std::int64_t offset, std::vector<db::TableChecksum> tables) {
  Result r;
  r.nodeId = node;
  r.allOffset = offset;
  r.tables = std::move(tables);
  return r;
}

const db::TableChecksum kItems{"public.items", 10, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", "", -1};
const db::TableChecksum kItemsChanged{"public.items", 10, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "", "", -1};
const db::TableChecksum kPeople{"public.people", 3, "cccccccccccccccccccccccccccccccc", "", "", -1};

// Bucket digests: every bucket "0000000N" (N the bucket), but those in `changed` are "ffffffff".
std::string buckets(std::initializer_list<int> changed = {}) {
  std::string out;
  for (int i = 0; i < kBuckets; ++i)
    out += std::find(changed.begin(), changed.end(), i) != changed.end() ? "ffffffff" : fmt::format("{:08x}", i);
  return out;
}

db::TableChecksum items(const std::string& checksum, const std::string& bucketDigests) {
  return {"public.items", 10, checksum, bucketDigests, "hashtextextended(ROW(id)::text, 0) & 31", 7};
}

std::string request(const std::string& sql) {
  return fmt::format(R"({{"messageId":"m","clientId":"c","sqlString":{}}})", ojson(sql).dump());
}

} // namespace

TEST_CASE("checkpoints: the first message of each later period, whatever order the timestamps come in") {
  Schedule s(std::chrono::seconds(10));
  CHECK_FALSE(s.at(1'000)); // the first message read: the one before it is unknown
  CHECK_FALSE(s.at(9'999));
  CHECK(s.at(10'000));
  CHECK_FALSE(s.at(15'000));
  CHECK_FALSE(s.at(9'000)); // a producer whose clock is behind: not a new period
  CHECK_FALSE(s.at(19'999));
  CHECK(s.at(45'000)); // periods without messages are skipped
  s.forget();
  CHECK_FALSE(s.at(60'000));
  CHECK(s.at(70'000));

  Schedule off(std::chrono::milliseconds(0));
  CHECK_FALSE(off.at(0));
  CHECK_FALSE(off.at(1'000'000));
}

TEST_CASE("check results travel as responses and back") {
  auto r = result("node2", 41, {kItems, kPeople});
  r.durationMs = 12;
  const auto response = Response::fromJson(r.toResponse().toJson());
  CHECK(response.clientId == kClientId);
  CHECK(response.requestTopic == "CHECK");
  CHECK(response.allOffset == 41);
  CHECK(response.resultHash == r.digest());
  auto back = Result::fromResponse(response);
  REQUIRE(back);
  CHECK(back->nodeId == "node2");
  CHECK(back->tables == r.tables);
  CHECK(back->digest() == r.digest());

  Response ordinary;
  ordinary.nodeId = "node1";
  ordinary.requestTopic = "ALL";
  ordinary.allOffset = 3;
  CHECK_FALSE(Result::fromResponse(ordinary));
}

TEST_CASE("comparing results names the node outside the majority and the table that differs") {
  auto v = compare({result("node1", 7, {kItems, kPeople}), result("node2", 7, {kItemsChanged, kPeople}),
                    result("node3", 7, {kItems, kPeople})});
  CHECK(v.majority);
  CHECK(v.differing == std::vector<std::string>{"node2"});
  REQUIRE(v.tableNames == std::vector<std::string>{"public.items"});
  CHECK(v.tables[0] == "public.items: node1, node3 10 rows (aaaaaaaa); node2 10 rows (bbbbbbbb)");

  auto missing = compare({result("node1", 7, {kItems, kPeople}), result("node2", 7, {kItems})});
  CHECK_FALSE(missing.majority);
  CHECK(missing.differing == std::vector<std::string>{"node1", "node2"});
  CHECK(missing.tableNames == std::vector<std::string>{"public.people"});

  CHECK(compare({result("node1", 7, {kItems}), result("node2", 7, {kItems})}).identical());
}

TEST_CASE("rounds: the newest complete round counts") {
  Rounds rounds(4);
  rounds.add(result("node1", 10, {kItems}));
  rounds.add(result("node2", 10, {kItems}));
  rounds.add(result("node3", 10, {kItemsChanged}));
  CHECK(rounds.complete(10));
  auto v = rounds.latest();
  REQUIRE(v);
  CHECK(v->differing == std::vector<std::string>{"node3"});

  // A newer round with only some results is not complete yet: the older verdict stands.
  rounds.add(result("node1", 20, {kItems}));
  rounds.add(result("node2", 20, {kItems}));
  CHECK_FALSE(rounds.complete(20));
  CHECK(rounds.latest()->allOffset == 10);
  rounds.add(result("node3", 20, {kItems})); // node3 was restored
  CHECK(rounds.latest()->identical());

  for (std::int64_t offset = 30; offset < 80; offset += 10) rounds.add(result("node1", offset, {kItems}));
  CHECK(rounds.at(10).empty()); // only the last four rounds are kept
}

TEST_CASE("monitor's tracker reports a check divergence with its table") {
  ops::ActivityTracker tracker({}, 0);
  tracker.addResponse(result("node1", 5, {kItems}).toResponse(), 1000);
  tracker.addResponse(result("node2", 5, {kItemsChanged}).toResponse(), 1000);
  tracker.addResponse(result("node3", 5, {kItems}).toResponse(), 1000);
  const auto d = tracker.divergences();
  REQUIRE(d.size() == 1);
  CHECK(d[0].check);
  CHECK(d[0].allOffset == 5);
  CHECK(d[0].divergedNodes == std::vector<std::string>{"node2"});
  REQUIRE(d[0].tables.size() == 1);
  CHECK(d[0].tables[0].rfind("public.items:", 0) == 0);
  // Check results are not answers to requests: no rates, no lastAllOffset.
  CHECK(tracker.node("node1", 2000).responses == 0);
}

TEST_CASE("full checkpoints: those whose period starts a later group of check_full_every periods, from the log") {
  Schedule s(std::chrono::seconds(10), 3);
  CHECK_FALSE(s.at(5'000)); // period 0, the first message read
  REQUIRE(s.at(10'000));    // period 1: group 0 still
  CHECK_FALSE(s.full());
  REQUIRE(s.at(25'000)); // period 2
  CHECK_FALSE(s.full());
  REQUIRE(s.at(30'000)); // period 3: group 1
  CHECK(s.full());
  REQUIRE(s.at(41'000));
  CHECK_FALSE(s.full());
  REQUIRE(s.at(95'000)); // periods 5..8 had no message: group 3 is still a new group, whichever period starts it
  CHECK(s.full());

  // Two nodes that read the same timestamps pick the same full checkpoints, whenever each one started reading.
  Schedule a(std::chrono::seconds(1), 4), b(std::chrono::seconds(1), 4);
  std::vector<bool> fullA, fullB;
  for (std::int64_t ts = 0; ts < 20'000; ts += 700) {
    if (a.at(ts)) fullA.push_back(a.full());
    if (ts >= 3'500 && b.at(ts)) fullB.push_back(b.full());
  }
  REQUIRE(fullB.size() < fullA.size());
  CHECK(std::equal(fullB.rbegin(), fullB.rend(), fullA.rbegin()));

  Schedule every(std::chrono::seconds(10)); // check_full_every = 1
  every.at(0);
  REQUIRE(every.at(10'000));
  CHECK(every.full());
}

TEST_CASE("buckets: the first bucket whose digests differ, and how many do") {
  CHECK(differingBuckets({buckets(), buckets(), buckets()}).first == -1);
  auto d = differingBuckets({buckets(), buckets({5, 17}), buckets()});
  CHECK(d.first == 5);
  CHECK(d.count == 2);
  d = differingBuckets({buckets({31}), buckets()});
  CHECK(d.first == 31);
  CHECK(d.count == 1);
  d = differingBuckets({buckets({0}), buckets({3}), buckets({3})});
  CHECK(d.first == 0);
  CHECK(d.count == 2);
  // A node without buckets (MariaDB, an older node) or of another size: not known.
  CHECK(differingBuckets({buckets(), ""}).first == -1);
  CHECK(differingBuckets({buckets(), buckets().substr(8)}).first == -1);
  CHECK(differingBuckets({buckets()}).first == -1);
}

TEST_CASE("a table that differs is narrowed down to its first differing key range") {
  const auto a = std::string(32, 'a'), b = std::string(32, 'b');
  auto v = compare({result("node1", 7, {items(a, buckets()), kPeople}),
                    result("node2", 7, {items(b, buckets({9, 12})), kPeople}),
                    result("node3", 7, {items(a, buckets()), kPeople})});
  CHECK(v.differing == std::vector<std::string>{"node2"});
  REQUIRE(v.tables.size() == 1);
  CHECK(v.tables[0] == "public.items: node1, node3 10 rows (aaaaaaaa); node2 10 rows (bbbbbbbb); first differing key "
                       "range: bucket 9 of 32 (hashtextextended(ROW(id)::text, 0) & 31 = 9), 2 of 32 buckets differ");
  CHECK(v.firstBuckets == std::vector<int>{9});

  // Results travel with their buckets, the expression and where each sum comes from.
  auto r = result("node2", 7, {items(b, buckets({9}))});
  r.full = false;
  auto back = Result::fromResponse(Response::fromJson(r.toResponse().toJson()));
  REQUIRE(back);
  CHECK(back->tables == r.tables);
  CHECK_FALSE(back->full);
  CHECK(back->digest() == result("node2", 7, {items(b, "")}).digest()); // buckets are not in the digest
}

TEST_CASE("what a request may write, from the request alone") {
  node::Preparer prep(db::adapter("postgresql"), 1 << 20);
  auto w =
      node::Checker::writesOf(prep.forAll(request("INSERT INTO items VALUES (1); UPDATE s.other SET a = 1"), 1, 1));
  CHECK_FALSE(w.everything);
  CHECK(w.tables == std::set<std::pair<std::string, std::string>>{{"", "items"}, {"s", "other"}});
  CHECK(w.functions.empty());

  w = node::Checker::writesOf(prep.forAll(request("UPDATE items SET a = f(a)"), 2, 1));
  CHECK(w.functions == std::set<std::string>{"f"});

  for (const auto* sql : {"CREATE TABLE t (a int)", "TRUNCATE items", "ALTER TABLE items ADD COLUMN b int"}) {
    INFO(sql);
    CHECK(node::Checker::writesOf(prep.forAll(request(sql), 3, 1)).everything);
  }

  db::Writes all;
  all.merge(w);
  CHECK(all.tables.size() == 1);
  CHECK(all.functions.size() == 1);
  all.merge({true, {}, {}});
  CHECK(all.everything);
  CHECK(all.functions.empty());
  CHECK_FALSE(all.empty());
  CHECK(db::Writes{}.empty());
}
