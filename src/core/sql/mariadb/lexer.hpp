#pragma once
// MariaDB's lexical rules, as MariaDB 10.11 reads a statement with the sql_mode Kluster pins (no ANSI_QUOTES, so
// "..." is a string; backslash escapes in strings): the tokens of a text, for the MariaDB dialect's analysis.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::sql::mariadb {

struct Token {
  enum class Type {
    Word,       ///< an unquoted identifier or keyword; `upper` holds it in upper case
    Identifier, ///< a `backquoted` identifier; `upper` holds its name (unquoted, case kept)
    String,     ///< '...' or "..." (also N'...', _utf8mb4'...', X'..', B'..'); `upper` is empty
    Number,     ///< 12, 1.5e3, 0x1F, .5
    Param,      ///< Kluster's $n placeholder; `number` is n
    UserVar,    ///< @name, @'name', @`name`; `upper` holds the name in upper case
    SystemVar,  ///< @@name, @@session.name, @@global.name; `upper` holds "SESSION.NAME", "GLOBAL.NAME" or "NAME"
    Symbol,     ///< punctuation and operators: ( ) , ; . = := <=> ...; `upper` holds the symbol
  };
  Type type;
  std::size_t offset = 0; ///< byte offset of its text in the input
  std::size_t length = 0;
  std::string upper;
  unsigned number = 0;

  bool is(std::string_view word) const { return type == Type::Word && upper == word; }
  bool symbol(std::string_view s) const { return type == Type::Symbol && upper == s; }
};

/// Thrown for text MariaDB would not read: an unterminated string, quoted identifier or comment.
struct LexError {
  std::string message;
  std::size_t offset = 0;
};

/// The tokens of `sql`; comments are skipped, except MariaDB's executable comments (/*! ... */, /*!50100 ... */,
/// /*M! ... */), whose text is read as SQL as the server does. Throws LexError.
std::vector<Token> tokenize(std::string_view sql);

} // namespace kluster::sql::mariadb
