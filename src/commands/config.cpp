// klusterctl config show: every setting with its value and the layer it came from.
// klusterctl config check FILE: a node config is valid, and its Kafka and database answer.
#include "commands/command.hpp"
#include "core/db/adapter.hpp"
#include "core/kafka/admin.hpp"
#include "core/log.hpp"
#include "core/node/node.hpp"
#include "core/topics.hpp"

#include <fmt/format.h>

#include <filesystem>

namespace kluster::commands {
namespace {

struct ConfigOptions {
  ClusterFlags flags;
  std::string id;
};

int runConfigShow(const ConfigOptions& o) {
  auto settings = o.flags.resolve();
  if (!o.id.empty()) settings.setFlag("node.id", o.id);
  for (const auto& [key, v] : settings.describe()) fmt::print("{:<26} = {:<40} ({})\n", key, v.value, v.source);
  return exitcode::Ok;
}

struct CheckOptions {
  std::string file;
  bool offline = false;
};

void ok(const std::string& what) { fmt::print("ok    {}\n", what); }
void failed(const std::string& what, const std::string& hint) {
  fmt::print("FAIL  {}\n", what);
  if (!hint.empty()) fmt::print("      hint: {}\n", hint);
}

/// The layer a setting came from, for hints: "(from file node1.toml)".
std::string from(const Settings& s, const std::string& key) { return fmt::format("{} (from {})", key, s.source(key)); }

int runConfigCheck(const CheckOptions& o) {
  // 1. The file: TOML, known keys, values of the right type, a usable node.
  Settings settings;
  std::optional<node::NodeOptions> options;
  try {
    settings = Settings::load(std::filesystem::path(o.file));
    log::parseLevel(settings.get("log.level"));
    log::parseFormat(settings.get("log.format"));
    options = node::NodeOptions::fromSettings(settings);
    if (options->nodeId.empty()) throw UsageError("no node id: set [node] id (or KLUSTER_NODE_ID, or node run --id)");
    node::Node validate(*options); // checks ids, the database URL, limits, the metrics address
    kafka::makeConf(kafka::clientProperties(options->brokers, options->kafka)); // [kafka] properties
  } catch (const UsageError& e) {
    failed(fmt::format("config {}: {}", o.file, e.what()),
           "`klusterctl config show --config FILE` shows every value and where it came from");
    return exitcode::Usage;
  }
  const auto system = systemConfigPath();
  ok(fmt::format("config {}{}: node {} of cluster {}, database {}", o.file,
                 !system.empty() && std::filesystem::exists(system) ? " over " + system.string() : std::string(),
                 options->nodeId, options->cluster, maskUrl(options->databaseUrl)));
  if (o.offline) return exitcode::Ok;

  // 2. Kafka: reachable, and the cluster's topics exist.
  int status = exitcode::Ok;
  const Topics topics{options->cluster};
  try {
    kafka::Admin admin(kafka::clientProperties(options->brokers, options->kafka), std::chrono::seconds(10));
    const int brokers = admin.brokerCount();
    std::vector<std::string> missing, found;
    for (const auto& topic : {topics.all(), topics.one(), topics.responses(), topics.errors()}) {
      if (auto n = admin.partitionCount(topic))
        found.push_back(fmt::format("{} ({})", topic, *n));
      else
        missing.push_back(topic);
    }
    if (missing.empty()) {
      ok(fmt::format("kafka {}: {} broker{}; topics {}", options->brokers, brokers, brokers == 1 ? "" : "s",
                     fmt::join(found, ", ")));
    } else {
      failed(fmt::format("kafka {}: reachable, but the cluster's topics {} do not exist", options->brokers,
                         fmt::join(missing, ", ")),
             fmt::format("create them once for the cluster: klusterctl init --brokers {} --cluster {}",
                         options->brokers, options->cluster));
      status = exitcode::Usage;
    }
  } catch (const std::exception& e) {
    failed(fmt::format("kafka {}: {}", options->brokers, e.what()),
           fmt::format("check {} and that the brokers are reachable from here; TLS and SASL settings go in [kafka]",
                       from(settings, "cluster.brokers")));
    status = exitcode::Connection;
  }

  // 3. The database: it accepts the connection (nothing is written).
  try {
    auto conn = db::connect(options->databaseType, options->databaseUrl);
    const auto info = conn->serverInfo();
    ok(fmt::format("database {}: {} {} ({}, collation {})", maskUrl(options->databaseUrl), info.product, info.version,
                   info.encoding, info.collation));
  } catch (const std::exception& e) {
    failed(fmt::format("database {}: {}", maskUrl(options->databaseUrl), e.what()),
           fmt::format("check {}, that the server accepts this user from here (pg_hba.conf), and the password "
                       "(~/.pgpass or PGPASSWORD)",
                       from(settings, "database.url")));
    status = exitcode::Connection;
  }
  return status;
}

} // namespace

void registerConfig(CLI::App& app, Action& action) {
  auto o = std::make_shared<ConfigOptions>();
  auto* config = app.add_subcommand("config", "Inspect and check configuration");
  config->require_subcommand(1);
  auto* show = config->add_subcommand("show", "Print every setting, its value and where it came from "
                                              "(default < /etc/kluster/kluster.toml < file < KLUSTER_* environment < "
                                              "flag); secrets masked");
  o->flags.add(show);
  show->add_option("--id", o->id, "node id");
  show->callback([o, &action] { action = [o] { return runConfigShow(*o); }; });

  auto c = std::make_shared<CheckOptions>();
  auto* check = config->add_subcommand(
      "check", "Check a node config: its values, then that its Kafka and its database answer, with hints");
  check->add_option("file", c->file, "the node's TOML config")->required()->check(CLI::ExistingFile);
  check->add_flag("--offline", c->offline, "check the values only; connect to nothing");
  check->footer("The system-wide layer (/etc/kluster/kluster.toml, or $KLUSTER_SYSTEM_CONFIG) and KLUSTER_* "
                "variables apply as for node run. Nothing is written anywhere. Exit status: 0 all good, 2 an "
                "invalid value or the cluster's topics missing, 5 Kafka or the database could not be reached.");
  check->callback([c, &action] { action = [c] { return runConfigCheck(*c); }; });
}

} // namespace kluster::commands
