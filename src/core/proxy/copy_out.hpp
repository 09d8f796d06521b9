#pragma once
// COPY ... TO STDOUT through the proxy (docs/proxy.md "COPY"): a read. A node answers a SELECT whose one column is
// each row's record in PostgreSQL's text form (ROW(...)::text: every value as its type's output function writes it,
// which is what COPY writes), and this turns those rows into COPY's text or CSV lines, byte for byte as
// PostgreSQL 15's COPY TO writes them. No I/O.
#include "core/sql/analyzer.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::proxy {

class CopyWriter {
public:
  using Row = std::vector<std::optional<std::string>>; ///< nullopt: NULL

  explicit CopyWriter(sql::Statement::CopyTo options);

  /// The SELECT to run on a node: `kluster_copy_row`, each row's record as text; when names() is false, every column
  /// after it too (their names are the header and what FORCE_QUOTE finds its columns among).
  std::string select() const;
  /// The column names are known (COPY t (columns)), or not needed (no HEADER, no FORCE_QUOTE of named columns).
  bool names() const { return !wantsNames_; }
  /// The columns' names, from the answer to select().
  void setNames(std::vector<std::string> names);
  /// Why PostgreSQL would refuse this COPY once the names are known: a column FORCE_QUOTE names is not among them
  /// (SQLSTATE 42P10, PostgreSQL's message). Empty when there is nothing to refuse.
  const std::string& error() const { return error_; }
  /// Columns per row, as CopyOutResponse announces them: from the names, else from `firstRecord` (0: no rows).
  std::size_t columns(std::optional<std::string_view> firstRecord) const;

  /// The header line (HEADER), newline included; empty when the options ask for none.
  std::string header() const;
  /// The line of a row that select() answered with `record`, newline included. Throws std::runtime_error when
  /// `record` is not a record's text.
  std::string row(std::string_view record) const;
  /// The line of a row of values, newline included.
  std::string line(const Row& values) const;

private:
  // One value as COPY writes it: `quote` forces CSV's quotes, `single` says it is the row's only one.
  void field(std::string& out, const std::string& value, bool quote, bool single) const;
  std::string resolveForced(); // forced_ from the names; the error, if any

  sql::Statement::CopyTo options_;
  bool wantsNames_ = false;
  std::vector<std::string> names_;
  std::vector<bool> forced_; ///< FORCE_QUOTE, by column
  std::string error_;
};

/// The fields of a record in PostgreSQL's text form (record_out: `(1,,"a b","")`), nullopt for NULL. Throws
/// std::runtime_error when `text` is not one.
CopyWriter::Row recordFields(std::string_view text);

} // namespace kluster::proxy
