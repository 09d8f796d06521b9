#pragma once
// Turns a raw request into database work, or into a refusal that every node reaches identically:
// malformed input, SQL that does not parse, transaction control, statements that cannot run in a
// transaction, and non-deterministic functions. Current-time functions are pinned to the request's
// Kafka timestamp and random() is seeded from its offset, so every node computes the same values.
#include "core/db/adapter.hpp"
#include "core/message.hpp"

#include <map>
#include <optional>

namespace kluster::node {

struct Prepared {
  ParsedRequest parsed;
  std::optional<db::Outcome> refusal; ///< set when the request must not run
  db::Work work;
  bool control = false;               ///< Kluster's own message (fingerprint): no response
  bool changesSchema = false; ///< not plain DML: ends an ALL batch (functions may change)
};

class Preparer {
public:
  /// `conn` answers function-volatility look-ups (cached).
  explicit Preparer(db::Connection* conn, std::size_t maxRequestBytes) : conn_(conn), maxBytes_(maxRequestBytes) {}
  void setConnection(db::Connection* conn) { conn_ = conn; }
  void setCluster(std::string cluster) { cluster_ = std::move(cluster); }
  /// Forgets cached function volatility (after DDL, which may (re)define functions).
  void invalidate() { volatility_.clear(); }

  /// A request read from ALL at `offset`, published at `timestampMs`.
  Prepared forAll(std::string_view payload, std::int64_t offset, std::int64_t timestampMs);
  /// A request read from ONE: runs read-only; PostgreSQL itself refuses writes.
  Prepared forOne(std::string_view payload);

private:
  void analyze(Prepared& p, bool forAll, std::int64_t offset, std::int64_t timestampMs);
  std::optional<std::string> volatileFunction(const std::vector<std::string>& functions);

  db::Connection* conn_;
  std::size_t maxBytes_;
  std::string cluster_;
  std::map<std::string, char> volatility_;
};

/// The seed random() gets for the request at an ALL offset: the same on every node.
double randomSeedFor(std::int64_t offset);

} // namespace kluster::node
