#pragma once
// The documentation of the stable result codes (core/errors.hpp namespace code) and of the exit codes
// (namespace exitcode): one table each, which the man page and `klusterctl generate` print. A code added to
// errors.hpp belongs here too (tests/core/codes_test.cpp checks that none is missing).
#include <string_view>
#include <vector>

namespace kluster {

/// Where a result code comes from, which tells a client what it can do about it.
enum class CodeKind {
  Ok,      ///< the request was applied (ALL) or answered (ONE)
  Request, ///< the request itself is malformed; no SQL ran
  Refused, ///< the SQL was refused before it ran, identically on every node
  Sql,     ///< the SQL ran and PostgreSQL refused it, identically on every node
  Node,    ///< a node-level condition, reported on ERRORS
  Client   ///< decided by the client, not by a node
};

/// One documented result code.
struct CodeInfo {
  std::string_view code;
  CodeKind kind;
  std::string_view meaning; ///< one line, for people
};

/// Every stable result code, in the order of core/errors.hpp.
const std::vector<CodeInfo>& resultCodes();

/// A short word for a kind ("ok", "request", "refused", "sql", "node", "client").
std::string_view kindName(CodeKind kind);

/// One documented process exit code.
struct ExitCodeInfo {
  int value;
  std::string_view meaning;
};

/// Every exit code a klusterctl subcommand can return, ascending.
const std::vector<ExitCodeInfo>& exitCodes();

} // namespace kluster
