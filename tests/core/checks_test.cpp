#include "core/checks.hpp"
#include "core/ops/activity.hpp"

#include <catch2/catch.hpp>

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

const db::TableChecksum kItems{"public.items", 10, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
const db::TableChecksum kItemsChanged{"public.items", 10, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"};
const db::TableChecksum kPeople{"public.people", 3, "cccccccccccccccccccccccccccccccc"};

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
