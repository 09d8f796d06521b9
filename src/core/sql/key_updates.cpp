// The UPDATEs of a write and the columns they SET, for the node's unique-key rule (docs/determinism.md): an
// UPDATE that changes the key of several rows collides, or not, on a unique index checked row by row depending
// on the order it visits the rows in. Found by the random differential test (issue 26).
#include "core/sql/parse_tree.hpp"

namespace kluster::sql::detail {
namespace {

bool isConstant(const json& node) {
  const auto [type, body] = unwrap(node);
  if (type == "A_Const" || type == "ParamRef") return true;
  if (type == "TypeCast") {
    const json* arg = field(*body, "arg");
    return arg != nullptr && isConstant(*arg);
  }
  return false;
}

// The column a ColumnRef names, when it is unqualified or qualified by the target's name or alias.
std::optional<std::string> targetColumn(const json& node, const TableRef& table) {
  const auto [type, body] = unwrap(node);
  if (type != "ColumnRef") return std::nullopt;
  const json* fields = field(*body, "fields");
  if (fields == nullptr || !fields->is_array() || fields->empty() || fields->size() > 2) return std::nullopt;
  for (const json& f : *fields)
    if (unwrap(f).first != "String") return std::nullopt;
  if (fields->size() == 2 && stringNode((*fields)[0]) != table.alias) return std::nullopt;
  return std::string(stringNode(fields->back()));
}

// Columns equated with a constant in the top-level ANDs of a WHERE clause.
void pinnedColumns(const json& where, const TableRef& table, std::vector<std::string>& out) {
  const auto [type, body] = unwrap(where);
  if (type == "BoolExpr" && stringField(*body, "boolop") == "AND_EXPR") {
    if (const json* args = field(*body, "args"); args != nullptr && args->is_array())
      for (const json& arg : *args) pinnedColumns(arg, table, out);
    return;
  }
  if (type != "A_Expr" || stringField(*body, "kind") != "AEXPR_OP" || lastName(field(*body, "name")) != "=") return;
  const json* l = field(*body, "lexpr");
  const json* r = field(*body, "rexpr");
  if (l == nullptr || r == nullptr) return;
  if (auto c = targetColumn(*l, table); c && isConstant(*r)) out.push_back(*c);
  if (auto c = targetColumn(*r, table); c && isConstant(*l)) out.push_back(*c);
}

void keyUpdate(const json& body, Analysis& out) {
  const json* rel = field(body, "relation");
  const json* targets = field(body, "targetList");
  if (rel == nullptr || targets == nullptr || !targets->is_array()) return;
  KeyUpdate update;
  update.table.schema = std::string(stringField(*rel, "schemaname"));
  update.table.name = std::string(stringField(*rel, "relname"));
  const json* alias = field(*rel, "alias");
  update.table.alias = alias != nullptr ? std::string(stringField(*alias, "aliasname")) : update.table.name;
  for (const json& t : *targets)
    if (const auto [type, tb] = unwrap(t); type == "ResTarget") update.columns.emplace_back(stringField(*tb, "name"));
  if (const json* where = field(body, "whereClause")) pinnedColumns(*where, update.table, update.pinned);
  out.keyUpdates.push_back(std::move(update));
}

} // namespace

void collectKeyUpdates(const json& stmt, Analysis& out) {
  forEachMember(stmt, [&](const std::string& key, const json& value) {
    if (key == "UpdateStmt") keyUpdate(value, out);
    return true;
  });
}

} // namespace kluster::sql::detail
