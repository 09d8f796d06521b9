// PL/pgSQL cursors for the judge of function bodies (function_body.cpp): libpg_query's PL/pgSQL parser knows no
// variable's type, so it rejects every statement that uses a cursor (FOR r IN c LOOP, OPEN, FETCH, MOVE, CLOSE:
// "variable must be of type cursor or refcursor"). Before parsing, those statements of the cursors the body declares
// are replaced by statements it reads, and what they run is kept apart to be judged: the query of OPEN ... FOR
// (its rows are taken in order, as a bound cursor's declared query is) and the expressions they give (arguments,
// FETCH counts). A cursor the body does not declare (a refcursor argument) is left alone: the body then cannot be
// read, and is refused as opaque.
#include "core/sql/current_time.hpp"
#include "core/sql/parse_tree.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace kluster::sql::detail {

namespace {

class Rewriter {
public:
  explicit Rewriter(const std::string& source) : source_(source) {
    for (const Token& t : scanTokens(source))
      if (t.kind != kSqlComment && t.kind != kCComment) tokens_.push_back(t);
  }

  CursorStatements run() {
    CursorStatements out;
    declared();
    std::vector<Edit> edits;
    for (std::size_t i = 0; i < tokens_.size(); ++i) {
      if (!statementStart(i)) continue;
      const std::string word = text(i);
      const std::size_t end = statementEnd(i);
      if (end >= tokens_.size()) break;
      if (word == "open" && isCursor(i + 1)) {
        open(i, end, out);
      } else if ((word == "fetch" || word == "move") && usesCursor(i, end)) {
        fetch(i, end, out);
      } else if (word == "close" && isCursor(i + 1)) {
      } else if (word == "for" && i + 3 < end && text(i + 2) == "in" && isCursor(i + 3)) {
        forLoop(i + 3, edits, out);
        continue;
      } else {
        continue;
      }
      edits.push_back(
          {static_cast<std::size_t>(tokens_[i].start), static_cast<std::size_t>(tokens_[end].end), "NULL;"});
      i = end;
    }
    out.source = edits.empty() ? source_ : applyEdits(source_, edits);
    return out;
  }

private:
  std::string text(std::size_t i) const {
    if (i >= tokens_.size()) return {};
    const Token& t = tokens_[i];
    return lowerAscii(
        std::string_view(source_).substr(static_cast<std::size_t>(t.start), static_cast<std::size_t>(t.end - t.start)));
  }
  std::string span(std::size_t from, std::size_t to) const { // tokens [from, to)
    if (from >= to) return {};
    return source_.substr(static_cast<std::size_t>(tokens_[from].start),
                          static_cast<std::size_t>(tokens_[to - 1].end - tokens_[from].start));
  }
  bool isCursor(std::size_t i) const { return i < tokens_.size() && cursors_.count(text(i)) > 0; }
  bool usesCursor(std::size_t from, std::size_t to) const {
    for (std::size_t i = from + 1; i < to; ++i)
      if (isCursor(i)) return true;
    return false;
  }

  // The first token of a PL/pgSQL statement: after `;`, a block's or loop's keyword, or a label.
  bool statementStart(std::size_t i) const {
    if (i == 0) return true;
    const std::string before = text(i - 1);
    return tokens_[i - 1].kind == kSemicolon || before == "begin" || before == "loop" || before == "then" ||
           before == "else" || before == "declare" || before == ">>";
  }
  // The `;` ending the statement that starts at `i` (outside parentheses).
  std::size_t statementEnd(std::size_t i) const {
    int depth = 0;
    for (; i < tokens_.size(); ++i) {
      if (tokens_[i].kind == kLParen) ++depth;
      if (tokens_[i].kind == kRParen) --depth;
      if (tokens_[i].kind == kSemicolon && depth <= 0) return i;
    }
    return i;
  }
  std::size_t closingParen(std::size_t open) const {
    int depth = 0;
    for (std::size_t i = open; i < tokens_.size(); ++i) {
      if (tokens_[i].kind == kLParen) ++depth;
      if (tokens_[i].kind == kRParen && --depth == 0) return i;
    }
    return tokens_.size();
  }

  // Cursor variables the body declares: `name [NO] [SCROLL] CURSOR ...` and `name refcursor`.
  void declared() {
    for (std::size_t i = 0; i + 1 < tokens_.size(); ++i) {
      if (!statementStart(i)) continue;
      std::size_t j = i + 1;
      if (text(j) == "no") ++j;
      if (text(j) == "scroll") ++j;
      if (text(j) == "cursor" || (j == i + 1 && text(j) == "refcursor")) cursors_.insert(text(i));
    }
  }

  // OPEN c [[NO] SCROLL] FOR query; OPEN c FOR EXECUTE ...; OPEN c [(arguments)];
  void open(std::size_t i, std::size_t end, CursorStatements& out) {
    std::size_t j = i + 2;
    if (j < end && tokens_[j].kind == kLParen) {
      const std::size_t close = closingParen(j);
      out.expressions.push_back("SELECT " + span(j, std::min(close + 1, end)));
      return;
    }
    while (j < end && text(j) != "for") ++j;
    if (j + 1 >= end) return;
    if (text(j + 1) == "execute") {
      out.dynamic = true;
      return;
    }
    out.queries.push_back(span(j + 1, end));
  }

  // FETCH/MOVE [direction [count]] [FROM | IN] c [INTO target]: the count is an expression.
  void fetch(std::size_t i, std::size_t end, CursorStatements& out) {
    static const std::set<std::string> kWords = {"next",    "prior",    "first", "last", "absolute", "relative",
                                                 "forward", "backward", "all",   "from", "in"};
    std::size_t j = i + 1;
    while (j < end && kWords.count(text(j))) ++j;
    std::size_t cursor = j;
    while (cursor < end && !isCursor(cursor)) ++cursor;
    std::size_t countEnd = cursor;
    while (countEnd > j && kWords.count(text(countEnd - 1))) --countEnd;
    if (countEnd > j) out.expressions.push_back("SELECT " + span(j, countEnd));
  }

  // FOR r IN c [(arguments)] LOOP: an integer loop of one step, which the parser reads (r's fields are then read
  // as expressions, as they are).
  void forLoop(std::size_t name, std::vector<Edit>& edits, CursorStatements& out) {
    std::size_t last = name;
    if (name + 1 < tokens_.size() && tokens_[name + 1].kind == kLParen) {
      last = closingParen(name + 1);
      if (last >= tokens_.size()) return;
      out.expressions.push_back("SELECT " + span(name + 1, last + 1));
    }
    edits.push_back(
        {static_cast<std::size_t>(tokens_[name].start), static_cast<std::size_t>(tokens_[last].end), "1..1"});
  }

  const std::string& source_;
  std::vector<Token> tokens_;
  std::set<std::string> cursors_;
};

} // namespace

CursorStatements rewriteCursorStatements(const std::string& source) { return Rewriter(source).run(); }

} // namespace kluster::sql::detail
