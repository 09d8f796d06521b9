// Determinism rules for requests on ALL: what makes a statement's effect depend on something other than
// the database contents and the request itself (see docs/determinism.md).
//
// Syntax-only rules are decided by analyze() (Analysis::nondeterministic); the rules that need the
// catalog (which functions a name resolves to, which unique keys a table has) are decided by the node
// with the helpers below and the adapter's catalog look-ups. Both are identical on every node: they
// depend only on the request and on the schema, which every node builds from the same log.
#pragma once

#include "core/sql/analyzer.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::sql {

/// Session settings every node's connection pins to the same value (the PostgreSQL adapter sets them),
/// so current_setting() of one of them reads the same on every node. `name` in lower case.
bool isPinnedSetting(std::string_view name);

/// Settings whose value makes a statement fail on a node that is slower or busier than another (timeouts,
/// temp_file_limit): SET LOCAL of one is refused on ALL. `name` in lower case.
bool isTimingSetting(std::string_view name);

/// Volatile built-in functions Kluster makes deterministic: random() (seeded from the request's offset),
/// setseed(), now()/transaction_timestamp()/statement_timestamp() (pinned to the request's time),
/// pg_notify() (the same on every node).
bool isPinnedVolatile(std::string_view name);

/// STABLE built-in functions (pg_proc.provolatile = 's') that depend only on their arguments, the
/// database contents and settings Kluster pins (TimeZone, DateStyle, IntervalStyle, search_path,
/// lc_*, default_text_search_config...): to_char, date_trunc, to_tsvector, format, json_agg, ...
/// Every other STABLE built-in (pg_backend_pid, inet_server_addr, version, current_database, age,
/// to_regclass, statistics functions...) reads the backend, the server or the transaction: refused.
bool isStableAllowed(std::string_view name);

/// What pg_proc says about a function name: the most volatile overload among the built-in ones
/// (oid < 16384) and among the others (user-defined, extensions); '\0' when there is none.
struct FunctionKind {
  char builtin = '\0';
  char user = '\0';
};

/// Why calling `name` is not deterministic on ALL, or "" when it is (see isStableAllowed()).
std::string functionRefusal(const std::string& name, FunctionKind kind);

/// The unique, non-null keys (column lists) of a table; empty when it has none or does not exist.
using UniqueKeys = std::function<std::vector<std::vector<std::string>>(const TableRef&)>;

/// True when the requirement's columns cover a unique key of each of its tables.
bool orderIsTotal(const OrderRequirement& requirement, const UniqueKeys& uniqueKeys);

/// The alias of the first FROM item a join write reads whose join may give a target row several of its rows (its
/// unique keys not all equated with expressions of the target and of items so joined before it), or "" when there is
/// none: the write is deterministic.
std::string joinAmbiguity(const JoinWrite& write, const UniqueKeys& uniqueKeys);

} // namespace kluster::sql
