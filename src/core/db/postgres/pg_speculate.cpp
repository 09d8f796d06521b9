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
constexpr const char* kLimits = "SET LOCAL lock_timeout = '100ms'; SET LOCAL statement_timeout = '1s'; "
                                "SET LOCAL idle_in_transaction_session_timeout = '5s'";

// A lock that was not had in time, a statement that ran too long, a write that met a concurrent one: what the
// transaction read is changing; the client retries it.
bool conflict(const std::string& sqlState) {
  return sqlState == "55P03" || sqlState == "57014" || sqlState == "40001" || sqlState == "40P01";
}

} // namespace

std::string PgConnection::scopeArray(const std::optional<Work::SequenceScope>& scope, bool tables) {
  if (!scope) return "NULL";
  std::vector<std::string> items;
  if (tables) {
    for (const auto& [schema, name] : scope->tables)
      items.push_back(schema.empty() ? quoteIdent(name) : quoteIdent(schema) + "." + quoteIdent(name));
  } else {
    items = scope->functions;
  }
  const std::string array = textArray(items, [](const std::string& item) -> const std::string& { return item; });
  std::unique_ptr<char, decltype(&PQfreemem)> literal(PQescapeLiteral(conn_, array.data(), array.size()), &PQfreemem);
  if (!literal) throw DbError(ErrorKind::Transient, code::NodeError, PQerrorMessage(conn_), "");
  return std::string(literal.get()) + "::text[]";
}

Outcome PgConnection::speculate(const Work& work, const ReadFloor* atLeast) {
  // Reads only: one snapshot for every statement, so the results are those of one position of the log (such a
  // transaction commits without a request). With writes, READ COMMITTED: an UPDATE of a row the apply loop changed
  // since the transaction's first statement waits for it and updates the newest version (REPEATABLE READ would fail
  // it); the commit on ALL validates every result at one position anyway.
  // BEGIN, the limits, the sequences restarted and the position check: one round trip.
  std::string begin = work.readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ WRITE"
                                    : "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE";
  begin += "; ";
  begin += kLimits;
  if (!work.readOnly) {
    const auto starts = nlohmann::json(work.sequenceStarts).dump();
    std::unique_ptr<char, decltype(&PQfreemem)> literal(PQescapeLiteral(conn_, starts.data(), starts.size()),
                                                        &PQfreemem);
    if (!literal) throw DbError(ErrorKind::Transient, code::NodeError, PQerrorMessage(conn_), "");
    begin += fmt::format("; SELECT _kluster.speculate_sequences({}::jsonb, {}, {})", literal.get(),
                         scopeArray(work.sequenceScope, true), scopeArray(work.sequenceScope, false));
  }
  Work statements = work;
  statements.sequenceStarts.clear(); // restarted by the BEGIN above, with the others
  std::vector<const Work*> items{&statements};
  std::vector<Outcome> outcomes(1);
  std::optional<Failure> failure;
  try {
    if (auto behind = beginRead(atLeast, begin.c_str())) return *behind;
    failure = runPipeline(items, 0, 1, &outcomes);
    if (!failure && !work.readOnly) { // what it drew: the client reserves blocks of values from these
      ResultGuard d{PQexec(conn_, "SELECT _kluster.drawn_sequences()")};
      if (PQresultStatus(d.res) != PGRES_TUPLES_OK) throwFromResult(d.res, "reading the sequences drawn");
      const auto drawn = nlohmann::json::parse(PQgetvalue(d.res, 0, 0));
      for (const auto& [name, last] : drawn.items())
        if (last.is_number_integer()) outcomes[0].drawn[name] = last.get<std::int64_t>();
    }
  } catch (const DbError& e) {
    rollback();
    if (!conflict(e.sqlState())) throw;
    return Outcome::error(code::SerializationFailure,
                          std::string("the transaction could not run beside the writes being applied: ") + e.what(),
                          "40001", "retry the whole transaction");
  } catch (...) {
    rollback();
    throw;
  }
  if (!failure || failure->validation || conflict(failure->sqlState)) rollback(); // always: the commit is on ALL
  if (!failure) return outcomes[0];
  if (failure->validation || conflict(failure->sqlState))
    return Outcome::error(code::SerializationFailure,
                          failure->validation ? failure->message
                                              : "the transaction met a concurrent write: " + failure->message,
                          "40001", "retry the whole transaction");
  return readError(failure->sqlState, failure->message, failure->hint);
}

} // namespace kluster::db
