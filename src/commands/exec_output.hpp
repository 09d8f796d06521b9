#pragma once
// Rendering exec results: aligned tables for people, CSV, JSON and JSON lines for programs.
#include "commands/output.hpp"
#include "core/client/client.hpp"

#include <ostream>
#include <string>

namespace kluster::commands {

/// Writes the data of a result to `out` (stdout); diagnostics go to `err` (stderr).
void render(const client::Result& result, Format format, std::ostream& out, std::ostream& err);

/// A table of rows (array of objects) with aligned columns; NULL shown as "NULL".
std::string formatTable(const ojson& rows, const ojson& columns);
/// RFC 4180 CSV with a header line.
std::string formatCsv(const ojson& rows, const ojson& columns);

} // namespace kluster::commands
