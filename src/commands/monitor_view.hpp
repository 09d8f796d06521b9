#pragma once
// The text view of `klusterctl monitor`: one screen per snapshot.
#include "commands/output.hpp"
#include "core/ops/health.hpp"

#include <string>

namespace kluster::commands {

/// One row per node: what the view's table shows and `-o csv` prints.
Table monitorNodes(const ops::MonitorSnapshot& snapshot);

/// Renders a snapshot for a terminal; `errors` caps the error feed, `footer` ends the header line.
std::string renderMonitor(const ops::MonitorSnapshot& snapshot, std::size_t errors, const std::string& footer);

} // namespace kluster::commands
