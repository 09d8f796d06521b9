#pragma once
// How subcommands plug into klusterctl: each file exposes one register function that adds its
// subcommand to the CLI and, when chosen, sets the action main() runs. registry.cpp lists them all.
#include "core/client/client.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kluster::commands {

/// The client library's options from settings: cluster, brokers, [kafka], and the signing identity
/// (security.client_id and its key; without a key, `fallbackId` when not empty, else a fresh id).
client::ClientOptions clientOptions(const Settings& settings, const std::string& fallbackId = {});

/// What main() runs after parsing; returns the process exit code.
using Action = std::function<int()>;

/// Flags shared by every command that talks to a cluster: --config, --brokers, --cluster, -X.
struct ClusterFlags {
  std::string config;
  std::string brokers;
  std::string cluster;
  std::vector<std::string> kafkaProps;

  void add(CLI::App* app);
  /// Layers defaults, the config file, KLUSTER_* variables and these flags.
  Settings resolve() const;
};

void registerInit(CLI::App& app, Action& action);
void registerNode(CLI::App& app, Action& action);
void registerExec(CLI::App& app, Action& action);
void registerConfig(CLI::App& app, Action& action);
void registerOffsets(CLI::App& app, Action& action);
void registerMonitor(CLI::App& app, Action& action);
void registerBackup(CLI::App& app, Action& action);
void registerRestore(CLI::App& app, Action& action);
void registerVerify(CLI::App& app, Action& action);
void registerBench(CLI::App& app, Action& action);
void registerDemo(CLI::App& app, Action& action);
/// Hidden: writes the man page and completions from this very CLI tree (used by the build).
void registerGenerate(CLI::App& app, Action& action);

/// Registers every subcommand, in the order `klusterctl --help` lists them.
void registerAll(CLI::App& app, Action& action);

} // namespace kluster::commands
