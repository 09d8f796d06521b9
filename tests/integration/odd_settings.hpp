// A node whose server and database defaults differ in every run-time setting (issue 26): the settings are listed
// from the server's own catalog (pg_settings, contexts user and superuser), each one is given a valid value other
// than the server's, and the test fails on a setting that has neither such a value nor a stated reason to keep it.
// Used by integration.determinism (determinism_support.hpp) and integration.differential.
#pragma once

#include "support/cluster.hpp"

#include <map>
#include <string>
#include <vector>

namespace kluster::test {

struct OddSettings {
  std::map<std::string, std::string> given; ///< setting (lower case) -> the value its database now has
  std::vector<std::string> byRole;          ///< given to the node's role in that database: its database refused
  std::map<std::string, std::string> kept;  ///< setting -> why it keeps the server's value
  std::map<std::string, int> givenPerClass; ///< db::className() -> how many were given
  std::string summary() const;
};

/// Gives node i's database (not yet used by a node) another default for every setting of pg_settings with context
/// user or superuser, with ALTER DATABASE (ALTER ROLE ... IN DATABASE where a database cannot carry it), and checks
/// that each one is stored and in force on a new connection. The test's own connections to that database keep the
/// few defaults that would stop them (TestCluster::setDirectOptions; statement_timeout is 1 ms there).
OddSettings giveOddSettings(TestCluster& c, int i);

} // namespace kluster::test
