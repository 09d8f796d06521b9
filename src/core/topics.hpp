#pragma once
// The names a cluster uses in Kafka. Every component derives them from the cluster name alone.
#include <string>

namespace kluster {

struct Topics {
  std::string cluster;

  std::string all() const { return cluster + ".ALL"; }
  std::string one() const { return cluster + ".ONE"; }
  std::string responses() const { return cluster + ".RESPONSES"; }
  std::string errors() const { return cluster + ".ERRORS"; }
  /// Each node reads ALL in a consumer group of its own, so every node sees every request.
  std::string nodeGroup(const std::string& nodeId) const { return nodeGroupPrefix() + nodeId; }
  std::string nodeGroupPrefix() const { return cluster + ".node."; }
  /// All nodes share one group on ONE, so exactly one node takes each request.
  std::string oneGroup() const { return cluster + ".one"; }
};

} // namespace kluster
