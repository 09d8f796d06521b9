// Describe requests (ONE): the statement is prepared as libpq's unnamed statement and described, never run.
#include "core/db/postgres/postgres.hpp"

namespace kluster::db {
namespace {

// PostgreSQL's catalogs give their built-in types OIDs below FirstGenbkiObjectId (10000) by hand, the same
// on every server. Types made later (initdb's scripts, extensions, CREATE TYPE and CREATE DOMAIN) get
// OIDs from a counter, which differ between nodes: a client must never see one, so they are text.
constexpr Oid kFirstAssignedOid = 10000;
constexpr Oid kTextOid = 25;

Oid portableType(Oid type) { return type < kFirstAssignedOid ? type : kTextOid; }

std::string errorField(const PGresult* res, int code) {
  const char* v = PQresultErrorField(res, code);
  return v ? v : "";
}

} // namespace

Outcome PgConnection::describe(const std::string& sql, const std::vector<std::uint32_t>& paramTypes,
                               const ReadFloor* atLeast) {
  if (auto behind = beginRead(atLeast)) return *behind;
  // A declared type that is not a built-in is another node's OID (or nonsense): let the database infer it.
  std::vector<Oid> declared;
  declared.reserve(paramTypes.size());
  for (auto t : paramTypes) declared.push_back(t < kFirstAssignedOid ? t : 0);
  ResultGuard prepared{PQprepare(conn_, "", sql.c_str(), static_cast<int>(declared.size()), declared.data())};
  if (PQresultStatus(prepared.res) != PGRES_COMMAND_OK) {
    const std::string state = errorField(prepared.res, PG_DIAG_SQLSTATE);
    if (state.empty() || PQstatus(conn_) != CONNECTION_OK) {
      rollback();
      throwConnectionLost("preparing the statement to describe");
    }
    return readError(state, errorField(prepared.res, PG_DIAG_MESSAGE_PRIMARY),
                     errorField(prepared.res, PG_DIAG_MESSAGE_HINT));
  }
  ResultGuard described{PQdescribePrepared(conn_, "")};
  if (PQresultStatus(described.res) != PGRES_COMMAND_OK) {
    rollback();
    if (!described.res) throwConnectionLost("describing the statement");
    throwFromResult(described.res, "describing the statement");
  }
  StatementDescription d;
  for (int i = 0; i < PQnparams(described.res); ++i)
    d.paramTypes.push_back(portableType(PQparamtype(described.res, i)));
  for (int c = 0; c < PQnfields(described.res); ++c)
    d.columns.push_back({PQfname(described.res, c), portableType(PQftype(described.res, c))});
  exec("COMMIT");
  Outcome out;
  out.result = d.toJson();
  return out;
}

} // namespace kluster::db
