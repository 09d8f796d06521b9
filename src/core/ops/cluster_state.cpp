#include "core/ops/cluster_state.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace kluster::ops {

std::optional<std::int64_t> committedLag(std::int64_t committed, std::int64_t logEnd) {
  if (committed < 0) return std::nullopt;
  return std::max<std::int64_t>(0, logEnd - committed);
}

bool naturalLess(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      // Compare digit runs by value: strip leading zeros, then the longer run is larger.
      auto na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  if ((a.size() - i) != (b.size() - j)) return (a.size() - i) < (b.size() - j);
  return a < b;
}

std::string nodeIdOfGroup(const Topics& topics, const std::string& group) {
  const auto prefix = topics.nodeGroupPrefix();
  if (group.size() <= prefix.size() || group.compare(0, prefix.size(), prefix) != 0) return {};
  return group.substr(prefix.size());
}

std::vector<kafka::GroupListing> nodeGroupListings(const Topics& topics, const std::vector<kafka::GroupListing>& all) {
  std::vector<kafka::GroupListing> nodes;
  for (const auto& g : all)
    if (g.state != "Dead" && !nodeIdOfGroup(topics, g.groupId).empty()) nodes.push_back(g);
  std::sort(nodes.begin(), nodes.end(), [&](const auto& a, const auto& b) {
    return naturalLess(nodeIdOfGroup(topics, a.groupId), nodeIdOfGroup(topics, b.groupId));
  });
  return nodes;
}

int requireTopic(kafka::Admin& admin, const std::string& topic) {
  std::optional<int> partitions;
  try {
    partitions = admin.partitionCount(topic);
  } catch (const KlusterError& e) {
    // The first call to Kafka: when it fails, the brokers are the likely cause.
    if (!e.hint().empty()) throw;
    throw KlusterError(e.code(), e.what(), "check that the Kafka brokers are reachable (--brokers, -X for TLS/SASL)");
  }
  if (!partitions)
    throw KlusterError(code::NodeError, fmt::format("topic {} does not exist", topic),
                       "check --cluster (and --brokers), or create the cluster's topics with `klusterctl init`");
  return *partitions;
}

std::vector<kafka::Watermarks> topicWatermarks(kafka::Admin& admin, const std::string& topic, int partitions) {
  std::vector<kafka::Watermarks> marks;
  for (int p = 0; p < partitions; ++p) marks.push_back(admin.watermarks(topic, p));
  return marks;
}

GroupPosition loadGroup(kafka::Admin& admin, const std::string& group, const std::string& topic,
                        const std::vector<kafka::Watermarks>& watermarks,
                        const std::optional<kafka::GroupListing>& listing) {
  const int partitions = static_cast<int>(watermarks.size());
  GroupPosition g;
  g.group = group;
  g.topic = topic;
  g.state = listing ? listing->state : "None";
  g.active = listing && listing->active();
  // A group that does not exist has nothing committed; asking Kafka would only return the same.
  auto committed = listing ? admin.committedOffsets(group, topic, partitions)
                           : std::vector<std::int64_t>(static_cast<std::size_t>(partitions), -1);
  for (int p = 0; p < partitions; ++p) {
    const auto& w = watermarks[static_cast<std::size_t>(p)];
    g.partitions.push_back({p, committed[static_cast<std::size_t>(p)], w.low, w.high});
  }
  return g;
}

ClusterPositions loadPositions(kafka::Admin& admin, const Topics& topics, const std::vector<std::string>& extraNodes) {
  ClusterPositions s;
  s.cluster = topics.cluster;
  s.takenMs = util::nowMillis();
  const int allPartitions = requireTopic(admin, topics.all());
  const int onePartitions = requireTopic(admin, topics.one());
  const auto groups = admin.listGroups();
  // Watermarks once per topic, so every group is compared against the same log end.
  const auto allMarks = topicWatermarks(admin, topics.all(), allPartitions);
  const auto oneMarks = topicWatermarks(admin, topics.one(), onePartitions);
  s.allLogStart = allMarks.front().low;
  s.allLogEnd = allMarks.front().high;

  auto nodes = nodeGroupListings(topics, groups);
  std::vector<std::string> ids;
  for (const auto& g : nodes) ids.push_back(nodeIdOfGroup(topics, g.groupId));
  for (const auto& id : extraNodes)
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  std::sort(ids.begin(), ids.end(), naturalLess);

  for (const auto& id : ids) {
    std::optional<kafka::GroupListing> listing;
    for (const auto& g : nodes)
      if (g.groupId == topics.nodeGroup(id)) listing = g;
    auto g = loadGroup(admin, topics.nodeGroup(id), topics.all(), allMarks, listing);
    g.nodeId = id;
    s.nodes.push_back(std::move(g));
  }

  std::optional<kafka::GroupListing> oneListing;
  for (const auto& g : groups)
    if (g.groupId == topics.oneGroup() && g.state != "Dead") oneListing = g;
  s.one = loadGroup(admin, topics.oneGroup(), topics.one(), oneMarks, oneListing);
  return s;
}

} // namespace kluster::ops
