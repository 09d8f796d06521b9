// The client library's pure parts: wait policies, membership from group listings, divergence.
#include "core/client/client.hpp"
#include "core/errors.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using client::WaitPolicy;

namespace {

Response response(const std::string& node, const std::string& code, ojson result, const std::string& sqlState = {}) {
  Response r;
  r.nodeId = node;
  r.resultCode = code;
  r.result = std::move(result);
  r.sqlState = sqlState;
  r.resultHash = outcomeHash(r);
  return r;
}

} // namespace

TEST_CASE("wait policies parse from their names or a count") {
  CHECK(WaitPolicy::parse("first").kind == WaitPolicy::Kind::First);
  CHECK(WaitPolicy::parse("all").kind == WaitPolicy::Kind::All);
  CHECK(WaitPolicy::parse("quorum").kind == WaitPolicy::Kind::Quorum);
  CHECK(WaitPolicy::parse("none").kind == WaitPolicy::Kind::None);
  auto two = WaitPolicy::parse("2");
  CHECK(two.kind == WaitPolicy::Kind::Count);
  CHECK(two.count == 2);
  CHECK_THROWS_AS(WaitPolicy::parse("0"), UsageError);
  CHECK_THROWS_AS(WaitPolicy::parse("2x"), UsageError);
  CHECK_THROWS_AS(WaitPolicy::parse("ALL"), UsageError);
  CHECK_THROWS_AS(WaitPolicy::parse(""), UsageError);
}

TEST_CASE("members are the active node groups of this cluster only") {
  Topics topics{"c1"};
  std::vector<std::pair<std::string, bool>> groups = {{"c1.node.b", true},        {"c1.node.a", true},
                                                      {"c1.node.stopped", false}, {"c1.one", true},
                                                      {"c10.node.x", true},       {"c1.node.", true}};
  CHECK(client::membersFromGroups(topics, groups) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("an OK response and an error response to the same request diverge") {
  // What a node computes: an error's hash covers its code and SQLSTATE, so it never equals an OK hash.
  auto ok = response("node1", "OK", ojson::parse(R"({"rowsAffected": 1})"));
  auto error = response("node3", "CONSTRAINT_VIOLATION", nullptr, "23505");
  CHECK(ok.resultHash != error.resultHash);
  CHECK(client::responsesDiverge({ok, error}));
  // Even when a response carries no hash, differing codes are a divergence.
  error.resultHash.clear();
  CHECK(client::responsesDiverge({ok, error}));
}

TEST_CASE("equal outcomes agree, different rows diverge") {
  auto a = response("node1", "OK", ojson::parse(R"([{"n": 1}])"));
  auto b = response("node2", "OK", ojson::parse(R"([{"n": 1}])"));
  auto c = response("node3", "OK", ojson::parse(R"([{"n": 2}])"));
  CHECK_FALSE(client::responsesDiverge({a, b}));
  CHECK(client::responsesDiverge({a, b, c}));
  // The same error everywhere is agreement: every node refused the request alike.
  auto e1 = response("node1", "SYNTAX_ERROR", nullptr, "42601");
  auto e2 = response("node2", "SYNTAX_ERROR", nullptr, "42601");
  CHECK_FALSE(client::responsesDiverge({e1, e2}));
  CHECK_FALSE(client::responsesDiverge({a}));
  CHECK_FALSE(client::responsesDiverge({}));
}

TEST_CASE("a result's ALL offset is the highest its responses carry") {
  client::Result r;
  CHECK_FALSE(r.allOffset());
  r.responses.push_back(response("node1", "OK", nullptr));
  CHECK_FALSE(r.allOffset());
  r.responses.back().allOffset = 7;
  r.responses.push_back(response("node2", "OK", nullptr));
  r.responses.back().allOffset = 9;
  CHECK(r.allOffset() == 9);
}

TEST_CASE("a result is all OK only when complete, agreeing and free of errors") {
  client::Result r;
  CHECK_FALSE(r.allOk()); // nothing came
  r.responses.push_back(response("node1", "OK", nullptr));
  CHECK(r.allOk());
  r.timedOut = true;
  CHECK_FALSE(r.allOk());
  r.timedOut = false;
  r.responses.push_back(response("node2", "UNDEFINED_OBJECT", nullptr, "42P01"));
  CHECK_FALSE(r.allOk());
}
