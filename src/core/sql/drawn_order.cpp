// A value drawn per call (nextval(), setval(), gen_random_uuid()) in the ORDER BY, WHERE, GROUP BY, HAVING,
// DISTINCT or window of a query over table rows is drawn as the rows are scanned, in each node's own physical
// order, before they are sorted or filtered: the rows get different values on each node, and an ORDER BY ... LIMIT
// picks different rows. Found by the random differential test (issue 26): INSERT ... SELECT ... FROM t ORDER BY
// gen_random_uuid()::text, id LIMIT 2. (random() anywhere over table rows is refused by determinism.cpp.)
#include "core/sql/parse_tree.hpp"

#include <tuple>

namespace kluster::sql::detail {
namespace {

// The first drawing function called in `node`, not looking into nested queries (they are judged on their own).
std::string drawnIn(const json& node) {
  std::string found;
  forEachMember(node, [&](const std::string& key, const json& value) {
    if (!found.empty() || key == "SelectStmt") return false;
    if (key == "FuncCall") {
      const std::string name(lastName(field(value, "funcname")));
      if (name == "nextval" || name == "setval" || name == "gen_random_uuid") found = name;
    }
    return true;
  });
  return found;
}

// Rows come from something other than the request itself (one function, VALUES, or nothing).
bool readsRows(const json& select) {
  const json* from = field(select, "fromClause");
  if (from == nullptr || !from->is_array() || from->empty()) return false;
  return from->size() > 1 || unwrap((*from)[0]).first != "RangeFunction";
}

// An ORDER BY, GROUP BY or DISTINCT ON item that names an output column (by its alias or position) whose expression
// draws: that column is computed before the rows are sorted or grouped.
std::string drawnOutput(const json& select) {
  const json* targets = field(select, "targetList");
  if (targets == nullptr || !targets->is_array()) return {};
  for (const char* clause : {"sortClause", "groupClause", "distinctClause"}) {
    const json* items = field(select, clause);
    if (items == nullptr || !items->is_array()) continue;
    for (const json& item : *items) {
      auto [type, body] = unwrap(item);
      if (type == "SortBy" && field(*body, "node") != nullptr) std::tie(type, body) = unwrap(*field(*body, "node"));
      for (std::size_t i = 0; i < targets->size(); ++i) {
        const json& target = *unwrap((*targets)[i]).second;
        const json* val = field(target, "val");
        const bool named = type == "ColumnRef" && field(*body, "fields") != nullptr &&
                           field(*body, "fields")->size() == 1 && !stringField(target, "name").empty() &&
                           stringNode((*field(*body, "fields"))[0]) == stringField(target, "name");
        const json* ival = type == "A_Const" ? constantValue(*body, "ival") : nullptr;
        const bool numbered = ival != nullptr && intField(*ival, "ival") == std::int64_t(i + 1);
        if ((named || numbered) && val != nullptr)
          if (auto name = drawnIn(*val); !name.empty()) return name;
      }
    }
  }
  return {};
}

} // namespace

std::optional<Refusal> drawnBeforeSort(const json& select) {
  if (!readsRows(select)) return std::nullopt;
  if (const auto name = drawnOutput(select); !name.empty())
    return Refusal{fmt::format("{}() in an output column that the query sorts, groups or deduplicates by is drawn "
                               "as each node scans its rows, in its own physical order, before they are sorted",
                               name),
                   "sort by a value derived from the row (e.g. md5(id::text)), or by a unique key"};
  for (const char* clause :
       {"sortClause", "whereClause", "groupClause", "havingClause", "distinctClause", "windowClause", "fromClause"}) {
    const json* c = field(select, clause);
    if (c == nullptr) continue;
    if (const auto name = drawnIn(*c); !name.empty()) {
      return Refusal{fmt::format("{}() in the ORDER BY, WHERE, GROUP BY, DISTINCT, window or join of a query over "
                                 "table rows is drawn as each node scans its rows, in its own physical order, before "
                                 "they are sorted or filtered: rows would get different values on different nodes",
                                 name),
                     "draw the values in the SELECT list of a query with an ORDER BY over a unique key, or order "
                     "by a value derived from the row (e.g. md5(id::text))"};
    }
  }
  return std::nullopt;
}

// What in a ColumnDef draws a new value for each row it fills: "" when nothing does.
std::string drawnPerRow(const json& column) {
  if (const json* tn = field(column, "typeName")) {
    const json* names = field(*tn, "names");
    if (names != nullptr && names->size() == 1) {
      const std::string_view t = stringNode((*names)[0]);
      if (t == "serial" || t == "bigserial" || t == "smallserial" || t == "serial2" || t == "serial4" || t == "serial8")
        return "a SERIAL type";
    }
  }
  std::vector<const json*> stack{&column};
  while (!stack.empty()) {
    const json* node = stack.back();
    stack.pop_back();
    if (node->is_object()) {
      if (const auto [t, b] = unwrap(*node); t == "FuncCall") {
        const std::string_view name = lastName(field(*b, "funcname"));
        if (name == "nextval" || name == "setval" || name == "random" || name == "gen_random_uuid")
          return fmt::format("a value of {}()", name);
      } else if (t == "Constraint" && stringField(*b, "contype") == "CONSTR_IDENTITY") {
        return "GENERATED ... AS IDENTITY";
      }
    }
    if (node->is_structured())
      for (const json& child : *node) stack.push_back(&child);
  }
  return {};
}

} // namespace kluster::sql::detail
