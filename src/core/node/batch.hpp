#pragma once
// One attempt at an ALL batch, apart from Kafka: the determinism checks that need the catalog, duplicates
// (within the batch, and, when careful, recorded by an earlier one), one pipeline of work, the answers, and the
// commit of the applied ids with the position. The apply loop (all_applier.cpp) feeds it what it read from ALL
// and retries it; unit tests feed it prepared requests and a fake db::Connection.
#include "core/db/adapter.hpp"
#include "core/message.hpp"
#include "core/node/prepare.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace kluster::node {

/// A request of an ALL batch: where it is in the log, and what the reader made of it.
struct BatchRequest {
  std::int64_t offset = -1;
  Prepared* prepared = nullptr;
  std::int64_t fetchedUs = 0; ///< when the reader got it (for traced requests)
};

/// What a batch sends once it is committed.
struct BatchAnswers {
  std::vector<Response> responses;
  std::vector<NodeErrorReport> reports; ///< unreadable requests
};

/// Who applies the batch: the cluster whose position it records and the node that answers.
struct BatchContext {
  const db::Adapter* adapter = nullptr;
  std::string cluster;
  std::string nodeId;
};

/// Runs `batch` (in log order, not empty) in one transaction on `db` and commits it with the applied ids and the
/// position of its last request. False when the commit found an id an earlier batch recorded (nothing committed):
/// the caller rolls back and runs it again with `careful`, which looks the ids up first and answers those
/// DUPLICATE. Throws DbError on transient and node errors (the caller rolls back and retries).
bool runBatch(const BatchContext& context, db::Connection& db, FunctionCheck& check, std::vector<BatchRequest>& batch,
              bool careful, BatchAnswers& answers, std::int64_t startedUs);

} // namespace kluster::node
