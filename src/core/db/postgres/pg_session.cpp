// The session settings every node connection pins (issue 10; issue 26's differential test found the ones after
// plan_cache_mode). See docs/determinism.md, "Pinned session settings".
#include "core/db/postgres/postgres.hpp"

namespace kluster::db {

// Session settings pinned on every connection so every node formats, parses and computes values identically,
// whatever its server's postgresql.conf or ALTER DATABASE/ROLE ... SET say (options sent at connection
// start override both). Keep in step with sql::isPinnedSetting() (src/core/sql/function_lists.cpp).
const char* sessionOptions() {
  return "-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=1 "
         "-c search_path=public -c bytea_output=hex -c standard_conforming_strings=on -c client_min_messages=warning "
         "-c lc_monetary=C -c lc_numeric=C -c lc_time=C -c timezone_abbreviations=Default "
         "-c default_text_search_config=pg_catalog.english -c xmloption=content -c xmlbinary=base64 "
         "-c transform_null_equals=off -c array_nulls=on -c gin_fuzzy_search_limit=0 "
         // A timeout set on one node's server would cancel there what the others apply.
         "-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0 "
         // Prepared statements are planned for their parameters every time, as unnamed ones are: a generic
         // plan could raise an error (or not) where a custom plan would not, and nodes would differ.
         "-c plan_cache_mode=force_custom_plan "
         // Found by the random differential test (issue 26): format('%I') and quote_ident() quote every name with
         // quote_all_identifiers; check_function_bodies=off accepts a function the others refuse; row_security=off
         // refuses what a policy would filter; backslash_quote=off refuses E'\''; exit_on_error ends the connection
         // on any error; the isolation level of the apply loop's transactions. Not default_transaction_read_only: a
         // database an operator made read-only gives a node error (retried, reported on ERRORS), not writes.
         "-c quote_all_identifiers=off -c check_function_bodies=on -c row_security=on -c backslash_quote=safe_encoding "
         "-c exit_on_error=off -c default_transaction_isolation=read\\ committed";
}

void pinSession(PGconn* conn) {
  // Error messages are part of responses; lc_messages needs a superuser, so it is pinned when the node's role
  // may (otherwise the server's own value stays: messages may then differ in language, never codes).
  PQclear(PQexec(conn, "SET lc_messages = 'C'"));
  // A deeper recursion fails on a node whose database or role lowered max_stack_depth (54001, a request's outcome)
  // where the others succeed: pinned to PostgreSQL's default when the role may.
  PQclear(PQexec(conn, "SET max_stack_depth = '2MB'"));
  // Found by giving a node another default for every setting (issue 26, tests/integration/odd_settings.cpp): a
  // database that restricts reading its views or foreign tables (restrict_nonsystem_relation_kind, PostgreSQL 12.20,
  // 13.16, 14.13, 15.8, 16.4 and later) made its node fail (55000) every write reading one, which the others applied.
  // Set here rather than in the options: a server without the setting would refuse a connection that names it.
  PQclear(PQexec(conn, "SET restrict_nonsystem_relation_kind = ''"));
  // allow_system_table_mods = on let a node's superuser create a table in pg_catalog that the others refused
  // (42501); a superuser setting, so pinned when the role may (a role that may not cannot change catalogs anyway).
  PQclear(PQexec(conn, "SET allow_system_table_mods = off"));
  // session_replication_role = replica (or local) turns off triggers, foreign keys' actions and checks, and rules:
  // a node whose database or role sets it would apply writes without them. Only a superuser (or a role granted SET
  // on it) may change it, so it is set when the role may, and the node refuses to run when it is still not origin.
  PQclear(PQexec(conn, "SET session_replication_role = origin"));
  ResultGuard role{PQexec(conn, "SHOW session_replication_role")};
  const std::string value =
      PQresultStatus(role.res) == PGRES_TUPLES_OK && PQntuples(role.res) == 1 ? PQgetvalue(role.res, 0, 0) : "origin";
  if (value != "origin") {
    throw DbError(ErrorKind::Node, code::NodeError,
                  "the database's session_replication_role is '" + value +
                      "' and the node's role may not set it to 'origin': triggers and foreign keys would not run on "
                      "this node; remove the setting (ALTER DATABASE ... RESET session_replication_role, or the "
                      "role's or postgresql.conf's)",
                  "55000");
  }
}

} // namespace kluster::db
