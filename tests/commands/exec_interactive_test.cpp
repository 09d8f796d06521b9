// The interactive prompt's line assembly and meta-commands (the prompt itself runs in client_test).
#include "commands/exec_interactive.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using commands::applyMeta;
using commands::PromptState;
using commands::StatementBuffer;
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

TEST_CASE("meta-commands change how the next statements are sent") {
  PromptState s;
  CHECK(applyMeta("\\to ONE", s).message == "Statements go to ONE.");
  CHECK(s.settings.to == "ONE");
  CHECK(applyMeta("\\to bogus", s).error);
  CHECK(s.settings.to == "ONE");
  CHECK_FALSE(applyMeta("\\wait quorum", s).error);
  CHECK(s.settings.wait.kind == client::WaitPolicy::Kind::Quorum);
  CHECK_FALSE(applyMeta("\\wait 2", s).error);
  CHECK(s.settings.wait.kind == client::WaitPolicy::Kind::Count);
  CHECK(s.settings.wait.count == 2);
  CHECK(applyMeta("\\wait 0", s).error);
  CHECK_FALSE(applyMeta("\\o csv", s).error);
  CHECK(s.settings.format == commands::Format::Csv);
  CHECK(applyMeta("\\o xml", s).error);
  CHECK(s.settings.format == commands::Format::Csv);
  CHECK(applyMeta("\\o", s).message == "Output format is csv.");
  CHECK_FALSE(applyMeta("\\timeout 1500ms", s).error);
  CHECK(s.settings.timeout == std::chrono::milliseconds(1500));
  CHECK(applyMeta("\\timeout 0s", s).error);
  CHECK(applyMeta("\\timing", s).message == "Timing is on.");
  CHECK(s.timing);
  CHECK(applyMeta("\\timing", s).message == "Timing is off.");
  CHECK(applyMeta("\\timing on", s).message == "Timing is on.");
  CHECK(applyMeta("\\q", s).quit);
  CHECK(applyMeta("\\r", s).reset);
  CHECK(applyMeta("\\?", s).message.find("\\wait first|all|quorum|N") != std::string::npos);
  auto unknown = applyMeta("\\dt", s);
  CHECK(unknown.error);
  CHECK(unknown.message.find("\\?") != std::string::npos);
  CHECK(applyMeta("\\to ONE ALL", s).error);
}
