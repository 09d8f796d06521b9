#include "core/sql/statement_buffer.hpp"

#include <cctype>

namespace kluster::sql {
namespace {

bool identChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '$' || u >= 0x80;
}

// The dollar-quote opener at `i` ("$$" or "$tag$"), or "" when `i` does not start one. A tag is an
// identifier without '$'; "$1" is a parameter, not a quote.
std::string dollarTagAt(const std::string& text, std::size_t i) {
  std::size_t j = i + 1;
  if (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) return {};
  while (j < text.size() && identChar(text[j]) && text[j] != '$') ++j;
  if (j < text.size() && text[j] == '$') return text.substr(i, j - i + 1);
  return {};
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

} // namespace

std::vector<std::string> StatementBuffer::add(std::string_view line) {
  text_.append(line);
  text_ += '\n'; // every two-character token therefore ends before the text does
  std::vector<std::string> done;
  std::size_t start = 0;
  for (std::size_t i = scanned_; i < text_.size(); ++i) {
    const char c = text_[i];
    const char next = i + 1 < text_.size() ? text_[i + 1] : '\0';
    switch (state_) {
    case State::Code:
      if (c == '\'') {
        // E'...' allows backslash escapes (\' does not end it); the E must stand alone, not end a word.
        const bool escaped =
            i > 0 && (text_[i - 1] == 'E' || text_[i - 1] == 'e') && (i < 2 || !identChar(text_[i - 2]));
        state_ = escaped ? State::Escaped : State::Single;
      } else if (c == '"') {
        state_ = State::Double;
      } else if (c == '-' && next == '-') {
        state_ = State::LineComment;
        ++i;
      } else if (c == '/' && next == '*') {
        state_ = State::BlockComment;
        depth_ = 1;
        ++i;
      } else if (c == '$' && (i == 0 || !identChar(text_[i - 1]))) {
        auto tag = dollarTagAt(text_, i);
        if (!tag.empty()) {
          tag_ = std::move(tag);
          state_ = State::Dollar;
          i += tag_.size() - 1;
        }
      } else if (c == ';') {
        auto statement = trim(std::string_view(text_).substr(start, i + 1 - start));
        if (statement != ";") done.push_back(std::move(statement));
        start = i + 1;
      }
      break;
    case State::Single:
    case State::Escaped:
      if (c == '\\' && state_ == State::Escaped) {
        ++i;
      } else if (c == '\'') {
        if (next == '\'')
          ++i; // '' is a quote inside the string
        else
          state_ = State::Code;
      }
      break;
    case State::Double:
      if (c == '"') {
        if (next == '"')
          ++i;
        else
          state_ = State::Code;
      }
      break;
    case State::LineComment:
      if (c == '\n') state_ = State::Code;
      break;
    case State::BlockComment:
      if (c == '/' && next == '*') {
        ++depth_;
        ++i;
      } else if (c == '*' && next == '/') {
        if (--depth_ == 0) state_ = State::Code;
        ++i;
      }
      break;
    case State::Dollar:
      if (c == '$' && text_.compare(i, tag_.size(), tag_) == 0) {
        i += tag_.size() - 1;
        state_ = State::Code;
      }
      break;
    }
  }
  text_.erase(0, start);
  scanned_ = text_.size();
  return done;
}

bool StatementBuffer::empty() const { return text_.find_first_not_of(" \t\r\n") == std::string::npos; }

void StatementBuffer::clear() {
  text_.clear();
  scanned_ = 0;
  state_ = State::Code;
  depth_ = 0;
  tag_.clear();
}

} // namespace kluster::sql
