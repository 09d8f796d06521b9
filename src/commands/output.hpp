#pragma once
// The one output layer of the commands that print data: the -o flag (table, json, jsonl or csv, the same
// for every command and validated by CLI11) and the renderers of tables and CSV.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace kluster::commands {

enum class Format { Table, Json, Jsonl, Csv };

/// Parses table, json, jsonl or csv ("text", the old name of table in backup and restore, too). Throws
/// UsageError.
Format parseFormat(const std::string& text);
const char* formatName(Format format);

/// Adds `-o,--output` with the four formats (and `text` as an alias of table) to `cmd`; `what` ends the
/// help text (say, the default). An empty value is the command's own default.
CLI::Option* addOutputFlag(CLI::App* cmd, std::string& target, const std::string& what);
/// The flag's format, or `fallback` when it was not given.
Format outputFormat(const std::string& flag, Format fallback);
/// table on a terminal, json otherwise (exec, verify, demo).
Format terminalDefault();

/// Rows of text under a header.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

enum class TableStyle {
  Plain, ///< columns two spaces apart, no trailing blanks (kafka-consumer-groups style: monitor, offsets, verify)
  Grid,  ///< psql's: ` a | b `, a rule under the header and the row count (exec's query results)
};

/// A summary of named values: for people, `title` and one indented `name  value` line each; as CSV, the
/// table (FIELD,VALUE). Writes to stdout.
void printFields(const std::string& title, const Table& fields, Format format);

/// The table with aligned columns (widths in UTF-8 code points).
std::string renderTable(const Table& table, TableStyle style);
/// RFC 4180 CSV with a header line (CRLF line ends).
std::string renderCsv(const Table& table);

} // namespace kluster::commands
