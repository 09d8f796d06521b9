// Internal to kluster_sql: what pinCurrentTime() (current_time.cpp) needs besides the parse
// tree: the PostgreSQL scanner's tokens (scanner.cpp) and the result column names PostgreSQL
// figures for select-list entries (column_names.cpp).
#pragma once

#include "core/sql/parse_tree.hpp"

#include <string>
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
