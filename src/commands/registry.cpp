#include "commands/command.hpp"

namespace kluster::commands {

void registerProxy(CLI::App& app, Action& action);    // proxy.cpp
void registerSecurity(CLI::App& app, Action& action); // security.cpp
void registerPasswd(CLI::App& app, Action& action);   // passwd.cpp

void registerAll(CLI::App& app, Action& action) {
  registerDemo(app, action);
  registerInit(app, action);
  registerNode(app, action);
  registerExec(app, action);
  registerConfig(app, action);
  registerOffsets(app, action);
  registerMonitor(app, action);
  registerBackup(app, action);
  registerRestore(app, action);
  registerVerify(app, action);
  registerBench(app, action);
  registerProxy(app, action);
  registerPasswd(app, action);
  registerSecurity(app, action);
  registerGenerate(app, action); // last: it documents everything above
}

} // namespace kluster::commands
