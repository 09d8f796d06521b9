// Internal to kluster_sql: what pinCurrentTime() (current_time.cpp) needs besides the parse
// tree: the PostgreSQL scanner's tokens (scanner.cpp) and the result column names PostgreSQL
// figures for select-list entries (column_names.cpp).
#pragma once

#include "core/sql/parse_tree.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace kluster::sql::detail {

// ---------------------------------------------------------------------------------------------
// Scanner tokens.

// Token numbers from /usr/include/pg_query/pg_query.proto (enum Token).
enum TokenKind : int {
  kLParen = 40,
  kRParen = 41,
  kComma = 44,
  kSemicolon = 59,
  kLBracket = 91,
  kRBracket = 93,
  kSconst = 261,
  kUSconst = 262,
  kSqlComment = 275,
  kCComment = 276,
  kDistinct = 390,
  kExcept = 405,
  kFetch = 418,
  kFor = 424,
  kFrom = 429,
  kGroup = 438,
  kHaving = 442,
  kIntersect = 471,
  kInto = 473,
  kLimit = 491,
  kOffset = 540,
  kOn = 543,
  kOrder = 549,
  kOrdinality = 550,
  kReturning = 606,
  kTime = 671,
  kUescape = 685,
  kUnion = 689,
  kWhere = 713,
  kWindow = 715,
  kWith = 716,
  kWithin = 717,
  kWithLa = 739,
};

struct Token {
  int start = 0;
  int end = 0;
  int kind = 0;
};

// The tokens of `sqlz` (NUL-terminated) in order, comments included. Throws SyntaxError.
std::vector<Token> scanTokens(const std::string& sqlz);

// Rewriting by tokens (current_time.cpp): the token starting at byte `location` (throws std::logic_error when
// none does), the next token that is not a comment, and the ')' matching the '(' at `open`.
std::size_t tokenAt(const std::vector<Token>& tokens, int location);
std::size_t nextToken(const std::vector<Token>& tokens, std::size_t i);
std::size_t matchingParen(const std::vector<Token>& tokens, std::size_t open);

// Replace bytes [begin, end) by `text`.
struct Edit {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;
};

// `sql` with the edits applied (they must not overlap), keeping tokens apart where a replacement would
// otherwise join its neighbour.
std::string applyEdits(std::string_view sql, std::vector<Edit>& edits);

// `sql` rewritten at the tree walk's `sites` (byte locations, each rewritten once however often the walk met it):
// `edit(tokens, i)` gives the edit for the site whose token is tokens[i], or nothing to leave it.
std::string editSites(std::string_view sql, const std::vector<int>& sites,
                      const std::function<std::optional<Edit>(const std::vector<Token>&, std::size_t)>& edit);

// ---------------------------------------------------------------------------------------------
// Column names (PostgreSQL's FigureColnameInternal on the raw parse tree), to keep result
// column names when a current-time expression is replaced by a cast literal.

struct FiguredName {
  int strength = 0; // 0: "?column?", 1: weak (type name / "case"), 2: strong
  std::string name;
};

// The name PostgreSQL gives the result column of `expr`; with `pinned`, as if the FuncCall and
// SQLValueFunction nodes at those locations were replaced by a cast literal.
FiguredName figureColname(const json& expr, const std::unordered_set<int>* pinned);

} // namespace kluster::sql::detail
