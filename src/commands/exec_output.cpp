#include "commands/exec_output.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>

namespace kluster::commands {
namespace {

std::vector<std::string> columnNames(const ojson& rows, const ojson& columns) {
  std::vector<std::string> names;
  if (columns.is_array())
    for (const auto& c : columns) names.push_back(c.value("name", ""));
  else if (rows.is_array() && !rows.empty())
    for (const auto& [k, v] : rows.front().items()) names.push_back(k);
  return names;
}

std::string cellText(const ojson& v) {
  if (v.is_null()) return "NULL";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// The rows as text cells under their column names; SQL NULL as `null`.
Table cells(const ojson& rows, const ojson& columns, const std::string& null) {
  Table t{columnNames(rows, columns), {}};
  for (const auto& row : rows) {
    std::vector<std::string> line;
    for (const auto& name : t.header) {
      auto it = row.find(name);
      line.push_back(it == row.end() ? "" : it->is_null() ? null : cellText(*it));
    }
    t.rows.push_back(std::move(line));
  }
  return t;
}

} // namespace

std::string formatTable(const ojson& rows, const ojson& columns) {
  return renderTable(cells(rows, columns, "NULL"), TableStyle::Grid);
}

std::string formatCsv(const ojson& rows, const ojson& columns) { return renderCsv(cells(rows, columns, "")); }

void render(const client::Result& result, Format format, std::ostream& out, std::ostream& err) {
  if (format == Format::Json) {
    ojson array = ojson::array();
    for (const auto& r : result.responses) array.push_back(ojson::parse(r.raw.empty() ? r.toJson() : r.raw));
    out << array.dump(2) << "\n";
    return;
  }
  if (format == Format::Jsonl) {
    for (const auto& r : result.responses) out << (r.raw.empty() ? r.toJson() : r.raw) << "\n";
    return;
  }
  if (result.responses.empty()) return;
  // People and spreadsheets get the data once: from the first OK response.
  const Response* shown = nullptr;
  for (const auto& r : result.responses)
    if (r.ok()) {
      shown = &r;
      break;
    }
  if (shown) {
    if (shown->result.is_array())
      out << (format == Format::Csv ? formatCsv(shown->result, shown->columns)
                                    : formatTable(shown->result, shown->columns));
    else if (format == Format::Table)
      out << fmt::format("OK, {} row(s) affected\n", shown->rowsAffected);
  }
  if (format != Format::Table) return;
  for (const auto& r : result.responses) {
    std::string where = r.allOffset ? fmt::format(" at ALL offset {}", *r.allOffset) : std::string();
    if (r.ok())
      err << fmt::format("-- {} answered OK in {} ms{}\n", r.nodeId, r.durationMs, where);
    else
      err << fmt::format("-- {} answered {}{}: {}\n", r.nodeId, r.resultCode, where, r.errorMessage);
  }
}

} // namespace kluster::commands
