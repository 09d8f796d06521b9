// Row orders: whether the order an ORDER BY gives is total (orderIsTotal), and which columns an ORDER BY or an
// expression list names, for the determinism rules (determinism.cpp) to check against unique keys.
#include "core/sql/determinism.hpp"

#include "core/sql/parse_tree.hpp"

#include <algorithm>
#include <set>

namespace kluster::sql {

bool orderIsTotal(const OrderRequirement& requirement, const UniqueKeys& uniqueKeys) {
  if (requirement.unordered) return false;
  for (const TableRef& table : requirement.tables) {
    std::set<std::string> covered;
    for (const auto& [qualifier, column] : requirement.columns)
      if (qualifier.empty() || qualifier == table.alias) covered.insert(column);
    bool total = false;
    for (const auto& key : uniqueKeys(table)) {
      if (!key.empty() && std::all_of(key.begin(), key.end(), [&](const std::string& c) { return covered.count(c); })) {
        total = true;
        break;
      }
    }
    if (!total) return false;
  }
  return true;
}

namespace detail {

// (qualifier, column) of a ColumnRef, or nullopt for `*` and non-columns.
std::optional<std::pair<std::string, std::string>> columnOfBody(const json& body) {
  const json* fields = field(body, "fields");
  if (fields == nullptr || !fields->is_array() || fields->empty()) return std::nullopt;
  std::vector<std::string> names;
  for (const json& f : *fields) {
    if (unwrap(f).first != "String") return std::nullopt; // A_Star
    names.emplace_back(stringNode(f));
  }
  if (names.size() == 1) return std::pair{std::string(), names[0]};
  return std::pair{names[names.size() - 2], names.back()};
}

std::optional<std::pair<std::string, std::string>> columnOf(const json& node) {
  const auto [type, body] = unwrap(node);
  if (type != "ColumnRef") return std::nullopt;
  return columnOfBody(*body);
}

// ORDER BY items that are columns: t.c, c, an output column's alias or position.
void addSortColumns(const json* sortList, const json& select,
                    std::vector<std::pair<std::string, std::string>>& columns) {
  if (sortList == nullptr || !sortList->is_array()) return;
  const json* targets = field(select, "targetList");
  for (const json& item : *sortList) {
    const auto [t, b] = unwrap(item);
    if (t != "SortBy") continue;
    const json* expr = field(*b, "node");
    if (expr == nullptr) continue;
    const json* resolved = expr;
    if (const auto [et, eb] = unwrap(*expr); et == "A_Const" && targets != nullptr && targets->is_array()) {
      const json* ival = constantValue(*eb, "ival");
      const auto n = ival != nullptr ? intField(*ival, "ival") : 0;
      if (n >= 1 && static_cast<std::size_t>(n) <= targets->size()) {
        const auto [rt, rb] = unwrap((*targets)[static_cast<std::size_t>(n - 1)]);
        if (rt == "ResTarget" && field(*rb, "val")) resolved = field(*rb, "val");
      }
    } else if (const auto col = columnOf(*expr); col && col->first.empty() && targets != nullptr) {
      for (const json& target : *targets) {
        const auto [rt, rb] = unwrap(target);
        if (rt == "ResTarget" && stringField(*rb, "name") == col->second && field(*rb, "val")) {
          if (columnOf(*field(*rb, "val"))) resolved = field(*rb, "val");
        }
      }
    }
    if (const auto col = columnOf(*resolved)) columns.push_back(*col);
    if (resolved != expr)
      if (const auto col = columnOf(*expr)) columns.push_back(*col);
  }
}

void addExprColumns(const json* list, std::vector<std::pair<std::string, std::string>>& columns) {
  if (list == nullptr || !list->is_array()) return;
  for (const json& e : *list)
    if (const auto col = columnOf(e)) columns.push_back(*col);
}

} // namespace detail

} // namespace kluster::sql
