#include "core/ops/health.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using namespace kluster::ops;

namespace {

constexpr std::int64_t kNow = 2'000'000;

NodeHealth node(const std::string& id, std::int64_t applied, std::int64_t lastMs, std::int64_t logEnd = 101) {
  NodeHealth n;
  n.nodeId = id;
  n.group = "c.node." + id;
  n.groupState = "Stable";
  n.member = true;
  n.committed = applied + 1;
  n.lastAllOffset = applied;
  n.applied = applied;
  n.lag = allLag(n.applied, 0, logEnd);
  n.lastAllResponseMs = lastMs;
  return n;
}

Thresholds thresholds(std::int64_t maxLag = 10, std::chrono::milliseconds silentAfter = std::chrono::seconds(5)) {
  Thresholds t;
  t.maxLag = maxLag;
  t.silentAfter = silentAfter;
  return t;
}

NodeState stateOf(const std::vector<NodeHealth>& nodes, const std::string& id) {
  for (const auto& n : nodes)
    if (n.nodeId == id) return n.state;
  FAIL("no node " << id);
  return NodeState::Ok;
}

} // namespace

TEST_CASE("applied offset and lag: committed is the next offset, answers may be ahead of it") {
  CHECK(appliedOffset(101, std::nullopt) == 100);
  CHECK(appliedOffset(101, 150) == 150); // answered beyond the last commit (it commits after each batch)
  CHECK(appliedOffset(101, 50) == 100);  // an old answer does not pull it back
  CHECK(appliedOffset(0, std::nullopt) == std::nullopt);
  CHECK(appliedOffset(-1, 7) == 7);
  CHECK(allLag(100, 0, 101) == 0);
  CHECK(allLag(90, 0, 101) == 10);
  CHECK(allLag(std::nullopt, 5, 101) == 96); // nothing applied: everything retained is ahead
  CHECK(allLag(200, 0, 101) == 0);           // never negative (log end read before the answer)
  CHECK(committedLag(-1, 10) == std::nullopt);
  CHECK(committedLag(4, 10) == 6);
}

TEST_CASE("nodes that keep up are ok, also when the whole cluster is idle") {
  std::vector<NodeHealth> nodes{node("node1", 100, kNow - 60'000), node("node2", 100, kNow - 60'000)};
  classify(nodes, {}, thresholds(), kNow, kNow - 120'000);
  CHECK(stateOf(nodes, "node1") == NodeState::Ok);
  CHECK(stateOf(nodes, "node2") == NodeState::Ok);
  CHECK(nodes[0].reasons.empty());
}

TEST_CASE("a node that stopped answering while others went on is silent, not before --silent-after") {
  std::vector<NodeHealth> nodes{node("node1", 100, kNow - 100), node("node2", 95, kNow - 4'000),
                                node("node3", 100, kNow - 100)};
  classify(nodes, {}, thresholds(), kNow, kNow - 60'000);
  CHECK(stateOf(nodes, "node2") == NodeState::Ok); // 4 s < 5 s
  nodes[1].lastAllResponseMs = kNow - 6'000;
  classify(nodes, {}, thresholds(), kNow, kNow - 60'000);
  CHECK(stateOf(nodes, "node2") == NodeState::Silent);
  CHECK(stateOf(nodes, "node1") == NodeState::Ok);
  REQUIRE(nodes[1].reasons.size() == 1);
  CHECK(nodes[1].reasons[0].find("node2 silent") == 0);
  CHECK(nodes[1].reasons[0].find("6.0s") != std::string::npos);

  // No answer at all in the history read: quiet at least since its start.
  nodes[1].lastAllResponseMs.reset();
  classify(nodes, {}, thresholds(), kNow, kNow - 60'000);
  CHECK(stateOf(nodes, "node2") == NodeState::Silent);
  CHECK(nodes[1].reasons[0].find("at least 60.0s") != std::string::npos);
}

TEST_CASE("a quiet node that is as far as the others is not silent") {
  // node2 answered everything the others did, just earlier: nothing new came in since.
  std::vector<NodeHealth> nodes{node("node1", 100, kNow - 100), node("node2", 100, kNow - 30'000)};
  classify(nodes, {}, thresholds(), kNow, kNow - 60'000);
  CHECK(stateOf(nodes, "node2") == NodeState::Ok);
}

TEST_CASE("a node whose group has no member is stopped, whatever else holds") {
  std::vector<NodeHealth> nodes{node("node1", 100, kNow - 100), node("node2", 50, kNow - 60'000)};
  nodes[1].member = false;
  nodes[1].groupState = "Empty";
  classify(nodes, {}, thresholds(), kNow, kNow - 60'000);
  CHECK(stateOf(nodes, "node2") == NodeState::Stopped);
  // Lagging too, but stopped is what it is; both reasons are given.
  REQUIRE(nodes[1].reasons.size() == 2);
  CHECK(nodes[1].reasons[0].find("node2 stopped") == 0);
  CHECK(nodes[1].reasons[0].find("Empty") != std::string::npos);
  CHECK(nodes[1].reasons[1].find("node2 lagging: 50 ALL message(s) behind (max 10)") == 0);
}

TEST_CASE("lagging beyond --max-lag while still answering") {
  std::vector<NodeHealth> nodes{node("node1", 100, kNow - 100), node("node2", 80, kNow - 100)};
  classify(nodes, {}, thresholds(30), kNow, kNow - 60'000);
  CHECK(stateOf(nodes, "node2") == NodeState::Ok); // 20 <= 30
  classify(nodes, {}, thresholds(19), kNow, kNow - 60'000);
  CHECK(stateOf(nodes, "node2") == NodeState::Lagging);
}

TEST_CASE("diverged wins over every other state and names the request") {
  std::vector<NodeHealth> nodes{node("node1", 100, kNow - 100), node("node2", 100, kNow - 100),
                                node("node3", 10, kNow - 100)};
  nodes[2].member = false;
  Divergence d;
  d.requestId = "r42";
  d.allOffset = 42;
  d.hashes = {{"aaa", {"node1", "node2"}}, {"bbb", {"node3"}}};
  d.majorityHash = "aaa";
  d.divergedNodes = {"node3"};
  classify(nodes, {d}, thresholds(), kNow, kNow - 60'000);
  CHECK(stateOf(nodes, "node1") == NodeState::Ok);
  CHECK(stateOf(nodes, "node3") == NodeState::Diverged);
  CHECK(nodes[2].reasons[0] ==
        "node3 diverged: request r42 (ALL offset 42) answered with resultHash bbb, the majority aaa");
}

TEST_CASE("a snapshot from positions and activity, and its JSON shape") {
  ClusterPositions positions;
  positions.cluster = "c";
  positions.allLogStart = 0;
  positions.allLogEnd = 101;
  GroupPosition g1{"c.node.node1", "node1", "c.ALL", "Stable", true, {{0, 101, 0, 101}}};
  GroupPosition g2{"c.node.node2", "node2", "c.ALL", "Empty", false, {{0, 61, 0, 101}}};
  positions.nodes = {g1, g2};
  positions.one = {"c.one", "", "c.ONE", "Stable", true, {{0, 5, 0, 7}, {1, -1, 0, 0}}};

  ActivityTracker::Limits limits;
  limits.window = std::chrono::seconds(10);
  ActivityTracker activity(limits, kNow - 10'000);
  for (int i = 0; i < 20; ++i) {
    Response r;
    r.nodeId = "node1";
    r.requestId = "r" + std::to_string(81 + i);
    r.requestTopic = "ALL";
    r.allOffset = 81 + i;
    r.resultHash = "h";
    activity.addResponse(r, kNow - 5'000 + i * 100);
  }
  ErrorEvent e;
  e.nodeId = "node2";
  e.code = "NODE_ERROR";
  e.severity = "fatal";
  e.message = "disk full";
  e.timestampMs = kNow - 1'000;
  activity.addError(e);

  auto s = assess(positions, activity, thresholds(10, std::chrono::seconds(5)), kNow);
  REQUIRE(s.nodes.size() == 2);
  CHECK(s.nodes[0].state == NodeState::Ok);
  CHECK(s.nodes[0].applied == 100);
  CHECK(s.nodes[0].responsesPerSec == Approx(2.0));
  CHECK(s.nodes[1].state == NodeState::Stopped);
  CHECK(s.nodes[1].lag == 40);
  CHECK(s.nodes[1].errorsPerSec == Approx(0.1));
  CHECK_FALSE(s.healthy());
  CHECK(s.problems.size() == 2); // stopped and lagging

  const auto j = toJson(s);
  for (const char* key : {"cluster", "time", "timestampMs", "windowMs", "thresholds", "all", "healthy", "problems",
                          "nodes", "one", "divergences", "errors"})
    CHECK(j.contains(key));
  CHECK(j["healthy"] == false);
  CHECK(j["all"]["logEnd"] == 101);
  CHECK(j["thresholds"]["silentAfterMs"] == 5000);
  const auto& n2 = j["nodes"][1];
  CHECK(n2["nodeId"] == "node2");
  CHECK(n2["state"] == "stopped");
  CHECK(n2["member"] == false);
  CHECK(n2["groupState"] == "Empty");
  CHECK(n2["committedOffset"] == 61);
  CHECK(n2["appliedOffset"] == 60);
  CHECK(n2["lastAllOffset"].is_null());
  CHECK(n2["lastAllResponse"].is_null());
  CHECK(n2["lag"] == 40);
  CHECK(n2["reasons"].size() == 2);
  const auto& n1 = j["nodes"][0];
  CHECK(n1["sinceLastAllResponseMs"] == 3'100);
  CHECK(n1["lastAllOffset"] == 100);
  CHECK(j["one"]["partitions"][0]["lag"] == 2);
  CHECK(j["one"]["partitions"][1]["lag"].is_null());
  REQUIRE(j["errors"].size() == 1);
  CHECK(j["errors"][0]["code"] == "NODE_ERROR");
  CHECK(j["errors"][0]["nodeId"] == "node2");
  CHECK(j["errors"][0]["time"].get<std::string>().back() == 'Z');
  CHECK(j["divergences"].is_array());
}

TEST_CASE("no node groups at all is a problem to alert on") {
  ClusterPositions positions;
  positions.cluster = "c";
  ActivityTracker activity({}, kNow - 60'000);
  auto s = assess(positions, activity, thresholds(), kNow);
  CHECK_FALSE(s.healthy());
  REQUIRE(s.problems.size() == 1);
  CHECK(s.problems[0].find("no node groups") == 0);
}
