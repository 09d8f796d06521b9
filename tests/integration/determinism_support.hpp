// Shared by the determinism tests (determinism_test.cpp, determinism_hazards_test.cpp): a cluster whose node has
// other default settings for everything Kluster pins, and the checks a user would make of each statement.
#pragma once

#include "odd_settings.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace kluster::test::determinism {

inline std::string databaseName(const TestCluster& c, int i) {
  const auto url = c.databaseUrl(i);
  return url.substr(url.rfind('/') + 1);
}

// Gives node i's database another default for every run-time setting (odd_settings.cpp: all of pg_settings'
// user and superuser settings, each pinned one included), as an operator's ALTER DATABASE (or postgresql.conf) would;
// a schema that shadows public on its search_path too.
inline void unusualSettings(TestCluster& c, int i) {
  const auto odd = giveOddSettings(c, i);
  std::cout << "[determinism] node" << i << ": " << odd.summary() << std::endl;
  c.query(i, "CREATE SCHEMA shadow; CREATE TABLE shadow.sink (tag text, v text)");
}

// Starts a cluster (not yet started) whose node `odd` has unusualSettings().
inline void startWithUnusualSettings(TestCluster& c, int odd) {
  unusualSettings(c, odd);
  for (int i = 1; i <= c.size(); ++i) c.startNode(i);
  REQUIRE(c.waitForMembers(c.size()));
}

// Settings for the test's own checksum queries, so that they read every node alike.
inline constexpr const char* kPinned =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 1; SET search_path = public; SET bytea_output = 'hex'; ";

inline std::string checksum(const TestCluster& c, int i, const std::string& table, const std::string& orderBy) {
  return c.scalar(i,
                  std::string(kPinned) +
                      fmt::format("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY {})), '') "
                                  "FROM {} t",
                                  orderBy, table));
}

inline void allOk(TestCluster& c, const std::string& sql) {
  auto r = c.exec({"--to", "ALL", "--wait", "all", "-o", "json", sql});
  INFO(sql << "\n" << r.out << r.err);
  REQUIRE(r.exitCode == 0);
}

// Sends `sql` to ALL and checks that every node answered `code` (never a divergence).
inline void expectEverywhere(TestCluster& c, const std::string& sql, const std::string& code) {
  auto r = c.exec({"--to", "ALL", "--wait", "all", "-o", "json", sql});
  INFO(sql << "\n" << r.out << r.err);
  CHECK(r.exitCode == (code == "OK" ? 0 : 1));
  const auto responses = parseJson(r.out);
  REQUIRE(responses.is_array());
  CHECK(responses.size() == 3);
  for (const auto& response : responses) {
    CHECK(response["resultCode"] == code);
    if (code == "NONDETERMINISTIC") CHECK_FALSE(response.value("hint", std::string()).empty());
  }
}

// 0 divergences: each (table, ORDER BY) has the same rows on nodes 2 and 3 as on node 1.
inline void identicalEverywhere(const TestCluster& c, const std::vector<std::pair<std::string, std::string>>& tables) {
  for (const auto& [table, order] : tables) {
    INFO(table);
    const auto reference = checksum(c, 1, table, order);
    for (int i = 2; i <= c.size(); ++i) CHECK(checksum(c, i, table, order) == reference);
  }
}

// Sends `sql` to ALL and checks that every node failed it with the SQLSTATE `sqlState` (PostgreSQL's own error, the
// same everywhere).
inline void failsEverywhere(TestCluster& c, const std::string& sql, const std::string& sqlState) {
  auto r = c.exec({"--to", "ALL", "--wait", "all", "-o", "json", sql});
  INFO(sql << "\n" << r.out << r.err);
  CHECK(r.exitCode == 1);
  const auto responses = parseJson(r.out);
  REQUIRE(responses.is_array());
  CHECK(responses.size() == 3);
  for (const auto& response : responses) CHECK(response.value("sqlState", std::string()) == sqlState);
}

// Sends `sql` to ALL and checks that every node refused it (NONDETERMINISTIC) with a message that contains `why` (it
// names what runs the hazard and what in it is refused) and a hint.
inline void refusedWith(TestCluster& c, const std::string& sql, const std::string& why) {
  auto r = c.exec({"--to", "ALL", "--wait", "all", "-o", "json", sql});
  INFO(sql << "\n" << r.out << r.err);
  CHECK(r.exitCode == 1);
  const auto responses = parseJson(r.out);
  REQUIRE(responses.is_array());
  REQUIRE(responses.size() == 3);
  for (const auto& response : responses) {
    CHECK(response["resultCode"] == "NONDETERMINISTIC");
    CHECK(response.value("errorMessage", std::string()).find(why) != std::string::npos);
    CHECK_FALSE(response.value("hint", std::string()).empty());
  }
}

// What `read` returns (as "got:<value>") after `write` when both run directly on node i's database, outside Kluster
// (the write rolled back); PostgreSQL's error otherwise.
inline std::string byHand(const TestCluster& c, int i, const std::string& write, const std::string& read) {
  try {
    c.query(i,
            fmt::format("DO $$ DECLARE r text; BEGIN {}; {} INTO r; RAISE EXCEPTION 'got:%:', r; END $$", write, read));
  } catch (const std::exception& e) {
    const std::string m = e.what();
    const auto at = m.rfind("got:"); // the error, after the statement that the message repeats
    return at == std::string::npos ? m : m.substr(at, m.find(':', at + 4) - at);
  }
  return {};
}

} // namespace kluster::test::determinism
