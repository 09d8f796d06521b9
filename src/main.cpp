// klusterctl: builds the CLI, runs the chosen subcommand, turns errors into exit codes.
#include "commands/command.hpp"
#include "core/errors.hpp"
#include "core/version.hpp"

#include <iostream>

int main(int argc, char** argv) {
  using namespace kluster;
  CLI::App app{"klusterctl: keep N SQL databases consistently in sync through Apache Kafka"};
  app.set_version_flag("--version", std::string(kVersion));
  app.require_subcommand(1);
  commands::Action action;
  commands::registerAll(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exitcode::Ok : exitcode::Usage;
  }
  try {
    return action ? action() : exitcode::Usage;
  } catch (const UsageError& e) {
    std::cerr << "klusterctl: " << e.what() << "\n";
    return exitcode::Usage;
  } catch (const KlusterError& e) {
    std::cerr << "klusterctl: " << e.what() << "\n";
    if (!e.hint().empty()) std::cerr << "hint: " << e.hint() << "\n";
    return e.code() == code::NodeError ? exitcode::Connection : exitcode::SqlError;
  } catch (const std::exception& e) {
    std::cerr << "klusterctl: internal error: " << e.what() << "\n";
    return exitcode::Internal;
  }
}
