// klusterctl bench load: concurrent clients against a running cluster (src/core/bench/load_bench.*); this file
// turns flags into options and prints the numbers (stdout) and a progress line (stderr, on a terminal).
#include "commands/bench_load.hpp"
#include "commands/output.hpp"
#include "commands/progress.hpp"

#include "core/bench/cpu.hpp"
#include "core/bench/load_bench.hpp"
#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace kluster::commands {
namespace {

struct BenchLoadOptions {
  ClusterFlags flags;
  int clients = 16;
  double rate = 0;
  std::string duration = "10s";
  std::string warmup = "1s";
  std::string timeout = "10s";
  std::string wait = "all";
  std::string workload = "insert";
  int hotRows = 100;
  bool breakdown = false;
  std::string batchLinger = "1ms";
  std::string table;
  std::vector<std::string> cpuPids, cpuMatches;
  std::string output;
  std::string direct;
  std::vector<std::string> directReplicas;
};

double ms(std::int64_t us) { return static_cast<double>(us) / 1000.0; }

ojson histogramJson(const bench::Histogram& h) {
  return {{"count", h.count()},
          {"p50_ms", ms(h.percentile(0.50))},
          {"p90_ms", ms(h.percentile(0.90))},
          {"p99_ms", ms(h.percentile(0.99))},
          {"p999_ms", ms(h.percentile(0.999))},
          {"max_ms", ms(h.max())},
          {"mean_ms", h.mean() / 1000.0}};
}

void printHistogram(const std::string& label, const bench::Histogram& h) {
  fmt::print("{:<10} p50 {:.2f}  p90 {:.2f}  p99 {:.2f}  p99.9 {:.2f}  max {:.2f}  mean {:.2f}  ({} requests)\n", label,
             ms(h.percentile(0.5)), ms(h.percentile(0.9)), ms(h.percentile(0.99)), ms(h.percentile(0.999)), ms(h.max()),
             h.mean() / 1000.0, h.count());
}

/// --cpu-pid and --cpu-match as targets, each checked against the processes running now.
std::vector<bench::CpuTarget> cpuTargets(const BenchLoadOptions& o) {
  std::vector<bench::CpuTarget> out;
  for (const auto& spec : o.cpuPids) {
    auto t = bench::parseCpuTarget(spec, true);
    if (!bench::readProcStat(t.pid)) throw UsageError(fmt::format("--cpu-pid {}: no process {}", spec, t.pid));
    out.push_back(std::move(t));
  }
  for (const auto& spec : o.cpuMatches) {
    auto t = bench::parseCpuTarget(spec, false);
    if (bench::matchCommandLine(t.regex, ::getpid()).empty())
      throw UsageError(fmt::format("--cpu-match {}: no process's command line matches", spec));
    out.push_back(std::move(t));
  }
  return out;
}

/// The CPU of each named process tree, everything named, and the machine, per write; null when unmeasured.
ojson cpuJson(const bench::LoadResult& r) {
  if (!r.cpuError.empty() || r.cpu.empty()) return ojson(nullptr);
  double named = 0;
  ojson processes = ojson::array();
  for (const auto& u : r.cpu) {
    named += u.micros;
    processes.push_back({{"name", u.name},
                         {"pids", u.pids},
                         {"cpu_us", u.micros},
                         {"cores", r.seconds > 0 ? u.micros / 1e6 / r.seconds : 0},
                         {"us_per_write", bench::perWrite(u.micros, r.cpuRequests())}});
  }
  return {{"writes", r.cpuRequests()},
          {"seconds", r.seconds},
          {"processes", processes},
          {"total_us_per_write", bench::perWrite(named, r.cpuRequests())},
          {"machine_us", r.machineCpuUs},
          {"machine_us_per_write", bench::perWrite(r.machineCpuUs, r.cpuRequests())},
          {"kafka_requests_per_write",
           r.kafkaCounted && r.cpuRequests() > 0
               ? ojson(static_cast<double>(r.kafkaRequests) / static_cast<double>(r.cpuRequests()))
               : ojson(nullptr)},
          {"unattributed_us_per_write", bench::perWrite(std::max(r.machineCpuUs - named, 0.0), r.cpuRequests())}};
}

void printCpu(const bench::LoadResult& r) {
  if (!r.cpuError.empty()) {
    fmt::print("cpu        not measured: {}\n", r.cpuError);
    return;
  }
  const char* unit = r.writes() > 0 ? "write" : "read";
  fmt::print("cpu        per {0} ({1} {0}s in {2:.0f} s), CPU time of each process tree from /proc\n", unit,
             r.cpuRequests(), r.seconds);
  fmt::print("  {:<16} {:>10} {:>7} {:>10}  {}\n", "process", "cpu s", "cores", "us/write", "pids");
  double named = 0;
  for (const auto& u : r.cpu) {
    named += u.micros;
    fmt::print("  {:<16} {:>10.2f} {:>7.2f} {:>10.1f}  {}\n", u.name, u.micros / 1e6,
               r.seconds > 0 ? u.micros / 1e6 / r.seconds : 0, bench::perWrite(u.micros, r.cpuRequests()),
               fmt::join(u.pids, " "));
  }
  auto line = [&](const std::string& label, double us) {
    fmt::print("  {:<16} {:>10.2f} {:>7.2f} {:>10.1f}\n", label, us / 1e6, r.seconds > 0 ? us / 1e6 / r.seconds : 0,
               bench::perWrite(us, r.cpuRequests()));
  };
  line("total (named)", named);
  line("machine (busy)", r.machineCpuUs);
  line("not named", std::max(r.machineCpuUs - named, 0.0));
  if (r.kafkaCounted && r.cpuRequests() > 0)
    fmt::print("kafka      {:.2f} requests sent to the brokers per {} by this client ({} requests, {} responses; "
               "librdkafka statistics)\n",
               static_cast<double>(r.kafkaRequests) / static_cast<double>(r.cpuRequests()), unit, r.kafkaRequests,
               r.kafkaResponses);
}

int runBenchLoad(const BenchLoadOptions& o) {
  bench::LoadOptions opts;
  if (o.direct.empty()) {
    opts.client = clientOptions(o.flags.resolve(),
                                fmt::format("kluster-bench-load-{}-{}", ::getpid(), util::uuid4().substr(0, 8)));
  } else {
    opts.directUrl = o.direct;
    opts.directReplicas = o.directReplicas;
  }
  opts.clients = o.clients;
  opts.rate = o.rate;
  opts.duration = util::parseDuration(o.duration);
  opts.warmup = util::parseDuration(o.warmup);
  opts.timeout = util::parseDuration(o.timeout);
  opts.wait = client::WaitPolicy::parse(o.wait);
  opts.workload = bench::parseWorkload(o.workload);
  opts.hotRows = o.hotRows;
  opts.breakdown = o.breakdown;
  opts.client.batchLinger = util::parseDuration(o.batchLinger);
  opts.table = o.table;
  opts.cpu = cpuTargets(o);
  Progress progress("bench load");
  if (progress.enabled()) opts.progress = [&progress](const std::string& line) { progress.show(line, true); };
  const auto r = o.direct.empty() ? bench::runLoad(opts) : bench::runDirectLoad(opts);
  progress.clear();

  std::uint64_t errors = 0;
  for (const auto& [code, n] : r.errors) errors += n;
  const auto loop = o.rate > 0 ? fmt::format("open loop at {:.0f} requests/s", o.rate)
                               : fmt::format("closed loop, {} clients", o.clients);
  const auto format = outputFormat(o.output, Format::Table);
  if (format == Format::Json || format == Format::Jsonl) {
    ojson j{{"cluster", o.direct.empty() ? ojson(opts.client.cluster) : ojson(nullptr)},
            {"nodes", r.nodes},
            {"workload", o.workload},
            {"clients", o.clients},
            {"rate", o.rate},
            {"wait", o.wait},
            {"seconds", r.seconds},
            {"completed", r.completed},
            {"ok", r.ok},
            {"throughput", r.throughput()},
            {"errors", r.errors},
            {"latency", histogramJson(r.latencyUs)},
            {"sent", r.sent},
            {"resent", r.resent},
            {"cpu", cpuJson(r)},
            {"check", {{"passed", r.checkPassed}, {"nodes", r.checkLines}}}};
    if (o.workload == "mix") {
      j["writes"] = histogramJson(r.writeUs);
      j["reads"] = histogramJson(r.readUs);
    }
    if (o.breakdown) {
      ojson stages = ojson::array();
      for (const auto& s : r.stages) stages.push_back({{"stage", s.name}, {"latency", histogramJson(s.us)}});
      j["breakdown"] = stages;
    }
    fmt::print("{}\n", j.dump(format == Format::Json ? 2 : -1));
  } else if (format == Format::Csv) { // one row per latency histogram
    Table t{{"SERIES", "REQUESTS", "P50_MS", "P90_MS", "P99_MS", "P99_9_MS", "MAX_MS", "MEAN_MS"}, {}};
    auto add = [&](const std::string& series, const bench::Histogram& h) {
      t.rows.push_back({series, std::to_string(h.count()), fmt::format("{:.3f}", ms(h.percentile(0.5))),
                        fmt::format("{:.3f}", ms(h.percentile(0.9))), fmt::format("{:.3f}", ms(h.percentile(0.99))),
                        fmt::format("{:.3f}", ms(h.percentile(0.999))), fmt::format("{:.3f}", ms(h.max())),
                        fmt::format("{:.3f}", h.mean() / 1000.0)});
    };
    add("latency", r.latencyUs);
    if (o.workload == "mix") {
      add("writes", r.writeUs);
      add("reads", r.readUs);
    }
    for (const auto& s : r.stages) add(s.name, s.us);
    std::cout << renderCsv(t);
  } else {
    if (o.direct.empty())
      fmt::print("bench load: cluster {}, {} node(s) ({}), workload {}, {}, --wait {}, {:.0f} s measured\n",
                 opts.client.cluster, r.nodes.size(), fmt::join(r.nodes, ", "), o.workload, loop, o.wait, r.seconds);
    else
      fmt::print("bench load: MariaDB {} directly, no Kluster (copies checked: {}), workload {}, {}, {:.0f} s "
                 "measured\n",
                 r.nodes.front(), fmt::join(r.nodes, ", "), o.workload, loop, r.seconds);
    fmt::print("throughput {:.0f} requests/s ({} requests, {} OK, {} errors)\n", r.throughput(), r.completed, r.ok,
               errors);
    for (const auto& [code, n] : r.errors) fmt::print("  error    {}: {}\n", code, n);
    printHistogram("latency ms", r.latencyUs);
    if (o.workload == "mix") {
      printHistogram("  writes", r.writeUs);
      printHistogram("  reads", r.readUs);
    }
    if (o.breakdown) {
      fmt::print("breakdown, per response, ms (wall clocks of one machine)\n");
      fmt::print("  {:<40} {:>8} {:>8}\n", "stage", "p50", "p99");
      for (const auto& s : r.stages)
        fmt::print("  {:<40} {:>8.3f} {:>8.3f}\n", s.name, ms(s.us.percentile(0.5)), ms(s.us.percentile(0.99)));
    }
    printCpu(r);
    fmt::print("check      {} requests sent, {} re-sent after no answer\n", r.sent, r.resent);
    for (const auto& line : r.checkLines) fmt::print("  {}\n", line);
    fmt::print("check      {}\n",
               r.checkPassed ? "PASSED: every node holds exactly the applied requests' effects" : "FAILED: see above");
  }
  return r.checkPassed ? exitcode::Ok : exitcode::Divergence;
}

} // namespace

void addBenchLoad(CLI::App* bench, Action& action) {
  auto o = std::make_shared<BenchLoadOptions>();
  auto* load = bench->add_subcommand(
      "load", "Concurrent clients against a running cluster: throughput and latency percentiles, then a check "
              "that every node holds exactly the applied requests' effects");
  o->flags.add(load);
  load->add_option("--clients", o->clients, "logical clients, each with one request in flight (closed loop)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  load->add_option("--rate", o->rate,
                   "open loop: send this many requests per second in all, whatever the answers (0: closed loop)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  load->add_option("--duration", o->duration, "measured time")->capture_default_str();
  load->add_option("--warmup", o->warmup, "time run before measuring, not counted")->capture_default_str();
  load->add_option("--timeout", o->timeout, "each request's timeout")->capture_default_str();
  load->add_option("--wait", o->wait, "responses awaited per ALL request: first, all, quorum or N")
      ->capture_default_str();
  load->add_option("--workload", o->workload,
                   "insert (single-row INSERT), update (one row of a hot set), multi (INSERT and UPDATE in one "
                   "request), read (SELECT on ONE), mix (50% reads, 40% inserts, 10% updates)")
      ->capture_default_str()
      ->check(CLI::IsMember({"insert", "update", "multi", "read", "mix"}));
  load->add_option("--hot-rows", o->hotRows, "rows of the hot set that updates and reads pick from")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  load->add_flag("--breakdown", o->breakdown,
                 "trace the requests and print where the time goes: median and p99 of each stage");
  load->add_option("--batch-linger", o->batchLinger,
                   "how long the client library's requests sent while others are in flight wait to share a Kafka "
                   "produce request (0: every request goes at once)")
      ->capture_default_str();
  load->add_option("--table", o->table, "the benchmark's table (default: a fresh name; dropped at the end)");
  load->add_option("--cpu-pid", o->cpuPids,
                   "NAME=PID: report the CPU time this process and its descendants use in the measured time, per "
                   "write (repeatable; the same NAME twice sums them)")
      ->type_name("NAME=PID");
  load->add_option("--cpu-match", o->cpuMatches,
                   "NAME=REGEX: the same for every process whose command line matches when the run starts")
      ->type_name("NAME=REGEX");
  load->add_option("--direct", o->direct,
                   "no cluster: run the insert workload straight to this MariaDB server (mariadb://...), one "
                   "connection per client, each INSERT committed on its own (bench/compare.sh's peer)")
      ->type_name("URL");
  load->add_option("--direct-replica", o->directReplicas,
                   "with --direct: a replica of that server whose copy the end check compares too (repeatable)")
      ->type_name("URL");
  addOutputFlag(load, o->output, "default table; csv: one row per latency series");
  load->footer(
      "Creates its tables through ALL, runs the clients through one client library instance, and prints "
      "throughput and latency percentiles (log-linear histogram, 1/64 precision). Open loop (--rate) counts each "
      "request's latency from when it was due, so stalls are not hidden. At the end, requests that got no answer "
      "are sent again with their ids until answered (DUPLICATE when applied already), every node is asked through "
      "ALL for a digest of the tables, and the digests are compared with the applied requests; exit status 4 when "
      "a node differs. The tables are dropped at the end. The CPU time (user + system, /proc/PID/stat) that "
      "this process (\"client\"), each --cpu-pid/--cpu-match process with its descendants, and the whole machine "
      "(/proc/stat, busy) use in the measured time is printed divided by the writes sent in it.");
  load->callback([o, &action] { action = [o] { return runBenchLoad(*o); }; });
}

} // namespace kluster::commands
