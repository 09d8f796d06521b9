#pragma once
// Kluster's two error tiers: KlusterError carries a stable code that callers can act on (the same code appears
// in a response's resultCode, in logs and in the man page); anything else is a bug or a fatal condition that the
// top level prints and turns into an exit code.
#include <stdexcept>
#include <string>
#include <string_view>

namespace kluster {

/// Stable result codes. Never rename one: clients match on them.
namespace code {
inline constexpr std::string_view Ok = "OK";
// The request itself is malformed (no SQL was run).
inline constexpr std::string_view BadRequest = "BAD_REQUEST";
inline constexpr std::string_view UnsupportedVersion = "UNSUPPORTED_VERSION";
inline constexpr std::string_view EmptySql = "EMPTY_SQL";
inline constexpr std::string_view TooLarge = "TOO_LARGE";
inline constexpr std::string_view InvalidUtf8 = "INVALID_UTF8";
inline constexpr std::string_view ParamMismatch = "PARAM_MISMATCH";
// The SQL is refused before it runs, identically on every node.
inline constexpr std::string_view Nondeterministic = "NONDETERMINISTIC";
inline constexpr std::string_view NotTransactional = "NOT_TRANSACTIONAL";
inline constexpr std::string_view TransactionControl = "TRANSACTION_CONTROL";
inline constexpr std::string_view ReadOnly = "READ_ONLY";
inline constexpr std::string_view NotCaughtUp = "NOT_CAUGHT_UP";
inline constexpr std::string_view Duplicate = "DUPLICATE";
inline constexpr std::string_view Forbidden = "FORBIDDEN";
inline constexpr std::string_view Unauthenticated = "UNAUTHENTICATED";
// An interactive transaction's reads (and row counts) are not what they were when the client saw them: nothing of
// it is applied; the client retries the whole transaction (SQLSTATE 40001).
inline constexpr std::string_view SerializationFailure = "SERIALIZATION_FAILURE";
// The SQL ran and PostgreSQL refused it (deterministic on every node). sqlState carries the exact SQLSTATE.
inline constexpr std::string_view SyntaxError = "SYNTAX_ERROR";
inline constexpr std::string_view UndefinedObject = "UNDEFINED_OBJECT";
inline constexpr std::string_view ConstraintViolation = "CONSTRAINT_VIOLATION";
inline constexpr std::string_view DataException = "DATA_EXCEPTION";
inline constexpr std::string_view FeatureNotSupported = "FEATURE_NOT_SUPPORTED";
inline constexpr std::string_view RaisedException = "RAISED_EXCEPTION";
inline constexpr std::string_view SqlError = "SQL_ERROR";
// Node-level conditions (reported on ERRORS, never as a request's outcome on ALL).
inline constexpr std::string_view NodeError = "NODE_ERROR";
inline constexpr std::string_view Transient = "TRANSIENT";
inline constexpr std::string_view Diverged = "DIVERGED";
// Client-side outcomes.
inline constexpr std::string_view Timeout = "TIMEOUT";
} // namespace code

/// An error with a stable code and an optional hint of what to do.
class KlusterError : public std::runtime_error {
public:
  KlusterError(std::string_view code, const std::string& message, std::string hint = {})
      : std::runtime_error(message), code_(code), hint_(std::move(hint)) {}
  const std::string& code() const { return code_; }
  const std::string& hint() const { return hint_; }

private:
  std::string code_;
  std::string hint_;
};

/// Bad command-line or configuration input: printed on stderr, exit code 2.
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Process exit codes of every subcommand (documented in the man page).
namespace exitcode {
inline constexpr int Ok = 0;
inline constexpr int SqlError = 1;   // a response carried an error code
inline constexpr int Usage = 2;      // bad flags, config or input
inline constexpr int Timeout = 3;    // not every awaited response arrived in time
inline constexpr int Divergence = 4; // nodes answered the same ALL request differently
inline constexpr int Connection = 5; // Kafka or the database could not be reached
inline constexpr int Internal = 70;  // a bug
} // namespace exitcode

} // namespace kluster
