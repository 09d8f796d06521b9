#pragma once
// `klusterctl bench load`: N concurrent logical clients of a running cluster, all through one client library
// instance, in a closed loop (each client sends its next request when the last is answered, like pgbench -c N)
// or an open loop (requests sent at a fixed rate whatever the answers, latency counted from when each was due,
// so a stall is not hidden by coordinated omission). At the end it checks that every node holds exactly the
// effects of the requests sent.
#include "core/bench/cpu.hpp"
#include "core/bench/histogram.hpp"
#include "core/client/client.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kluster::bench {

enum class Workload {
  Insert, ///< a single-row INSERT with a client-generated UUID key, on ALL
  Update, ///< UPDATE of one row of a hot set (n = n + 1), on ALL
  Multi,  ///< one request of two statements: an INSERT and a hot-row UPDATE, applied atomically, on ALL
  Read,   ///< SELECT of one hot row by key, on ONE
  Mix,    ///< 50% reads on ONE, 40% INSERTs and 10% UPDATEs on ALL
};
/// "insert", "update", "multi", "read" or "mix"; throws UsageError.
Workload parseWorkload(const std::string& name);
std::string workloadName(Workload w);

struct LoadOptions {
  client::ClientOptions client;
  int clients = 16;                          ///< logical clients (closed loop) or the in-flight cap / 64 (open)
  double rate = 0;                           ///< open loop: requests per second in all; 0 = closed loop
  std::chrono::milliseconds duration{10000}; ///< measured time
  std::chrono::milliseconds warmup{1000};    ///< run before measuring (not counted)
  std::chrono::milliseconds timeout{10000};  ///< per request
  client::WaitPolicy wait{client::WaitPolicy::Kind::All, 1}; ///< for ALL requests (reads wait for the first)
  Workload workload = Workload::Insert;
  int hotRows = 100;
  bool breakdown = false; ///< trace requests and measure each stage of their way
  std::string table;      ///< empty: a fresh name; the benchmark's tables are dropped at the end
  /// Processes whose CPU time is sampled at the start and the end of the measured time (the client's own
  /// process, "client", always is; so is the machine's busy time).
  std::vector<CpuTarget> cpu;
  std::function<void(const std::string&)> progress; ///< a line per second while it runs (may be empty)
  /// Not a cluster: the insert workload straight to this MariaDB server (runDirectLoad), the peer bench/compare.sh
  /// compares Kluster on MariaDB with; the end check reads it and each of `directReplicas` too.
  std::string directUrl;
  std::vector<std::string> directReplicas;
};

/// One stage of a request's way, measured per response (microseconds).
struct Stage {
  std::string name;
  Histogram us;
};

struct LoadResult {
  std::string table;
  std::vector<std::string> nodes;              ///< the live nodes at the start
  double seconds = 0;                          ///< measured time
  std::uint64_t completed = 0;                 ///< requests sent in the measured time (open loop: due), answered or not
  std::uint64_t ok = 0;                        ///< ... of which every response was OK
  std::map<std::string, std::uint64_t> errors; ///< by result code (TIMEOUT, DIVERGENCE, NO_ANSWER too)
  Histogram latencyUs;                         ///< every completed request
  Histogram writeUs, readUs;                   ///< by target (mix)
  std::vector<Stage> stages;                   ///< with breakdown
  /// CPU used in the measured time by each process (tree) of LoadOptions::cpu and by this one ("client"),
  /// and by the whole machine, for the writes (ALL requests) sent in it: writeUs.count().
  std::vector<CpuSampler::Usage> cpu;
  double machineCpuUs = 0;
  std::string cpuError; ///< why there are no CPU numbers (empty: there are)
  /// Kafka requests this process's clients sent to the brokers (and responses received) in the measured time,
  /// from librdkafka's statistics (reported every 100 ms, so the window's edges are that coarse).
  std::uint64_t kafkaRequests = 0, kafkaResponses = 0;
  bool kafkaCounted = false;
  /// The end check: requests sent, re-sent (unanswered ones, with their ids, until answered), and what
  /// every node holds against what the answered requests imply.
  std::uint64_t sent = 0, resent = 0;
  bool checked = false, checkPassed = false;
  std::vector<std::string> checkLines;
  double throughput() const { return seconds > 0 ? static_cast<double>(completed) / seconds : 0; }
  std::uint64_t writes() const { return writeUs.count(); }
  /// What the CPU is divided by: the writes, or the reads of a workload that only reads (--workload read).
  std::uint64_t cpuRequests() const { return writes() > 0 ? writes() : readUs.count(); }
};

/// Creates the tables through ALL, runs the load, checks every node, drops the tables.
LoadResult runLoad(const LoadOptions& options);
/// LoadOptions::directUrl: N connections inserting in a closed loop, every INSERT committed on its own; checks
/// that the server and its replicas hold exactly the acknowledged rows (direct_load.cpp). Throws UsageError for a
/// URL that is not mariadb://, another workload or --rate.
LoadResult runDirectLoad(const LoadOptions& options);

} // namespace kluster::bench
