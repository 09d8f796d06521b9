// klusterctl monitor: every node's applied ALL offset, lag, answers and errors, from Kafka alone (group
// offsets, RESPONSES, ERRORS), as a live view like `top`, one snapshot (--once, -o json), or an alert
// check (--check: exit 1 with the reasons on stderr).
#include "commands/command.hpp"
#include "commands/monitor_view.hpp"
#include "core/ops/health.hpp"
#include "core/ops/log_tail.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <thread>

namespace kluster::commands {
namespace {

struct MonitorOptions {
  ClusterFlags flags;
  bool once = false;
  bool check = false;
  std::string output;
  std::int64_t maxLag = 1000;
  std::string silentAfter = "30s";
  std::string interval = "2s";
  std::string window = "60s";
  std::size_t errors = 10;
};

volatile std::sig_atomic_t gStop = 0;
extern "C" void onStopSignal(int) { gStop = 1; }

// ANSI: alternate screen (restored on exit, as top does), cursor home + clear.
constexpr const char* kEnterScreen = "\033[?1049h";
constexpr const char* kLeaveScreen = "\033[?1049l";
constexpr const char* kClear = "\033[H\033[2J";

// Feeds RESPONSES and ERRORS messages to the tracker; anything unparsable is counted and skipped.
class Feeder {
public:
  /// Responses older than `fromMs` count only when they are continuous verification results.
  Feeder(const Topics& topics, ops::ActivityTracker& tracker, std::int64_t fromMs)
      : topics_(topics), tracker_(tracker), fromMs_(fromMs) {}
  void operator()(const RdKafka::Message& m) {
    const std::string_view payload(static_cast<const char*>(m.payload()), m.len());
    const auto ts = m.timestamp().type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE
                        ? m.timestamp().timestamp
                        : util::nowMillis();
    if (m.topic_name() == topics_.responses()) {
      if (ts < fromMs_ && (!m.key() || *m.key() != checks::kClientId)) return;
      try {
        tracker_.addResponse(Response::fromJson(payload), ts);
      } catch (const std::exception&) {
        ++malformed_;
      }
    } else if (auto e = ops::parseErrorReport(payload, ts)) {
      tracker_.addError(std::move(*e));
    } else {
      ++malformed_;
    }
  }
  std::uint64_t malformed() const { return malformed_; }

private:
  const Topics& topics_;
  ops::ActivityTracker& tracker_;
  std::int64_t fromMs_;
  std::uint64_t malformed_ = 0;
};

// `first`: the first snapshot printed (CSV's header goes before it only); `pretty`: one snapshot, not a live feed.
void print(const ops::MonitorSnapshot& snapshot, const MonitorOptions& o, Format format, bool first, bool pretty,
           const std::string& footer) {
  if (format == Format::Json || format == Format::Jsonl) {
    std::cout << ops::toJson(snapshot).dump(pretty && format == Format::Json ? 2 : -1) << "\n";
  } else if (format == Format::Csv) { // one row per node and refresh, with the snapshot's time
    auto nodes = monitorNodes(snapshot);
    nodes.header.insert(nodes.header.begin(), "TIME");
    for (auto& row : nodes.rows) row.insert(row.begin(), util::isoMillis(snapshot.takenMs));
    auto csv = renderCsv(nodes);
    std::cout << (first ? csv : csv.substr(csv.find('\n') + 1));
  } else {
    std::cout << renderMonitor(snapshot, o.errors, footer);
  }
  std::cout << std::flush;
}

int runMonitor(const MonitorOptions& o) {
  const auto format = outputFormat(o.output, Format::Table);
  ops::Thresholds thresholds;
  thresholds.maxLag = o.maxLag;
  thresholds.silentAfter = util::parseDuration(o.silentAfter);
  const auto interval = std::max(util::parseDuration(o.interval), std::chrono::milliseconds(100));
  const auto window = util::parseDuration(o.window);
  if (window < std::chrono::seconds(1)) throw UsageError("--window must be at least 1s");
  if (o.maxLag < 0) throw UsageError("--max-lag must not be negative");

  const auto settings = o.flags.resolve();
  const Topics topics{settings.get("cluster.name")};
  const auto props = kafka::clientProperties(settings.get("cluster.brokers"), settings.kafka());
  kafka::Admin admin(props);
  ops::requireTopic(admin, topics.all());

  // The recent history gives rates and the latest answers at once, without waiting for new traffic.
  const auto from = util::nowMillis() - window.count();
  ops::ActivityTracker::Limits limits;
  limits.window = window;
  limits.errors = std::max<std::size_t>(o.errors, 1);
  ops::ActivityTracker tracker(limits, from);
  Feeder feed(topics, tracker, from);
  ops::LogTail tail(props);
  // Continuous verification's results go back two check periods (node.check_interval, as the nodes have it).
  std::map<int, std::int64_t> checksFrom;
  if (const auto checkEvery = settings.getDuration("node.check_interval"); checkEvery.count() > 0)
    checksFrom[util::responsePartition(checks::kClientId, ops::requireTopic(admin, topics.responses()))] =
        util::nowMillis() - 2 * checkEvery.count();
  tail.follow(admin, topics.responses(), from, 0, checksFrom);
  tail.follow(admin, topics.errors(), from, static_cast<std::int64_t>(o.errors));
  auto snapshot = [&] {
    const auto positions = ops::loadPositions(admin, topics);
    const auto now = util::nowMillis();
    tracker.expire(now);
    return ops::assess(positions, tracker, thresholds, now);
  };
  const auto sink = [&](const RdKafka::Message& m) { feed(m); };

  if (o.once || o.check) {
    if (!tail.drain(sink, std::chrono::seconds(30)))
      std::cerr << "klusterctl: could not read the whole recent history in 30 s; rates are partial\n";
    const auto s = snapshot();
    print(s, o, format, true, true, "");
    if (feed.malformed() > 0)
      std::cerr << fmt::format("klusterctl: skipped {} malformed message(s) on {} / {}\n", feed.malformed(),
                               topics.responses(), topics.errors());
    if (o.check && !s.healthy()) {
      for (const auto& p : s.problems) std::cerr << "problem: " << p << "\n";
      return exitcode::SqlError; // 1: the documented "not healthy" status of --check
    }
    return exitcode::Ok;
  }

  gStop = 0;
  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const bool screen = format == Format::Table && isatty(STDOUT_FILENO);
  bool first = true;
  if (screen) std::cout << kEnterScreen;
  const auto footer = fmt::format("  (every {}; Ctrl-C quits)", o.interval);
  while (!gStop) {
    const auto next = std::chrono::steady_clock::now() + interval;
    try {
      tail.drain(sink, interval);
      const auto s = snapshot();
      if (screen) std::cout << kClear;
      print(s, o, format, first, false, footer);
      first = false;
      if (!screen && format == Format::Table) std::cout << "\n";
    } catch (const KlusterError& e) {
      // A live view outlives a broker hiccup: say so and try again at the next refresh.
      if (screen) std::cout << kClear;
      std::cerr << fmt::format("klusterctl: {} (retrying every {})\n", e.what(), o.interval);
    }
    while (!gStop && std::chrono::steady_clock::now() < next)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (screen) std::cout << kLeaveScreen << std::flush;
  return exitcode::Ok;
}

} // namespace

void registerMonitor(CLI::App& app, Action& action) {
  auto o = std::make_shared<MonitorOptions>();
  auto* cmd = app.add_subcommand("monitor", "Watch every node: applied ALL offset, lag, answers, errors, divergence");
  o->flags.add(cmd);
  cmd->add_flag("--once", o->once, "print one snapshot and exit");
  addOutputFlag(cmd, o->output,
                "default table; live, json and jsonl print one JSON object per line per refresh and csv one row per "
                "node and refresh");
  cmd->add_flag("--check", o->check,
                "one snapshot; exit 1 (reasons on stderr) when a node is lagging, silent, stopped or diverged");
  cmd->add_option("--max-lag", o->maxLag, "a node more ALL messages behind than this is lagging")
      ->capture_default_str();
  cmd->add_option("--silent-after", o->silentAfter,
                  "a node is silent when others answered ALL requests and it has not for this long")
      ->capture_default_str();
  cmd->add_option("--interval", o->interval, "refresh interval of the live view")->capture_default_str();
  cmd->add_option("--window", o->window, "history read from RESPONSES and ERRORS; rates are averaged over it")
      ->capture_default_str();
  cmd->add_option("--errors", o->errors, "how many of the newest ERRORS reports to show")->capture_default_str();
  cmd->footer("States: ok; lagging (lag > --max-lag); silent (no ALL answer for --silent-after while others "
              "answered); stopped (its group C.node.<id> has no active member); diverged (its resultHash differs "
              "from the majority for the same ALL request).\nExit status: 0 OK (--check: healthy), 1 --check found "
              "a problem, 2 usage, 5 Kafka could not be reached.");
  cmd->callback([o, &action] { action = [o] { return runMonitor(*o); }; });
}

} // namespace kluster::commands
