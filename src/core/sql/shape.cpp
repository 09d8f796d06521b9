// Statement shapes (shape.hpp): the key is made from libpg_query's JSON text as it comes, without reading it into a
// DOM (most of what an analysis costs), by a scan that knows JSON's strings and nesting.
#include "core/sql/shape.hpp"

#include "core/sql/parse_tree.hpp"

#include <pg_query.h>

#include <algorithm>
#include <cstdlib>

namespace kluster::sql {

namespace {

std::runtime_error malformed() { return std::runtime_error("kluster::sql: malformed parse tree JSON"); }

// j[i] is '"': the index after the string's closing quote.
std::size_t skipString(std::string_view j, std::size_t i) {
  for (++i; i < j.size(); ++i) {
    if (j[i] == '\\')
      ++i;
    else if (j[i] == '"')
      return i + 1;
  }
  throw malformed();
}

// The index after the JSON value that starts at j[i].
std::size_t skipValue(std::string_view j, std::size_t i) {
  if (i >= j.size()) throw malformed();
  if (j[i] == '"') return skipString(j, i);
  if (j[i] != '{' && j[i] != '[') {
    while (i < j.size() && j[i] != ',' && j[i] != '}' && j[i] != ']') ++i;
    return i;
  }
  int depth = 0;
  while (i < j.size()) {
    const char c = j[i];
    if (c == '"') {
      i = skipString(j, i);
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if ((c == '}' || c == ']') && --depth == 0) return i + 1;
    ++i;
  }
  throw malformed();
}

bool isConstantKind(std::string_view name) {
  return std::any_of(std::begin(detail::kConstantKinds), std::end(detail::kConstantKinds),
                     [&](const char* k) { return name == k; });
}

// The key of a parse tree (Shape::key) and each statement's position, in one pass over its JSON text (libpg_query
// writes no whitespace between tokens).
void keyOf(std::string_view j, Shape& s) {
  s.key.reserve(j.size());
  std::vector<bool> aConst; // per open object or array: an A_Const's body
  bool nextIsAConst = false;
  int objects = 0; // open objects (the root is 1, a RawStmt of "stmts" 2)
  std::size_t i = 0;
  while (i < j.size()) {
    const char c = j[i];
    if (c == '"') {
      const std::size_t end = skipString(j, i);
      const std::string_view name = j.substr(i + 1, end - i - 2);
      if (end >= j.size() || j[end] != ':') { // a value, not a member's name
        s.key.append(j.substr(i, end - i));
        i = end;
        continue;
      }
      if (name == "location" || name == "stmt_location" || name == "stmt_len") {
        // Left out with its comma (libpg_query leaves out a position of 0 too).
        std::size_t after = skipValue(j, end + 1);
        if (objects == 2 && name != "location" && !s.statements.empty()) {
          const std::int64_t v = std::strtoll(std::string(j.substr(end + 1, after - end - 1)).c_str(), nullptr, 10);
          (name == "stmt_location" ? s.statements.back().first : s.statements.back().second) = v;
        }
        if (!s.key.empty() && s.key.back() == ',')
          s.key.pop_back();
        else if (after < j.size() && j[after] == ',')
          ++after;
        i = after;
        continue;
      }
      s.key.append(j.substr(i, end - i + 1));
      i = end + 1;
      if (!aConst.empty() && aConst.back() && isConstantKind(name)) {
        s.key += '?';
        i = skipValue(j, i);
      } else {
        nextIsAConst = name == "A_Const";
      }
      continue;
    }
    if (c == '{' || c == '[') {
      aConst.push_back(c == '{' && nextIsAConst);
      if (c == '{' && ++objects == 2) s.statements.emplace_back(0, 0);
    } else if (c == '}' || c == ']') {
      if (aConst.empty()) throw malformed();
      aConst.pop_back();
      if (c == '}') --objects;
    }
    nextIsAConst = false;
    s.key += c;
    ++i;
  }
}

} // namespace

std::optional<Shape> shapeOf(std::string_view sql) {
  if (sql.size() > detail::kInlineBytes) return std::nullopt;
  try {
    detail::checkText(sql);
  } catch (const SyntaxError&) {
    return std::nullopt;
  }
  const std::string sqlz(sql);
  PgQueryParseResult result = pg_query_parse(sqlz.c_str());
  struct Free {
    PgQueryParseResult& r;
    ~Free() { pg_query_free_parse_result(r); }
  } freeResult{result};
  if (result.error != nullptr || result.parse_tree == nullptr) return std::nullopt;
  Shape s;
  s.tree = result.parse_tree;
  keyOf(s.tree, s);
  return s;
}

Analysis analyzeShape(std::string_view sql, const Shape& shape, bool& readConstant) {
  detail::Parsed p = detail::parseAndCollect(sql, &shape.tree);
  readConstant = p.constants.read;
  return detail::pinAllTexts(std::move(p.analysis));
}

bool shapeReusable(const Analysis& a, const Shape& shape) {
  return !a.drawsUuid && a.statements.size() == shape.statements.size() &&
         std::none_of(a.statements.begin(), a.statements.end(),
                      [](const Statement& st) { return !st.allSql.empty() || st.copyFrom || st.copyTo; });
}

Analysis fromShape(const Analysis& cached, std::string_view sql, const Shape& shape) {
  Analysis a = cached;
  for (std::size_t k = 0; k < a.statements.size() && k < shape.statements.size(); ++k)
    a.statements[k].sql = detail::statementText(sql, shape.statements[k].first, shape.statements[k].second);
  return a;
}

} // namespace kluster::sql
