#include "commands/exec_output.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>

#include <algorithm>

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

// Display width of UTF-8 text (code points; good enough for alignment of most text).
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string csvField(const ojson& v) {
  if (v.is_null()) return "";
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

} // namespace

Format parseFormat(const std::string& text) {
  if (text == "table") return Format::Table;
  if (text == "json") return Format::Json;
  if (text == "jsonl") return Format::Jsonl;
  if (text == "csv") return Format::Csv;
  throw UsageError(fmt::format("unknown output format '{}' (use table, json, jsonl or csv)", text));
}

std::string formatTable(const ojson& rows, const ojson& columns) {
  const auto names = columnNames(rows, columns);
  std::vector<std::size_t> widths;
  for (const auto& n : names) widths.push_back(width(n));
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rows) {
    std::vector<std::string> line;
    for (std::size_t c = 0; c < names.size(); ++c) {
      auto it = row.find(names[c]);
      line.push_back(it == row.end() ? "" : cellText(*it));
      widths[c] = std::max(widths[c], width(line.back()));
    }
    cells.push_back(std::move(line));
  }
  auto pad = [](const std::string& s, std::size_t w) { return s + std::string(w - std::min(w, width(s)), ' '); };
  std::string out;
  for (std::size_t c = 0; c < names.size(); ++c) {
    out += c ? " | " : " ";
    out += pad(names[c], widths[c]);
  }
  out += "\n";
  for (std::size_t c = 0; c < names.size(); ++c) {
    out += c ? "-+-" : "-";
    out.append(widths[c], '-');
  }
  out += "-\n";
  for (const auto& line : cells) {
    for (std::size_t c = 0; c < line.size(); ++c) {
      out += c ? " | " : " ";
      out += pad(line[c], widths[c]);
    }
    out += "\n";
  }
  out += fmt::format("({} row{})\n", rows.size(), rows.size() == 1 ? "" : "s");
  return out;
}

std::string formatCsv(const ojson& rows, const ojson& columns) {
  const auto names = columnNames(rows, columns);
  std::string out;
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (c) out += ',';
    out += csvField(names[c]);
  }
  out += "\r\n";
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < names.size(); ++c) {
      auto it = row.find(names[c]);
      if (c) out += ',';
      if (it != row.end()) out += csvField(*it);
    }
    out += "\r\n";
  }
  return out;
}

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
