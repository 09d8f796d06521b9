#pragma once
// What the operator commands need of a DBMS beyond the node's connection (db::Connection): a consistent dump
// that knows the ALL position it holds, its restore, the SQL `verify` sends through ALL, and the baseline of
// `bench apply`. One implementation per adapter (PostgreSQL: postgres/pg_operations.cpp, pg_dump and
// pg_restore; postgres/pg_verify.cpp), reached through db::Adapter::operations(). Kafka's side of backup and
// restore (retention, the node's group, offsets) stays in src/core/ops.
#include "core/db/adapter.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::db {

/// Code of a refusal: doing what was asked would be unsafe, and nothing was changed (exit status 1).
inline constexpr std::string_view kRefused = "REFUSED";

/// How a dump was made and what it comes from, as a backup's manifest records it (ops::Manifest is one).
struct DumpFacts {
  std::string method; ///< how it was made ("pg_dump"): what restore() reads
  std::string format; ///< ("custom")
  // The database.
  std::string product;
  std::string serverVersion;
  int serverMajor = 0;
  std::string database;
  std::string encoding;
  std::string collation;
  std::string ctype;
  std::int64_t databaseBytes = 0; ///< its size when the snapshot was taken
  std::string toolVersion;        ///< the dump tool's own version line
};

struct DumpRequest {
  std::string url;
  std::string cluster;
  std::filesystem::path dir; ///< where the dump's files go
  std::string toolDir;       ///< where the DBMS's dump tool is; empty: found from the server's version
  /// Called with the ALL position in the snapshot once it is taken, before anything is written: throws to refuse
  /// (the caller may create `dir` then).
  std::function<void(const Position&)> ready;
  std::function<void(std::uint64_t bytesWritten)> progress; ///< a few times a second while dumping
};

struct Dump {
  DumpFacts facts;
  Position position;              ///< the ALL position in the dump's snapshot (offset -1: none)
  std::vector<std::string> files; ///< written into the directory, in order
};

struct RestoreRequest {
  std::string node; ///< the node's id, for messages
  std::string url;
  std::string cluster;
  std::filesystem::path dir; ///< the dump's directory
  DumpFacts dump;            ///< as the manifest recorded it
  bool force = false;        ///< replace what the database holds
  std::string toolDir;       ///< where the DBMS's restore tool is; empty: found from the server's version
  std::function<void(const std::string& activity)> progress;
};

struct RestoreResult {
  std::string database;             ///< the node's database
  bool createdDatabase = false;     ///< it did not exist
  std::vector<std::string> dropped; ///< schemas dropped (force)
  std::vector<std::string> warnings;
  std::int64_t restoredOffset = -1; ///< the ALL offset the restored database holds
};

/// A column of the key used to order and range a table: its primary key, or the whole row as text.
struct KeyColumn {
  std::string name; ///< column name; empty for the whole-row key
  std::string type; ///< the DBMS's type name, e.g. "uuid", "character varying(20)"
  bool collatable = false;
};

struct TableInfo {
  std::string schema;
  std::string name;
  std::string definition; ///< digest of the columns' names and types
  std::vector<KeyColumn> key;
  bool hasPrimaryKey = false;
  /// Every column in order, for a DBMS whose SQL cannot name a whole row (MariaDB); empty when not given.
  std::vector<KeyColumn> columns;
  /// schema.name; the name alone for a DBMS whose node databases have no common schema (MariaDB: schema "").
  std::string qualified() const { return schema.empty() ? name : schema + "." + name; }
};

/// A half-open key range [lo, hi); an empty bound is unbounded. Values are the key columns as text.
struct KeyRange {
  std::vector<std::string> lo;
  std::vector<std::string> hi;
};

/// The read-only SQL `klusterctl verify` sends through ALL (every node answers at the same log position). Only
/// functions a node accepts on ALL; text keys compared byte-wise, so nodes whose collations differ cut the same
/// ranges. Checksums are order-independent (sums over the rows' md5).
class VerifyQueries {
public:
  virtual ~VerifyQueries() = default;
  /// One row per user table: schema, name, definition (a digest of its columns' names and types), key (a JSON
  /// array of {name, type, collatable} of its primary key, NULL when it has none), optionally columns (the same
  /// for every column). A DBMS without a JSON type may give the arrays as JSON text.
  virtual std::string catalog() const = 0;
  /// One row per table: schema, name, rows, checksum.
  virtual std::string checksums(const std::vector<TableInfo>& tables) const = 0;
  /// The first key of each of `parts` equal slices of the rows in `range` (k0, k1, ... as text).
  virtual std::string boundaries(const TableInfo& table, const KeyRange& range, int parts) const = 0;
  /// Rows (part, rows, checksum) for each sub-range of `range` cut at `bounds` (part indexes the sub-ranges).
  virtual std::string rangeChecksums(const TableInfo& table, const KeyRange& range,
                                     const std::vector<std::vector<std::string>>& bounds) const = 0;
  /// Every row of a range: its key as text (k0, k1, ...) and the md5 of the row (h), at most `limit`.
  virtual std::string rows(const TableInfo& table, const KeyRange& range, int limit) const = 0;
};

/// A short description of what a database holds ("2 tables (public.a, public.b) and Kluster position 41"),
/// empty when it holds no table and no position.
std::string describeContents(const std::vector<std::string>& tables, std::int64_t position);

class Operations {
public:
  virtual ~Operations() = default;
  /// Dumps the database in one snapshot together with the ALL position it holds. Throws KlusterError(kRefused)
  /// when the database is not a Kluster node's, KlusterError otherwise.
  virtual Dump dump(const DumpRequest& request) const = 0;
  /// Whether restore() reads dumps of this method and format.
  virtual bool reads(const std::string& method, const std::string& format) const = 0;
  /// Loads a dump into the database, creating it when missing, all or nothing (MariaDB, whose DDL commits: the
  /// database is fenced until the whole dump is in, mariadb/restore.cpp). Refuses (KlusterError(kRefused),
  /// before changing anything) a server older than the dump's, or a database that holds data without `force`.
  virtual RestoreResult restore(const RestoreRequest& request) const = 0;
  virtual const VerifyQueries& verifyQueries() const = 0;
  /// `bench apply`'s baseline: the seconds one connection takes to insert `rows` rows (uuid, integer, text)
  /// into a new table `table` in transactions of `txSize` rows, each in one round trip; the table is dropped.
  virtual double timeInserts(const std::string& url, const std::string& table, int rows, int txSize) const = 0;
  /// Writes out dirty buffers before a measured phase; returns why it could not ("" when done).
  virtual std::string flushBuffers(const std::string& url) const = 0;
};

} // namespace kluster::db
