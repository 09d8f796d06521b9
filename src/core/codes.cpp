#include "core/codes.hpp"

#include "core/errors.hpp"

namespace kluster {

const std::vector<CodeInfo>& resultCodes() {
  using K = CodeKind;
  static const std::vector<CodeInfo> codes = {
      {code::Ok, K::Ok, "the request was applied (ALL) or answered (ONE)"},
      {code::BadRequest, K::Request, "the request is not valid JSON or lacks a required field"},
      {code::UnsupportedVersion, K::Request, "the request's format version is newer than this node understands"},
      {code::EmptySql, K::Request, "the request has no SQL to run"},
      {code::TooLarge, K::Request,
       "the request is larger than node.max_request_bytes, or its result than one Kafka message"},
      {code::InvalidUtf8, K::Request, "the request is not well-formed UTF-8"},
      {code::ParamMismatch, K::Request, "the SQL uses a different number of $n parameters than the request gives"},
      {code::Nondeterministic, K::Refused,
       "the SQL could compute different values on different nodes (volatile or backend-reading function, "
       "row order without an ORDER BY over a unique key, random() per row, system column, oid, catalog, "
       "session SET, sequence, stored current time); the hint says what to do instead"},
      {code::NotTransactional, K::Refused, "the statement cannot run inside a transaction (e.g. VACUUM)"},
      {code::TransactionControl, K::Refused, "BEGIN, COMMIT and the like: each request already is one transaction"},
      {code::ReadOnly, K::Refused, "a write was sent to ONE, which runs read-only transactions"},
      {code::NotCaughtUp, K::Refused, "ONE: the node had not applied ALL up to the requested offset in time"},
      {code::Duplicate, K::Refused, "a request with this messageId was already applied; it is not applied again"},
      {code::Forbidden, K::Refused,
       "the SQL would reach the database server itself (its files, programs, roles or configuration: COPY ... "
       "PROGRAM, pg_read_file(), SET ROLE, ALTER SYSTEM, untrusted languages...), which no request may do; or the "
       "client's permissions in the clients file do not allow it (read only, no DDL)"},
      {code::Unauthenticated, K::Request,
       "a clients file is in effect and the request is not signed, its signature matches no key of its client id, "
       "or it was signed more than 5 minutes away from when it was published"},
      {code::SerializationFailure, K::Refused,
       "an interactive transaction (BEGIN ... COMMIT through the proxy) saw results that its statements no longer "
       "give at its position in ALL: nothing of it is applied; retry the whole transaction (SQLSTATE 40001)"},
      {code::SyntaxError, K::Sql, "PostgreSQL reports a syntax error (SQLSTATE 42601)"},
      {code::UndefinedObject, K::Sql, "a table, column, function or schema does not exist"},
      {code::ConstraintViolation, K::Sql, "a unique, foreign key, check or not-null constraint was violated"},
      {code::DataException, K::Sql, "invalid data: bad input syntax, division by zero, out of range"},
      {code::FeatureNotSupported, K::Sql, "PostgreSQL does not support this feature"},
      {code::RaisedException, K::Sql, "a PL/pgSQL RAISE EXCEPTION"},
      {code::SqlError, K::Sql, "any other error PostgreSQL reports for the request; sqlState has the details"},
      {code::NodeError, K::Node, "a node cannot do its work (database or Kafka unreachable, disk full, ...)"},
      {code::Transient, K::Node, "a temporary failure (serialization failure, deadlock); the node retries"},
      {code::Diverged, K::Node,
       "continuous verification found this node's tables different from the majority's at the same ALL offset"},
      {code::Timeout, K::Client, "not every awaited response arrived before the client's timeout"},
  };
  return codes;
}

std::string_view kindName(CodeKind kind) {
  switch (kind) {
  case CodeKind::Ok: return "ok";
  case CodeKind::Request: return "request";
  case CodeKind::Refused: return "refused";
  case CodeKind::Sql: return "sql";
  case CodeKind::Node: return "node";
  case CodeKind::Client: return "client";
  }
  return "unknown";
}

const std::vector<ExitCodeInfo>& exitCodes() {
  static const std::vector<ExitCodeInfo> codes = {
      {exitcode::Ok, "success"},
      {exitcode::SqlError, "a response carried an error result code"},
      {exitcode::Usage, "bad flags, configuration or input"},
      {exitcode::Timeout, "not every awaited response arrived in time"},
      {exitcode::Divergence, "nodes answered the same ALL request differently"},
      {exitcode::Connection, "Kafka or the database could not be reached"},
      {exitcode::Internal, "an internal error (a bug: please report it)"},
  };
  return codes;
}

} // namespace kluster
