#pragma once
// Turns a raw request into database work, or into a refusal that every node reaches identically:
// malformed input, SQL that does not parse, transaction control, statements that cannot run in a
// transaction, and non-deterministic functions. Current-time functions are pinned to the request's
// Kafka timestamp and random() is seeded from its offset, so every node computes the same values.
//
// Preparing is split in two so the ALL applier can prepare the next requests on its reader thread while
// the database runs the current batch: Preparer needs only the request (and a cache of analyses);
// FunctionCheck asks the database which functions are volatile, just before a batch runs.
#include "core/db/adapter.hpp"
#include "core/message.hpp"
#include "core/sql/analysis_cache.hpp"

#include <map>
#include <optional>

namespace kluster::node {

struct Prepared {
  ParsedRequest parsed;
  std::optional<db::Outcome> refusal; ///< set when the request must not run
  db::Work work;
  bool control = false;               ///< Kluster's own message (fingerprint): no response
  bool changesSchema = false;         ///< not plain DML: ends an ALL batch (functions may change)
  std::vector<std::string> functions; ///< ALL: functions called, for FunctionCheck
};

/// Parses and analyzes requests. Needs no database; safe to use from one thread at a time.
class Preparer {
public:
  /// `cache` (shared, thread-safe) keeps analyses by SQL text; without one every text is analyzed.
  explicit Preparer(std::size_t maxRequestBytes, sql::AnalysisCache* cache = nullptr)
      : maxBytes_(maxRequestBytes), cache_(cache) {}
  void setCluster(std::string cluster) { cluster_ = std::move(cluster); }

  /// A request read from ALL at `offset`, published at `timestampMs`. Run FunctionCheck on it before
  /// it is applied.
  Prepared forAll(std::string_view payload, std::int64_t offset, std::int64_t timestampMs);
  /// A request read from ONE: runs read-only; PostgreSQL itself refuses writes.
  Prepared forOne(std::string_view payload);

private:
  void analyze(Prepared& p, bool forAll, std::int64_t offset, std::int64_t timestampMs);

  std::size_t maxBytes_;
  sql::AnalysisCache* cache_;
  std::string cluster_;
};

/// Refuses ALL requests that call a volatile function (pg_proc.provolatile = 'v') other than those Kluster
/// makes deterministic. Volatility is cached per name; call invalidate() after DDL, which may (re)define
/// functions.
class FunctionCheck {
public:
  explicit FunctionCheck(db::Connection* conn) : conn_(conn) {}
  void setConnection(db::Connection* conn) { conn_ = conn; }
  void invalidate() { volatility_.clear(); }
  /// Sets `p.refusal` when `p` calls a volatile function. Throws DbError when the look-up fails.
  void apply(Prepared& p);

private:
  db::Connection* conn_;
  std::map<std::string, char> volatility_;
};

/// The seed random() gets for the request at an ALL offset: the same on every node.
double randomSeedFor(std::int64_t offset);

} // namespace kluster::node
