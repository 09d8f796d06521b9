#pragma once
// MariaDB's side of the operator commands (db/operations.hpp): backup with mariadb-dump and restore with the
// mariadb client (dump.cpp), the SQL `verify` sends (verify.cpp), the bench's baseline (operations.cpp).
#include "core/db/operations.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::db::mariadb {

/// The SQL `verify` sends, in MariaDB's dialect (verify.cpp). Tables are named without their database (each
/// node's database has its own name: schema ""), Kluster's `_kluster_*` tables are left out.
class MariaDbVerifyQueries final : public VerifyQueries {
public:
  std::string catalog() const override;
  std::string checksums(const std::vector<TableInfo>& tables) const override;
  std::string boundaries(const TableInfo& table, const KeyRange& range, int parts) const override;
  std::string rangeChecksums(const TableInfo& table, const KeyRange& range,
                             const std::vector<std::vector<std::string>>& bounds) const override;
  std::string rows(const TableInfo& table, const KeyRange& range, int limit) const override;
};

/// The name of the table a restore creates before loading a dump and drops once it is loaded whole: a node refuses
/// to start on a database that holds it (an interrupted restore), and backup refuses to dump it.
inline constexpr const char* kRestoringTable = "_kluster_restoring";

/// The rows of the first `INSERT INTO `_kluster_position` ...` statement of a mariadb-dump file, for `cluster`:
/// {all_offset, message_id}, nullopt when the dump holds no row for it. `readLine` gives the file's lines one by
/// one (nullopt at the end). Throws std::runtime_error when the statement cannot be read.
struct DumpedPosition {
  std::int64_t offset = -1;
  std::string messageId;
  bool tableSeen = false; ///< the dump has the table's data section
};
DumpedPosition findDumpedPosition(const std::function<std::optional<std::string>()>& readLine,
                                  const std::string& cluster);

struct Url;

/// A private option file ([client] user, password, host, port) for the MariaDB client tools, so the password never
/// reaches a command line; removed when destroyed. Passed first, as --defaults-file: no option file of the host is
/// read, as the adapter's own connections read none.
class ToolOptions {
public:
  explicit ToolOptions(const Url& url);
  ~ToolOptions();
  ToolOptions(const ToolOptions&) = delete;
  ToolOptions& operator=(const ToolOptions&) = delete;
  std::string argument() const { return "--defaults-file=" + path_.string(); }

private:
  std::filesystem::path path_;
};

/// The first of `names` (e.g. mariadb-dump, mysqldump) in `dir` when given, else on PATH. Throws UsageError.
std::filesystem::path findTool(const std::vector<std::string>& names, const std::string& dir);

/// MariaDB's `VERSION()` ("10.11.19-MariaDB-0+deb12u1") as {major, minor, patch}; zeros when unreadable.
std::array<int, 3> parseServerVersion(std::string_view version);

class MariaDbOperations final : public Operations {
public:
  Dump dump(const DumpRequest& request) const override; // dump.cpp
  bool reads(const std::string& method, const std::string& format) const override;
  RestoreResult restore(const RestoreRequest& request) const override; // restore.cpp
  const VerifyQueries& verifyQueries() const override { return verify_; }
  double timeInserts(const std::string& url, const std::string& table, int rows, int txSize) const override;
  std::string flushBuffers(const std::string& url) const override;

private:
  MariaDbVerifyQueries verify_;
};

} // namespace kluster::db::mariadb
