#pragma once
// Statements typed line by line (the prompt of `klusterctl exec`, scripts read from standard input): where
// one ends, by the lexical rules of PostgreSQL's SQL (quotes, dollar quotes, comments), before it is parsed.
#include <string>
#include <string_view>
#include <vector>

namespace kluster::sql {

/// Assembles typed lines into statements: a `;` ends a statement unless it is inside a quoted string
/// ('...', E'...', "..."), a dollar-quoted body ($$...$$, $tag$...$tag$) or a comment (--, /* */, nested).
class StatementBuffer {
public:
  /// Adds one line; returns the statements it completed, each with its `;` and trimmed.
  std::vector<std::string> add(std::string_view line);
  /// True when nothing but white space waits for a `;`.
  bool empty() const;
  /// True when the text so far ends inside a string, dollar quote or block comment, where a line
  /// starting with a backslash is data, not a meta-command.
  bool inQuote() const { return state_ != State::Code; }
  /// Drops what waits for a `;`.
  void clear();
  const std::string& pending() const { return text_; }

private:
  enum class State { Code, Single, Escaped, Double, LineComment, BlockComment, Dollar };
  std::string text_;
  std::size_t scanned_ = 0;
  State state_ = State::Code;
  int depth_ = 0;   // nesting of block comments
  std::string tag_; // the open dollar quote, e.g. "$fn$"
};

} // namespace kluster::sql
