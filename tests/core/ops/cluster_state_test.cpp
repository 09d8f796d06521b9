#include "core/ops/cluster_state.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using namespace kluster::ops;

TEST_CASE("node groups are found by the cluster's prefix, Dead ones left out, in natural order") {
  const Topics topics{"prod"};
  std::vector<kafka::GroupListing> listing{{"prod.node.node10", "Stable"}, {"prod.node.node2", "Empty"},
                                           {"prod.one", "Stable"},         {"prod.node.node1", "Stable"},
                                           {"prod.node.old", "Dead"},      {"prod2.node.node1", "Stable"},
                                           {"prod.node.", "Stable"},       {"kluster-client", "Empty"}};
  auto nodes = nodeGroupListings(topics, listing);
  std::vector<std::string> ids;
  for (const auto& g : nodes) ids.push_back(nodeIdOfGroup(topics, g.groupId));
  CHECK(ids == std::vector<std::string>{"node1", "node2", "node10"});
  CHECK(nodes[1].state == "Empty");
  CHECK(nodeIdOfGroup(topics, "prod.one").empty());
}

TEST_CASE("natural order compares numbers as numbers") {
  CHECK(naturalLess("node2", "node10"));
  CHECK_FALSE(naturalLess("node10", "node2"));
  CHECK(naturalLess("a", "b"));
  CHECK(naturalLess("node", "node1"));
  CHECK(naturalLess("node01", "node2"));
  CHECK_FALSE(naturalLess("node1", "node1"));
}

TEST_CASE("group activity reads as an operator says it") {
  GroupPosition g;
  g.active = true;
  CHECK(g.activity() == "active");
  g.active = false;
  CHECK(g.activity() == "stopped");
}
