// What no request may do, on ALL or ONE: reach past the database into its server (docs/security.md).
#include <catch2/catch.hpp>

#include <string>

#include "core/sql/analyzer.hpp"

using kluster::sql::analyze;

namespace {

bool forbidden(const std::string& sql) {
  const auto a = analyze(sql);
  return a.serverAccess.has_value() && !a.serverAccess->message.empty() && !a.serverAccess->hint.empty();
}

} // namespace

TEST_CASE("the server's files and programs are out of reach", "[sql][security]") {
  CHECK(forbidden("COPY t TO PROGRAM 'rm -rf /'"));
  CHECK(forbidden("COPY t FROM PROGRAM 'curl example.org'"));
  CHECK(forbidden("COPY t TO '/tmp/t.csv'"));
  CHECK(forbidden("COPY (SELECT 1) TO '/tmp/x'"));
  CHECK(forbidden("COPY t FROM '/etc/passwd'"));
  CHECK(forbidden("SELECT pg_read_file('/etc/passwd')"));
  CHECK(forbidden("SELECT pg_catalog.pg_read_binary_file('postgresql.conf')"));
  CHECK(forbidden("SELECT * FROM pg_ls_dir('.')"));
  CHECK(forbidden("INSERT INTO t SELECT 1, lo_import('/etc/shadow')"));
  CHECK(forbidden("SELECT lo_export(16385, '/tmp/x')"));
  CHECK(forbidden("SELECT pg_stat_file('base')"));
  CHECK(forbidden("CREATE VIEW v AS SELECT pg_read_file('/etc/hostname')")); // stored, read later
  CHECK(forbidden("LOAD 'auto_explain'"));
}

TEST_CASE("the server's processes, configuration and roles are out of reach", "[sql][security]") {
  CHECK(forbidden("SELECT pg_terminate_backend(123)"));
  CHECK(forbidden("SELECT pg_cancel_backend(123)"));
  CHECK(forbidden("SELECT pg_reload_conf()"));
  CHECK(forbidden("ALTER SYSTEM SET work_mem = '1GB'"));
  CHECK(forbidden("SET ROLE postgres"));
  CHECK(forbidden("SET LOCAL ROLE postgres"));
  // Settings only a superuser may change: a node whose role is not one fails them (42501, a node error).
  CHECK(forbidden("SET LOCAL session_replication_role = replica; INSERT INTO t VALUES (1)"));
  CHECK(forbidden("SET LOCAL Log_Statement = 'all'"));
  CHECK(forbidden("SET LOCAL zero_damaged_pages = on"));
  CHECK(forbidden("CREATE FUNCTION f() RETURNS int LANGUAGE sql SET session_replication_role = replica AS 'SELECT 1'"));
  CHECK(forbidden("ALTER FUNCTION f() SET log_min_messages = debug1"));
  CHECK_FALSE(forbidden("SET LOCAL work_mem = '1MB'; INSERT INTO t VALUES (1)"));
  CHECK_FALSE(forbidden("CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = public AS 'SELECT 1'"));
  CHECK(forbidden("SET SESSION AUTHORIZATION postgres"));
  CHECK(forbidden("RESET ROLE"));
  CHECK(forbidden("CREATE ROLE evil SUPERUSER LOGIN PASSWORD 'x'"));
  CHECK(forbidden("ALTER ROLE app SUPERUSER"));
  CHECK(forbidden("GRANT pg_read_server_files TO app"));
  CHECK(forbidden("DROP ROLE app"));
  CHECK(forbidden("SELECT pg_advisory_lock(1)")); // outlives the request on the node's connection
  CHECK_FALSE(forbidden("SELECT pg_advisory_xact_lock(1)"));
}

TEST_CASE("untrusted languages, extensions and foreign servers are out of reach", "[sql][security]") {
  CHECK(forbidden("CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS $$ return 1 $$"));
  CHECK(forbidden("CREATE FUNCTION f() RETURNS int AS 'evil.so', 'f' LANGUAGE C"));
  CHECK(forbidden("DO LANGUAGE plperlu $$ system('id') $$"));
  CHECK(forbidden("CREATE LANGUAGE plpython3u"));
  CHECK(forbidden("CREATE EXTENSION dblink"));
  CHECK(forbidden("CREATE EXTENSION IF NOT EXISTS file_fdw"));
  CHECK(forbidden("CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw"));
  CHECK(forbidden("CREATE USER MAPPING FOR app SERVER s OPTIONS (password 'x')"));
  CHECK(forbidden("CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p"));
  CHECK(forbidden("SELECT dblink_exec('host=x', 'DROP TABLE t')"));
  // Trusted languages and extensions stay allowed.
  CHECK_FALSE(forbidden("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$"));
  CHECK_FALSE(forbidden("CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$"));
  CHECK_FALSE(forbidden("DO $$ BEGIN PERFORM 1; END $$"));
  CHECK_FALSE(forbidden("CREATE EXTENSION IF NOT EXISTS citext"));
}

TEST_CASE("ordinary SQL is not forbidden; COPY with a data stream is unsupported, not forbidden", "[sql][security]") {
  CHECK_FALSE(forbidden("INSERT INTO t VALUES (1)"));
  CHECK_FALSE(forbidden("SELECT read_file FROM files")); // a column, not a call
  CHECK_FALSE(forbidden("SELECT 'pg_read_file(1)'"));    // a string
  CHECK_FALSE(forbidden("SET LOCAL work_mem = '8MB'"));
  const auto copy = analyze("COPY t FROM STDIN");
  CHECK_FALSE(copy.serverAccess);
  CHECK(copy.unsupported);
  CHECK(analyze("COPY t TO STDOUT").unsupported);
  CHECK_FALSE(analyze("COPY t TO '/tmp/x'").unsupported);
}

TEST_CASE("session state that would outlive a request is flagged for ONE as well", "[sql][security]") {
  for (const char* sql :
       {"SET search_path = evil", "RESET ALL", "SET SESSION work_mem = '1GB'", "PREPARE p AS SELECT 1", "EXECUTE p",
        "DEALLOCATE ALL", "DECLARE c CURSOR WITH HOLD FOR SELECT 1"}) {
    INFO(sql);
    const auto a = analyze(sql);
    CHECK(a.sessionState);
    CHECK(a.nondeterministic); // on ALL too
  }
  CHECK_FALSE(analyze("SET LOCAL search_path = public").sessionState);
  CHECK_FALSE(analyze("DECLARE c CURSOR FOR SELECT 1").sessionState);
}

// Found by giving a node another default for every setting (issue 26, allow_system_table_mods = on on one node).
TEST_CASE("the system catalogs' structure is out of reach", "[sql][security][settings]") {
  CHECK(forbidden("CREATE TABLE pg_catalog.kl_catalog (a int)"));
  CHECK(forbidden("CREATE TABLE pg_catalog.kl_catalog AS SELECT 1 AS a"));
  CHECK(forbidden("CREATE VIEW pg_catalog.kl_view AS SELECT 1 AS a"));
  CHECK(forbidden("CREATE SEQUENCE pg_catalog.kl_seq"));
  CHECK(forbidden("CREATE INDEX kl_index ON pg_catalog.pg_class (relname)"));
  CHECK(forbidden("ALTER TABLE pg_catalog.pg_class ADD COLUMN kl int"));
  CHECK(forbidden("ALTER TABLE pg_catalog.pg_class RENAME TO kl_class"));
  CHECK_FALSE(forbidden("CREATE TABLE public.kl_catalog (a int)"));
  CHECK_FALSE(forbidden("CREATE TABLE kl_catalog (a int)"));
  CHECK_FALSE(forbidden("ALTER TABLE kl_catalog ADD COLUMN b int"));
}
