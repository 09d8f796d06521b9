// klusterctl restore: loads a backup into a stopped node's database and points its ALL group at the backup.
#include "core/ops/restore.hpp"
#include "commands/command.hpp"
#include "commands/output.hpp"
#include "commands/progress.hpp"
#include "core/ops/manifest.hpp"
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
  std::string output;
  std::string pgBindir;
};

int runRestore(const RestoreCommandOptions& o) {
  const auto format = outputFormat(o.output, Format::Table);
  ops::RestoreOptions options;
  options.target = ops::NodeTarget::fromSettings(o.flags.resolve());
  options.from = o.from;
  options.force = o.force;
  options.pgBindir = o.pgBindir;
  Progress progress("restore");
  if (progress.enabled()) options.progress = [&progress](const std::string& activity) { progress.show(activity); };
  const auto r = ops::restore(options);
  progress.clear();
  for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";

  const auto& m = r.manifest;
  const Topics topics{options.target.cluster};
  const auto behind = std::max<std::int64_t>(0, r.log.logEnd - m.replayFrom());
  if (format == Format::Json || format == Format::Jsonl) {
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
    std::cout << j.dump(format == Format::Json ? 2 : -1) << "\n";
    return exitcode::Ok;
  }
  Table fields{{"FIELD", "VALUE"}, {}};
  fields.rows.push_back(
      {"checksums", fmt::format("verified ({} file(s), {})", m.files.size(), ops::formatBytes(m.totalBytes()))});
  std::string db = r.createdDatabase ? "created and loaded" : "loaded";
  if (!r.dropped.empty()) {
    std::string schemas;
    for (const auto& s : r.dropped) schemas += (schemas.empty() ? "" : ", ") + s;
    db = "emptied (dropped schemas " + schemas + ") and loaded";
  }
  fields.rows.push_back({"database", fmt::format("{}: {}", r.database, db)});
  fields.rows.push_back(
      {"ALL group", fmt::format("{} committed offset {} (was {})", topics.nodeGroup(options.target.nodeId), r.committed,
                                r.previousCommitted < 0 ? std::string("none") : std::to_string(r.previousCommitted))});
  fields.rows.push_back({"ONE", fmt::format("nothing to do: every node shares group {}", topics.oneGroup())});
  fields.rows.push_back(
      {"to replay", fmt::format("{} request(s) (offsets {}..{})", behind, m.replayFrom(), r.log.logEnd - 1)});
  printFields(fmt::format("restored {} from {} (backup of {} at ALL offset {}, taken {})", options.target.nodeId,
                          o.from, m.node, m.allOffset, util::isoMillis(m.timeMs)),
              fields, format);
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
  cmd->add_flag("--force", o->force,
                "replace what the node's database holds (drops every schema in it first; on MariaDB the "
                "database itself, created again)");
  addOutputFlag(cmd, o->output, "default table; text is table's old name");
  cmd->add_option("--pg-bindir", o->pgBindir,
                  "directory of pg_restore (default: /usr/lib/postgresql/<server major>/bin, then PATH); on "
                  "MariaDB of the mariadb client (default: PATH)");
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
