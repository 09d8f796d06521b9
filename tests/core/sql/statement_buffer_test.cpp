// Where typed statements end: the line assembly of the exec prompt.
#include "core/sql/statement_buffer.hpp"

#include <catch2/catch.hpp>

using kluster::sql::StatementBuffer;
using Strings = std::vector<std::string>;

TEST_CASE("statements end at a semicolon and may span lines") {
  StatementBuffer b;
  CHECK(b.empty());
  CHECK(b.add("SELECT 1") == Strings{});
  CHECK_FALSE(b.empty());
  CHECK(b.add("  + 2;") == Strings{"SELECT 1\n  + 2;"});
  CHECK(b.empty());
  CHECK(b.add("SELECT 1; SELECT 2;  SELECT") == Strings{"SELECT 1;", "SELECT 2;"});
  CHECK(b.add("3;") == Strings{"SELECT\n3;"});
  CHECK(b.add(";;") == Strings{}); // empty statements are dropped
  CHECK(b.empty());
}

TEST_CASE("a semicolon inside quotes, dollar quotes or comments does not end a statement") {
  StatementBuffer b;
  CHECK(b.add("SELECT 'a;b', \"c;d\" -- e;f") == Strings{});
  CHECK(b.add(";") == Strings{"SELECT 'a;b', \"c;d\" -- e;f\n;"});
  CHECK(b.add("SELECT 'it''s;' AS x;") == Strings{"SELECT 'it''s;' AS x;"});
  CHECK(b.add("SELECT E'\\';' AS x;") == Strings{"SELECT E'\\';' AS x;"});
  CHECK(b.add("SELECT '\\'; SELECT 2;") == Strings{"SELECT '\\';", "SELECT 2;"}); // no E: \ is plain
  CHECK(b.add("SELECT /* a; /* nested; */ still; */ 1;") == Strings{"SELECT /* a; /* nested; */ still; */ 1;"});
  CHECK(b.add("CREATE FUNCTION f() RETURNS int AS $$ BEGIN") == Strings{});
  CHECK(b.inQuote());
  CHECK(b.add("  RETURN 1; END; $$ LANGUAGE plpgsql;") ==
        Strings{"CREATE FUNCTION f() RETURNS int AS $$ BEGIN\n  RETURN 1; END; $$ LANGUAGE plpgsql;"});
  CHECK(b.add("SELECT $fn$ a; $$ b; $fn$;") == Strings{"SELECT $fn$ a; $$ b; $fn$;"});
  CHECK(b.add("SELECT $1::int; SELECT a$b FROM t;") == Strings{"SELECT $1::int;", "SELECT a$b FROM t;"});
  CHECK_FALSE(b.inQuote());
  CHECK(b.add("SELECT 'open") == Strings{});
  CHECK(b.inQuote());
  b.clear();
  CHECK(b.empty());
  CHECK_FALSE(b.inQuote());
  CHECK(b.add("SELECT 3;") == Strings{"SELECT 3;"});
}
