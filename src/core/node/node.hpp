#pragma once
// A Kluster node: applies every ALL request to its database in log order, exactly once, and serves
// ONE requests read-only in parallel. See ARCHITECTURE.md ("The apply loop").
#include "core/config.hpp"
#include "core/kafka/kafka.hpp"
#include "core/node/metrics.hpp"
#include "core/node/prepare.hpp"
#include "core/node/writes_first.hpp"
#include "core/sql/analysis_cache.hpp"
#include "core/topics.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace kluster::kafka {
class Admin;
}

namespace kluster::node {

struct NodeOptions {
  std::string cluster = "kluster";
  std::string brokers;
  std::string nodeId;
  std::string databaseType = "postgresql"; ///< [database] type: picks the adapter (db::adapter())
  std::string databaseUrl;
  kafka::Properties kafka; ///< pass-through librdkafka properties
  int oneWorkers = 4;
  int batchMax = 500;
  std::chrono::milliseconds maxRetry = std::chrono::minutes(5);
  std::size_t maxRequestBytes = 1024 * 1024;
  bool durableCommits = true;     ///< node.synchronous_commit: false lets the database lose commits ALL still has
  std::string metricsAddress;     ///< HOST:PORT for /metrics, /health and /ready; empty: not served
  std::int64_t readyMaxLag = 100; ///< /ready answers 200 within this many unapplied ALL messages
  /// node.check_interval: continuous verification's period (0: off). Must be the same on every node.
  std::chrono::milliseconds checkInterval = std::chrono::minutes(5);
  /// node.check_full_every: every this many check periods, a check sums every table again (1: every check).
  int checkFullEvery = 12;
  /// node.speculation_yield: how long a speculation (a statement of an interactive transaction) waits for the
  /// apply loop to run out of work before it runs anyway (0: it never waits).
  std::chrono::milliseconds speculationYield{0};
  /// node.speculation_budget: the time per second the node's speculations may take in all while writes flow (0: no
  /// limit).
  std::chrono::milliseconds speculationBudget{0};
  std::filesystem::path clientsFile; ///< security.clients_file: keys and permissions of the clients (empty: none)
  std::int64_t skipPublication = -1; ///< security.skip_publication: a security request refused, not stopped at

  /// The options a node's settings give (cluster.*, node.*, database.*, metrics.*, kafka.*); throws
  /// UsageError on a value of the wrong type or an unsupported database type.
  static NodeOptions fromSettings(const Settings& settings);
};

/// The ALL offset this node has applied, shared between the applier and ONE workers (read-your-writes).
class AppliedOffset {
public:
  void set(std::int64_t offset);
  std::int64_t get() const { return value_.load(); }
  /// Waits until at least `offset` is applied; false on deadline or stop.
  bool waitFor(std::int64_t offset, std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& stop);

private:
  std::atomic<std::int64_t> value_{-1};
  std::mutex mutex_;
  std::condition_variable changed_;
};

class Checker;

class Node {
public:
  explicit Node(NodeOptions options);
  ~Node();
  /// Runs until stop() is called (returns normally) or a node-level failure persists (throws).
  void run();
  /// Asks the node to stop after the batch in progress. Safe to call from any thread.
  void stop();
  bool stopping() const { return stop_.load(); }
  /// The last ALL offset applied (-1 until the node has read its database position).
  std::int64_t appliedOffset() const { return applied_.get(); }

private:
  class AllApplier;
  class OneServer;
  NodeOptions options_;
  Topics topics_;
  std::atomic<bool> stop_{false};
  AppliedOffset applied_;
  ApplyActivity allWork_;               ///< speculations wait (node.speculation_yield) while the apply loop has work
  SpeculationBudget speculationBudget_; ///< and take at most node.speculation_budget per second while writes flow
  /// Set by a ONE read that found the database behind applied_: the apply loop, when idle, checks the
  /// database's position again instead of waiting for the next write to notice it lost commits.
  std::atomic<bool> positionDoubted_{false};
  sql::AnalysisCache analyses_; ///< shared by ALL and ONE: each distinct SQL text is analyzed once
  NodeMetrics metrics_;
  ClientsInEffect clients_;            ///< signed requests and permissions (none until a security request)
  Checker* checker_ = nullptr;         ///< continuous verification, when on (owned by run())
  std::atomic<bool> applying_{false};  ///< the apply loop runs (for /ready)
  std::atomic<bool> oneFailed_{false}; ///< ONE's consumer hit a fatal error (fenced): the node stops with an error
  /// What /metrics and /ready report besides the counters (asks Kafka for ALL's end).
  NodeGauges probe(kafka::Admin& admin) const;
  /// After one of this process's consumers was fenced (FENCED_INSTANCE_ID): whether another process was started
  /// with this node id since (it claimed the node in the database: db::Connection::claimProcess), so this one
  /// must stop. A static member is also fenced by its own rejoin when its group's coordinator moves (a broker
  /// restarted); then nobody claimed the node, and the consumer is made again. The group's member list cannot
  /// tell: the coordinator gives the new member the old one's client id and host.
  bool replacedByAnother() const;
  const std::string processToken_; ///< this process's, claimed in the database when the node starts
};

} // namespace kluster::node
