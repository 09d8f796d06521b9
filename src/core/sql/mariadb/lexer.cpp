#include "core/sql/mariadb/lexer.hpp"

#include <cctype>

namespace kluster::sql::mariadb {

namespace {

bool identStart(unsigned char c) { return std::isalpha(c) || c == '_' || c == '$' || c >= 0x80; }
bool identChar(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

std::string upperOf(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

std::vector<Token> tokenize(std::string_view sql) {
  std::vector<Token> out;
  const std::size_t n = sql.size();
  std::size_t i = 0;
  bool inExecutable = false; // inside /*! ... */: its closing */ is skipped
  // i at the opening quote; returns the offset after the closing one.
  auto quoted = [&](std::size_t at, char q) {
    for (std::size_t k = at + 1; k < n; ++k) {
      if (sql[k] == '\\' && q != '`') {
        ++k;
      } else if (sql[k] == q) {
        if (k + 1 < n && sql[k + 1] == q) {
          ++k; // a doubled quote
        } else {
          return k + 1;
        }
      }
    }
    throw LexError{q == '`' ? "unterminated quoted identifier" : "unterminated quoted string", at};
  };
  auto push = [&](Token::Type type, std::size_t from, std::size_t to, std::string upper, unsigned number = 0) {
    out.push_back(Token{type, from, to - from, std::move(upper), number});
  };
  while (i < n) {
    const auto c = static_cast<unsigned char>(sql[i]);
    const auto next = i + 1 < n ? static_cast<unsigned char>(sql[i + 1]) : '\0';
    if (std::isspace(c)) {
      ++i;
    } else if (c == '#' || (c == '-' && next == '-' && (i + 2 == n || std::isspace((unsigned char)sql[i + 2])))) {
      while (i < n && sql[i] != '\n') ++i;
    } else if (c == '/' && next == '*') {
      if (i + 2 < n && (sql[i + 2] == '!' || (sql[i + 2] == 'M' && i + 3 < n && sql[i + 3] == '!'))) {
        i += sql[i + 2] == '!' ? 3 : 4;
        while (i < n && std::isdigit(static_cast<unsigned char>(sql[i]))) ++i; // a version: /*!50100
        inExecutable = true;
        continue;
      }
      const auto end = sql.find("*/", i + 2);
      if (end == std::string_view::npos) throw LexError{"unterminated comment", i};
      i = end + 2;
    } else if (c == '*' && next == '/' && inExecutable) {
      inExecutable = false;
      i += 2;
    } else if (c == '\'' || c == '"') {
      const auto end = quoted(i, static_cast<char>(c));
      push(Token::Type::String, i, end, "");
      i = end;
    } else if (c == '`') {
      const auto end = quoted(i, '`');
      std::string name;
      for (std::size_t k = i + 1; k + 1 < end; ++k) {
        name += sql[k];
        if (sql[k] == '`') ++k; // `` is one backquote
      }
      push(Token::Type::Identifier, i, end, std::move(name));
      i = end;
    } else if (c == '@') {
      std::size_t k = i + 1;
      const bool system = k < n && sql[k] == '@';
      if (system) ++k;
      if (!system && k < n && (sql[k] == '\'' || sql[k] == '"' || sql[k] == '`')) {
        const auto end = quoted(k, sql[k]);
        push(Token::Type::UserVar, i, end, upperOf(sql.substr(k + 1, end - k - 2)));
        i = end;
        continue;
      }
      const std::size_t from = k;
      while (k < n && (identChar(static_cast<unsigned char>(sql[k])) || sql[k] == '.')) ++k;
      push(system ? Token::Type::SystemVar : Token::Type::UserVar, i, k, upperOf(sql.substr(from, k - from)));
      i = k;
    } else if (c == '$' && std::isdigit(next)) {
      std::size_t k = i + 1;
      unsigned value = 0;
      while (k < n && std::isdigit(static_cast<unsigned char>(sql[k])) && value < 100000)
        value = value * 10 + static_cast<unsigned>(sql[k++] - '0');
      if (k < n && identChar(static_cast<unsigned char>(sql[k]))) { // $1abc: an identifier
        while (k < n && identChar(static_cast<unsigned char>(sql[k]))) ++k;
        push(Token::Type::Word, i, k, upperOf(sql.substr(i, k - i)));
      } else {
        push(Token::Type::Param, i, k, "", value);
      }
      i = k;
    } else if (std::isdigit(c) || (c == '.' && std::isdigit(next))) {
      std::size_t k = i;
      while (k < n && (std::isalnum(static_cast<unsigned char>(sql[k])) || sql[k] == '.' ||
                       ((sql[k] == '+' || sql[k] == '-') && (sql[k - 1] == 'e' || sql[k - 1] == 'E'))))
        ++k;
      // 1abc is an identifier in MariaDB; 1e5, 0x1F and 1.5 are numbers.
      const auto text = sql.substr(i, k - i);
      bool word = false;
      if (text.size() > 1 && !(text[0] == '0' && (text[1] == 'x' || text[1] == 'b'))) {
        for (std::size_t j = 0; j < text.size(); ++j)
          if (std::isalpha(static_cast<unsigned char>(text[j])) && text[j] != 'e' && text[j] != 'E') word = true;
      }
      if (word)
        while (k < n && identChar(static_cast<unsigned char>(sql[k]))) ++k;
      push(word ? Token::Type::Word : Token::Type::Number, i, k, upperOf(sql.substr(i, k - i)));
      i = k;
    } else if (identStart(c)) {
      std::size_t k = i;
      while (k < n && identChar(static_cast<unsigned char>(sql[k]))) ++k;
      // X'..', B'..', N'..' and _charset'..' are string literals.
      if (k < n && sql[k] == '\'') {
        const auto prefix = upperOf(sql.substr(i, k - i));
        if (prefix == "X" || prefix == "B" || prefix == "N" || prefix[0] == '_') {
          const auto end = quoted(k, '\'');
          push(Token::Type::String, i, end, "");
          i = end;
          continue;
        }
      }
      push(Token::Type::Word, i, k, upperOf(sql.substr(i, k - i)));
      i = k;
    } else {
      // Operators: the longest of the multi-character ones first.
      static constexpr std::string_view kOperators[] = {
          "<=>", ":=", "<=", ">=", "<>", "!=", "||", "&&", "<<", ">>", "->>", "->"};
      std::size_t len = 1;
      for (auto op : kOperators)
        if (sql.substr(i, op.size()) == op) {
          len = op.size();
          break;
        }
      push(Token::Type::Symbol, i, i + len, std::string(sql.substr(i, len)));
      i += len;
    }
  }
  return out;
}

} // namespace kluster::sql::mariadb
