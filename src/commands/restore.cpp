// klusterctl restore: loads a backup into a stopped node's database and points its ALL group at the backup.
#include "core/ops/restore.hpp"
#include "commands/command.hpp"
#include "core/ops/pg_tools.hpp"
#include "core/topics.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

namespace kluster::commands {
namespace {

struct RestoreCommandOptions {
  ClusterFlags flags;
  std::string from;
  bool force = false;
  std::string output = "text";
  std::string pgBindir;
};

int runRestore(const RestoreCommandOptions& o) {
  if (o.output != "text" && o.output != "json")
    throw UsageError(fmt::format("unknown output format '{}' (use text or json)", o.output));
  ops::RestoreOptions options;
  options.target = ops::NodeTarget::fromSettings(o.flags.resolve());
  options.from = o.from;
  options.force = o.force;
  options.pgBindir = o.pgBindir;
  const bool terminal = isatty(STDERR_FILENO);
  if (terminal)
    options.progress = [](const std::string& activity) {
      std::cerr << fmt::format("\r\x1b[Krestore: {}", activity.substr(0, 100)) << std::flush;
    };
  const auto r = ops::restore(options);
  if (terminal) std::cerr << "\r\x1b[K";
  for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";

  const auto& m = r.manifest;
  const Topics topics{options.target.cluster};
  const auto behind = std::max<std::int64_t>(0, r.log.logEnd - m.replayFrom());
  if (o.output == "json") {
    ojson j = {{"node", options.target.nodeId},
               {"from", o.from},
               {"backup", m.toJson()},
               {"database", r.database},
               {"createdDatabase", r.createdDatabase},
               {"droppedSchemas", r.dropped},
               {"group", topics.nodeGroup(options.target.nodeId)},
               {"previousCommittedOffset", r.previousCommitted},
               {"committedOffset", r.committed},
               {"logEnd", r.log.logEnd},
               {"requestsToReplay", behind},
               {"warnings", r.warnings},
               {"durationMs", r.durationMs}};
    std::cout << j.dump(2) << "\n";
    return exitcode::Ok;
  }
  std::cout << fmt::format("restored {} from {} (backup of {} at ALL offset {}, taken {})\n", options.target.nodeId,
                           o.from, m.node, m.allOffset, util::isoMillis(m.timeMs));
  std::cout << fmt::format("  checksums    verified ({} file(s), {})\n", m.files.size(),
                           ops::formatBytes(m.totalBytes()));
  std::string db = r.createdDatabase ? "created and loaded" : "loaded";
  if (!r.dropped.empty()) {
    std::string schemas;
    for (const auto& s : r.dropped) schemas += (schemas.empty() ? "" : ", ") + s;
    db = "emptied (dropped schemas " + schemas + ") and loaded";
  }
  std::cout << fmt::format("  database     {}: {}\n", r.database, db);
  std::cout << fmt::format("  ALL group    {} committed offset {} (was {})\n", topics.nodeGroup(options.target.nodeId),
                           r.committed,
                           r.previousCommitted < 0 ? std::string("none") : std::to_string(r.previousCommitted));
  std::cout << fmt::format("  ONE          nothing to do: every node shares group {}\n", topics.oneGroup());
  std::cout << fmt::format("  to replay    {} request(s) (offsets {}..{})\n", behind, m.replayFrom(), r.log.logEnd - 1);
  std::cerr << fmt::format("start the node (e.g. systemctl start kluster-node@{}, or klusterctl node run --config {}); "
                           "it replays ALL from offset {} and catches up\n",
                           options.target.nodeId, o.flags.config, m.replayFrom());
  return exitcode::Ok;
}

} // namespace

void registerRestore(CLI::App& app, Action& action) {
  auto o = std::make_shared<RestoreCommandOptions>();
  auto* cmd = app.add_subcommand("restore", "Load a backup into a stopped node's database (or a new node's) and set "
                                            "its ALL group to the backup's position");
  cmd->add_option("--node-config,--config", o->flags.config, "the node's TOML config (cluster, node id, database url)")
      ->envname("KLUSTER_CONFIG")
      ->required();
  cmd->add_option("--from", o->from, "backup directory (written by klusterctl backup)")->required();
  cmd->add_flag("--force", o->force, "replace what the node's database holds (drops every schema in it first)");
  cmd->add_option("-o,--output", o->output, "text or json")->capture_default_str();
  cmd->add_option("--pg-bindir", o->pgBindir,
                  "directory of pg_restore (default: /usr/lib/postgresql/<server major>/bin, then PATH)");
  cmd->add_option("--brokers", o->flags.brokers, "Kafka bootstrap servers (overrides the config)");
  cmd->add_option("--cluster", o->flags.cluster, "cluster name (overrides the config)");
  cmd->add_option("-X", o->flags.kafkaProps,
                  "librdkafka property key=value, passed through (repeatable); secrets are refused here: use the "
                  "[kafka] table or KLUSTER_X_<NAME>");
  cmd->footer("Checks first, changes nothing when one fails: the manifest's checksums, the node stopped (its ALL "
              "group has no members), ALL still holding every request after the backup, the database empty (or "
              "--force). Creates the database when it does not exist.\n"
              "Exit status: 0 OK, 1 refused or failed, 2 usage, 5 Kafka or the database unreachable.");
  cmd->callback([o, &action] { action = [o] { return runRestore(*o); }; });
}

} // namespace kluster::commands
