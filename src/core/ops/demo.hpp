#pragma once
// A throwaway cluster for trying Kluster (`klusterctl demo`): Kafka and N PostgreSQL servers (or one MariaDB
// server with a database per node, as scripts/local-cluster.sh --db mariadb) started by the project's scripts in
// a temporary directory, N nodes as child processes, the cluster's topics, and the original design's
// Person/Address tables. Everything it starts is stopped, and the directory removed, when
// it is stopped or destroyed, and also when this process dies in any way: a guardian process started first
// (in its own session, ignoring signals) waits for this process to end and then cleans up, and the nodes
// get SIGTERM from the kernel when their parent dies (PR_SET_PDEATHSIG).
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kluster::ops {

struct DemoOptions {
  int nodes = 3;
  std::string database = "postgresql"; ///< the nodes' DBMS: "postgresql" (15) or "mariadb" (10.11)
  bool withLoad = false;               ///< a small background workload (`bench load --rate`)
  std::string cluster = "demo";
  std::string klusterctl; ///< the binary the nodes run (empty: this process's own)
  std::string sourceDir;  ///< a Kluster source tree with scripts/ (empty: found, see findSourceDir)
  std::string kafkaHome;  ///< Kafka's jars in KAFKA_HOME/lib (empty: the scripts' default, SOURCE/.kafka)
  /// Polled while starting; true stops the start (Ctrl-C, SIGTERM), which then throws Interrupted.
  std::function<bool()> interrupted;
  /// Told what is happening while it starts (one line each, no newline).
  std::function<void(const std::string&)> progress;
};

/// What a running demo looks like from outside.
struct DemoInfo {
  std::string brokers; ///< Kafka bootstrap list
  std::string cluster;
  std::string dir;               ///< the temporary directory holding every file of the demo
  std::vector<int> kafkaPids;    ///< the broker processes
  std::vector<int> databasePids; ///< the postmasters, or the one mariadbd
  std::vector<int> nodePids;     ///< the `klusterctl node run` children
  int loadPid = 0;               ///< the workload's child (--with-load), or 0
  std::vector<std::string> databaseUrls;
};

/// Thrown by Demo::start when `interrupted` returned true.
struct DemoInterrupted : std::exception {
  const char* what() const noexcept override { return "interrupted while starting"; }
};

/// The Kluster source tree whose scripts start Kafka and PostgreSQL: `explicitDir` (a flag or
/// KLUSTER_SOURCE_DIR) when given, else the first parent of the running binary's directory that holds
/// scripts/services.sh, else the tree this binary was built from when it still exists. Throws UsageError
/// with a hint when there is none.
std::string findSourceDir(const std::string& explicitDir);

class Demo {
public:
  explicit Demo(DemoOptions options);
  /// Stops everything (as stop()).
  ~Demo();
  Demo(const Demo&) = delete;
  Demo& operator=(const Demo&) = delete;

  /// Starts Kafka, PostgreSQL, the topics, the nodes (waiting until every node answers) and loads the
  /// example tables. Throws KlusterError (with the log's tail) when a part fails, DemoInterrupted when asked
  /// to stop; what it started is stopped either way.
  void start();
  const DemoInfo& info() const;
  /// Stops the workload and the nodes (SIGTERM, then SIGKILL), then Kafka and PostgreSQL, and removes the
  /// directory; waits for all of it. Safe to call twice.
  void stop();

private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace kluster::ops
