// An interactive transaction's speculation (README "Transactions"): its statements so far run at this node's
// position in a transaction that is always rolled back, and each one's result and digest are answered. The
// commit on ALL runs them again and compares the digests (runPipeline), so what the client saw is what the
// transaction does at its position in the log.
#include "core/db/postgres/pg_tools.hpp"
#include "core/db/postgres/postgres.hpp"

#include <fmt/format.h>

namespace kluster::db {
namespace {

// How long the speculation may wait for a lock, and run one statement: the apply loop waits for it at most that
// long when both touch the same rows (and PostgreSQL's deadlock_timeout, 1 s, never picks the apply loop first).
// set_config(..., true) is SET LOCAL, as one statement of the pipeline.
constexpr const char* kLimits = "SELECT set_config('lock_timeout', '100ms', true), "
                                "set_config('statement_timeout', '1s', true), "
                                "set_config('idle_in_transaction_session_timeout', '5s', true)";

// A lock that was not had in time, a statement that ran too long, a write that met a concurrent one: what the
// transaction read is changing; the client retries it.
bool conflict(const std::string& sqlState) {
  return sqlState == "55P03" || sqlState == "57014" || sqlState == "40001" || sqlState == "40P01";
}

} // namespace

std::optional<std::string> PgConnection::scopeArray(const std::optional<Work::SequenceScope>& scope, bool tables) {
  if (!scope) return std::nullopt;
  std::vector<std::string> items;
  if (tables) {
    for (const auto& [schema, name] : scope->tables)
      items.push_back(schema.empty() ? quoteIdent(name) : quoteIdent(schema) + "." + quoteIdent(name));
  } else {
    items = scope->functions;
  }
  return textArray(items, [](const std::string& item) -> const std::string& { return item; });
}

Outcome PgConnection::speculate(const Work& work, const ReadFloor* atLeast) {
  // Reads only: one snapshot for every statement, so the results are those of one position of the log (such a
  // transaction commits without a request). With writes, READ COMMITTED: an UPDATE of a row the apply loop changed
  // since the transaction's first statement waits for it and updates the newest version (REPEATABLE READ would fail
  // it); the commit on ALL validates every result at one position anyway.
  // BEGIN, the limits, the sequences restarted, the position check, the statements, what they drew and the
  // ROLLBACK: one round trip. (Behind the position, the statements ran for nothing and are rolled back.)
  Frame frame;
  frame.before.emplace_back(work.readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ WRITE"
                                          : "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE");
  frame.before.emplace_back(kLimits);
  if (!work.readOnly)
    frame.before.emplace_back("SELECT _kluster.speculate_sequences($1::jsonb, $2::text[], $3::text[])",
                              std::vector<std::optional<std::string>>{nlohmann::json(work.sequenceStarts).dump(),
                                                                      scopeArray(work.sequenceScope, true),
                                                                      scopeArray(work.sequenceScope, false)});
  const std::size_t position = frame.before.size();
  if (atLeast) frame.before.push_back(positionStep(*atLeast));
  if (!work.readOnly) // what it drew: the client reserves blocks of values from these
    frame.after.emplace_back("SELECT _kluster.drawn_sequences()");
  frame.after.emplace_back("ROLLBACK"); // always: the commit is on ALL
  Work statements = work;
  statements.sequenceStarts.clear(); // restarted in the frame above, with the others
  Outcome outcome;
  const auto failure = runFramed(statements, frame, outcome);
  if (!frame.after.back().ran) rollback();
  if (atLeast && frame.before[position].ran)
    if (auto late = behind(frame.before[position], *atLeast)) return *late;
  if (frame.error && !failure) {
    if (conflict(frame.error->sqlState))
      return Outcome::error(code::SerializationFailure,
                            "the transaction could not run beside the writes being applied: " + frame.error->message,
                            "40001", "retry the whole transaction");
    const auto kind = classifySqlState(frame.error->sqlState);
    throw DbError(kind, kind == ErrorKind::Request ? resultCodeForSqlState(frame.error->sqlState) : code::NodeError,
                  "starting the speculation failed: " + frame.error->message, frame.error->sqlState);
  }
  if (!failure) {
    if (!work.readOnly) {
      const auto& drawn = frame.after.front().value;
      if (!drawn) throw DbError(ErrorKind::Transient, code::NodeError, "reading the sequences drawn failed", "");
      const auto values = nlohmann::json::parse(*drawn);
      for (const auto& [name, last] : values.items())
        if (last.is_number_integer()) outcome.drawn[name] = last.get<std::int64_t>();
    }
    return outcome;
  }
  if (failure->validation || conflict(failure->sqlState))
    return Outcome::error(code::SerializationFailure,
                          failure->validation ? failure->message
                                              : "the transaction met a concurrent write: " + failure->message,
                          "40001", "retry the whole transaction");
  return readError(failure->sqlState, failure->message, failure->hint);
}

} // namespace kluster::db
