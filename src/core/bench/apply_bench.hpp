#pragma once
// `klusterctl bench apply`: how fast a node applies a backlog on ALL, against what one connection to its database
// does with the same INSERTs (in transactions of 100, each in one round trip: pipelined on PostgreSQL, one
// multi-statement query on MariaDB) on the same server (db::Operations::timeInserts).
//
// With the node stopped, it publishes a CREATE TABLE and N single-row INSERT requests (client-generated UUID
// keys) to ALL, starts the node (`klusterctl node run --config FILE`), and polls the node's _kluster.position
// until it reaches the last request. The node's rate counts from its first applied batch, so connecting and
// joining its groups is left out (and reported apart). Then a DROP TABLE request cleans up, the node is
// stopped, and the baseline runs on the node's database server.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace kluster::bench {

struct ApplyBenchOptions {
  std::string klusterctl; ///< the binary that runs the node
  std::string nodeConfig; ///< the measured node's TOML config (cluster, brokers, node id, database url)
  int rows = 100000;
  int txSize = 100;                                            ///< rows per baseline transaction
  std::chrono::milliseconds timeout{std::chrono::minutes(10)}; ///< for the node's catch-up
  std::string nodeLog;                                         ///< the started node's output
  std::function<void(const std::string&)> progress;            ///< told what happens next (may be empty)
};

struct ApplyBenchResult {
  std::string cluster;
  std::string nodeId;
  std::string table;
  int batchMax = 0;
  int rows = 0;
  double produceSeconds = 0;
  std::int64_t firstOffset = 0; ///< the CREATE TABLE request
  std::int64_t lastOffset = 0;  ///< the last INSERT request
  double startupSeconds = 0;    ///< node start until its first applied batch
  std::int64_t nodeRows = 0;    ///< requests applied in the measured window
  double nodeSeconds = 0;
  double nodeRowsPerSecond = 0;
  double baselineSeconds = 0;
  double baselineRowsPerSecond = 0;
  double ratio = 0; ///< node / baseline
};

/// Runs the benchmark. Throws UsageError when the node is running or misconfigured, KlusterError when
/// Kafka, the database or the node fails.
ApplyBenchResult runApplyBench(const ApplyBenchOptions& options);

} // namespace kluster::bench
