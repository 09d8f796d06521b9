#include "core/node/prepare.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace kluster;

namespace {
std::string request(const std::string& sql, const std::string& params = "[]") {
  return fmt::format(R"({{"messageId":"m","clientId":"c","sqlString":{},"params":{}}})", ojson(sql).dump(), params);
}
} // namespace

TEST_CASE("ALL requests are refused identically before they run when they cannot be applied exactly once") {
  node::Preparer prep(nullptr, 1 << 20);
  struct Case {
    std::string sql;
    std::string_view code;
  };
  const std::vector<Case> cases = {
      {"BEGIN", code::TransactionControl},
      {"INSERT INTO t VALUES (1); COMMIT", code::TransactionControl},
      {"VACUUM t", code::NotTransactional},
      {"CREATE INDEX CONCURRENTLY i ON t (a)", code::NotTransactional},
      {"CREATE TABLE s (id serial PRIMARY KEY)", code::Nondeterministic},
      {"SELEC 1", code::SyntaxError},
      {"SELECT $1, $2", code::ParamMismatch},
  };
  for (const auto& c : cases) {
    INFO(c.sql);
    auto p = prep.forAll(request(c.sql), 10, 1000);
    REQUIRE(p.refusal);
    CHECK(p.refusal->resultCode == c.code);
  }
}

TEST_CASE("current time is pinned to the message timestamp and random() is seeded from the offset") {
  node::Preparer prep(nullptr, 1 << 20);
  auto p = prep.forAll(request("INSERT INTO t VALUES (now(), random())"), 41, 1764140400123);
  REQUIRE_FALSE(p.refusal);
  REQUIRE(p.work.statements.size() == 1);
  CHECK(p.work.statements[0].sql.find("now()") == std::string::npos);
  CHECK(p.work.statements[0].sql.find("2025-11-26") != std::string::npos);
  REQUIRE(p.work.randomSeed);
  CHECK(*p.work.randomSeed == node::randomSeedFor(41));
  CHECK(*p.work.randomSeed >= -1.0);
  CHECK(*p.work.randomSeed <= 1.0);
  CHECK(node::randomSeedFor(41) != node::randomSeedFor(42));
}

TEST_CASE("parameters bind per statement and multi-statement requests split") {
  node::Preparer prep(nullptr, 1 << 20);
  auto p = prep.forAll(request("INSERT INTO t VALUES ($1, $2); UPDATE t SET b = $2", R"([1, null])"), 1, 1);
  REQUIRE_FALSE(p.refusal);
  REQUIRE(p.work.statements.size() == 2);
  CHECK(p.work.statements[0].params.size() == 2);
  CHECK(*p.work.statements[0].params[0] == "1");
  CHECK_FALSE(p.work.statements[0].params[1]);
  CHECK(p.work.statements[1].params.size() == 2);
}

TEST_CASE("ONE requests are not refused for writing: PostgreSQL refuses them read-only") {
  node::Preparer prep(nullptr, 1 << 20);
  auto p = prep.forOne(request("INSERT INTO t VALUES (1)"));
  CHECK_FALSE(p.refusal);
  CHECK(p.work.statements.size() == 1);
}
