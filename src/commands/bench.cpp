// klusterctl bench exec|apply|load: benchmarks that print their numbers (bench/README.md explains them and
// bench/run.sh runs both against throwaway services). Numbers go to stdout, progress to stderr.
#include "commands/bench_load.hpp"
#include "commands/command.hpp"
#include "core/bench/apply_bench.hpp"
#include "core/bench/exec_bench.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

namespace kluster::commands {
namespace {

struct BenchExecOptions {
  ClusterFlags flags;
  int count = 50;
  std::string timeout = "30s";
};

struct BenchApplyOptions {
  std::string nodeConfig;
  int rows = 100000;
  int txSize = 100;
  std::string timeout = "10m";
  std::string nodeLog;
};

/// This very binary, so the children are the klusterctl being measured.
std::string selfPath() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

void progress(const std::string& text) { std::cerr << "bench: " << text << "\n"; }

int runBenchExec(const BenchExecOptions& o) {
  bench::ExecBenchOptions opts;
  opts.klusterctl = selfPath();
  if (!o.flags.config.empty()) opts.clusterArgs.insert(opts.clusterArgs.end(), {"--config", o.flags.config});
  if (!o.flags.brokers.empty()) opts.clusterArgs.insert(opts.clusterArgs.end(), {"--brokers", o.flags.brokers});
  if (!o.flags.cluster.empty()) opts.clusterArgs.insert(opts.clusterArgs.end(), {"--cluster", o.flags.cluster});
  for (const auto& kv : o.flags.kafkaProps) opts.clusterArgs.insert(opts.clusterArgs.end(), {"-X", kv});
  opts.count = o.count;
  opts.timeout = util::parseDuration(o.timeout);
  opts.progress = progress;
  const auto results = bench::runExecBench(opts);
  fmt::print("bench exec: {} invocations per case, each a new klusterctl exec process; wall time in ms\n", o.count);
  fmt::print("{:<12} {:>5} {:>8} {:>8} {:>8} {:>8}  {}\n", "case", "runs", "min", "median", "p95", "max", "command");
  for (const auto& r : results)
    fmt::print("{:<12} {:>5} {:>8.1f} {:>8.1f} {:>8.1f} {:>8.1f}  {}\n", r.name, r.ms.count, r.ms.min, r.ms.median,
               r.ms.p95, r.ms.max, r.what);
  return exitcode::Ok;
}

int runBenchApply(const BenchApplyOptions& o) {
  bench::ApplyBenchOptions opts;
  opts.klusterctl = selfPath();
  opts.nodeConfig = o.nodeConfig;
  opts.rows = o.rows;
  opts.txSize = o.txSize;
  opts.timeout = util::parseDuration(o.timeout);
  opts.nodeLog =
      o.nodeLog.empty()
          ? (std::filesystem::temp_directory_path() / fmt::format("kluster-bench-node-{}.log", ::getpid())).string()
          : o.nodeLog;
  opts.progress = progress;
  const auto r = bench::runApplyBench(opts);
  fmt::print("bench apply: node {} of cluster {} (batch_max {}), {} single-row INSERT requests\n", r.nodeId, r.cluster,
             r.batchMax, r.rows);
  fmt::print("produced   {} requests in {:.2f} s ({:.0f} requests/s), ALL offsets {}..{}\n", r.rows + 1,
             r.produceSeconds, (r.rows + 1) / r.produceSeconds, r.firstOffset, r.lastOffset);
  fmt::print("node       {} rows in {:.2f} s = {:.0f} rows/s (from its first applied batch; startup {:.2f} s)\n",
             r.nodeRows, r.nodeSeconds, r.nodeRowsPerSecond, r.startupSeconds);
  fmt::print("baseline   {} rows in {:.2f} s = {:.0f} rows/s (one connection, pipelined transactions of {})\n", r.rows,
             r.baselineSeconds, r.baselineRowsPerSecond, o.txSize);
  fmt::print("ratio      {:.2f} (node / baseline; the target is >= 0.60)\n", r.ratio);
  return exitcode::Ok;
}

} // namespace

void registerBench(CLI::App& app, Action& action) {
  auto* bench = app.add_subcommand(
      "bench", "Benchmarks that print their numbers: exec latency, apply throughput, load from concurrent clients");
  bench->require_subcommand(1);

  auto e = std::make_shared<BenchExecOptions>();
  auto* exec = bench->add_subcommand(
      "exec", "Time klusterctl exec invocations against a running cluster: SELECT 1 to ONE, and an INSERT to "
              "ALL with --wait all");
  e->flags.add(exec);
  exec->add_option("--count", e->count, "measured invocations per case (after one warm-up)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  exec->add_option("--timeout", e->timeout, "each invocation's --timeout")->capture_default_str();
  exec->footer("Creates the table kluster_bench_exec (id uuid, n integer) through ALL when missing, and inserts "
               "a row per ALL invocation. Prints min, median, p95 and max wall time per invocation, in ms.");
  exec->callback([e, &action] { action = [e] { return runBenchExec(*e); }; });

  auto a = std::make_shared<BenchApplyOptions>();
  auto* apply = bench->add_subcommand(
      "apply", "Measure a stopped node's catch-up on a backlog of INSERT requests against one connection to "
               "its database (PostgreSQL or MariaDB) doing the same INSERTs");
  apply->add_option("--node-config", a->nodeConfig, "the measured node's TOML config (it must be stopped)")
      ->required()
      ->type_name("FILE");
  apply->add_option("--rows", a->rows, "INSERT requests in the backlog")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000000));
  apply->add_option("--tx-size", a->txSize, "rows per baseline transaction")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  apply->add_option("--timeout", a->timeout, "how long the node may take to catch up")->capture_default_str();
  apply->add_option("--node-log", a->nodeLog, "the started node's output (default: a file in the temp directory)")
      ->type_name("FILE");
  apply->footer(
      "Publishes CREATE TABLE and the INSERTs (client-generated UUID keys) to ALL, starts `klusterctl "
      "node run --config FILE`, times it until its position (_kluster.position) reaches the last one, "
      "drops the table through ALL and stops the node. Then times the baseline on the node's database "
      "server (a fresh table, dropped after; each transaction in one round trip: pipelined on "
      "PostgreSQL, one multi-statement query on MariaDB). Run it against a throwaway cluster: the other nodes apply "
      "the backlog too.");
  apply->callback([a, &action] { action = [a] { return runBenchApply(*a); }; });

  addBenchLoad(bench, action);
}

} // namespace kluster::commands
