#include "core/node/node.hpp"

#include "core/errors.hpp"
#include "core/kafka/admin.hpp"
#include "core/log.hpp"
#include "core/node/parts.hpp"

#include <regex>

namespace kluster::node {

void AppliedOffset::set(std::int64_t offset) {
  {
    std::lock_guard lock(mutex_);
    value_.store(offset);
  }
  changed_.notify_all();
}

bool AppliedOffset::waitFor(std::int64_t offset, std::chrono::steady_clock::time_point deadline,
                            const std::atomic<bool>& stop) {
  std::unique_lock lock(mutex_);
  while (value_.load() < offset) {
    if (stop.load()) return false;
    if (changed_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                         std::chrono::milliseconds(100))) == std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline)
      return value_.load() >= offset;
  }
  return true;
}

Node::Node(NodeOptions options) : options_(std::move(options)), topics_{options_.cluster} {
  static const std::regex idPattern("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");
  if (!std::regex_match(options_.nodeId, idPattern))
    throw UsageError(fmt::format("invalid node id '{}': use letters, digits, '.', '_' or '-' (set [node] id or --id)",
                                 options_.nodeId));
  if (!std::regex_match(options_.cluster, idPattern))
    throw UsageError(fmt::format("invalid cluster name '{}'", options_.cluster));
  if (options_.databaseUrl.empty())
    throw UsageError("no database URL: set [database] url in the config or KLUSTER_DATABASE_URL");
  if (options_.batchMax < 1 || options_.oneWorkers < 1)
    throw UsageError("batch_max and one_workers must be at least 1");
}

Node::~Node() = default;

void Node::stop() { stop_.store(true); }

void Node::run() {
  const auto base = kafka::clientProperties(options_.brokers, options_.kafka);
  int responsePartitions = 0;
  {
    kafka::Admin admin(base);
    for (const auto& topic : {topics_.all(), topics_.one(), topics_.responses(), topics_.errors()}) {
      auto count = admin.partitionCount(topic);
      if (!count)
        throw KlusterError(code::NodeError, fmt::format("topic {} does not exist", topic),
                           fmt::format("create the cluster's topics first: klusterctl init --brokers {} --cluster {}",
                                       options_.brokers, options_.cluster));
      if (topic == topics_.responses()) responsePartitions = *count;
    }
  }
  Responder responder(topics_, options_.nodeId, base, responsePartitions);
  AllApplier applier(*this, base, responder);
  OneServer one(*this, base, responder);
  one.start();
  KLOG(Info, "node", "node {} serving cluster {} (ALL group {}, ONE group {})", options_.nodeId, options_.cluster,
       topics_.nodeGroup(options_.nodeId), topics_.oneGroup());
  try {
    applier.run();
  } catch (...) {
    stop_.store(true);
    one.stop();
    responder.flush(std::chrono::seconds(10));
    throw;
  }
  one.stop();
  responder.flush(std::chrono::seconds(10));
  KLOG(Info, "node", "node {} stopped at ALL offset {}", options_.nodeId, applied_.get());
}

} // namespace kluster::node
