// Parts of interactive transactions staged on ALL before their commit (a COPY inside BEGIN ... COMMIT, see
// node/staged.cpp): kept in _kluster.staged, written and dropped in the batches of the requests that stage and
// commit them, so they are in step with the log like any data.
#include "core/db/postgres/postgres.hpp"

namespace kluster::db {

const char* const kStagedSchema = R"(
CREATE TABLE IF NOT EXISTS _kluster.staged (
  transaction  text COLLATE "C" NOT NULL,  -- the transaction's uuidKey
  part         int NOT NULL,
  client_id    text NOT NULL,
  staged_ms    bigint NOT NULL,            -- the staging request's Kafka timestamp
  body         jsonb NOT NULL,
  PRIMARY KEY (transaction, part)
);
CREATE INDEX IF NOT EXISTS staged_by_time ON _kluster.staged (staged_ms);
)";

std::optional<Statement> PgAdapter::stageStatement(const std::string& transaction, std::int32_t part,
                                                   const std::string& clientId, std::int64_t timestampMs,
                                                   const std::string& body) const {
  return Statement{"WITH expired AS (DELETE FROM _kluster.staged WHERE staged_ms < $4::bigint - 86400000) "
                   "INSERT INTO _kluster.staged (transaction, part, client_id, staged_ms, body) "
                   "VALUES ($1, $2::int, $3, $4::bigint, $5::jsonb)",
                   {transaction, std::to_string(part), clientId, std::to_string(timestampMs), body},
                   false,
                   {}};
}

Statement PgAdapter::dropStaged(const std::string& transaction) const {
  return {"DELETE FROM _kluster.staged WHERE transaction = $1", {transaction}, false, {}};
}

std::vector<StagedPart> PgConnection::loadStaged(const std::string& transaction) {
  ResultGuard g{execParams("SELECT part, client_id, body::text FROM _kluster.staged WHERE transaction = $1 ORDER BY "
                           "part",
                           {transaction})};
  if (PQresultStatus(g.res) != PGRES_TUPLES_OK) throwFromResult(g.res, "reading the transaction's staged parts");
  std::vector<StagedPart> parts;
  for (int i = 0; i < PQntuples(g.res); ++i)
    parts.push_back({std::stoi(PQgetvalue(g.res, i, 0)), PQgetvalue(g.res, i, 1), PQgetvalue(g.res, i, 2)});
  return parts;
}

} // namespace kluster::db
