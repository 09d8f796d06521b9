#pragma once
// COPY ... TO STDOUT through the proxy (docs/proxy.md "COPY"): a read. A node answers a SELECT whose one column is
// each row's record in PostgreSQL's text form (ROW(...)::text: every value as its type's output function writes it,
// which is what COPY writes), and this turns those rows into COPY's text or CSV lines, byte for byte as
// PostgreSQL 15's COPY TO writes them. COPY table TO asks the catalog first which columns COPY copies (not the
// generated ones) and whether the table is one COPY copies from. No I/O.
#include "core/proxy/pg_types.hpp"
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

  /// Why PostgreSQL would refuse this COPY, as far as known: COPY from a view, FORCE_QUOTE of a column it does not
  /// copy... (PostgreSQL's SQLSTATE, message and hint).
  struct Problem {
    std::string sqlState, message, hint;
  };
  const std::optional<Problem>& problem() const { return problem_; }

  /// COPY table TO: what to ask a node first, with one row: the table's kind (relkind), its name and the columns COPY
  /// copies (not dropped, not generated; a JSON array). Empty for COPY (query) TO.
  std::string relationQuery() const;
  /// The answer's row: an ordinary table is copied; a view, a partitioned table... is refused as PostgreSQL does.
  void setRelation(const ojson& row);

  /// The SELECT to run on a node: `kluster_copy_row`, each row's record as text; for COPY (query) TO with HEADER or
  /// FORCE_QUOTE of columns, the query's columns after it too (for their names: setNames()).
  std::string select() const;
  /// Whether the answer to select() carries the column names, which setNames() then takes.
  bool wantsNames() const { return wantsNames_; }
  void setNames(std::vector<std::string> names);
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
  void resolveForced(); // forced_ from the names, or the problem

  sql::Statement::CopyTo options_;
  bool wantsNames_ = false;
  std::vector<std::string> names_;
  std::vector<bool> forced_; ///< FORCE_QUOTE, by column
  std::optional<Problem> problem_;
};

/// The fields of a record in PostgreSQL's text form (record_out: `(1,,"a b","")`), nullopt for NULL. Throws
/// std::runtime_error when `text` is not one.
CopyWriter::Row recordFields(std::string_view text);

} // namespace kluster::proxy
