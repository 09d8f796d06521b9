#include "commands/command.hpp"

namespace kluster::commands {

void registerAll(CLI::App& app, Action& action) {
  registerInit(app, action);
  registerNode(app, action);
  registerExec(app, action);
  registerConfig(app, action);
}

} // namespace kluster::commands
