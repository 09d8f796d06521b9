// COPY ... FROM STDIN and COPY ... TO STDOUT as the proxy runs them (Statement::CopyFrom, Statement::CopyTo): the
// table or query, the columns, and the format options as PostgreSQL 15's COPY reads them (ProcessCopyOptions).
#include "core/sql/current_time.hpp"
#include "core/sql/parse_tree.hpp"

#include <algorithm>
#include <cstring>

namespace kluster::sql::detail {
namespace {

std::string quotedIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// A DefElem's argument as text: a string, a boolean or an integer; "" for none or a list.
std::string argText(const json& def) {
  const json* arg = field(def, "arg");
  if (arg == nullptr) return "";
  const auto [t, b] = unwrap(*arg);
  if (b == nullptr) return "";
  if (t == "String") return std::string(stringField(*b, "sval"));
  if (t == "Boolean") return boolField(*b, "boolval") ? "true" : "false";
  if (t == "Integer") return std::to_string(intField(*b, "ival"));
  if (t == "TypeName") return std::string(lastName(field(*b, "names")));
  return "";
}

// What one direction's options set besides the format, and which were given.
struct Given {
  std::optional<std::string> delimiter, null, quote, escape;
  bool forceQuote = false;
};

// The table and columns of `relation` (COPY table [(columns)]).
void tableOf(const json& body, std::string& table, std::vector<std::string>& columns) {
  const json& rel = *field(body, "relation");
  if (const auto schema = stringField(rel, "schemaname"); !schema.empty()) table = quotedIdentifier(schema) + ".";
  table += quotedIdentifier(stringField(rel, "relname"));
  if (const json* cols = field(body, "attlist"); cols != nullptr && cols->is_array())
    for (const json& c : *cols) columns.push_back(quotedIdentifier(stringNode(c)));
}

// The options of a COPY (both directions; FORCE_QUOTE only TO, which `forceQuote` receives when given).
Given formatOf(const json& body, Statement::CopyFormat& copy, Statement::CopyTo* to) {
  Given given;
  if (const json* options = field(body, "options"); options != nullptr && options->is_array()) {
    for (const json& o : *options) {
      const auto [t, def] = unwrap(o);
      if (t != "DefElem" || def == nullptr) continue;
      const std::string_view name = stringField(*def, "defname");
      const std::string value = argText(*def);
      if (name == "format") {
        copy.csv = equalsIgnoreCase(value, "csv");
        copy.binary = equalsIgnoreCase(value, "binary");
      } else if (name == "delimiter") {
        given.delimiter = value;
      } else if (name == "null") {
        given.null = value;
      } else if (name == "header") {
        copy.header = field(*def, "arg") == nullptr || defElemBool(*def).value_or(false);
        if (equalsIgnoreCase(value, "match")) copy.unsupported = "HEADER MATCH";
      } else if (name == "quote") {
        given.quote = value;
      } else if (name == "escape") {
        given.escape = value;
      } else if (name == "encoding") {
        if (!equalsIgnoreCase(value, "utf8") && !equalsIgnoreCase(value, "utf-8")) copy.unsupported = "ENCODING";
      } else if (name == "force_quote" && to != nullptr) {
        given.forceQuote = true;
        const json* arg = field(*def, "arg");
        const auto [argType, list] = arg != nullptr ? unwrap(*arg) : std::pair<std::string_view, const json*>{};
        if (argType == "A_Star")
          to->forceQuoteAll = true;
        else if (const json* items = list != nullptr ? field(*list, "items") : nullptr; items && items->is_array())
          for (const json& c : *items) to->forceQuote.emplace_back(stringNode(c));
      } else if (name != "freeze") {
        copy.unsupported = std::string(name);
      }
    }
  }
  if (copy.csv) {
    copy.delimiter = ',';
    copy.null.clear();
  }
  auto oneChar = [&](const std::optional<std::string>& v, char& out, const char* what) {
    if (!v) return;
    if (v->size() != 1)
      copy.unsupported = std::string(what) + " of one byte";
    else
      out = (*v)[0];
  };
  oneChar(given.delimiter, copy.delimiter, "DELIMITER");
  oneChar(given.quote, copy.quote, "QUOTE");
  copy.escape = copy.quote;
  oneChar(given.escape, copy.escape, "ESCAPE");
  if (given.null) copy.null = *given.null;
  return given;
}

// PostgreSQL's own checks of COPY TO's options (ProcessCopyOptions): its SQLSTATE and message, or nothing.
std::pair<std::string, std::string> invalidOf(const Statement::CopyTo& c, const Given& given) {
  const std::string delimiter(1, c.delimiter);
  if (c.delimiter == '\n' || c.delimiter == '\r')
    return {"22023", "COPY delimiter cannot be newline or carriage return"};
  if (c.null.find_first_of("\r\n") != std::string::npos)
    return {"22023", "COPY null representation cannot use newline or carriage return"};
  if (!c.csv && std::strchr("\\.abcdefghijklmnopqrstuvwxyz0123456789", c.delimiter) != nullptr)
    return {"22023", "COPY delimiter cannot be \"" + delimiter + "\""};
  if (!c.csv && given.quote) return {"0A000", "COPY quote available only in CSV mode"};
  if (c.csv && c.delimiter == c.quote) return {"22023", "COPY delimiter and quote must be different"};
  if (!c.csv && given.escape) return {"0A000", "COPY escape available only in CSV mode"};
  if (!c.csv && given.forceQuote) return {"0A000", "COPY force quote available only in CSV mode"};
  if (c.null.find(c.delimiter) != std::string::npos)
    return {"22023", "COPY delimiter must not appear in the NULL specification"};
  if (c.csv && c.null.find(c.quote) != std::string::npos)
    return {"22023", "CSV quote character must not appear in the NULL specification"};
  for (std::size_t i = 0; i < c.columns.size(); ++i)
    if (std::find(c.columns.begin(), c.columns.begin() + static_cast<std::ptrdiff_t>(i), c.columns[i]) !=
        c.columns.begin() + static_cast<std::ptrdiff_t>(i))
      return {"42701", "column " + c.columns[i] + " specified more than once"};
  return {};
}

// The text between the parentheses of COPY ( query ) TO ...
std::string queryText(const std::string& sql) {
  const auto tokens = scanTokens(sql);
  std::size_t copy = 0;
  while (copy < tokens.size() && (tokens[copy].kind == kSqlComment || tokens[copy].kind == kCComment)) ++copy;
  const std::size_t open = nextToken(tokens, copy);
  if (open >= tokens.size() || tokens[open].kind != kLParen) return "";
  const std::size_t close = matchingParen(tokens, open);
  const auto begin = static_cast<std::size_t>(tokens[open].end);
  return sql.substr(begin, static_cast<std::size_t>(tokens[close].start) - begin);
}

bool streams(std::string_view type, const json& body, bool from) {
  return type == "CopyStmt" && boolField(body, "is_from") == from && !boolField(body, "is_program") &&
         stringField(body, "filename").empty();
}

} // namespace

std::optional<Statement::CopyFrom> copyFromOf(std::string_view type, const json& body) {
  if (!streams(type, body, true) || field(body, "relation") == nullptr) return std::nullopt;
  Statement::CopyFrom copy;
  tableOf(body, copy.table, copy.columns);
  formatOf(body, copy, nullptr);
  return copy;
}

std::optional<Statement::CopyTo> copyToOf(std::string_view type, const json& body, const std::string& sql) {
  if (!streams(type, body, false)) return std::nullopt;
  Statement::CopyTo copy;
  if (field(body, "relation") != nullptr)
    tableOf(body, copy.table, copy.columns);
  else if (copy.query = queryText(sql); copy.query.empty())
    return std::nullopt;
  const Given given = formatOf(body, copy, &copy);
  std::tie(copy.invalidState, copy.invalid) = invalidOf(copy, given);
  return copy;
}

} // namespace kluster::sql::detail
