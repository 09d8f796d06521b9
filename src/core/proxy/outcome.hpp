#pragma once
// A node's response as the wire protocol reports it: command tags, and errors with their SQLSTATE.
#include "core/client/client.hpp"
#include "core/proxy/metrics.hpp"
#include "core/proxy/wire.hpp"
#include "core/sql/analyzer.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kluster::proxy {

/// The CommandComplete tag PostgreSQL sends for `statement` ("INSERT 0 1", "UPDATE 3", "SELECT 2",
/// "CREATE TABLE", ...), derived from its parse-tree kind and leading keywords; `rows` is the number of
/// rows it affected or returned.
std::string commandTag(const sql::Statement& statement, std::int64_t rows);

/// What the proxy needs to know of a statement beyond sql::analyze(): whether a write returns rows
/// (RETURNING), and how many rows an INSERT ... VALUES adds when it succeeds (its top-level VALUES lists;
/// -1 when that is not known before it runs: INSERT ... SELECT, ON CONFLICT, RETURNING).
bool returnsRows(const sql::Statement& statement);
/// Whether a statement may change what other statements are (DDL, GRANT...): anything but plain DML and reads,
/// the rule by which a node ends an ALL batch and forgets its prepared statements.
bool changesSchema(const sql::Statement& statement);
std::int64_t insertedRows(const sql::Statement& statement);

/// How a Kluster result code reaches a PostgreSQL client: the SQLSTATE it is reported with (the
/// table in docs/proxy.md). Errors PostgreSQL raised keep the node's own SQLSTATE.
struct SqlStateMapping {
  std::string_view code;
  std::string_view sqlState;
  std::string_view meaning;
};
const std::vector<SqlStateMapping>& sqlStateMappings();
/// The SQLSTATE for a result code; the response's own sqlState wins when it has one.
std::string sqlStateFor(std::string_view resultCode, std::string_view sqlState = {});

/// The error a client sees for a failed request, or nullopt when it succeeded: a timeout (57014), a
/// divergence (XX001), no response at all, or the first response's error.
std::optional<wire::Writer::Notice> failure(const client::Result& result, std::string_view timeoutText);
/// The same result as the proxy's metrics count it: diverged, timeout (no response, or a node's TIMEOUT), error or ok.
Outcome outcomeOf(const client::Result& result);

} // namespace kluster::proxy
