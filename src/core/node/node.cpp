#include "core/node/node.hpp"

#include "core/errors.hpp"
#include "core/kafka/admin.hpp"
#include "core/log.hpp"
#include "core/node/checker.hpp"
#include "core/node/metrics_server.hpp"
#include "core/node/parts.hpp"
#include "core/util.hpp"

#include <limits>
#include <regex>
#include <thread>

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

NodeOptions NodeOptions::fromSettings(const Settings& settings) {
  NodeOptions opts;
  opts.cluster = settings.get("cluster.name");
  opts.brokers = settings.get("cluster.brokers");
  opts.nodeId = settings.get("node.id");
  opts.databaseType = settings.get("database.type");
  db::adapter(opts.databaseType); // an unknown type fails here, before anything starts
  opts.databaseUrl = settings.get("database.url");
  opts.kafka = settings.kafka();
  opts.oneWorkers = settings.getInt("node.one_workers");
  opts.batchMax = settings.getInt("node.batch_max");
  opts.maxRetry = settings.getDuration("node.max_retry");
  opts.maxRequestBytes = static_cast<std::size_t>(settings.getInt("node.max_request_bytes"));
  const auto& sync = settings.get("node.synchronous_commit");
  if (sync != "on" && sync != "off")
    throw UsageError(fmt::format("node.synchronous_commit must be on or off, not '{}'", sync));
  opts.durableCommits = sync == "on";
  opts.metricsAddress = settings.get("metrics.address");
  opts.readyMaxLag = settings.getInt("metrics.ready_max_lag");
  opts.checkInterval = settings.getDuration("node.check_interval");
  opts.checkFullEvery = settings.getInt("node.check_full_every");
  opts.speculationYield = settings.getDuration("node.speculation_yield");
  opts.speculationBudget = settings.getDuration("node.speculation_budget");
  opts.clientsFile = settings.get("security.clients_file");
  try {
    std::size_t used = 0;
    const auto& skip = settings.get("security.skip_publication");
    opts.skipPublication = std::stoll(skip, &used);
    if (used != skip.size()) throw std::invalid_argument(skip);
  } catch (const std::exception&) {
    throw UsageError("security.skip_publication must be an ALL offset (or -1)");
  }
  return opts;
}

Node::Node(NodeOptions options)
    : options_(std::move(options)), topics_{options_.cluster}, speculationBudget_(options_.speculationBudget),
      analyses_(sql::dialect(db::adapter(options_.databaseType).type())), // an unknown type: UsageError
      metrics_(options_.cluster, options_.nodeId), processToken_(util::uuid4().substr(0, 8)) {
  static const std::regex idPattern("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");
  if (!std::regex_match(options_.nodeId, idPattern))
    throw UsageError(fmt::format("invalid node id '{}': use letters, digits, '.', '_' or '-' (set [node] id or --id)",
                                 options_.nodeId));
  if (!std::regex_match(options_.cluster, idPattern))
    throw UsageError(fmt::format("invalid cluster name '{}'", options_.cluster));
  if (!options_.metricsAddress.empty()) metrics::parseListenAddress(options_.metricsAddress); // fail before connecting
  if (options_.speculationBudget > std::chrono::seconds(1))
    throw UsageError("node.speculation_budget is the time per second speculations may take: at most 1s (0: no limit)");
  if (options_.databaseUrl.empty())
    throw UsageError("no database URL: set [database] url in the config or KLUSTER_DATABASE_URL");
  if (options_.batchMax < 1 || options_.oneWorkers < 1)
    throw UsageError("batch_max and one_workers must be at least 1");
  if (options_.readyMaxLag < 0) throw UsageError("metrics.ready_max_lag must be 0 or more");
  if (options_.checkInterval.count() != 0 && options_.checkInterval < std::chrono::seconds(1))
    throw UsageError("node.check_interval must be 0 (off) or at least 1s");
  if (options_.checkFullEvery < 1)
    throw UsageError("node.check_full_every must be at least 1 (1: every check sums every table)");
}

NodeGauges Node::probe(kafka::Admin& admin) const {
  NodeGauges g;
  g.appliedOffset = applied_.get();
  g.databaseConnected = metrics_.databaseConnected();
  try {
    const auto w = admin.watermarks(topics_.all(), 0);
    g.kafkaConnected = true;
    // Offsets below the log start are gone (retention): they cannot be applied and do not count.
    g.lagMessages = std::max<std::int64_t>(0, w.high - std::max(g.appliedOffset + 1, w.low));
  } catch (const std::exception& e) {
    KLOG(Debug, "node", "metrics: cannot read the end of {}: {}", topics_.all(), e.what());
  }
  if (!g.lagMessages) {
    g.lagSeconds = std::numeric_limits<double>::quiet_NaN();
  } else if (*g.lagMessages > 0) {
    const auto last = metrics_.lastAppliedTimestampMs();
    g.lagSeconds = last > 0 ? std::max<double>(0, static_cast<double>(util::nowMillis() - last) / 1000.0)
                            : std::numeric_limits<double>::quiet_NaN();
  }
  g.ready = applying_.load() && !stop_.load() && g.kafkaConnected && g.databaseConnected && g.lagMessages &&
            *g.lagMessages <= options_.readyMaxLag;
  return g;
}

Node::~Node() = default;

bool Node::replacedByAnother() const {
  // The database may be restarting too: ask for a while; if it never answers, going on is what a broker restart
  // needs, and a second process with this node id, fenced in turn, finds its own claim and goes on while this
  // one, fenced again, finds the claim of the other.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    try {
      const auto claim = db::connect(options_.databaseType, options_.databaseUrl)->processClaim(options_.cluster);
      if (claim.empty() || claim == processToken_) return false;
      KLOG(Error, "node", "another process (token {}) was started as node {} after this one ({})", claim,
           options_.nodeId, processToken_);
      return true;
    } catch (const std::exception& e) {
      if (std::chrono::steady_clock::now() >= deadline || stop_.load()) {
        KLOG(Warn, "node", "cannot tell whether another process serves node {}: {}", options_.nodeId, e.what());
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500)); // a back-off between attempts
    }
  }
}

void Node::stop() { stop_.store(true); }

void Node::run() {
  const auto base = kafka::clientProperties(options_.brokers, options_.kafka);
  // Served from the start, so /health answers and /ready says 503 while the node connects and catches up.
  std::unique_ptr<kafka::Admin> probeAdmin;
  std::unique_ptr<MetricsServer> metricsServer;
  if (!options_.metricsAddress.empty()) {
    probeAdmin = std::make_unique<kafka::Admin>(base, std::chrono::seconds(2));
    metricsServer = std::make_unique<MetricsServer>(
        options_.metricsAddress, metrics_,
        MetricsServer::Probes{[this, admin = probeAdmin.get()] { return probe(*admin); },
                              [this] { return !stop_.load(); }, options_.readyMaxLag});
  }
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
  responder.countInto(&metrics_);
  std::unique_ptr<Checker> checker;
  if (options_.checkInterval.count() > 0) {
    checker =
        std::make_unique<Checker>(Checker::Options{options_.cluster, options_.nodeId, options_.databaseType,
                                                   options_.databaseUrl, options_.checkInterval, responsePartitions},
                                  base, responder, metrics_);
    checker_ = checker.get();
  }
  AllApplier applier(*this, base, responder);
  OneServer one(*this, base, responder);
  one.start();
  KLOG(Info, "node", "node {} serving cluster {} (ALL group {}, ONE group {})", options_.nodeId, options_.cluster,
       topics_.nodeGroup(options_.nodeId), topics_.oneGroup());
  applying_.store(true);
  try {
    applier.run();
  } catch (...) {
    applying_.store(false);
    stop_.store(true);
    one.stop();
    responder.flush(std::chrono::seconds(10));
    throw;
  }
  applying_.store(false);
  one.stop();
  responder.flush(std::chrono::seconds(10));
  if (oneFailed_.load())
    throw KlusterError(
        code::NodeError,
        fmt::format("node {} stopped: reading {} failed for good (see above)", options_.nodeId, topics_.one()),
        "run each node id once; a node started again while the old process still ran replaces it");
  KLOG(Info, "node", "node {} stopped at ALL offset {}", options_.nodeId, applied_.get());
}

} // namespace kluster::node
