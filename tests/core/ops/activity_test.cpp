#include "core/ops/activity.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using namespace kluster::ops;

namespace {

Response allResponse(const std::string& node, std::int64_t offset, const std::string& hash,
                     const std::string& requestId = "") {
  Response r;
  r.nodeId = node;
  r.requestId = requestId.empty() ? "req-" + std::to_string(offset) : requestId;
  r.requestTopic = "ALL";
  r.allOffset = offset;
  r.resultHash = hash;
  return r;
}

Response oneResponse(const std::string& node) {
  Response r;
  r.nodeId = node;
  r.requestId = "read";
  r.requestTopic = "ONE";
  r.resultHash = "h";
  return r;
}

constexpr std::int64_t kStart = 1'000'000;

} // namespace

TEST_CASE("rate windows count events per second and forget what falls out") {
  RateWindow w;
  w.add(10'500);
  w.add(10'900);
  w.add(12'100);
  w.add(11'000); // out of order: from another partition
  CHECK(w.countSince(10'000) == 4);
  CHECK(w.countSince(11'000) == 2);
  CHECK(w.countSince(12'000) == 1);
  w.expire(12'000);
  CHECK(w.countSince(0) == 1);
}

TEST_CASE("the tracker keeps each node's latest ALL answer and its rates over the window") {
  ActivityTracker::Limits limits;
  limits.window = std::chrono::seconds(10);
  ActivityTracker t(limits, kStart);
  for (int i = 0; i < 20; ++i) {
    t.addResponse(allResponse("node1", i, "h"), kStart + i * 500);
    if (i < 10) t.addResponse(allResponse("node2", i, "h"), kStart + i * 500);
  }
  t.addResponse(oneResponse("node2"), kStart + 9'900);

  const auto now = kStart + 10'000;
  auto n1 = t.node("node1", now);
  CHECK(n1.lastAllOffset == 19);
  CHECK(n1.lastAllResponseMs == kStart + 9'500);
  CHECK(n1.responses == 20);
  auto n2 = t.node("node2", now);
  CHECK(n2.lastAllOffset == 9);
  CHECK(n2.lastAllResponseMs == kStart + 4'500); // the ONE answer is not an ALL answer
  CHECK(n2.responses == 11);
  CHECK(t.observedWindow(now) == std::chrono::seconds(10));
  // Less history than the window: rates are over what was observed.
  CHECK(t.observedWindow(kStart + 4'000) == std::chrono::seconds(4));

  // Ten seconds later the old answers no longer count, but the latest answer is remembered.
  t.expire(now + 10'000);
  auto later = t.node("node1", now + 10'000);
  CHECK(later.responses == 0);
  CHECK(later.lastAllOffset == 19);
  CHECK(t.node("nobody", now).responses == 0);
}

TEST_CASE("answers that differ for the same ALL request are a divergence, majority named") {
  ActivityTracker t({}, kStart);
  t.addResponse(allResponse("node1", 7, "aaa", "r7"), kStart);
  t.addResponse(allResponse("node2", 7, "aaa", "r7"), kStart + 1);
  CHECK(t.divergences().empty());
  t.addResponse(allResponse("node3", 7, "bbb", "r7"), kStart + 2);
  t.addResponse(allResponse("node3", 8, "ccc"), kStart + 3); // agreeing elsewhere changes nothing
  t.addResponse(allResponse("node1", 8, "ccc"), kStart + 3);

  auto d = t.divergences();
  REQUIRE(d.size() == 1);
  CHECK(d[0].requestId == "r7");
  CHECK(d[0].allOffset == 7);
  CHECK(d[0].majorityHash == "aaa");
  CHECK(d[0].divergedNodes == std::vector<std::string>{"node3"});
  REQUIRE(d[0].hashes.size() == 2);
  CHECK(d[0].hashes[0].first == "aaa");
  CHECK(d[0].hashes[0].second == std::vector<std::string>{"node1", "node2"});
  CHECK(d[0].hashes[1].second == std::vector<std::string>{"node3"});

  // A fourth node answering later still joins the comparison.
  t.addResponse(allResponse("node4", 7, "bbb", "r7"), kStart + 4);
  d = t.divergences();
  REQUIRE(d.size() == 1);
  CHECK(d[0].majorityHash.empty()); // 2 against 2: no majority, everyone involved is flagged
  CHECK(d[0].divergedNodes == std::vector<std::string>{"node1", "node2", "node3", "node4"});
}

TEST_CASE("a node answering the same request twice counts once") {
  ActivityTracker t({}, kStart);
  t.addResponse(allResponse("node1", 3, "aaa"), kStart);
  t.addResponse(allResponse("node1", 3, "aaa"), kStart + 1);
  t.addResponse(allResponse("node2", 3, "aaa"), kStart + 2);
  CHECK(t.divergences().empty());
}

TEST_CASE("memory stays bounded: old requests and divergences are dropped first") {
  ActivityTracker::Limits limits;
  limits.trackedRequests = 10;
  limits.divergences = 3;
  ActivityTracker t(limits, kStart);
  for (int i = 0; i < 100; ++i) {
    t.addResponse(allResponse("node1", i, "x"), kStart + i);
    t.addResponse(allResponse("node2", i, i % 10 == 0 ? "y" : "x"), kStart + i);
  }
  auto d = t.divergences();
  REQUIRE(d.size() == 3);
  CHECK(d[0].allOffset == 90); // newest first
  CHECK(d[1].allOffset == 80);
  CHECK(d[2].allOffset == 70);
}

TEST_CASE("the error feed keeps the newest reports, newest first, and counts them per node") {
  ActivityTracker::Limits limits;
  limits.errors = 3;
  ActivityTracker t(limits, kStart);
  for (int i = 0; i < 5; ++i) {
    ErrorEvent e;
    e.nodeId = "node2";
    e.code = "TRANSIENT";
    e.message = "error " + std::to_string(i);
    e.timestampMs = kStart + (i == 4 ? 50 : i * 100); // the last one arrives late but is older
    t.addError(e);
  }
  const auto& feed = t.recentErrors();
  REQUIRE(feed.size() == 3);
  CHECK(feed[0].message == "error 3");
  CHECK(feed[1].message == "error 2");
  CHECK(feed[2].message == "error 1");
  CHECK(t.node("node2", kStart + 1000).errors == 5);
}

TEST_CASE("ERRORS payloads parse into events; anything else is refused") {
  auto e = parseErrorReport(
      R"({"version":1,"nodeId":"node2","code":"NODE_ERROR","severity":"fatal","message":"disk full",)"
      R"("requestId":"r1","requestTopic":"ALL","offset":12,"sqlState":"53100","timestamp":1700000000000})",
      5);
  REQUIRE(e);
  CHECK(e->nodeId == "node2");
  CHECK(e->code == "NODE_ERROR");
  CHECK(e->severity == "fatal");
  CHECK(e->offset == 12);
  CHECK(e->sqlState == "53100");
  CHECK(e->timestampMs == 1700000000000);
  auto noTime = parseErrorReport(R"({"nodeId":"n","code":"TRANSIENT","message":"m"})", 5);
  REQUIRE(noTime);
  CHECK(noTime->timestampMs == 5);
  CHECK_FALSE(parseErrorReport("not json", 5));
  CHECK_FALSE(parseErrorReport(R"(["array"])", 5));
  CHECK_FALSE(parseErrorReport(R"({"nodeId":"n"})", 5));
}
