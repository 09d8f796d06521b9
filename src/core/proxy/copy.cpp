#include "core/proxy/copy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace kluster::proxy {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

} // namespace

std::size_t CopyParser::recordEnd(std::size_t from) const {
  if (!options_.csv) {
    const auto nl = buffer_.find('\n', from);
    return nl == std::string::npos ? nl : nl + 1;
  }
  bool quoted = false;
  for (std::size_t i = from; i < buffer_.size(); ++i) {
    const char c = buffer_[i];
    if (quoted) {
      if (c == options_.escape && options_.escape != options_.quote && i + 1 < buffer_.size() &&
          (buffer_[i + 1] == options_.quote || buffer_[i + 1] == options_.escape)) {
        ++i;
      } else if (c == options_.quote) {
        if (options_.escape == options_.quote && i + 1 < buffer_.size() && buffer_[i + 1] == options_.quote)
          ++i; // "" inside quotes
        else if (options_.escape == options_.quote && i + 1 == buffer_.size())
          return std::string::npos; // a doubled quote may be split between two pieces
        else
          quoted = false;
      }
    } else if (c == options_.quote) {
      quoted = true;
    } else if (c == '\n') {
      return i + 1;
    }
  }
  return std::string::npos;
}

void CopyParser::feed(std::string_view data) {
  if (ended_) return;
  buffer_.append(data);
  std::size_t from = 0;
  for (std::size_t end; !ended_ && (end = recordEnd(from)) != std::string::npos; from = end) {
    std::string_view line(buffer_.data() + from, end - from - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    record(line);
  }
  buffer_.erase(0, ended_ ? buffer_.size() : from);
}

std::vector<CopyParser::Row> CopyParser::take(std::size_t max) {
  const std::size_t n = std::min(max, rows_.size());
  std::vector<Row> out(std::make_move_iterator(rows_.begin()), std::make_move_iterator(rows_.begin() + n));
  rows_.erase(rows_.begin(), rows_.begin() + n);
  for (const auto& row : out)
    for (const auto& v : row) bytes_ -= std::min(bytes_, v ? v->size() + 8 : 8);
  return out;
}

void CopyParser::finish() {
  if (ended_ || buffer_.empty()) return;
  std::string_view line(buffer_);
  if (options_.csv && recordEnd(0) == std::string::npos) {
    // An unterminated quoted field, unless the quotes close at the very end.
    bool quoted = false;
    for (char c : line) quoted = c == options_.quote ? !quoted : quoted;
    if (quoted) throw CopyError(fmt::format("unterminated CSV quoted field (line {})", line_ + 1));
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  record(line);
  buffer_.clear();
}

void CopyParser::record(std::string_view line) {
  ++line_;
  if (line == "\\.") { // the end-of-data marker
    ended_ = true;
    return;
  }
  if (options_.header && !headerSkipped_) {
    headerSkipped_ = true;
    return;
  }
  Row row = options_.csv ? csvFields(line) : textFields(line);
  const std::size_t expected = !options_.columns.empty() ? options_.columns.size() : fields_;
  if (expected != 0 && row.size() != expected)
    throw CopyError(
        fmt::format("{} on line {}: {} columns, {} expected",
                    row.size() > expected ? "extra data after last expected column" : "missing data for a column",
                    line_, row.size(), expected));
  if (fields_ == 0) fields_ = row.size();
  for (const auto& v : row) bytes_ += v ? v->size() + 8 : 8;
  rows_.push_back(std::move(row));
}

CopyParser::Row CopyParser::textFields(std::string_view line) const {
  Row row;
  std::string raw, value; // the field as written (compared with the NULL marker) and its value
  auto endField = [&] {
    if (raw == options_.null)
      row.emplace_back(std::nullopt);
    else
      row.emplace_back(std::move(value));
    raw.clear();
    value.clear();
  };
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == options_.delimiter) {
      endField();
      continue;
    }
    raw += c;
    if (c != '\\' || i + 1 == line.size()) {
      value += c;
      continue;
    }
    const char e = line[++i];
    raw += e;
    switch (e) {
    case 'b': value += '\b'; break;
    case 'f': value += '\f'; break;
    case 'n': value += '\n'; break;
    case 'r': value += '\r'; break;
    case 't': value += '\t'; break;
    case 'v': value += '\v'; break;
    case 'x':
      if (i + 1 < line.size() && hexValue(line[i + 1]) >= 0) {
        int v = hexValue(line[++i]);
        raw += line[i];
        if (i + 1 < line.size() && hexValue(line[i + 1]) >= 0) {
          v = v * 16 + hexValue(line[++i]);
          raw += line[i];
        }
        value += static_cast<char>(v);
      } else {
        value += 'x';
      }
      break;
    default:
      if (e >= '0' && e <= '7') { // up to three octal digits
        int v = e - '0';
        for (int k = 0; k < 2 && i + 1 < line.size() && line[i + 1] >= '0' && line[i + 1] <= '7'; ++k) {
          v = v * 8 + (line[++i] - '0');
          raw += line[i];
        }
        value += static_cast<char>(v);
      } else {
        value += e; // \\, \<delimiter>, and any other character stands for itself
      }
    }
  }
  endField();
  return row;
}

CopyParser::Row CopyParser::csvFields(std::string_view line) const {
  Row row;
  std::string value;
  bool quoted = false, wasQuoted = false;
  auto endField = [&] {
    if (!wasQuoted && value == options_.null)
      row.emplace_back(std::nullopt);
    else
      row.emplace_back(std::move(value));
    value.clear();
    wasQuoted = false;
  };
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == options_.escape && i + 1 < line.size() &&
          (line[i + 1] == options_.quote || (options_.escape != options_.quote && line[i + 1] == options_.escape))) {
        value += line[++i];
      } else if (c == options_.quote) {
        quoted = false;
      } else {
        value += c;
      }
    } else if (c == options_.quote) {
      quoted = wasQuoted = true;
    } else if (c == options_.delimiter) {
      endField();
    } else {
      value += c;
    }
  }
  // A record ends at a newline outside quotes (recordEnd); one inside quotes is part of the value.
  if (quoted) throw CopyError(fmt::format("unterminated CSV quoted field (line {})", line_));
  endField();
  return row;
}

std::string copyInsert(const sql::Statement::CopyFrom& copy, const std::vector<CopyParser::Row>& rows,
                       nlohmann::json& params) {
  std::string sql = "INSERT INTO " + copy.table;
  if (!copy.columns.empty()) {
    sql += " (";
    for (std::size_t i = 0; i < copy.columns.size(); ++i) sql += (i ? ", " : "") + copy.columns[i];
    sql += ")";
  }
  sql += " VALUES ";
  params = nlohmann::json::array();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    sql += r ? ", (" : "(";
    for (std::size_t c = 0; c < rows[r].size(); ++c) {
      if (rows[r][c])
        params.push_back(*rows[r][c]);
      else
        params.push_back(nullptr);
      sql += fmt::format("{}${}", c ? ", " : "", params.size());
    }
    sql += ")";
  }
  return sql;
}

} // namespace kluster::proxy
