#pragma once
// `klusterctl bench exec`: the wall time of whole `klusterctl exec` invocations, each a new process, as a
// user or a script pays it (process start, Kafka connection, the request's round trip through the nodes).
#include "core/bench/stats.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace kluster::bench {

struct ExecBenchOptions {
  std::string klusterctl;               ///< the binary to run
  std::vector<std::string> clusterArgs; ///< --config/--brokers/--cluster/-X, passed on to every exec
  int count = 50;                       ///< measured invocations per case
  std::chrono::milliseconds timeout{std::chrono::seconds(30)}; ///< per invocation
  std::function<void(const std::string&)> progress;            ///< told what runs next (may be empty)
};

/// One measured case: the wall time per invocation, in milliseconds.
struct ExecCaseResult {
  std::string name; ///< "one-select", "all-insert"
  std::string what; ///< the command, for people
  Summary ms;
};

/// The table the ALL case inserts into (created when missing).
inline constexpr const char* kExecBenchTable = "kluster_bench_exec";

/// Runs each case once unmeasured, then `count` times measured. A failing invocation throws KlusterError
/// carrying its standard error.
std::vector<ExecCaseResult> runExecBench(const ExecBenchOptions& options);

} // namespace kluster::bench
