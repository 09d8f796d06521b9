// klusterctl node run: runs one node until SIGTERM/SIGINT.
#include "core/node/node.hpp"
#include "commands/command.hpp"
#include "commands/progress.hpp"
#include "core/kafka/admin.hpp"
#include "core/log.hpp"
#include "core/topics.hpp"

#include <csignal>
#include <thread>

namespace kluster::commands {
namespace {

struct NodeRunOptions {
  ClusterFlags flags;
  std::string id;
  std::string metricsAddress;
  std::string logFormat;
};

std::atomic<node::Node*> g_node{nullptr};
std::atomic<int> g_signals{0};

extern "C" void onSignal(int) {
  // Only async-signal-safe work here: the node polls the flag.
  if (g_signals.fetch_add(1) > 0) std::_Exit(130); // a second signal: stop now
  if (auto* n = g_node.load()) n->stop();
}

// On a terminal, the catch-up after start as one progress line (`applied 40,000 / 120,000, 25,000/s, eta
// 3s`) until the node has applied what ALL held when it started; nothing on a pipe or under systemd.
void showCatchUp(const node::Node& n, const node::NodeOptions& options, Progress& progress,
                 const std::atomic<bool>& done) {
  try {
    kafka::Admin admin(kafka::clientProperties(options.brokers, options.kafka));
    const auto end = admin.watermarks(Topics{options.cluster}.all(), 0).high;
    while (!done.load() && !n.stopping()) {
      const auto applied = n.appliedOffset();
      if (applied >= 0 && applied + 1 >= end) break;
      if (applied >= 0) progress.count("applied", applied + 1, end);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  } catch (const std::exception&) {
    // a progress line is a nicety: the node itself reports what is wrong with Kafka
  }
  progress.clear();
}

int runNode(const NodeRunOptions& o) {
  auto settings = o.flags.resolve();
  if (!o.id.empty()) settings.setFlag("node.id", o.id);
  if (!o.metricsAddress.empty()) settings.setFlag("metrics.address", o.metricsAddress);
  if (!o.logFormat.empty()) settings.setFlag("log.format", o.logFormat);
  log::setLevel(log::parseLevel(settings.get("log.level")));
  log::setFormat(log::parseFormat(settings.get("log.format")));
  const auto options = node::NodeOptions::fromSettings(settings);
  node::Node n(options);
  g_node.store(&n);
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  Progress progress(options.nodeId);
  std::atomic<bool> done{false};
  std::thread catchUp;
  if (progress.enabled()) catchUp = std::thread([&] { showCatchUp(n, options, progress, done); });
  auto finish = [&] {
    done.store(true);
    if (catchUp.joinable()) catchUp.join();
    g_node.store(nullptr);
  };
  try {
    n.run();
  } catch (...) {
    finish();
    throw;
  }
  finish();
  return exitcode::Ok;
}

} // namespace

void registerNode(CLI::App& app, Action& action) {
  auto o = std::make_shared<NodeRunOptions>();
  auto* node = app.add_subcommand("node", "Run and manage a node");
  node->require_subcommand(1);
  auto* run = node->add_subcommand("run", "Run one node: apply ALL in order, serve ONE, until SIGTERM/SIGINT");
  o->flags.add(run);
  run->add_option("--id", o->id, "node id (overrides [node] id; env KLUSTER_NODE_ID)");
  run->add_option("--metrics-address", o->metricsAddress,
                  "serve /metrics, /health and /ready on HOST:PORT (overrides [metrics] address; port 0: any free "
                  "port, logged)");
  run->add_option("--log-format", o->logFormat,
                  "text, or json: one object per line for log collectors (overrides [log] format; env "
                  "KLUSTER_LOG_FORMAT)")
      ->check(CLI::IsMember({"text", "json"}));
  run->footer("The database URL comes from [database] url or KLUSTER_DATABASE_URL, never from a flag, so its "
              "password stays out of the process list.");
  run->callback([o, &action] { action = [o] { return runNode(*o); }; });
}

} // namespace kluster::commands
