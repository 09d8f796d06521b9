// verify's parts that are the same for every DBMS: reading the answers, cutting key ranges, the majority.
#include "core/ops/verify.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kluster::ops::verify {
namespace {

std::string cellText(const ojson& v) {
  if (v.is_null()) return "";
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// A key value as the report shows it: 'text', quotes doubled.
std::string quoted(const std::string& v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// A JSON array given as JSON or as its text (MariaDB has no JSON type: JSON_ARRAYAGG answers text).
ojson jsonArray(const ojson& v) {
  if (v.is_array()) return v;
  if (v.is_string()) {
    auto parsed = ojson::parse(v.get<std::string>(), nullptr, false);
    if (parsed.is_array()) return parsed;
  }
  return ojson::array();
}

KeyColumn keyColumn(const ojson& c) {
  const auto collatable = c.value("collatable", ojson(false));
  return {c.value("name", ""), c.value("type", "text"),
          collatable.is_boolean() ? collatable.get<bool>() : collatable.is_number() && collatable != 0};
}

} // namespace

std::vector<TableInfo> parseCatalog(const ojson& rows) {
  std::vector<TableInfo> tables;
  if (!rows.is_array()) return tables;
  for (const auto& row : rows) {
    TableInfo t;
    t.schema = cellText(row.value("schema", ojson()));
    t.name = cellText(row.value("name", ojson()));
    t.definition = cellText(row.value("definition", ojson()));
    const auto key = jsonArray(row.value("key", ojson()));
    for (const auto& c : jsonArray(row.value("columns", ojson()))) t.columns.push_back(keyColumn(c));
    if (!key.empty()) {
      t.hasPrimaryKey = true;
      for (const auto& k : key) t.key.push_back(keyColumn(k));
    } else {
      t.key.push_back({"", "text", true}); // no primary key: the whole row, as text, is the key
    }
    tables.push_back(std::move(t));
  }
  return tables;
}

std::vector<std::vector<std::string>> parseKeys(const ojson& rows, std::size_t columns, const char* prefix) {
  std::vector<std::vector<std::string>> keys;
  if (!rows.is_array()) return keys;
  for (const auto& row : rows) {
    std::vector<std::string> key;
    for (std::size_t i = 0; i < columns; ++i)
      key.push_back(cellText(row.value(fmt::format("{}{}", prefix, i), ojson())));
    keys.push_back(std::move(key));
  }
  return keys;
}

std::vector<KeyRange> split(const KeyRange& range, const std::vector<std::vector<std::string>>& bounds) {
  if (bounds.size() <= 1) return {range};
  std::vector<KeyRange> parts;
  parts.push_back({range.lo, bounds[1]});
  for (std::size_t i = 1; i + 1 < bounds.size(); ++i) parts.push_back({bounds[i], bounds[i + 1]});
  parts.push_back({bounds.back(), range.hi});
  return parts;
}

std::string describeRange(const TableInfo& t, const KeyRange& range) {
  if (range.lo.empty() && range.hi.empty()) return "all rows";
  std::string cols;
  for (std::size_t i = 0; i < t.key.size(); ++i)
    cols += (i ? ", " : "") + (t.key[i].name.empty() ? "row" : t.key[i].name);
  if (t.key.size() > 1) cols = "(" + cols + ")";
  auto values = [&](const std::vector<std::string>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + quoted(v[i]);
    return v.size() > 1 ? "(" + out + ")" : out;
  };
  std::string out;
  if (!range.lo.empty()) out = cols + " >= " + values(range.lo);
  if (!range.hi.empty()) out += (out.empty() ? "" : " AND ") + cols + " < " + values(range.hi);
  return out;
}

Agreement agree(const std::vector<std::string>& nodes, const std::map<std::string, std::string>& values) {
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& n : nodes) {
    auto it = values.find(n);
    groups[it == values.end() ? std::string("\x01"
                                            "absent")
                              : it->second]
        .push_back(n); // absent ones agree
  }
  Agreement a;
  std::size_t largest = 0, withLargest = 0;
  for (const auto& [v, members] : groups) {
    if (members.size() > largest) {
      largest = members.size();
      withLargest = 1;
    } else if (members.size() == largest) {
      ++withLargest;
    }
  }
  for (const auto& [v, members] : groups) {
    auto& into = (withLargest == 1 && members.size() == largest) ? a.agreeing : a.differing;
    into.insert(into.end(), members.begin(), members.end());
  }
  if (groups.size() <= 1) {
    a.agreeing = nodes;
    a.differing.clear();
  }
  std::sort(a.agreeing.begin(), a.agreeing.end());
  std::sort(a.differing.begin(), a.differing.end());
  return a;
}

} // namespace kluster::ops::verify
