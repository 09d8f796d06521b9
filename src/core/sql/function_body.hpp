// Determinism by closure (README "Determinism"): what the body of a user-defined function does, for the writes
// that run it (by calling it, or through a trigger of a table they write). A body runs on behalf of the request
// but is not in its text, so the request's own rules cannot see it: the node reads each such body from the
// catalog and judges it here, with the same rules as a write's statements, and the rest (the functions the body
// calls, its row orders, the triggers of the tables it writes) with the catalog, recursively.
#pragma once

#include "core/sql/analyzer.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::sql {

/// What a function body does, decided from its text alone.
struct FunctionBody {
  /// The first rule the body breaks, or nullopt: a rule of a write's statements (determinism.hpp, decided as
  /// for a write whatever the body's statements are), the node's own clock (now(), CURRENT_TIMESTAMP & co. in a
  /// body read each node's own transaction time, not the request's), gen_random_uuid() (each node's own random
  /// source), or an opaque body (below).
  std::optional<Refusal> refusal;
  /// The body cannot be judged: EXECUTE of dynamic SQL, a language other than sql and plpgsql, or a body
  /// Kluster's parser cannot read. An operator may vouch for such a function (README: trust_function).
  bool opaque = false;
  /// Functions the body calls (by unqualified name, sorted, deduplicated): the node judges them in turn.
  std::vector<std::string> functions;
  /// Tables the body writes: their triggers run too.
  std::vector<TableRef> writeTargets;
  /// Relations its statements read (Analysis::reads): the views among them run their queries too.
  std::vector<TableRef> reads;
  /// It runs built-in aggregates whose result may depend on their input's order without an order of their own
  /// (Analysis::ordersAggregates): the request's own are given one, a body's or view's cannot be.
  bool ordersAggregates = false;
  /// Row orders the body's statements depend on, to check against unique keys as a write's are.
  std::vector<OrderRequirement> orderRequirements;
  /// Its UPDATE ... FROM and DELETE ... USING ... RETURNING, to check against unique keys as a write's are.
  std::vector<JoinWrite> joinWrites;
  /// What the body draws per call, in the order calls come ("nextval()", "random()"...; "" when nothing): the
  /// same on every node when the calls come in the request's order, not when they come per row of a table.
  std::string draws;
  /// The tables the body inserts into (and the columns it gives): a DEFAULT drawn per row (SERIAL, IDENTITY...)
  /// of a column it does not give draws per call as well.
  std::vector<OrderRequirement::Defaults> inserts;
};

/// Judges the body of a function in `language` (pg_language.lanname): "sql" bodies from `source` (pg_proc.prosrc)
/// or, when it is empty (SQL-standard bodies: BEGIN ATOMIC ... END, RETURN expr), from `definition`; "plpgsql"
/// bodies from `definition`, the function's CREATE FUNCTION statement (pg_get_functiondef()), through
/// PostgreSQL's own PL/pgSQL parser: every SQL statement and expression in it is judged. Any other language is
/// opaque (the caller decides about "c" and "internal": compiled code, judged by its declared volatility).
/// Never throws: a body that cannot be read is opaque.
[[nodiscard]] FunctionBody analyzeFunctionBody(std::string_view language, std::string_view source,
                                               std::string_view definition);

/// Judges the query of a view (pg_get_viewdef()) that a write reads, refreshes or writes through, as if it were
/// written in the write's place: the rules of a write's statements, the functions it calls, the relations it reads
/// (views over views), the current time (each node's own transaction time there). Values drawn per call (random(),
/// nextval()...) are refused: a plan may read a view any number of times. Never throws: a query that cannot be read
/// is refused.
[[nodiscard]] FunctionBody analyzeViewQuery(std::string_view query);

/// Judges a rule (CREATE RULE, as pg_get_ruledef() gives it) of a table a write touches: its condition and actions
/// run on the write's behalf, judged as a trigger function's statements are. An UPDATE action whose SET reads NEW or
/// OLD is refused: the action runs joined with the rows the write changes, and takes the values of whichever of them
/// meets a row first. Never throws: a rule that cannot be read is refused.
[[nodiscard]] FunctionBody analyzeRule(std::string_view definition);

} // namespace kluster::sql
