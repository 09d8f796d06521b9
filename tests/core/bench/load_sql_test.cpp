// bench load's end check on MariaDB (src/core/bench/load_sql.*): the order-independent sum over the keys that the
// SQL computes on every node must be computed identically by the client (values from Python's hashlib), and a node
// whose rows or hot-row updates differ must fail the check.
#include "core/bench/load_sql.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace kluster;
using namespace kluster::bench;

TEST_CASE("idSum adds the first 15 hex digits of each key's sha256, exactly past 10^18", "[bench]") {
  CHECK(idSum({}).empty()); // SUM over no rows is NULL
  CHECK(idSum({"053caa8f-952a-4a3f-8c5d-3eac6e40f133"}) == "874687466968193008");
  CHECK(idSum({"053caa8f-952a-4a3f-8c5d-3eac6e40f133", "2b0f4c1e-6a47-4f7c-9d55-0a4b8e2f6c11"}) ==
        "968899222224245249");
  std::vector<std::string> ids;
  for (int k = 0; k < 20; ++k) ids.push_back(fmt::format("{:08x}-0000-4000-8000-{:012x}", k, k));
  CHECK(idSum(ids) == "12275264803434662138");
}

TEST_CASE("the MariaDB check passes only for exactly the applied rows and updates", "[bench]") {
  const std::vector<std::string> ids{"053caa8f-952a-4a3f-8c5d-3eac6e40f133", "2b0f4c1e-6a47-4f7c-9d55-0a4b8e2f6c11"};
  const std::map<int, std::int64_t> hot{{3, 2}, {7, 1}};
  auto answer = [](std::string rows, std::string sum, std::vector<std::pair<int, int>> hotRows) {
    ojson result = ojson::array();
    for (const auto& [id, n] : hotRows)
      result.push_back({{"nrows", rows}, {"idsum", sum}, {"hot_id", id}, {"hot_n", n}});
    if (hotRows.empty()) result.push_back({{"nrows", rows}, {"idsum", sum}, {"hot_id", nullptr}, {"hot_n", nullptr}});
    return result;
  };
  std::string rows;
  CHECK(checkAnswer(Dialect::MariaDB, answer("2", "968899222224245249", {{3, 2}, {7, 1}}), ids, hot, rows));
  CHECK(rows == "2");
  // another row instead of one of them: the same count, another sum
  CHECK_FALSE(checkAnswer(Dialect::MariaDB, answer("2", "968899222224245250", {{3, 2}, {7, 1}}), ids, hot, rows));
  CHECK_FALSE(checkAnswer(Dialect::MariaDB, answer("3", "968899222224245249", {{3, 2}, {7, 1}}), ids, hot, rows));
  CHECK_FALSE(checkAnswer(Dialect::MariaDB, answer("2", "968899222224245249", {{3, 2}}), ids, hot, rows));
  CHECK_FALSE(checkAnswer(Dialect::MariaDB, answer("2", "968899222224245249", {{3, 1}, {7, 1}}), ids, hot, rows));
  // nothing applied: no rows, a NULL sum, no hot row changed
  CHECK(checkAnswer(Dialect::MariaDB, answer("0", "", {}), {}, {}, rows));
  ojson nulls = ojson::array({{{"nrows", "0"}, {"idsum", nullptr}, {"hot_id", nullptr}, {"hot_n", nullptr}}});
  CHECK(checkAnswer(Dialect::MariaDB, nulls, {}, {}, rows));
}

TEST_CASE("MariaDB's setup creates the tables one request each and the hot rows in VALUES lists", "[bench]") {
  const auto requests = setupRequests(Dialect::MariaDB, "t", 2500);
  REQUIRE(requests.size() == 5); // two CREATE TABLE, three INSERTs of at most 1,000 rows
  CHECK(requests[0].front().rfind("CREATE TABLE t (id uuid PRIMARY KEY", 0) == 0);
  CHECK(requests[2].front().rfind("INSERT INTO t_hot (id, n) VALUES (1, 0), (2, 0)", 0) == 0);
  CHECK(requests[4].front().find("(2500, 0)") != std::string::npos);
  CHECK(requests[4].front().find("(2501, 0)") == std::string::npos);
  for (const auto& r : requests) CHECK(r.size() == 1);
  CHECK(setupRequests(Dialect::PostgreSQL, "t", 2500).size() == 1);
}
