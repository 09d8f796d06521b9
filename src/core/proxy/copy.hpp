#pragma once
// COPY ... FROM STDIN through the proxy: the rows a client sends (text or CSV, as PostgreSQL's COPY reads them) are
// parsed here and sent to ALL as multi-row INSERTs of bounded size, applied in order, each exactly once
// (docs/proxy.md "COPY"). No I/O.
#include "core/sql/analyzer.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::proxy {

/// Malformed COPY data (SQLSTATE 22P04, bad_copy_file_format).
class CopyError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class CopyParser {
public:
  using Row = std::vector<std::optional<std::string>>; ///< nullopt: NULL
  explicit CopyParser(sql::Statement::CopyFrom options) : options_(std::move(options)) {}

  /// Takes the next piece of data (CopyData messages split it anywhere). Throws CopyError.
  void feed(std::string_view data);
  /// The end of the data (CopyDone): a last line without its newline is a row too. Throws CopyError.
  void finish();
  /// The rows parsed and not taken yet, and roughly how many bytes they hold.
  std::vector<Row>& rows() { return rows_; }
  std::size_t bytes() const { return bytes_; }
  /// The first `max` rows parsed.
  std::vector<Row> take(std::size_t max);

private:
  // The end of the next record in buffer_ from `from` (one past its newline), or npos when it is not all there.
  std::size_t recordEnd(std::size_t from) const;
  void record(std::string_view line);
  Row textFields(std::string_view line) const;
  Row csvFields(std::string_view line) const;

  sql::Statement::CopyFrom options_;
  std::string buffer_;
  std::vector<Row> rows_;
  std::size_t bytes_ = 0;
  std::size_t fields_ = 0; ///< fields of the first row: every row must have as many
  bool headerSkipped_ = false;
  bool ended_ = false; ///< "\." seen: what follows is ignored
  std::size_t line_ = 0;
};

/// The INSERT that applies `rows` into the COPY's table: `INSERT INTO t (cols) VALUES ($1, ...), (...)`; its
/// parameters (text, or null) go in `params`.
std::string copyInsert(const sql::Statement::CopyFrom& copy, const std::vector<CopyParser::Row>& rows,
                       nlohmann::json& params);

} // namespace kluster::proxy
