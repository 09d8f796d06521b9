// Writes whose effect PostgreSQL's documentation calls arbitrary when a join matches several rows (issue 26):
//  * UPDATE ... FROM: "only one of the join rows will be used to update the target row, but which one will be used
//    is not readily predictable" (the UPDATE page). The same for the RETURNING of a DELETE ... USING, whose rows are
//    deleted once whichever join row comes first.
//  * MERGE ... WHEN NOT MATCHED THEN INSERT: the rows are inserted in the join's order, so DEFAULTs drawn per row
//    (SERIAL, IDENTITY, random(), gen_random_uuid()) land on different rows on different nodes.
//  * a table written by two parts of one statement (a data-modifying WITH and the main statement): "the order in
//    which the specified updates actually happen is unpredictable" (WITH queries), refused from syntax alone.
// The analysis lists, for each such write, its FROM items, the equalities that join them and the items its SET and
// RETURNING read; the node decides with the catalog's unique keys (joinAmbiguity(), FunctionCheck). (INSERT ... ON
// CONFLICT DO NOTHING, which keeps the first of conflicting rows, is an order requirement of determinism.cpp.)
#include "core/sql/determinism.hpp"
#include "core/sql/parse_tree.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace kluster::sql {

std::string joinAmbiguity(const JoinWrite& write, const UniqueKeys& uniqueKeys) {
  // Names that are no FROM item (an outer query's, a trigger's NEW) are constant for each target row.
  std::set<std::string> joined{write.target};
  std::set<std::string> items;
  for (const JoinWrite::Source& s : write.sources) items.insert(s.alias);
  // Items joined one row at most per target row: a unique key equated column by column with expressions of the
  // target and of items already so joined (in any order: a fixpoint).
  for (bool grew = true; grew;) {
    grew = false;
    for (const JoinWrite::Source& s : write.sources) {
      if (joined.count(s.alias)) continue;
      const auto keys = s.table ? uniqueKeys(*s.table) : s.keys;
      const bool one = std::any_of(keys.begin(), keys.end(), [&](const std::vector<std::string>& key) {
        return std::all_of(key.begin(), key.end(), [&](const std::string& column) {
          return std::any_of(write.equalities.begin(), write.equalities.end(), [&](const JoinWrite::Equality& e) {
            return e.alias == s.alias && e.column == column && !e.readsAny &&
                   std::all_of(e.reads.begin(), e.reads.end(),
                               [&](const std::string& r) { return joined.count(r) || !items.count(r); });
          });
        });
      });
      if (one) grew = joined.insert(s.alias).second || grew;
    }
  }
  for (const JoinWrite::Source& s : write.sources) {
    const bool read =
        write.readsUnqualified || std::find(write.read.begin(), write.read.end(), s.alias) != write.read.end();
    if (read && !joined.count(s.alias)) return s.alias;
  }
  return {};
}

namespace detail {
namespace {

using Names = std::vector<std::string>;

// The names of a ColumnRef (["s", "k"]), empty for `*` and non-columns.
Names columnNames(const json& node) {
  const auto [type, body] = unwrap(node);
  if (type != "ColumnRef") return {};
  const json* fields = field(*body, "fields");
  if (fields == nullptr || !fields->is_array()) return {};
  Names names;
  for (const json& f : *fields) {
    if (unwrap(f).first != "String") return {};
    names.emplace_back(stringNode(f));
  }
  return names;
}

// Which aliases an expression reads columns of; `any` when it reads an unqualified column, `*`, or a subquery.
void readsOf(const json& node, Names& aliases, bool& any, bool subqueriesAreAny) {
  forEachMember(node, [&](const std::string& key, const json& value) {
    if (key == "SubLink" && subqueriesAreAny) any = true;
    if (key != "ColumnRef") return true;
    const json* fields = field(value, "fields");
    const std::size_t n = fields != nullptr && fields->is_array() ? fields->size() : 0;
    if (n < 2) {
      any = true; // an unqualified column, `*`, or a whole row named by its alias (the latter also below)
      if (n == 1) aliases.emplace_back(stringNode((*fields)[0]));
    } else {
      aliases.emplace_back(stringNode((*fields)[n - 2]));
    }
    return false;
  });
}

Names aliasColumns(const json* alias, const char* key = "colnames") {
  Names names;
  if (alias == nullptr) return names;
  if (const json* cols = field(*alias, key); cols != nullptr && cols->is_array())
    for (const json& c : *cols) names.emplace_back(stringNode(c));
  return names;
}

bool isOne(const json* node) {
  if (node == nullptr) return false;
  const auto [type, body] = unwrap(*node);
  const json* ival = type == "A_Const" ? constantValue(*body, "ival") : nullptr;
  return ival != nullptr && intField(*ival, "ival") == 1;
}

bool callsFunction(const json& node) { return node.dump().find("\"FuncCall\"") != std::string::npos; }

// The unique column sets of a subquery's (or CTE's) rows, named as the outer query sees them (`colnames`, else the
// output names). An empty key: one row at most.
std::vector<Names> keysOfQuery(const json& query, const Names& colnames) {
  const auto [type, select] = unwrap(query);
  if (type != "SelectStmt") return {};
  const std::string_view op = stringField(*select, "op");
  if (!op.empty() && op != "SETOP_NONE") return {};
  if (const json* rows = field(*select, "valuesLists"); rows != nullptr && rows->is_array()) {
    // VALUES: a column whose rows are distinct literals of one kind (no casts, no parameters) is a key.
    std::vector<Names> keys;
    std::vector<std::set<std::string>> seen;
    std::vector<std::string> kinds;
    std::vector<bool> usable;
    for (const json& row : *rows) {
      const json* items = field(*unwrap(row).second, "items");
      if (items == nullptr || !items->is_array()) return {};
      if (usable.empty()) usable.assign(items->size(), true), seen.resize(items->size()), kinds.resize(items->size());
      for (std::size_t i = 0; i < items->size() && i < usable.size(); ++i) {
        const auto [t, b] = unwrap((*items)[i]);
        if (t != "A_Const" || boolField(*b, "isnull")) {
          usable[i] = false;
          continue;
        }
        std::string kind;
        for (const char* k : kConstantKinds)
          if (b->contains(k)) kind = k;
        // Integers and strings only: 1.0 and 1.00 are distinct literals but equal numbers.
        if ((!kinds[i].empty() && kinds[i] != kind) || (kind != "ival" && kind != "sval")) usable[i] = false;
        kinds[i] = kind;
        if (!usable[i]) continue; // (the value is read only when it can still decide)
        if (const json* value = constantValue(*b, kind.c_str()); !seen[i].insert(value->dump()).second)
          usable[i] = false;
      }
    }
    for (std::size_t i = 0; i < usable.size(); ++i)
      if (usable[i]) keys.push_back({i < colnames.size() ? colnames[i] : fmt::format("column{}", i + 1)});
    return keys;
  }
  if (isOne(field(*select, "limitCount"))) return {{}};
  const json* targets = field(*select, "targetList");
  if (targets == nullptr || !targets->is_array()) return {};
  if (field(*select, "fromClause") == nullptr && !callsFunction(*targets)) return {{}}; // SELECT $1 AS k, 2 AS v
  // The output name of each column, and of the one that is a given ColumnRef.
  auto outName = [&](std::size_t i) -> std::string {
    if (i < colnames.size()) return colnames[i];
    const json& target = *unwrap((*targets)[i]).second;
    if (!stringField(target, "name").empty()) return std::string(stringField(target, "name"));
    const json* val = field(target, "val");
    const Names n = val != nullptr ? columnNames(*val) : Names{};
    return n.empty() ? std::string() : n.back();
  };
  auto outputOf = [&](const json& expr) -> std::string {
    const Names wanted = columnNames(expr);
    if (wanted.empty()) return {};
    for (std::size_t i = 0; i < targets->size(); ++i) {
      const json* val = field(*unwrap((*targets)[i]).second, "val");
      if (val != nullptr && columnNames(*val) == wanted) return outName(i);
    }
    return {};
  };
  auto keyOf = [&](const json& list) -> std::vector<Names> {
    Names key;
    for (const json& e : list) {
      const std::string name = outputOf(e);
      if (name.empty()) return {};
      key.push_back(name);
    }
    return {key};
  };
  std::vector<Names> keys;
  if (const json* group = field(*select, "groupClause"); group != nullptr && group->is_array())
    for (auto& k : keyOf(*group)) keys.push_back(std::move(k));
  if (const json* distinct = field(*select, "distinctClause"); distinct != nullptr && distinct->is_array()) {
    if (distinct->size() == 1 && (*distinct)[0].empty()) { // DISTINCT: the whole row
      Names key;
      for (std::size_t i = 0; i < targets->size(); ++i) key.push_back(outName(i));
      if (std::none_of(key.begin(), key.end(), [](const std::string& k) { return k.empty(); })) keys.push_back(key);
    } else {
      for (auto& k : keyOf(*distinct)) keys.push_back(std::move(k));
    }
  }
  return keys;
}

class JoinCollector {
public:
  JoinCollector(const json& stmt, Analysis& out) : out_(out) {
    // The statement's CTEs by name: a FROM item may name one.
    forEachMember(stmt, [&](const std::string& key, const json& value) {
      if (key == "CommonTableExpr") ctes_[std::string(stringField(value, "ctename"))] = &value;
      return true;
    });
  }

  void update(const json& body) {
    const json* from = field(body, "fromClause");
    if (from == nullptr || !from->is_array() || from->empty()) return;
    JoinWrite w = start("UPDATE ... FROM", body, *from);
    if (const json* targets = field(body, "targetList"))
      for (const json& t : *targets)
        if (const json* val = field(*unwrap(t).second, "val")) readsOf(*val, w.read, w.readsUnqualified, false);
    finish(std::move(w), body);
  }

  void remove(const json& body) {
    const json* from = field(body, "usingClause");
    if (from == nullptr || !from->is_array() || from->empty() || field(body, "returningList") == nullptr) return;
    finish(start("DELETE ... USING ... RETURNING", body, *from), body);
  }

  // MERGE ... WHEN NOT MATCHED THEN INSERT: rows come in the join's order, which no ORDER BY can make total.
  void merge(const json& body) {
    const json* rel = field(body, "relation");
    const json* clauses = field(body, "mergeWhenClauses");
    if (rel == nullptr || clauses == nullptr || !clauses->is_array()) return;
    for (const json& c : *clauses) {
      const json& clause = *unwrap(c).second;
      if (stringField(clause, "commandType") != "CMD_INSERT") continue;
      OrderRequirement req;
      req.what =
          "MERGE ... WHEN NOT MATCHED THEN INSERT into a column whose DEFAULT draws a value per row (a sequence, "
          "random() or gen_random_uuid())";
      req.unordered = true;
      req.why = "rows are inserted in the order the MERGE's join meets them, which differs between nodes: the values "
                "drawn would land on different rows";
      req.hint = "give the column's value in the INSERT action (e.g. from the source's key), or insert the new rows "
                 "with INSERT ... SELECT ... ORDER BY a unique key";
      OrderRequirement::Defaults d;
      d.target = {std::string(stringField(*rel, "schemaname")), std::string(stringField(*rel, "relname")), {}};
      if (const json* cols = field(clause, "targetList"); cols != nullptr && cols->is_array() && !cols->empty()) {
        d.listed = true;
        for (const json& col : *cols) d.given.emplace_back(stringField(*unwrap(col).second, "name"));
      }
      req.onlyIfDrawnDefaults = std::move(d);
      out_.orderRequirements.push_back(std::move(req));
    }
  }

private:
  JoinWrite start(const char* what, const json& body, const json& from) {
    JoinWrite w;
    w.what = what;
    if (const json* rel = field(body, "relation")) {
      const json* alias = field(*rel, "alias");
      w.target = std::string(alias != nullptr ? stringField(*alias, "aliasname") : stringField(*rel, "relname"));
    }
    for (const json& item : from) source(item, w);
    if (const json* where = field(body, "whereClause")) equalities(*where, w, nullptr);
    return w;
  }

  void finish(JoinWrite w, const json& body) {
    if (const json* returning = field(body, "returningList")) readsOf(*returning, w.read, w.readsUnqualified, false);
    out_.joinWrites.push_back(std::move(w));
  }

  // A FROM item: its sources, and the equalities of its joins.
  void source(const json& item, JoinWrite& w) {
    const auto [type, b] = unwrap(item);
    if (type == "JoinExpr") {
      if (const json* l = field(*b, "larg")) source(*l, w);
      if (const json* r = field(*b, "rarg")) source(*r, w);
      const std::string_view join = stringField(*b, "jointype"); // absent: JOIN_INNER
      const json* quals = field(*b, "quals");
      if (quals != nullptr && join != "JOIN_FULL") {
        // An outer join's ON bounds the rows of its nullable side only.
        std::set<std::string> side;
        const json* nullable = join == "JOIN_LEFT"    ? field(*b, "rarg")
                               : join == "JOIN_RIGHT" ? field(*b, "larg")
                                                      : nullptr;
        if (nullable != nullptr) {
          JoinWrite inside;
          source(*nullable, inside);
          for (const auto& s : inside.sources) side.insert(s.alias);
        }
        equalities(*quals, w, nullable != nullptr ? &side : nullptr);
      }
      if (const json* alias = field(*b, "alias")) // columns read through the join's alias: no key
        w.sources.push_back({std::string(stringField(*alias, "aliasname")), std::nullopt, {}});
      return;
    }
    JoinWrite::Source s;
    const json* alias = field(*b, "alias");
    if (alias != nullptr) s.alias = std::string(stringField(*alias, "aliasname"));
    if (type == "RangeVar") {
      const std::string name(stringField(*b, "relname"));
      if (s.alias.empty()) s.alias = name;
      auto cte = ctes_.find(name);
      if (stringField(*b, "schemaname").empty() && cte != ctes_.end()) {
        Names cols = aliasColumns(alias);
        if (cols.empty()) cols = aliasColumns(cte->second, "aliascolnames");
        if (const json* q = field(*cte->second, "ctequery")) s.keys = keysOfQuery(*q, cols);
      } else {
        s.table = TableRef{std::string(stringField(*b, "schemaname")), name, s.alias};
      }
    } else if (type == "RangeSubselect") {
      if (const json* q = field(*b, "subquery")) s.keys = keysOfQuery(*q, aliasColumns(alias));
    } else if (type == "RangeFunction" && s.alias.empty()) { // named after its function
      const std::string text = b->dump();
      if (const auto at = text.find("\"funcname\""); at != std::string::npos) {
        const auto begin = text.find("\"sval\":\"", at);
        if (begin != std::string::npos) s.alias = text.substr(begin + 8, text.find('"', begin + 8) - begin - 8);
      }
    }
    w.sources.push_back(std::move(s));
  }

  // `alias.column = expression` in the top-level ANDs of a condition; `side`: the aliases it may bound (else all).
  static void equalities(const json& cond, JoinWrite& w, const std::set<std::string>* side) {
    const auto [type, body] = unwrap(cond);
    if (type == "BoolExpr" && stringField(*body, "boolop") == "AND_EXPR") {
      if (const json* args = field(*body, "args"); args != nullptr && args->is_array())
        for (const json& arg : *args) equalities(arg, w, side);
      return;
    }
    if (type != "A_Expr" || stringField(*body, "kind") != "AEXPR_OP" || lastName(field(*body, "name")) != "=") return;
    const json* sides[2] = {field(*body, "lexpr"), field(*body, "rexpr")};
    if (sides[0] == nullptr || sides[1] == nullptr) return;
    for (int i = 0; i < 2; ++i) {
      const Names column = columnNames(*sides[i]);
      if (column.size() < 2 || (side != nullptr && !side->count(column[column.size() - 2]))) continue;
      JoinWrite::Equality e{column[column.size() - 2], column.back(), {}, false};
      readsOf(*sides[1 - i], e.reads, e.readsAny, true);
      w.equalities.push_back(std::move(e));
    }
  }

  Analysis& out_;
  std::map<std::string, const json*> ctes_;
};

} // namespace

void collectJoinWrites(const json& stmt, Analysis& out) {
  JoinCollector collector(stmt, out);
  std::set<std::pair<std::string_view, std::string_view>> written;
  forEachMember(stmt, [&](const std::string& key, const json& value) {
    // Stored definitions run later, judged then (determinism.cpp).
    if (key == "ViewStmt" || key == "CreateFunctionStmt" || key == "PrepareStmt" || key == "RuleStmt" ||
        key == "CreateTrigStmt" || key == "CreatePolicyStmt")
      return false;
    if (key == "UpdateStmt" || key == "DeleteStmt" || key == "MergeStmt" || key == "InsertStmt")
      if (const json* rel = field(value, "relation");
          rel != nullptr && !written.insert({stringField(*rel, "schemaname"), stringField(*rel, "relname")}).second &&
          !out.nondeterministic)
        out.nondeterministic = Refusal{
            fmt::format("the table {} is written by two parts of one statement (a data-modifying WITH and the main "
                        "statement, or two of them): PostgreSQL runs them in an unpredictable order, and when they "
                        "touch the same rows only one of the changes takes place",
                        stringField(*rel, "relname")),
            "send the writes as statements of their own, one after the other in the request (they then run in "
            "order and each sees the one before)"};
    if (key == "UpdateStmt") collector.update(value);
    if (key == "DeleteStmt") collector.remove(value);
    if (key == "MergeStmt") collector.merge(value);
    return true;
  });
}

} // namespace detail
} // namespace kluster::sql
