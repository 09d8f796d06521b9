// Reads on ONE: a read-only transaction at this database's position, checked against the position the client needs
// (ReadFloor) in the same transaction. The speculations (pg_speculate.cpp) and Describe (pg_describe.cpp) use the
// same check.
#include "core/db/postgres/postgres.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <memory>

namespace kluster::db {
namespace {

// The database's ALL position for the cluster named by `cluster` (a parameter or a literal), -1 when it holds
// none. In READ COMMITTED each later statement's snapshot holds at least what this one saw; a database that loses
// commits after it drops the connection.
std::string positionSql(std::string_view cluster) {
  return fmt::format("SELECT coalesce((SELECT all_offset FROM _kluster.position WHERE cluster = {}), -1)", cluster);
}

} // namespace

PgConnection::Frame::Step PgConnection::positionStep(const ReadFloor& atLeast) {
  return Frame::Step(positionSql("$1"), {atLeast.cluster});
}

std::optional<Outcome> PgConnection::behind(const Frame::Step& position, const ReadFloor& atLeast) {
  const auto held = position.value ? std::atoll(position.value->c_str()) : -1;
  if (held >= atLeast.offset) return std::nullopt;
  return notCaughtUp(held, atLeast.offset);
}

std::optional<Outcome> PgConnection::beginRead(const ReadFloor* atLeast) {
  constexpr const char* begin = "BEGIN TRANSACTION READ ONLY";
  if (!atLeast) {
    exec(begin);
    return std::nullopt;
  }
  // BEGIN and the position check in one round trip.
  std::unique_ptr<char, decltype(&PQfreemem)> name(
      PQescapeLiteral(conn_, atLeast->cluster.data(), atLeast->cluster.size()), &PQfreemem);
  if (!name) throw DbError(ErrorKind::Transient, code::NodeError, PQerrorMessage(conn_), "");
  ResultGuard g{PQexec(conn_, fmt::format("{}; {}", begin, positionSql(name.get())).c_str())};
  if (PQresultStatus(g.res) != PGRES_TUPLES_OK) {
    rollback();
    throwFromResult(g.res, "checking the database's ALL position");
  }
  Frame::Step position;
  if (!PQgetisnull(g.res, 0, 0)) position.value = PQgetvalue(g.res, 0, 0);
  auto late = behind(position, *atLeast);
  if (late) rollback();
  return late;
}

Outcome PgConnection::readError(const std::string& sqlState, const std::string& message, const std::string& hint) {
  rollback();
  auto kind = classifySqlState(sqlState);
  if (kind != ErrorKind::Request)
    throw DbError(kind, code::NodeError, "query failed on this node: " + message, sqlState);
  return Outcome::error(resultCodeForSqlState(sqlState), message, sqlState,
                        sqlState == "25006" ? "send writes to ALL (exec --to ALL)" : hint);
}

std::optional<PgConnection::Failure> PgConnection::runFramed(const Work& work, Frame& frame, Outcome& outcome) {
  std::vector<const Work*> items{&work};
  std::vector<Outcome> outcomes(1);
  std::optional<Failure> failure;
  try {
    failure = runPipeline(items, 0, 1, &outcomes, &frame);
  } catch (...) {
    rollback();
    throw;
  }
  outcome = std::move(outcomes[0]);
  return failure;
}

Outcome PgConnection::query(const Work& work, const ReadFloor* atLeast) {
  // BEGIN, the position check, the statements and COMMIT: one round trip.
  Frame frame;
  frame.before.emplace_back("BEGIN TRANSACTION READ ONLY");
  if (atLeast) frame.before.push_back(positionStep(*atLeast));
  frame.after.emplace_back("COMMIT");
  Outcome outcome;
  const auto failure = runFramed(work, frame, outcome);
  const bool ended = frame.after.back().ran;
  if (atLeast && frame.before.back().ran)
    if (auto late = behind(frame.before.back(), *atLeast)) { // what it read is older than what its client wrote
      if (!ended) rollback();
      return *late;
    }
  if (frame.error && !failure) {
    rollback();
    throw DbError(classifySqlState(frame.error->sqlState) == ErrorKind::Transient ? ErrorKind::Transient
                                                                                  : ErrorKind::Node,
                  code::NodeError, "starting or ending a read failed: " + frame.error->message, frame.error->sqlState);
  }
  if (failure) return readError(failure->sqlState, failure->message, failure->hint);
  return outcome;
}

} // namespace kluster::db
