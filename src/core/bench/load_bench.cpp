#include "core/bench/load_bench.hpp"

#include "core/bench/load_sql.hpp"

#include "core/errors.hpp"
#include "core/kafka/statistics.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <unistd.h>

namespace kluster::bench {
namespace {

using Clock = std::chrono::steady_clock;
using client::Target;

std::int64_t microsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}

std::mt19937_64& rng() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator;
}

/// What one request does, and what the end check must find if it was applied.
struct Op {
  Target target = Target::All;
  std::string uuid; ///< the row an INSERT adds (empty: none)
  int hotRow = 0;   ///< the hot row an UPDATE increments (0: none)
};

/// The statements of the workload, on the benchmark's two tables.
struct Statements {
  std::string insert, update, multiUpdate, read;
  explicit Statements(const std::string& t)
      : insert(fmt::format("INSERT INTO {} (id, client, n) VALUES ($1, $2, $3)", t)),
        update(fmt::format("UPDATE {}_hot SET n = n + 1 WHERE id = $1", t)),
        // A request's params go to every statement: the UPDATE next to the INSERT uses only $3.
        multiUpdate(fmt::format("UPDATE {}_hot SET n = n + 1 WHERE id = $3", t)),
        read(fmt::format("SELECT n FROM {}_hot WHERE id = $1", t)) {}
};

enum class Kind { Insert, Update, Multi, Read };

Kind pick(Workload w) {
  switch (w) {
  case Workload::Insert: return Kind::Insert;
  case Workload::Update: return Kind::Update;
  case Workload::Multi: return Kind::Multi;
  case Workload::Read: return Kind::Read;
  case Workload::Mix: {
    const auto roll = rng()() % 10;
    return roll < 5 ? Kind::Read : roll < 9 ? Kind::Insert : Kind::Update;
  }
  }
  return Kind::Insert;
}

Request makeRequest(const Statements& s, Kind kind, int client, int hotRows, Op& op) {
  Request r;
  const int hot = static_cast<int>(rng()() % static_cast<std::uint64_t>(hotRows)) + 1;
  switch (kind) {
  case Kind::Insert:
    op.uuid = util::uuid4();
    r.statements = {s.insert};
    r.params = {op.uuid, client, hot};
    break;
  case Kind::Update:
    op.hotRow = hot;
    r.statements = {s.update};
    r.params = {hot};
    break;
  case Kind::Multi:
    op.uuid = util::uuid4();
    op.hotRow = hot;
    r.statements = {s.insert, s.multiUpdate};
    r.params = {op.uuid, client, hot};
    break;
  case Kind::Read:
    op.target = Target::One;
    r.statements = {s.read};
    r.params = {hot};
    break;
  }
  return r;
}

/// Whether an ALL request took effect: true (OK, or DUPLICATE: an earlier copy did), false (refused or
/// failed on every node), or unknown (no answer).
std::optional<bool> applied(const client::Result& r) {
  std::optional<bool> verdict;
  for (const auto& resp : r.responses) {
    if (resp.resultCode == code::Ok || resp.resultCode == code::Duplicate) return true;
    verdict = false;
  }
  return verdict;
}

std::string outcomeCode(const client::Result& r) {
  if (r.diverged) return "DIVERGENCE";
  for (const auto& resp : r.responses)
    if (!resp.ok()) return resp.resultCode;
  if (r.timedOut) return r.responses.empty() ? "TIMEOUT" : "NO_ANSWER";
  return std::string(code::Ok);
}

/// The stages of a traced request's way, per response.
const std::vector<std::string>& stageNames() {
  static const std::vector<std::string> names{"client send -> broker ack",      "client send -> node fetched",
                                              "node fetched -> batch started",  "batch started -> committed",
                                              "committed -> response produced", "response produced -> client received",
                                              "client send -> client received"};
  return names;
}

class LoadRun {
public:
  LoadRun(const LoadOptions& o, client::Client& c, const Statements& s) : o_(o), client_(c), s_(s) {
    for (const auto& name : stageNames()) result_.stages.push_back({name, {}});
  }

  void run() {
    const auto start = Clock::now();
    measureFrom_ = start + o_.warmup;
    endAt_ = measureFrom_ + o_.duration;
    std::thread cpuThread([this] { sampleCpu(); });
    if (o_.rate > 0)
      openLoop();
    else
      for (int i = 0; i < o_.clients; ++i) issue(i, Clock::now());
    reportProgress();
    cpuThread.join();
    {
      // Every request still in flight ends by its timeout at the latest.
      std::unique_lock lock(mutex_);
      idle_.wait_until(lock, endAt_ + o_.timeout + std::chrono::seconds(5), [&] { return inFlight_ == 0; });
    }
    result_.seconds = std::chrono::duration<double>(o_.duration).count();
    resendUnknown();
  }

  /// Expected state of the tables from the requests known to be applied.
  std::vector<std::string> appliedIds() const {
    std::vector<std::string> ids(appliedUuids_.begin(), appliedUuids_.end());
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  const std::map<int, std::int64_t>& hotCounts() const { return hotCounts_; }
  LoadResult& result() { return result_; }

private:
  // The CPU time of the processes named, of this one and of the machine, at the start and the end of the
  // measured time.
  void sampleCpu() {
    auto targets = o_.cpu;
    targets.push_back({"client", static_cast<int>(::getpid()), {}});
    CpuSampler sampler(std::move(targets));
    try {
      std::this_thread::sleep_until(measureFrom_);
      sampler.start();
      const auto kafka0 = kafka::requestCounts();
      std::this_thread::sleep_until(endAt_);
      sampler.stop();
      const auto kafka1 = kafka::requestCounts();
      if (kafka0.clients > 0 && kafka1.clients == kafka0.clients) {
        result_.kafkaCounted = true;
        result_.kafkaRequests = kafka1.sent - kafka0.sent;
        result_.kafkaResponses = kafka1.received - kafka0.received;
      }
      result_.cpu = sampler.usage();
      result_.machineCpuUs = sampler.machineMicros();
    } catch (const std::exception& e) {
      result_.cpuError = e.what();
    }
  }

  // Closed loop: client `i` sends its next request when the last is answered, until the end.
  void issue(int i, Clock::time_point due) {
    if (Clock::now() >= endAt_) return;
    Op op;
    auto request = makeRequest(s_, pick(o_.workload), i, o_.hotRows, op);
    send(std::move(request), op, due, o_.rate > 0 ? -1 : i);
  }

  void send(Request request, Op op, Clock::time_point due, int loopClient) {
    request.trace = o_.breakdown;
    if (request.messageId.empty()) request.messageId = client_.clientId() + "." + util::uuid4();
    const auto wait = op.target == Target::One ? client::WaitPolicy{} : o_.wait;
    auto copy = op.target == Target::All ? std::optional<Request>(request) : std::nullopt;
    {
      std::lock_guard lock(mutex_);
      ++inFlight_;
      ++result_.sent;
    }
    try {
      client_.sendAsync(std::move(request), op.target, wait, o_.timeout,
                        [this, op, due, loopClient, copy = std::move(copy)](client::Result r) mutable {
                          completed(r, op, due, std::move(copy));
                          if (loopClient >= 0) issue(loopClient, Clock::now());
                        });
    } catch (const std::exception& e) {
      // The producer refused it (e.g. Kafka gone for longer than its timeout): counted, and this logical
      // client stops, which the errors line shows.
      std::lock_guard lock(mutex_);
      ++result_.errors[fmt::format("SEND_FAILED ({})", e.what())];
      if (--inFlight_ == 0) idle_.notify_all();
    }
  }

  void completed(const client::Result& r, const Op& op, Clock::time_point due, std::optional<Request> copy) {
    const auto now = Clock::now();
    const auto code = outcomeCode(r);
    std::lock_guard lock(mutex_);
    if (op.target == Target::All) {
      if (auto a = applied(r)) {
        if (*a) noteApplied(op);
      } else if (copy) {
        unknown_.emplace_back(std::move(*copy), op);
      }
    }
    // Requests sent (open loop: due) in the measured window count, wherever they end.
    const bool measured = due >= measureFrom_ && due < endAt_;
    if (measured) {
      ++result_.completed;
      const auto us = microsBetween(due, now);
      result_.latencyUs.record(us);
      (op.target == Target::One ? result_.readUs : result_.writeUs).record(us);
      interval_.record(us);
      if (code == code::Ok)
        ++result_.ok;
      else
        ++result_.errors[code];
      if (o_.breakdown) recordStages(r);
    }
    if (--inFlight_ == 0) idle_.notify_all();
  }

  void noteApplied(const Op& op) {
    if (!op.uuid.empty()) appliedUuids_.push_back(op.uuid);
    if (op.hotRow) ++hotCounts_[op.hotRow];
  }

  void recordStages(const client::Result& r) {
    auto& st = result_.stages;
    for (const auto& resp : r.responses) {
      if (!resp.trace) continue;
      const auto& t = *resp.trace;
      if (r.ackedUs) st[0].us.record(r.ackedUs - r.sentUs);
      st[1].us.record(t.fetchedUs - r.sentUs);
      st[2].us.record(t.startedUs - t.fetchedUs);
      st[3].us.record(t.committedUs - t.startedUs);
      st[4].us.record(t.producedUs - t.committedUs);
      st[5].us.record(resp.receivedUs - t.producedUs);
      st[6].us.record(resp.receivedUs - r.sentUs);
    }
  }

  // Open loop: requests at fixed intervals, whatever the answers; each one's latency counts from when it was
  // due, so a stall shows as the latency of every request it delayed.
  void openLoop() {
    const auto interval = std::chrono::duration<double>(1.0 / o_.rate);
    const auto start = Clock::now();
    auto nextProgress = start + std::chrono::seconds(1);
    for (std::uint64_t k = 0;; ++k) {
      const auto due = start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(k));
      if (due >= endAt_) break;
      if (due > Clock::now()) std::this_thread::sleep_until(due);
      if (Clock::now() >= nextProgress) {
        progressLine();
        nextProgress += std::chrono::seconds(1);
      }
      Op op;
      auto request = makeRequest(s_, pick(o_.workload), static_cast<int>(k % 64), o_.hotRows, op);
      send(std::move(request), op, due, -1);
    }
  }

  void reportProgress() {
    if (o_.rate > 0) return; // the open loop's sender reports
    while (Clock::now() < endAt_) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      progressLine();
    }
  }

  void progressLine() {
    if (!o_.progress) return;
    Histogram h;
    std::uint64_t errors = 0;
    {
      std::lock_guard lock(mutex_);
      h = interval_;
      interval_ = Histogram();
      for (const auto& [code, n] : result_.errors) errors += n;
    }
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - measureFrom_).count();
    o_.progress(fmt::format("{}{:.0f}s: {} req/s, p50 {:.2f} ms, p99 {:.2f} ms, errors {}",
                            now < measureFrom_ ? "warm-up " : "", std::max(elapsed, 0.0), h.count(),
                            static_cast<double>(h.percentile(0.5)) / 1000,
                            static_cast<double>(h.percentile(0.99)) / 1000, errors));
  }

  // Requests that got no answer may or may not have been applied: sent again with their ids until answered
  // (a copy applied already answers DUPLICATE), so the end check knows exactly what every node must hold.
  void resendUnknown() {
    for (int round = 0; round < 3 && !unknown_.empty(); ++round) {
      std::vector<std::pair<Request, Op>> again;
      again.swap(unknown_);
      std::vector<std::pair<std::future<client::Result>, Op>> futures;
      for (auto& [request, op] : again) {
        ++result_.resent;
        futures.emplace_back(
            client_.send(request, Target::All, client::WaitPolicy{client::WaitPolicy::Kind::First, 1}, o_.timeout), op);
      }
      for (std::size_t i = 0; i < futures.size(); ++i) {
        auto r = futures[i].first.get();
        if (auto a = applied(r)) {
          if (*a) noteApplied(futures[i].second);
        } else {
          unknown_.push_back(std::move(again[i]));
        }
      }
    }
  }

  const LoadOptions& o_;
  client::Client& client_;
  const Statements& s_;
  Clock::time_point measureFrom_, endAt_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::uint64_t inFlight_ = 0;
  LoadResult result_;
  Histogram interval_; ///< completions since the last progress line
  std::vector<std::string> appliedUuids_;
  std::map<int, std::int64_t> hotCounts_;
  std::vector<std::pair<Request, Op>> unknown_;
};

/// Sends a request to ALL and waits for every node. Throws when a node failed or did not answer, and when
/// their answers differ, unless `compare` says the caller compares them itself.
client::Result sendAll(client::Client& c, std::vector<std::string> statements, std::chrono::milliseconds timeout,
                       bool compare = false) {
  Request r;
  r.statements = std::move(statements);
  auto result = c.send(std::move(r), Target::All, client::WaitPolicy{client::WaitPolicy::Kind::All, 1}, timeout).get();
  if (result.timedOut || (!result.allOk() && !(compare && result.diverged))) {
    std::string why =
        result.timedOut ? "no answer from " + fmt::format("{}", fmt::join(result.missingNodes, ", ")) : "";
    for (const auto& resp : result.responses)
      if (!resp.ok()) why = fmt::format("{} on {}: {}", resp.resultCode, resp.nodeId, resp.errorMessage);
    if (result.diverged) why = "the nodes' answers differ";
    throw KlusterError(code::NodeError, "bench load: a setup request failed: " + why,
                       "check the nodes with klusterctl monitor");
  }
  return result;
}

/// Compares what every node holds with what the applied requests imply.
void check(client::Client& c, Dialect dialect, const std::string& table, LoadRun& run,
           std::chrono::milliseconds timeout) {
  auto& res = run.result();
  res.checked = true;
  const auto ids = run.appliedIds();
  auto r = sendAll(c, {checkQuery(dialect, table)}, timeout, true);
  bool ok = true;
  for (const auto& resp : r.responses) {
    std::string rows;
    const bool same = checkAnswer(dialect, resp.result, ids, run.hotCounts(), rows);
    ok = ok && same;
    res.checkLines.push_back(fmt::format("{}: {} rows{}", resp.nodeId, rows,
                                         same ? ", exactly the applied requests' rows and updates"
                                              : fmt::format(" ({} expected), rows or updates DIFFER", ids.size())));
  }
  for (const auto& n : res.nodes)
    if (std::none_of(r.responses.begin(), r.responses.end(), [&](const Response& x) { return x.nodeId == n; })) {
      ok = false;
      res.checkLines.push_back(n + ": did not answer the check");
    }
  res.checkPassed = ok;
}

} // namespace

Workload parseWorkload(const std::string& name) {
  if (name == "insert") return Workload::Insert;
  if (name == "update") return Workload::Update;
  if (name == "multi") return Workload::Multi;
  if (name == "read") return Workload::Read;
  if (name == "mix") return Workload::Mix;
  throw UsageError(fmt::format("unknown workload '{}': use insert, update, multi, read or mix", name));
}

std::string workloadName(Workload w) {
  switch (w) {
  case Workload::Insert: return "insert";
  case Workload::Update: return "update";
  case Workload::Multi: return "multi";
  case Workload::Read: return "read";
  case Workload::Mix: return "mix";
  }
  return "?";
}

LoadResult runLoad(const LoadOptions& o) {
  if (o.wait.kind == client::WaitPolicy::Kind::None)
    throw UsageError("bench load measures answered requests: use --wait first, all, quorum or a number");
  auto clientOptions = o.client;
  // Reports of the Kafka requests sent (kafka::requestCounts), unless the user set their own interval.
  clientOptions.kafka.emplace("statistics.interval.ms", "100");
  client::Client c(clientOptions);
  const auto nodes = c.liveNodes();
  if (nodes.empty())
    throw KlusterError(code::NodeError, fmt::format("no node of cluster {} is running", o.client.cluster),
                       "start the nodes first (klusterctl node run)");
  const auto table = o.table.empty() ? "kluster_load_" + util::uuid4().substr(0, 8) : o.table;
  const std::chrono::milliseconds setupTimeout = std::max(o.timeout, std::chrono::milliseconds(30000));
  const auto dialect = detectDialect(c, setupTimeout);
  for (auto& request : setupRequests(dialect, table, o.hotRows)) sendAll(c, std::move(request), setupTimeout);
  Statements statements(table);
  LoadRun run(o, c, statements);
  LoadResult result;
  try {
    run.run();
    run.result().table = table;
    run.result().nodes = nodes;
    check(c, dialect, table, run, setupTimeout);
  } catch (...) {
    try {
      sendAll(c, {fmt::format("DROP TABLE {0}, {0}_hot", table)}, setupTimeout);
    } catch (const std::exception&) {
    }
    throw;
  }
  result = std::move(run.result());
  sendAll(c, {fmt::format("DROP TABLE {0}, {0}_hot", table)}, setupTimeout);
  return result;
}

} // namespace kluster::bench
