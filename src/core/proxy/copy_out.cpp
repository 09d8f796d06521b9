#include "core/proxy/copy_out.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace kluster::proxy {
namespace {

// "a""b" -> a"b (the analysis quotes every column it keeps).
std::string unquoted(const std::string& name) {
  if (name.size() < 2 || name.front() != '"') return name;
  std::string out;
  for (std::size_t i = 1; i + 1 < name.size(); ++i) {
    out += name[i];
    if (name[i] == '"') ++i;
  }
  return out;
}

std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

} // namespace

CopyWriter::CopyWriter(sql::Statement::CopyTo options) : options_(std::move(options)) {
  for (const auto& c : options_.columns) names_.push_back(unquoted(c));
  wantsNames_ = options_.table.empty() && (options_.header || !options_.forceQuote.empty());
  if (!options_.columns.empty() || (options_.table.empty() && !wantsNames_)) resolveForced();
}

std::string CopyWriter::relationQuery() const {
  if (options_.table.empty()) return {};
  std::string literal = "'";
  for (char c : options_.table) literal += c == '\'' ? std::string("''") : std::string(1, c);
  literal += "'";
  return fmt::format(
      "SELECT c.relkind::text AS kind, c.relname::text AS name, (SELECT coalesce(json_agg(a.attname::text "
      "ORDER BY a.attnum), '[]') FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > "
      "0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns FROM pg_catalog.pg_class c WHERE "
      "c.oid = {}::regclass",
      literal);
}

void CopyWriter::setRelation(const ojson& row) {
  const auto kind = row.value("kind", ""), name = row.value("name", "");
  static const std::map<std::string, std::string> kinds = {
      {"v", "view"}, {"m", "materialized view"}, {"f", "foreign table"}, {"S", "sequence"}, {"p", "partitioned table"}};
  if (kind != "r") {
    const auto it = kinds.find(kind);
    problem_ = Problem{
        "42809", fmt::format("cannot copy from {} \"{}\"", it == kinds.end() ? "non-table relation" : it->second, name),
        kind == "S" || it == kinds.end() ? "" : "Try the COPY (SELECT ...) TO variant."};
    return;
  }
  if (!options_.columns.empty()) return;
  const auto columns = row.find("columns");
  if (columns != row.end() && columns->is_array())
    for (const auto& c : *columns) names_.push_back(c.is_string() ? c.get<std::string>() : c.dump());
  resolveForced();
}

std::string CopyWriter::select() const {
  std::string source = options_.query;
  if (source.empty()) {
    std::string columns;
    for (const auto& c : names_) columns += (columns.empty() ? "" : ", ") + quoted(c);
    // ONLY: COPY table TO copies the table's own rows, not those of tables that inherit from it.
    source = fmt::format("SELECT {} FROM ONLY {}", columns, options_.table);
  }
  // A CTE takes any query COPY takes (INSERT ... RETURNING too), and a query's ORDER BY holds in the rows it gives.
  return fmt::format("WITH kluster_copy AS ({}\n) SELECT ROW(kluster_copy.*)::text AS kluster_copy_row{} FROM "
                     "kluster_copy",
                     source, wantsNames_ ? ", kluster_copy.*" : "");
}

void CopyWriter::setNames(std::vector<std::string> names) {
  names_ = std::move(names);
  wantsNames_ = false;
  resolveForced();
}

void CopyWriter::resolveForced() {
  forced_.assign(names_.size(), false);
  for (const auto& name : options_.forceQuote) {
    const auto it = std::find(names_.begin(), names_.end(), name);
    if (it == names_.end()) {
      problem_ = Problem{"42P10", fmt::format("FORCE_QUOTE column \"{}\" not referenced by COPY", name), ""};
      return;
    }
    forced_[static_cast<std::size_t>(it - names_.begin())] = true;
  }
}

std::size_t CopyWriter::columns(std::optional<std::string_view> firstRecord) const {
  if (!names_.empty()) return names_.size();
  return firstRecord ? recordFields(*firstRecord).size() : 0;
}

std::string CopyWriter::header() const {
  if (!options_.header) return {};
  std::string out;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (i > 0) out += options_.delimiter;
    field(out, names_[i], false, names_.size() == 1);
  }
  return out + '\n';
}

std::string CopyWriter::row(std::string_view record) const {
  // A table of no columns: its rows are empty lines (the record of no columns reads as one NULL).
  if (!options_.table.empty() && names_.empty()) return "\n";
  return line(recordFields(record));
}

std::string CopyWriter::line(const Row& values) const {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += options_.delimiter;
    if (!values[i])
      out += options_.null; // as it is, never quoted or escaped
    else
      field(out, *values[i], options_.forceQuoteAll || (i < forced_.size() && forced_[i]), values.size() == 1);
  }
  return out + '\n';
}

// PostgreSQL 15's CopyAttributeOutText and CopyAttributeOutCSV (src/backend/commands/copyto.c). The text is UTF-8, in
// which no byte of a multi-byte character is an ASCII one.
void CopyWriter::field(std::string& out, const std::string& value, bool quote, bool single) const {
  const char delimiter = options_.delimiter;
  if (!options_.csv) {
    for (const char c : value) {
      if (static_cast<unsigned char>(c) < 0x20) {
        static constexpr std::string_view from = "\b\f\n\r\t\v", to = "bfnrtv";
        if (const auto k = from.find(c); k != std::string_view::npos)
          out += '\\', out += to[k];
        else if (c == delimiter)
          out += '\\', out += c;
        else
          out += c;
      } else {
        if (c == '\\' || c == delimiter) out += '\\';
        out += c;
      }
    }
    return;
  }
  const char q = options_.quote, escape = options_.escape;
  // A value equal to the NULL string is quoted, so that it reads back as itself; so is "\." alone on a line.
  if (!quote)
    quote = value == options_.null || (single && value == "\\.") ||
            value.find_first_of(std::string{delimiter, q, '\n', '\r'}) != std::string::npos;
  if (!quote) {
    out += value;
    return;
  }
  out += q;
  for (const char c : value) {
    if (c == q || c == escape) out += escape;
    out += c;
  }
  out += q;
}

CopyWriter::Row recordFields(std::string_view text) {
  // record_out: "(" fields separated by "," ")"; NULL is nothing, a value is quoted when it is empty or holds a quote,
  // a backslash, a parenthesis, a comma or a space, and inside the quotes '"' and '\' are doubled.
  auto bad = [&] { return std::runtime_error(fmt::format("not a record: {}", text.substr(0, 200))); };
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') throw bad();
  CopyWriter::Row fields;
  std::size_t i = 1;
  while (true) {
    if (text[i] == ',' || text[i] == ')') {
      fields.emplace_back(std::nullopt);
    } else if (text[i] == '"') {
      std::string v;
      for (++i;; ++i) {
        if (i + 1 >= text.size()) throw bad();
        if (text[i] == '"' || text[i] == '\\') {
          if (text[i + 1] != text[i]) break; // the closing quote (a backslash is always doubled)
          ++i;
        }
        v += text[i];
      }
      if (text[i] != '"') throw bad();
      ++i;
      fields.emplace_back(std::move(v));
    } else {
      const auto end = text.find_first_of(",)", i);
      fields.emplace_back(std::string(text.substr(i, end - i)));
      i = end;
    }
    if (i >= text.size() || (text[i] != ',' && text[i] != ')')) throw bad();
    if (text[i] == ')') {
      if (i + 1 != text.size()) throw bad();
      return fields;
    }
    ++i;
  }
}

} // namespace kluster::proxy
