// Column names (PostgreSQL's FigureColnameInternal on the raw parse tree), to keep result
// column names when pinCurrentTime() replaces a current-time expression by a cast literal.
#include "core/sql/current_time.hpp"

#include <array>
#include <string_view>
#include <utility>

namespace kluster::sql::detail {

namespace {

FiguredName sublinkName(const json& body) {
  const std::string_view linkType = stringField(body, "subLinkType");
  if (linkType == "EXISTS_SUBLINK") return {2, "exists"};
  if (linkType == "ARRAY_SUBLINK") return {2, "array"};
  if (linkType != "EXPR_SUBLINK") return {};
  // The subquery's first result column name (its left-most branch for UNION & co.).
  const json* select = field(body, "subselect");
  if (select == nullptr || unwrap(*select).first != "SelectStmt") return {};
  const json* sbody = unwrap(*select).second;
  while (const json* larg = field(*sbody, "larg")) sbody = larg; // typed field: not wrapped
  const json* list = field(*sbody, "targetList");
  if (list == nullptr || !list->is_array() || list->empty()) return {};
  const auto [ttype, target] = unwrap((*list)[0]);
  if (ttype != "ResTarget") return {};
  if (const std::string_view name = stringField(*target, "name"); !name.empty()) return {2, std::string(name)};
  // The inner select list gets an alias itself when pinning would change its name, so the name
  // seen from outside never changes: figure it without pinning.
  const json* val = field(*target, "val");
  const FiguredName inner = val != nullptr ? figureColname(*val, nullptr) : FiguredName{};
  return {2, inner.strength > 0 ? inner.name : "?column?"};
}

} // namespace

FiguredName figureColname(const json& expr, const std::unordered_set<int>* pinned) {
  // Walks down the chain of nodes that pass the name through (TypeCast, CollateClause,
  // CaseExpr.defresult, A_Indirection.arg); "fallbacks" are the weak names of the enclosing
  // TypeCast/CaseExpr nodes, the outermost one wins over a weak inner name.
  std::vector<std::string_view> fallbacks;
  FiguredName result;
  const json* cur = &expr;
  while (cur != nullptr) {
    const auto [type, body] = unwrap(*cur);
    if (body == nullptr) break;
    if (pinned != nullptr && (type == "FuncCall" || type == "SQLValueFunction") &&
        pinned->count(static_cast<int>(intField(*body, "location"))) != 0) {
      result = {1, "timestamptz"}; // becomes a TypeCast of a constant: the type's name
      if (type == "SQLValueFunction") {
        if (const auto kt = keywordType(stringField(*body, "op"))) result.name = typeName(kt->first);
      }
      break;
    }
    if (type == "ColumnRef") {
      if (const std::string_view n = lastName(field(*body, "fields")); !n.empty()) result = {2, std::string(n)};
      break;
    }
    if (type == "A_Indirection") {
      if (const std::string_view n = lastName(field(*body, "indirection")); !n.empty()) {
        result = {2, std::string(n)};
        break;
      }
      cur = field(*body, "arg");
      continue;
    }
    if (type == "FuncCall") {
      result = {2, std::string(lastName(field(*body, "funcname")))};
      break;
    }
    if (type == "A_Expr") {
      if (stringField(*body, "kind") == "AEXPR_NULLIF") result = {2, "nullif"};
      break;
    }
    if (type == "TypeCast") {
      const json* tn = field(*body, "typeName");
      fallbacks.push_back(tn != nullptr ? lastName(field(*tn, "names")) : std::string_view());
      cur = field(*body, "arg");
      continue;
    }
    if (type == "CollateClause") {
      cur = field(*body, "arg");
      continue;
    }
    if (type == "CaseExpr") {
      fallbacks.emplace_back("case");
      cur = field(*body, "defresult");
      continue;
    }
    if (type == "GroupingFunc")
      result = {2, "grouping"};
    else if (type == "SubLink")
      result = sublinkName(*body);
    else if (type == "A_ArrayExpr")
      result = {2, "array"};
    else if (type == "RowExpr")
      result = {2, "row"};
    else if (type == "CoalesceExpr")
      result = {2, "coalesce"};
    else if (type == "MinMaxExpr") {
      const std::string_view op = stringField(*body, "op");
      if (op == "IS_GREATEST")
        result = {2, "greatest"};
      else if (op == "IS_LEAST")
        result = {2, "least"};
    } else if (type == "SQLValueFunction") {
      if (const std::string_view n = sqlValueFunctionName(stringField(*body, "op")); !n.empty()) {
        result = {2, std::string(n)};
      }
    } else if (type == "XmlExpr") {
      static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kXml{{
          {"IS_XMLCONCAT", "xmlconcat"},
          {"IS_XMLELEMENT", "xmlelement"},
          {"IS_XMLFOREST", "xmlforest"},
          {"IS_XMLPARSE", "xmlparse"},
          {"IS_XMLPI", "xmlpi"},
          {"IS_XMLROOT", "xmlroot"},
          {"IS_XMLSERIALIZE", "xmlserialize"},
      }};
      const std::string_view op = stringField(*body, "op");
      for (const auto& [k, n] : kXml) {
        if (k == op) result = {2, std::string(n)};
      }
    } else if (type == "XmlSerialize") {
      result = {2, "xmlserialize"};
    }
    break;
  }
  if (result.strength <= 1 && !fallbacks.empty()) result = {1, std::string(fallbacks.front())};
  return result;
}

} // namespace kluster::sql::detail
