#include "core/bench/exec_bench.hpp"

#include "core/bench/child.hpp"
#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

namespace kluster::bench {
namespace {

struct Case {
  std::string name;
  std::string what;
  std::function<std::vector<std::string>(int)> args; // exec's arguments for invocation i
};

std::vector<std::string> execArgv(const ExecBenchOptions& o, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {o.klusterctl, "exec"};
  argv.insert(argv.end(), o.clusterArgs.begin(), o.clusterArgs.end());
  argv.insert(argv.end(), {"--timeout", fmt::format("{}ms", o.timeout.count()), "-o", "json"});
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ChildResult runOrThrow(const ExecBenchOptions& o, const std::vector<std::string>& args) {
  auto r = runChild(execArgv(o, args), o.timeout + std::chrono::seconds(10));
  if (r.exitCode != 0) {
    std::string err = r.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    throw KlusterError(r.exitCode == exitcode::Connection ? code::NodeError : code::SqlError,
                       fmt::format("klusterctl exec {} failed (exit {}):\n{}", fmt::join(args, " "), r.exitCode, err),
                       "is the cluster running (klusterctl node run), and are --cluster/--brokers right?");
  }
  return r;
}

} // namespace

std::vector<ExecCaseResult> runExecBench(const ExecBenchOptions& o) {
  const std::string insert = fmt::format("INSERT INTO {} (id, n) VALUES ($1, $2)", kExecBenchTable);
  const std::vector<Case> cases = {
      {"one-select", "exec --to ONE 'SELECT 1'",
       [](int) {
         return std::vector<std::string>{"--to", "ONE", "SELECT 1"};
       }},
      {"all-insert", "exec --to ALL --wait all 'INSERT ... VALUES ($1, $2)'",
       [&](int i) {
         return std::vector<std::string>{"--to",        "ALL", "--wait",          "all", "-p",
                                         util::uuid4(), "-p",  std::to_string(i), insert};
       }},
  };
  if (o.progress) o.progress(fmt::format("creating table {} (if missing)", kExecBenchTable));
  runOrThrow(o,
             {"--to", "ALL", "--wait", "all",
              fmt::format("CREATE TABLE IF NOT EXISTS {} (id uuid PRIMARY KEY, n integer NOT NULL)", kExecBenchTable)});
  std::vector<ExecCaseResult> results;
  for (const auto& c : cases) {
    if (o.progress) o.progress(fmt::format("{}: 1 warm-up + {} measured invocations of {}", c.name, o.count, c.what));
    runOrThrow(o, c.args(-1)); // warm-up: page cache, the first connection to each node's database
    std::vector<double> ms;
    for (int i = 0; i < o.count; ++i)
      ms.push_back(std::chrono::duration<double, std::milli>(runOrThrow(o, c.args(i)).wall).count());
    results.push_back({c.name, c.what, summarize(std::move(ms))});
  }
  return results;
}

} // namespace kluster::bench
