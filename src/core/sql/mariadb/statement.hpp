#pragma once
// Internal to the MariaDB dialect: one statement's tokens and the questions the analysis asks of them.
#include "core/sql/analyzer.hpp"
#include "core/sql/mariadb/lexer.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::sql::mariadb {

/// Tokens [begin, end) of one statement, with each token's parenthesis depth (0 at the statement's level).
class Tokens {
public:
  Tokens(std::string_view sql, const std::vector<Token>& all, std::size_t begin, std::size_t end);

  std::size_t begin() const { return begin_; }
  std::size_t end() const { return end_; }
  const Token& operator[](std::size_t i) const { return all_[i]; }
  int depth(std::size_t i) const { return depth_[i - begin_]; }
  bool is(std::size_t i, std::string_view word) const { return i < end_ && all_[i].is(word); }
  bool symbol(std::size_t i, std::string_view s) const { return i < end_ && all_[i].symbol(s); }
  /// The first token at or after `from`, before `to`, at depth `depth` that is the word `word`; `to` if none.
  std::size_t find(std::string_view word, std::size_t from, std::size_t to, int depth) const;
  /// The index of the ')' closing the '(' at `open` (end() if unbalanced).
  std::size_t close(std::size_t open) const;
  /// An identifier's name as MariaDB compares it: a column's in lower case (columns are case-insensitive),
  /// a table's as written (table names are case-sensitive on Linux).
  static std::string lower(const Token& t);
  static bool isName(const Token& t) { return t.type == Token::Type::Word || t.type == Token::Type::Identifier; }
  /// A table's (or alias's) name as written: backquoted ones unquoted; case kept.
  std::string name(std::size_t i) const;

private:
  std::string_view sql_;
  const std::vector<Token>& all_;
  std::size_t begin_, end_;
  std::vector<int> depth_;
};

/// Functions called anywhere in [from, to): a name followed by '(' outside the places that name tables,
/// indexes and routines, and MariaDB's niladic keywords (CURRENT_USER, NEXT VALUE FOR...). Lower case.
void collectFunctions(const Tokens& t, std::vector<std::string>& functions);

/// The row-order rules of a write (LIMIT, GROUP_CONCAT and window functions without a total order, INSERT ... SELECT
/// into AUTO_INCREMENT or with IGNORE / REPLACE / ON DUPLICATE KEY UPDATE, CREATE TABLE ... SELECT), and its
/// targets and whether it scans rows.
void orderRules(const Tokens& t, const std::string& kind, Analysis& out);

/// An UPDATE's target, SET columns and pinned WHERE columns (single-table UPDATE), or a refusal of a
/// multi-table one.
void updateRules(const Tokens& t, Analysis& out);

} // namespace kluster::sql::mariadb
