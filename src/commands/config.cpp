// klusterctl config show: every setting with its value and the layer it came from.
#include "commands/command.hpp"

#include <fmt/format.h>

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

} // namespace

void registerConfig(CLI::App& app, Action& action) {
  auto o = std::make_shared<ConfigOptions>();
  auto* config = app.add_subcommand("config", "Inspect configuration");
  config->require_subcommand(1);
  auto* show = config->add_subcommand("show", "Print every setting, its value and where it came from "
                                              "(default < file < KLUSTER_* environment < flag); secrets masked");
  o->flags.add(show);
  show->add_option("--id", o->id, "node id");
  show->callback([o, &action] { action = [o] { return runConfigShow(*o); }; });
}

} // namespace kluster::commands
