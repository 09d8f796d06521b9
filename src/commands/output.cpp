#include "commands/output.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <sstream>

namespace kluster::commands {
namespace {

// Display width of UTF-8 text (code points; good enough for the alignment of most text).
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

} // namespace

Format parseFormat(const std::string& text) {
  if (text == "table" || text == "text") return Format::Table;
  if (text == "json") return Format::Json;
  if (text == "jsonl") return Format::Jsonl;
  if (text == "csv") return Format::Csv;
  throw UsageError(fmt::format("unknown output format '{}' (use table, json, jsonl or csv)", text));
}

const char* formatName(Format format) {
  static const char* names[] = {"table", "json", "jsonl", "csv"};
  return names[static_cast<int>(format)];
}

CLI::Option* addOutputFlag(CLI::App* cmd, std::string& target, const std::string& what) {
  return cmd->add_option("-o,--output", target, "table, json, jsonl or csv (" + what + ")")
      ->check(CLI::IsMember({"table", "json", "jsonl", "csv", "text"}))
      ->type_name("FORMAT");
}

Format outputFormat(const std::string& flag, Format fallback) { return flag.empty() ? fallback : parseFormat(flag); }

Format terminalDefault() { return isatty(STDOUT_FILENO) ? Format::Table : Format::Json; }

std::string renderTable(const Table& table, TableStyle style) {
  const auto columns = table.header.size();
  std::vector<std::size_t> widths(columns, 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t c = 0; c < row.size() && c < columns; ++c) widths[c] = std::max(widths[c], width(row[c]));
  };
  measure(table.header);
  for (const auto& r : table.rows) measure(r);
  auto cell = [](const std::vector<std::string>& row, std::size_t c) {
    return c < row.size() ? row[c] : std::string();
  };
  auto pad = [&](const std::string& s, std::size_t c) { return s + std::string(widths[c] - width(s), ' '); };
  std::string out;
  if (style == TableStyle::Plain) {
    auto line = [&](const std::vector<std::string>& row) {
      std::string text;
      for (std::size_t c = 0; c < columns; ++c) text += c + 1 < columns ? pad(cell(row, c), c) + "  " : cell(row, c);
      while (!text.empty() && text.back() == ' ') text.pop_back();
      out += text + "\n";
    };
    line(table.header);
    for (const auto& r : table.rows) line(r);
    return out;
  }
  auto line = [&](const std::vector<std::string>& row) {
    for (std::size_t c = 0; c < columns; ++c) out += (c ? " | " : " ") + pad(cell(row, c), c);
    out += "\n";
  };
  line(table.header);
  for (std::size_t c = 0; c < columns; ++c) out += (c ? "-+-" : "-") + std::string(widths[c], '-');
  out += "-\n";
  for (const auto& r : table.rows) line(r);
  out += fmt::format("({} row{})\n", table.rows.size(), table.rows.size() == 1 ? "" : "s");
  return out;
}

void printFields(const std::string& title, const Table& fields, Format format) {
  if (format == Format::Csv) {
    std::cout << renderCsv(fields);
    return;
  }
  std::cout << title << "\n";
  if (fields.rows.empty()) return;
  // the rows without the header line, indented under the title
  const Table body{fields.rows.front(), {fields.rows.begin() + 1, fields.rows.end()}};
  std::istringstream lines(renderTable(body, TableStyle::Plain));
  for (std::string line; std::getline(lines, line);) std::cout << "  " << line << "\n";
}

std::string renderCsv(const Table& table) {
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    for (std::size_t c = 0; c < table.header.size(); ++c) {
      if (c) out += ',';
      if (c < row.size()) out += csvField(row[c]);
    }
    out += "\r\n";
  };
  line(table.header);
  for (const auto& r : table.rows) line(r);
  return out;
}

} // namespace kluster::commands
