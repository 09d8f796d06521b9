#pragma once
// `klusterctl bench load`, added to `klusterctl bench` by bench.cpp.
#include "commands/command.hpp"

namespace kluster::commands {

void addBenchLoad(CLI::App* bench, Action& action);

} // namespace kluster::commands
