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

namespace {

// Built-in aggregates: without GROUP BY, a query of them returns one row.
constexpr std::string_view kAggregates[] = {"any_value",
                                            "array_agg",
                                            "avg",
                                            "bit_and",
                                            "bit_or",
                                            "bit_xor",
                                            "bool_and",
                                            "bool_or",
                                            "corr",
                                            "count",
                                            "covar_pop",
                                            "covar_samp",
                                            "every",
                                            "json_agg",
                                            "json_object_agg",
                                            "jsonb_agg",
                                            "jsonb_object_agg",
                                            "max",
                                            "min",
                                            "range_agg",
                                            "range_intersect_agg",
                                            "regr_avgx",
                                            "regr_avgy",
                                            "regr_count",
                                            "regr_intercept",
                                            "regr_r2",
                                            "regr_slope",
                                            "regr_sxx",
                                            "regr_sxy",
                                            "regr_syy",
                                            "stddev",
                                            "stddev_pop",
                                            "stddev_samp",
                                            "string_agg",
                                            "sum",
                                            "var_pop",
                                            "var_samp",
                                            "variance",
                                            "xmlagg"};
// Built-in set-returning functions: in a select list they multiply its rows, even of aggregates.
constexpr std::string_view kSetReturning[] = {"generate_series",
                                              "generate_subscripts",
                                              "json_array_elements",
                                              "json_array_elements_text",
                                              "json_each",
                                              "json_each_text",
                                              "json_object_keys",
                                              "json_populate_recordset",
                                              "json_to_recordset",
                                              "jsonb_array_elements",
                                              "jsonb_array_elements_text",
                                              "jsonb_each",
                                              "jsonb_each_text",
                                              "jsonb_object_keys",
                                              "jsonb_path_query",
                                              "jsonb_populate_recordset",
                                              "jsonb_to_recordset",
                                              "regexp_matches",
                                              "regexp_split_to_table",
                                              "string_to_table",
                                              "unnest"};

template <std::size_t N> bool listed(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// Every node below `root` of type `type`, not descending into subqueries (SubLink) nor below a match.
void collect(const json& root, std::string_view type, std::vector<const json*>& found) {
  forEachMember(root, [&](const std::string& key, const json& value) {
    if (key == "SubLink") return false;
    if (key == type && value.is_object()) {
      found.push_back(&value); // and its arguments, which may hold more
    }
    return true;
  });
}

// An expression of constants, parameters and `values` only (no column, no subquery).
bool isValue(const json& expr, const std::set<std::string>& values) {
  bool value = true;
  const auto visit = [&](const std::string& key, const json& v) {
    if (key == "SubLink") value = false;
    if (key == "ColumnRef" && v.is_object()) {
      const json* fields = field(v, "fields");
      if (fields == nullptr || !fields->is_array() || fields->empty() ||
          !values.count(std::string(stringNode((*fields)[0]))))
        value = false;
      return false;
    }
    return value;
  };
  forEachMember(expr, visit);
  return value;
}

} // namespace

bool isOneRowAggregate(const json& select) {
  if (field(select, "groupClause") != nullptr) return false;
  const json* targets = field(select, "targetList");
  if (targets == nullptr) return false;
  std::vector<const json*> calls;
  for (const json& t : *targets) collect(t, "FuncCall", calls);
  bool aggregate = false;
  for (const json* call : calls) {
    const std::string_view name = lastName(field(*call, "funcname"));
    if (field(*call, "over") != nullptr || listed(kSetReturning, name)) return false;
    aggregate = aggregate || listed(kAggregates, name);
  }
  return aggregate;
}

void addPinnedColumns(const json* where, const std::set<std::string>& values,
                      std::vector<std::pair<std::string, std::string>>& columns) {
  std::vector<const json*> pending;
  if (where != nullptr) pending.push_back(where);
  while (!pending.empty()) {
    const auto [t, b] = unwrap(*pending.back());
    pending.pop_back();
    if (t == "BoolExpr" && stringField(*b, "boolop") == "AND_EXPR") {
      if (const json* args = field(*b, "args"); args != nullptr && args->is_array())
        for (auto a = args->rbegin(); a != args->rend(); ++a) pending.push_back(&*a); // in text order
      continue;
    }
    if (t != "A_Expr" || stringField(*b, "kind") != "AEXPR_OP" || lastName(field(*b, "name")) != "=") continue;
    const json* l = field(*b, "lexpr");
    const json* r = field(*b, "rexpr");
    if (l == nullptr || r == nullptr) continue;
    for (const auto& [column, other] : {std::pair{l, r}, std::pair{r, l}}) {
      const auto col = columnOf(*column);
      if (col && !(col->first.empty() ? values.count(col->second) : values.count(col->first)) &&
          isValue(*other, values))
        columns.push_back(*col);
    }
  }
}

} // namespace detail

} // namespace kluster::sql
