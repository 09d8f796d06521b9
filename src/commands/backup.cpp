// klusterctl backup: a consistent snapshot of one node's database that knows its ALL position.
#include "core/ops/backup.hpp"
#include "commands/command.hpp"
#include "commands/output.hpp"
#include "commands/progress.hpp"
#include "core/ops/manifest.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

namespace kluster::commands {
namespace {

struct BackupCommandOptions {
  ClusterFlags flags;
  std::string out;
  bool stopNode = false;
  std::string output;
  std::string pgBindir;
};

int runBackup(const BackupCommandOptions& o) {
  const auto format = outputFormat(o.output, Format::Table);
  ops::BackupOptions options;
  options.target = ops::NodeTarget::fromSettings(o.flags.resolve());
  options.outDir = o.out;
  options.stopNode = o.stopNode;
  options.pgBindir = o.pgBindir;
  Progress progress("backup");
  if (progress.enabled())
    options.progress = [&progress](std::uint64_t bytes) {
      progress.show(fmt::format("{} written ({})", ops::formatBytes(bytes), shortDuration(progress.seconds())));
    };
  const auto m = ops::backup(options);
  progress.clear();

  if (format == Format::Json || format == Format::Jsonl) {
    auto j = m.toJson();
    j["directory"] = o.out;
    std::cout << j.dump(format == Format::Json ? 2 : -1) << "\n";
  } else {
    Table fields{{"FIELD", "VALUE"}, {}};
    fields.rows.push_back({"ALL offset", fmt::format("{} (message {}); a restore replays from offset {}", m.allOffset,
                                                     m.messageId.empty() ? "-" : m.messageId, m.replayFrom())});
    fields.rows.push_back(
        {"database", fmt::format("{} on {} {} ({}, {}), {}", m.database, m.product, m.serverVersion, m.encoding,
                                 m.collation, ops::formatBytes(static_cast<std::uint64_t>(m.databaseBytes)))});
    for (const auto& f : m.files)
      fields.rows.push_back({"file", fmt::format("{} {} sha256 {}", f.name, ops::formatBytes(f.bytes), f.sha256)});
    fields.rows.push_back({"taken", fmt::format("{} in {:.1f} s with {}", util::isoMillis(m.timeMs),
                                                static_cast<double>(m.durationMs) / 1000.0, m.toolVersion)});
    printFields(fmt::format("backup of {} (cluster {}) written to {}", m.node, m.cluster, o.out), fields, format);
  }
  if (o.stopNode)
    std::cerr << fmt::format("node {} can be started again (e.g. systemctl start kluster-node@{}, or klusterctl node "
                             "run --config {})\n",
                             m.node, m.node, o.flags.config.empty() ? "NODE.toml" : o.flags.config);
  return exitcode::Ok;
}

} // namespace

void registerBackup(CLI::App& app, Action& action) {
  auto o = std::make_shared<BackupCommandOptions>();
  auto* cmd = app.add_subcommand(
      "backup", "Back up one node's database with its ALL position, without stopping "
                "the cluster (pg_dump custom format, or mariadb-dump SQL on MariaDB, + manifest.json)");
  cmd->add_option("--node-config,--config", o->flags.config, "the node's TOML config (cluster, node id, database url)")
      ->envname("KLUSTER_CONFIG")
      ->required();
  cmd->add_option(
         "--out", o->out,
         "directory to write (new or empty): the dump (database.dump; database.sql on MariaDB) and manifest.json")
      ->required();
  cmd->add_flag("--stop-node", o->stopNode,
                "back up a node that its service manager stopped: refuses while its ALL group has members");
  addOutputFlag(cmd, o->output, "default table; json and jsonl: the manifest; text is table's old name");
  cmd->add_option("--pg-bindir", o->pgBindir,
                  "directory of pg_dump (default: /usr/lib/postgresql/<server major>/bin, then PATH); on MariaDB of "
                  "mariadb-dump (default: PATH)");
  cmd->add_option("--brokers", o->flags.brokers, "Kafka bootstrap servers (overrides the config)");
  cmd->add_option("--cluster", o->flags.cluster, "cluster name (overrides the config)");
  cmd->add_option("-X", o->flags.kafkaProps,
                  "librdkafka property key=value, passed through (repeatable); secrets are refused here: use the "
                  "[kafka] table or KLUSTER_X_<NAME>");
  cmd->footer(
      "The snapshot and the ALL position come from one REPEATABLE READ transaction (pg_export_snapshot), "
      "so a restore replays ALL from exactly the next request (on MariaDB: mariadb-dump --single-transaction, the "
      "position read from the dump itself, docs/mariadb.md). Refuses when ALL's retention is limited or "
      "Kafka no longer holds the requests after the position.\n"
      "Exit status: 0 OK, 1 refused or failed, 2 usage, 5 Kafka or the database unreachable.");
  cmd->callback([o, &action] { action = [o] { return runBackup(*o); }; });
}

} // namespace kluster::commands
