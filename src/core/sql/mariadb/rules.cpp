// The MariaDB dialect's rules over a statement's tokens: the functions it calls, the row orders its writes depend
// on, and the unique keys its UPDATEs change. Conservative: what cannot be read with certainty is reported as an
// order that cannot be proved total (refused), never as no order at all.
#include "core/sql/mariadb/statement.hpp"

#include <algorithm>
#include <set>

namespace kluster::sql::mariadb {

using Type = Token::Type;

Tokens::Tokens(std::string_view sql, const std::vector<Token>& all, std::size_t begin, std::size_t end)
    : sql_(sql), all_(all), begin_(begin), end_(end) {
  int d = 0;
  depth_.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i) {
    if (all[i].symbol(")")) --d;
    depth_.push_back(d);
    if (all[i].symbol("(")) ++d;
  }
}

std::size_t Tokens::find(std::string_view word, std::size_t from, std::size_t to, int depth) const {
  for (std::size_t i = from; i < to && i < end_; ++i)
    if (depth_[i - begin_] == depth && all_[i].is(word)) return i;
  return to;
}

std::size_t Tokens::close(std::size_t open) const {
  const int d = depth(open);
  for (std::size_t i = open + 1; i < end_; ++i)
    if (all_[i].symbol(")") && depth(i) == d) return i;
  return end_;
}

std::string Tokens::lower(const Token& t) {
  std::string s = t.upper; // a backquoted identifier's name keeps its case there
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Tokens::name(std::size_t i) const {
  const Token& t = all_[i];
  return t.type == Type::Identifier ? t.upper : std::string(sql_.substr(t.offset, t.length));
}

namespace {

bool oneOf(const Token& t, std::initializer_list<std::string_view> words) {
  return std::any_of(words.begin(), words.end(), [&](std::string_view w) { return t.is(w); });
}

} // namespace

void collectFunctions(const Tokens& t, std::vector<std::string>& functions) {
  // Keywords followed by '(' that are not function calls.
  static const std::set<std::string, std::less<>> kNotCalls = {
      "IN",       "EXISTS",    "VALUES",     "VALUE",     "ON",       "USING",   "AS",        "AND",     "OR",
      "NOT",      "XOR",       "KEY",        "INDEX",     "PRIMARY",  "UNIQUE",  "CHECK",     "FOREIGN", "REFERENCES",
      "OVER",     "PARTITION", "WINDOW",     "FROM",      "JOIN",     "WHERE",   "SELECT",    "INTO",    "TABLE",
      "SET",      "ANY",       "ALL",        "SOME",      "BY",       "THEN",    "ELSE",      "WHEN",    "RETURN",
      "RETURNS",  "LIMIT",     "WITH",       "UNION",     "DISTINCT", "BETWEEN", "LIKE",      "IS",      "PARTITIONS",
      "FULLTEXT", "SPATIAL",   "CONSTRAINT", "RECURSIVE", "LATERAL",  "EXCEPT",  "INTERSECT", "ELSEIF",  "WHILE",
      "UNTIL",    "DO",        "CALL"};
  // Words after which a name followed by '(' names a table, index, view or routine being defined.
  static const std::set<std::string, std::less<>> kNamesAfter = {
      "TABLE",     "INTO",     "REFERENCES", "INDEX",      "KEY",       "UNIQUE", "EXISTS",
      "INSERT",    "REPLACE",  "IGNORE",     "FUNCTION",   "PROCEDURE", "VIEW",   "WITH",
      "RECURSIVE", "FULLTEXT", "SPATIAL",    "CONSTRAINT", "TRIGGER",   "PACKAGE"};
  const bool createIndex = t[t.begin()].is("CREATE") && t.find("INDEX", t.begin(), t.begin() + 4, 0) < t.begin() + 4;
  for (std::size_t i = t.begin(); i < t.end(); ++i) {
    const Token& k = t[i];
    const Token* before = i > t.begin() ? &t[i - 1] : nullptr;
    if (k.type == Type::Word) { // niladic forms
      const bool definer = before && before->symbol("=") && i >= t.begin() + 2 && t[i - 2].is("DEFINER");
      if ((k.is("CURRENT_USER") || k.is("CURRENT_ROLE")) && !definer)
        functions.push_back(k.is("CURRENT_USER") ? "current_user" : "current_role");
      if (k.is("VALUE") && t.is(i + 1, "FOR") && before && (before->is("NEXT") || before->is("PREVIOUS")))
        functions.push_back(before->is("NEXT") ? "nextval" : "lastval");
    }
    if (!Tokens::isName(k) || !t.symbol(i + 1, "(")) continue;
    if (k.type == Type::Word && kNotCalls.count(k.upper)) continue;
    if (before && before->type == Type::Word && kNamesAfter.count(before->upper)) continue;
    if (before && before->is("ON") && createIndex) continue;
    if (before && before->is("CALL")) { // a procedure: named as a function of the same name would be
      functions.push_back(Tokens::lower(k));
      continue;
    }
    functions.push_back(Tokens::lower(k));
  }
  // CALL p without parentheses.
  if (t[t.begin()].is("CALL") && t.begin() + 1 < t.end() && Tokens::isName(t[t.begin() + 1]))
    functions.push_back(Tokens::lower(t[t.begin() + 1]));
}

namespace {

struct Block {
  std::size_t from, to; // tokens of one query block at depth `depth`
  int depth;
};

// The query block a token at `at` belongs to: back to the '(' that opens its subquery (function calls' parentheses
// are climbed out of), a ';' of a stored program's body, or the statement's start; forward to where it closes.
Block blockOf(const Tokens& t, std::size_t at) {
  int d = t.depth(at);
  std::size_t from = at;
  for (;;) {
    while (from > t.begin() && t.depth(from - 1) >= d && !(t.depth(from - 1) == d && t.symbol(from - 1, ";"))) --from;
    if (d == 0 || from == t.begin() || !t.symbol(from - 1, "(")) break;
    if (oneOf(t[from], {"SELECT", "WITH", "VALUES", "TABLE"}) || t.symbol(from, "(")) break; // a subquery
    --from; // the '(' of a function call or a list: the block is the one around it
    d = t.depth(from);
  }
  std::size_t to = from;
  while (to < t.end() && t.depth(to) >= d && !(t.depth(to) == d && t.symbol(to, ";"))) ++to;
  return {from, to, d};
}

// `[q.]column [ASC|DESC]` items of a list at depth d in [from, to), separated by ','.
std::vector<std::pair<std::string, std::string>> columnList(const Tokens& t, std::size_t from, std::size_t to, int d) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t item = from;
  for (std::size_t i = from; i <= to; ++i) {
    if (i < to && !(t.depth(i) == d && t.symbol(i, ","))) continue;
    std::size_t end = i;
    while (end > item && (t.is(end - 1, "ASC") || t.is(end - 1, "DESC"))) --end;
    if (end == item + 1 && Tokens::isName(t[item]))
      out.emplace_back("", Tokens::lower(t[item]));
    else if (end == item + 3 && Tokens::isName(t[item]) && t.symbol(item + 1, ".") && Tokens::isName(t[item + 2]))
      out.emplace_back(Tokens::lower(t[item]), Tokens::lower(t[item + 2]));
    item = i + 1;
  }
  return out;
}

// The end of a clause that starts at `from`: the next clause keyword at depth d, or `to`.
std::size_t clauseEnd(const Tokens& t, std::size_t from, std::size_t to, int d) {
  for (std::size_t i = from; i < to; ++i)
    if (t.depth(i) == d &&
        oneOf(t[i], {"WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "WINDOW", "UNION", "EXCEPT", "INTERSECT", "FOR",
                     "LOCK", "INTO", "SET", "RETURNING", "OFFSET", "FETCH", "PROCEDURE", "DUPLICATE", "SEPARATOR"}))
      return i;
  return to;
}

struct Tables {
  std::vector<TableRef> refs;
  bool derived = false; // a subquery, a table function or something not read with certainty
};

// Table references in [from, to) at depth d: `name [[AS] alias]` items joined by ',' or JOINs, with their ON /
// USING conditions skipped.
Tables tableList(const Tokens& t, std::size_t from, std::size_t to, int d) {
  Tables out;
  std::size_t i = from;
  bool expectItem = true;
  while (i < to) {
    const Token& k = t[i];
    if (t.depth(i) != d) {
      ++i;
      continue;
    }
    if (k.symbol(",") || oneOf(k, {"JOIN", "STRAIGHT_JOIN"})) {
      expectItem = true;
      ++i;
      continue;
    }
    if (oneOf(k, {"INNER", "LEFT", "RIGHT", "OUTER", "CROSS", "NATURAL", "FULL"})) {
      ++i;
      continue;
    }
    if (oneOf(k, {"ON", "USING"})) { // skip the condition up to the next join or ','
      ++i;
      while (i < to && !(t.depth(i) == d && (t.symbol(i, ",") || oneOf(t[i], {"JOIN", "STRAIGHT_JOIN", "INNER", "LEFT",
                                                                              "RIGHT", "CROSS", "NATURAL"}))))
        ++i;
      continue;
    }
    if (expectItem) {
      expectItem = false;
      if (!Tokens::isName(k) || t.symbol(i + 1, "(")) {
        out.derived = true;
        ++i;
        continue;
      }
      TableRef ref;
      std::size_t n = i;
      if (t.symbol(i + 1, ".") && i + 2 < to && Tokens::isName(t[i + 2])) {
        ref.schema = t.name(i);
        n = i + 2;
      }
      ref.name = t.name(n);
      ref.alias = ref.name;
      i = n + 1;
      if (t.is(i, "AS")) ++i;
      if (i < to && Tokens::isName(t[i]) && t.depth(i) == d &&
          !oneOf(t[i], {"JOIN", "STRAIGHT_JOIN", "INNER", "LEFT", "RIGHT", "CROSS", "NATURAL", "ON", "USING", "SET",
                        "WHERE", "PARTITION", "FORCE", "USE", "IGNORE", "ORDER", "LIMIT", "GROUP", "HAVING"})) {
        ref.alias = t.name(i);
        ++i;
      }
      out.refs.push_back(std::move(ref));
      continue;
    }
    if (oneOf(k, {"FORCE", "USE", "IGNORE", "PARTITION"})) { // index hints, partition selection
      ++i;
      continue;
    }
    ++i;
  }
  return out;
}

// The tables a query block reads rows of: its last FROM's items at its depth, or an UPDATE's / DELETE's target.
Tables blockTables(const Tokens& t, const Block& b) {
  std::size_t from = b.to;
  for (std::size_t i = b.from; i < b.to; ++i)
    if (t.depth(i) == b.depth && (t[i].is("FROM") || t[i].is("UPDATE"))) from = i;
  if (from == b.to) return {};
  return tableList(t, from + 1, clauseEnd(t, from + 1, b.to, b.depth), b.depth);
}

bool hasSetOperation(const Tokens& t, const Block& b) {
  for (std::size_t i = b.from; i < b.to; ++i)
    if (t.depth(i) == b.depth && oneOf(t[i], {"UNION", "EXCEPT", "INTERSECT"})) return true;
  return false;
}

void requireOrder(Analysis& out, std::string what, const Tables& tables,
                  std::vector<std::pair<std::string, std::string>> columns, bool unordered) {
  OrderRequirement req;
  req.what = std::move(what);
  req.tables = tables.refs;
  req.columns = std::move(columns);
  req.unordered = unordered || tables.derived;
  out.orderRequirements.push_back(std::move(req));
}

} // namespace

namespace {

// ORDER BY (and GROUP BY when asked) columns inside [from, to) at depth d.
std::vector<std::pair<std::string, std::string>> clauseColumns(const Tokens& t, std::size_t from, std::size_t to, int d,
                                                               std::initializer_list<std::string_view> clauses) {
  std::vector<std::pair<std::string, std::string>> cols;
  for (auto clause : clauses) {
    const std::size_t at = t.find(clause, from, to, d);
    if (at < to && t.is(at + 1, "BY")) {
      const auto list = columnList(t, at + 2, clauseEnd(t, at + 2, to, d), d);
      cols.insert(cols.end(), list.begin(), list.end());
    }
  }
  return cols;
}

// Window functions whose value depends on the order of the rows in their partition.
bool orderedWindowFunction(const Token& k) {
  return oneOf(k, {"ROW_NUMBER", "RANK", "DENSE_RANK", "NTILE", "LAG", "LEAD", "FIRST_VALUE", "LAST_VALUE", "NTH_VALUE",
                   "PERCENT_RANK", "CUME_DIST", "PERCENTILE_CONT", "PERCENTILE_DISC", "MEDIAN"});
}

void windowRule(const Tokens& t, std::size_t at, std::size_t close, Analysis& out) {
  if (!t.is(close + 1, "OVER")) return;
  const Block blk = blockOf(t, at);
  const std::string what = Tokens::lower(t[at]) + "() OVER";
  if (!t.symbol(close + 2, "(")) { // a named window: not read
    requireOrder(out, what, blockTables(t, blk), {}, true);
    return;
  }
  const std::size_t open = close + 2, end = t.close(open);
  const int d = t.depth(open) + 1;
  const bool rows = t.find("ROWS", open + 1, end, d) < end;
  if (!orderedWindowFunction(t[at]) && !rows) return; // an aggregate over whole partitions or RANGE peers
  // The PARTITION BY columns are constant within the ordered set.
  std::vector<std::pair<std::string, std::string>> cols;
  for (auto clause : {"PARTITION", "ORDER"}) {
    const std::size_t c = t.find(clause, open + 1, end, d);
    if (c < end && t.is(c + 1, "BY")) {
      std::size_t stop = c + 2;
      while (stop < end && !(t.depth(stop) == d && oneOf(t[stop], {"ORDER", "ROWS", "RANGE"}))) ++stop;
      const auto list = columnList(t, c + 2, stop, d);
      cols.insert(cols.end(), list.begin(), list.end());
    }
  }
  requireOrder(out, what, blockTables(t, blk), std::move(cols), hasSetOperation(t, blk));
}

// INSERT/REPLACE: the target, and the order an INSERT ... SELECT gives its rows.
void insertRules(const Tokens& t, Analysis& out) {
  const std::size_t e = t.end();
  std::size_t k = t.begin();
  while (k < e && !(t.depth(k) == 0 && (t[k].is("INSERT") || t[k].is("REPLACE")))) ++k;
  if (k == e) return;
  const bool replace = t[k].is("REPLACE");
  bool ignore = false;
  for (++k; k < e && oneOf(t[k], {"LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO"}); ++k)
    ignore = ignore || t[k].is("IGNORE");
  if (k >= e || !Tokens::isName(t[k])) return;
  OrderRequirement::Defaults target;
  if (t.symbol(k + 1, ".") && k + 2 < e) {
    target.target.schema = t.name(k);
    k += 2;
  }
  target.target.name = t.name(k);
  target.target.alias = target.target.name;
  out.writeTargets.push_back(target.target);
  ++k;
  if (t.is(k, "PARTITION") && t.symbol(k + 1, "(")) k = t.close(k + 1) + 1;
  if (t.symbol(k, "(") && !t.is(k + 1, "SELECT") && !t.is(k + 1, "WITH")) {
    const std::size_t close = t.close(k);
    target.listed = true;
    for (std::size_t i = k + 1; i < close; ++i)
      if (Tokens::isName(t[i]) && t.depth(i) == 1) target.given.push_back(Tokens::lower(t[i]));
    k = close + 1;
  }
  if (k >= e || oneOf(t[k], {"VALUES", "VALUE", "SET", "DEFAULT"})) return; // rows in the text's order
  // The rows come from a query: SELECT, (SELECT ...), WITH ..., TABLE t, VALUES in parentheses.
  std::size_t stop = e;
  const std::size_t dup = t.find("DUPLICATE", k, e, 0);
  if (dup < e) stop = dup - 1; // ... ON DUPLICATE KEY UPDATE
  std::size_t sel = k;
  int d = 0;
  while (sel < stop && t.symbol(sel, "(")) ++sel, ++d; // (SELECT ...) in parentheses
  const Block blk{sel, d == 0 ? stop : t.close(sel - 1), d};
  const Tables tables = blockTables(t, blk);
  out.scansRows = out.scansRows || !tables.refs.empty() || tables.derived;
  OrderRequirement req;
  req.what = "INSERT ... SELECT";
  req.tables = tables.refs;
  req.columns = clauseColumns(t, blk.from, blk.to, blk.depth, {"ORDER"});
  req.unordered = tables.derived || hasSetOperation(t, blk) || t[sel].is("WITH");
  if (ignore || replace || dup < e) {
    req.why = "which of the SELECT's rows that collide on a unique key is kept (INSERT IGNORE, REPLACE, ON DUPLICATE "
              "KEY UPDATE) depends on the order the rows come in, which is each node's own";
    req.hint = "add an ORDER BY that covers a unique NOT NULL key of the tables it reads";
  } else {
    req.onlyIfDrawnDefaults = std::move(target);
  }
  out.orderRequirements.push_back(std::move(req));
}

} // namespace

void orderRules(const Tokens& t, const std::string& kind, Analysis& out) {
  const std::size_t b = t.begin(), e = t.end();
  std::vector<std::pair<std::size_t, std::size_t>> aggregates; // GROUP_CONCAT(...) arguments: their LIMIT is theirs
  for (std::size_t i = b; i < e; ++i) {
    if (!Tokens::isName(t[i]) || !t.symbol(i + 1, "(")) continue;
    const std::size_t close = t.close(i + 1);
    if (oneOf(t[i], {"GROUP_CONCAT", "JSON_ARRAYAGG", "JSON_OBJECTAGG"})) {
      aggregates.emplace_back(i + 1, close);
      const Block blk = blockOf(t, i);
      auto cols = clauseColumns(t, blk.from, blk.to, blk.depth, {"GROUP"});
      const auto inner = clauseColumns(t, i + 2, close, t.depth(i + 1) + 1, {"ORDER"});
      cols.insert(cols.end(), inner.begin(), inner.end());
      requireOrder(out, Tokens::lower(t[i]) + "()", blockTables(t, blk), std::move(cols), hasSetOperation(t, blk));
    }
    windowRule(t, i, close, out);
  }
  for (std::size_t i = b; i < e; ++i) {
    if (!t[i].is("LIMIT") && !(t[i].is("FETCH") && (t.is(i + 1, "FIRST") || t.is(i + 1, "NEXT")))) continue;
    if (std::any_of(aggregates.begin(), aggregates.end(), [&](auto r) { return i > r.first && i < r.second; }))
      continue;
    const Block blk = blockOf(t, i);
    requireOrder(out, "LIMIT", blockTables(t, blk), clauseColumns(t, blk.from, i, blk.depth, {"ORDER"}),
                 hasSetOperation(t, blk));
  }
  if (kind == "InsertStmt") insertRules(t, out);
  if (kind == "DeleteStmt") {
    const std::size_t from = t.find("FROM", b, e, 0);
    if (from < e) {
      const Tables tables = tableList(t, from + 1, clauseEnd(t, from + 1, e, 0), 0);
      out.writeTargets.insert(out.writeTargets.end(), tables.refs.begin(), tables.refs.end());
    }
    out.scansRows = true;
  }
  if (kind == "CreateStmt") { // CREATE TABLE ... [AS] SELECT: rows in the SELECT's order
    std::size_t sel = t.find("SELECT", b, e, 0);
    if (sel == e) return;
    const Block blk{sel, e, 0};
    const Tables tables = blockTables(t, blk);
    out.scansRows = true;
    bool drawn = false;
    for (std::size_t i = b; i < sel; ++i) drawn = drawn || t[i].is("AUTO_INCREMENT");
    for (std::size_t i = b; i < sel; ++i)
      drawn = drawn || (t.depth(i) == 0 && (t[i].is("IGNORE") || (t[i].is("REPLACE") && i > b)));
    if (drawn)
      requireOrder(out, "CREATE TABLE ... SELECT", tables, clauseColumns(t, sel, e, 0, {"ORDER"}),
                   hasSetOperation(t, blk));
  }
}

void updateRules(const Tokens& t, Analysis& out) {
  const std::size_t e = t.end();
  std::size_t k = t.begin() + 1;
  while (k < e && oneOf(t[k], {"LOW_PRIORITY", "IGNORE"})) ++k;
  const std::size_t set = t.find("SET", k, e, 0);
  const Tables tables = tableList(t, k, set, 0);
  out.writeTargets.insert(out.writeTargets.end(), tables.refs.begin(), tables.refs.end());
  out.scansRows = true;
  if (tables.refs.size() != 1 || tables.derived) {
    if (!out.nondeterministic)
      out.nondeterministic = Refusal{
          "a multi-table UPDATE gives a row that joins several rows the values of whichever its plan meets first, "
          "which is each node's own",
          "update one table, reading the others in a scalar subquery that picks one row by a unique key, e.g. "
          "UPDATE t SET c = (SELECT s.c FROM s WHERE s.id = t.s_id)"};
    return;
  }
  KeyUpdate u;
  u.table = tables.refs.front();
  const std::size_t setEnd = clauseEnd(t, set + 1, e, 0);
  bool assignment = true; // at the start of one
  for (std::size_t i = set + 1; i < setEnd; ++i) {
    if (t.depth(i) == 0 && t.symbol(i, ",")) {
      assignment = true;
      continue;
    }
    if (!assignment || !Tokens::isName(t[i])) {
      assignment = false;
      continue;
    }
    std::size_t c = i;
    if (t.symbol(i + 1, ".") && i + 2 < setEnd) c = i + 2;
    u.columns.push_back(Tokens::lower(t[c]));
    assignment = false;
  }
  const std::size_t where = t.find("WHERE", set, e, 0);
  if (where < e) {
    const std::size_t whereEnd = clauseEnd(t, where + 1, e, 0);
    bool conjunction = true;
    for (std::size_t i = where + 1; i < whereEnd; ++i)
      if (t.depth(i) == 0 && (t[i].is("OR") || t[i].is("XOR") || t.symbol(i, "||"))) conjunction = false;
    auto literal = [&](std::size_t i) {
      return t[i].type == Type::Number || t[i].type == Type::String || t[i].type == Type::Param;
    };
    std::size_t seg = where + 1;
    bool between = false;
    for (std::size_t i = where + 1; conjunction && i <= whereEnd; ++i) {
      if (i < whereEnd && t.is(i, "BETWEEN")) between = true;
      const bool cut = i == whereEnd || (t.depth(i) == 0 && (t[i].is("AND") || t.symbol(i, "&&")));
      if (!cut) continue;
      if (between && i < whereEnd) { // BETWEEN a AND b: this AND is BETWEEN's
        between = false;
        continue;
      }
      // col = literal, literal = col, t.col = literal
      const std::size_t n = i - seg;
      auto column = [&](std::size_t at, std::size_t len) -> std::string {
        if (len == 1 && Tokens::isName(t[at])) return Tokens::lower(t[at]);
        if (len == 3 && Tokens::isName(t[at]) && t.symbol(at + 1, ".") && Tokens::isName(t[at + 2]))
          return Tokens::lower(t[at + 2]);
        return "";
      };
      for (std::size_t len : {std::size_t{1}, std::size_t{3}}) {
        if (n == len + 2 && t.symbol(seg + len, "=") && literal(seg + len + 1)) {
          if (auto c = column(seg, len); !c.empty()) u.pinned.push_back(c);
        }
        if (n == len + 2 && literal(seg) && t.symbol(seg + 1, "=")) {
          if (auto c = column(seg + 2, len); !c.empty()) u.pinned.push_back(c);
        }
      }
      seg = i + 1;
    }
  }
  out.keyUpdates.push_back(std::move(u));
}

} // namespace kluster::sql::mariadb
