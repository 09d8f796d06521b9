#pragma once
// PostgreSQL's side of the operator commands (db/operations.hpp).
#include "core/db/operations.hpp"

namespace kluster::db {

/// The SQL `verify` sends, in PostgreSQL's dialect (pg_verify.cpp).
class PgVerifyQueries final : public VerifyQueries {
public:
  std::string catalog() const override;
  std::string checksums(const std::vector<TableInfo>& tables) const override;
  std::string boundaries(const TableInfo& table, const KeyRange& range, int parts) const override;
  std::string rangeChecksums(const TableInfo& table, const KeyRange& range,
                             const std::vector<std::vector<std::string>>& bounds) const override;
  std::string rows(const TableInfo& table, const KeyRange& range, int limit) const override;
};

/// pg_dump and pg_restore of the server's major version, in one snapshot and one transaction (pg_operations.cpp).
class PgOperations final : public Operations {
public:
  Dump dump(const DumpRequest& request) const override;
  bool reads(const std::string& method, const std::string& format) const override;
  RestoreResult restore(const RestoreRequest& request) const override;
  const VerifyQueries& verifyQueries() const override { return verify_; }
  double timeInserts(const std::string& url, const std::string& table, int rows, int txSize) const override;
  std::string flushBuffers(const std::string& url) const override;

private:
  PgVerifyQueries verify_;
};

} // namespace kluster::db
