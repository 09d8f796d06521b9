// Statement shapes (issue 27): texts with different values spliced in share an analysis through AnalysisCache only
// when no rule read a value, so that the analysis a text gets never depends on what is cached.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/sql/analysis_cache.hpp"
#include "core/sql/analyzer.hpp"
#include "core/sql/shape.hpp"

using kluster::sql::Analysis;
using kluster::sql::AnalysisCache;
using kluster::sql::analyze;
using kluster::sql::shapeOf;

namespace {

// Everything an analysis says, as text, to compare two.
std::string describe(const Analysis& a) {
  std::string s;
  for (const auto& st : a.statements) {
    s += fmt::format("[{}|{}|{}|{}|{}|{}|{}|", st.sql, st.kind, st.maxParam, st.readOnly, st.validatable, st.allSql,
                     st.transaction ? 1 + st.transaction->readOnly : 0);
    for (bool u : st.usedParams) s += u ? '1' : '0';
    s += fmt::format("|{}{}]", st.copyFrom.has_value(), st.copyTo.has_value());
  }
  s += fmt::format(" ro{} lk{} tc{} nt{} t{}{}{}{} seq{} uuid{} scan{}", a.readOnly, a.locks, a.transactionControl,
                   a.nonTransactional, a.usesCurrentTime, a.storesCurrentTime, a.defaultsCurrentTime,
                   a.storesCurrentTimeElsewhere, a.createsSequenceValue, a.drawsUuid, a.scansRows);
  for (const auto& f : a.functions) s += " f:" + f;
  const auto refusal = [&](const char* what, const auto& r) {
    if (r) s += fmt::format(" {}:{}/{}", what, r->message, r->hint);
  };
  refusal("nd", a.nondeterministic);
  refusal("server", a.serverAccess);
  refusal("session", a.sessionState);
  refusal("unsupported", a.unsupported);
  for (const auto* list : {&a.orderRequirements, &a.readOrderRequirements}) {
    s += " order:";
    for (const auto& r : *list) {
      s += fmt::format("{}{}({}/{})", r.what, r.unordered ? "!" : "", r.why, r.hint);
      for (const auto& t : r.tables) s += "," + t.schema + "." + t.name + " " + t.alias;
      for (const auto& [q, c] : r.columns) s += "," + q + "." + c;
      if (r.onlyIfDrawnDefaults) s += ",defaults";
    }
  }
  for (const auto& k : a.keyUpdates) {
    s += " key:" + k.table.name;
    for (const auto& c : k.columns) s += "," + c;
    for (const auto& c : k.pinned) s += ",=" + c;
  }
  for (const auto& j : a.joinWrites) {
    s += " join:" + j.what + " " + j.target;
    for (const auto& src : j.sources) s += fmt::format(",{}:{}", src.alias, src.keys.size());
  }
  for (const auto& t : a.writeTargets) s += " w:" + t.name;
  return s;
}

// What each text gets through one cache, in this order, next to a fresh analysis of it.
void sameAsFresh(const std::vector<std::string>& texts) {
  AnalysisCache cache;
  for (const auto& t : texts) {
    INFO(t);
    const auto cached = cache.get(t);
    const auto fresh = analyze(t);
    CHECK(describe(*cached) == describe(fresh)); // (readable when it fails)
    CHECK(*cached == fresh);                     // every field
  }
}

std::string keyOf(const std::string& sql) {
  const auto s = shapeOf(sql);
  REQUIRE(s);
  return s->key;
}

} // namespace

TEST_CASE("texts of one shape share an analysis, each with its own statement text") {
  AnalysisCache cache;
  const std::vector<std::string> texts = {
      "INSERT INTO kv (id, client, n) VALUES (7::bigint * 64 + 3, 3, 7::bigint % 1000);",
      "INSERT INTO kv (id, client, n) VALUES (858866933::bigint * 64 + 12, 12, 858866933::bigint % 1000)",
      "  insert into kv (id, client, n)\n values (1::bigint * 64 + 0, 0, 1::bigint % 1000) ; ",
  };
  for (const auto& t : texts) {
    INFO(t);
    const auto a = cache.get(t);
    CHECK(describe(*a) == describe(analyze(t)));
    CHECK(*a == analyze(t));
  }
  CHECK(cache.shapes() == 1);
  CHECK(cache.shapeHits() == 2);
  CHECK(cache.size() == 1); // the texts of a known shape are not kept by text
  CHECK(cache.get(texts[1])->statements.at(0).sql ==
        "INSERT INTO kv (id, client, n) VALUES (858866933::bigint * 64 + 12, 12, 858866933::bigint % 1000)");
  CHECK(cache.shapeHits() == 3);
  CHECK(cache.hits() == 0);
  CHECK(cache.get(texts[0])->statements.at(0).sql == analyze(texts[0]).statements.at(0).sql);
  CHECK(cache.hits() == 1); // the first text of the shape is kept by text too

  // Strings, several statements, comments (kept before a statement, not in the tree), UPDATE and DELETE.
  sameAsFresh({"/* a */ UPDATE t SET name = 'x', n = 1 WHERE id = 42; DELETE FROM t WHERE note = 'it''s'",
               "UPDATE t SET name = 'a longer value', n = 123456 WHERE id = 7; /* b */ DELETE FROM t WHERE note = ''",
               "SELECT * FROM t WHERE id IN (1, 2, 3) AND name = 'x'",
               "SELECT * FROM t WHERE id IN (4, 5, 6) AND name = 'y'"});
}

TEST_CASE("a shape whose analysis read a value: each text gets its own verdict, in whatever order it comes") {
  // Pairs of texts of one shape whose values change the analysis: a setting's name, a string cast to a date/time
  // type ('now'), ORDER BY's position, OFFSET 0, READ ONLY (an integer the grammar writes).
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"INSERT INTO log VALUES (current_setting('work_mem'))", "INSERT INTO log VALUES (current_setting('TimeZone'))"},
      {"INSERT INTO log VALUES ('now'::timestamptz)", "INSERT INTO log VALUES ('2026-01-01'::timestamptz)"},
      {"INSERT INTO log SELECT id, name FROM t ORDER BY 1 LIMIT 1",
       "INSERT INTO log SELECT id, name FROM t ORDER BY 2 LIMIT 1"},
      {"INSERT INTO log SELECT id FROM t OFFSET 0", "INSERT INTO log SELECT id FROM t OFFSET 5"},
      {"SET TRANSACTION READ ONLY", "SET TRANSACTION READ WRITE"},
  };
  for (const auto& [a, b] : pairs) {
    INFO(a << " / " << b);
    CHECK(keyOf(a) == keyOf(b));                           // one shape
    REQUIRE(describe(analyze(a)) != describe(analyze(b))); // different verdicts
    sameAsFresh({a, b});
    sameAsFresh({b, a});
    AnalysisCache cache;
    cache.get(a);
    cache.get(b);
    CHECK(cache.shapeHits() == 0);
  }
}

TEST_CASE("a shape keeps what is not a constant's value: kinds, NULL, names, parameters, typmods") {
  CHECK(keyOf("SELECT 1") != keyOf("SELECT NULL"));
  CHECK(keyOf("SELECT 1") != keyOf("SELECT 'x'"));
  CHECK(keyOf("SELECT 1") != keyOf("SELECT 1.5"));
  CHECK(keyOf("SELECT 1") != keyOf("SELECT 10000000000")); // a bigint is a Float constant to the parser
  CHECK(keyOf("SELECT 1") == keyOf("SELECT 2"));
  CHECK(keyOf("SELECT 1") == keyOf("SELECT    2 -- a comment"));
  CHECK(keyOf("SELECT a FROM t") != keyOf("SELECT b FROM t"));
  CHECK(keyOf("SELECT $1") != keyOf("SELECT $2"));
  CHECK(keyOf("SELECT 1::float(10)") != keyOf("SELECT 1::float(30)"));                     // float4 and float8
  CHECK(keyOf("DO $$ BEGIN PERFORM 1; END $$") != keyOf("DO $$ BEGIN PERFORM 2; END $$")); // a body is no constant
  CHECK_FALSE(shapeOf("SELEC 1"));
  CHECK_FALSE(shapeOf(std::string("SELECT '\xff'")));
}

TEST_CASE("analyses that keep more of their text are not shared: gen_random_uuid(), ordered aggregates, COPY") {
  AnalysisCache cache;
  sameAsFresh({"INSERT INTO t VALUES (gen_random_uuid(), 1)", "INSERT INTO t VALUES (gen_random_uuid(), 22)"});
  cache.get("INSERT INTO t VALUES (gen_random_uuid(), 1)");
  CHECK(cache.get("INSERT INTO t VALUES (gen_random_uuid(), 22)")->statements.at(0).allSql ==
        "INSERT INTO t VALUES (_kluster.gen_random_uuid(), 22)");
  CHECK(cache.shapeHits() == 0);
  // An aggregate given an order (pinAggregateOrder) keeps its own text's values in the ORDER BY.
  cache.get("INSERT INTO s SELECT sum(f * 2) FROM t WHERE k = 1");
  CHECK(cache.get("INSERT INTO s SELECT sum(f * 3) FROM t WHERE k = 2")->statements.at(0).allSql ==
        "INSERT INTO s SELECT sum(f * 3 ORDER BY (f * 3)::text) FROM t WHERE k = 2");
  CHECK(cache.shapeHits() == 0);
  sameAsFresh({"COPY (SELECT 1) TO STDOUT", "COPY (SELECT 2) TO STDOUT"});
  // Syntax errors are not cached and keep their message.
  for (int i = 0; i < 2; ++i) CHECK_THROWS_AS(cache.get("SELECT 'a' FORM t"), kluster::sql::SyntaxError);
}

TEST_CASE("analyses through a cache equal fresh ones in any order (a verdict never depends on what is cached)") {
  std::vector<std::string> texts = {
      "INSERT INTO t VALUES (1, 'a', now())",
      "INSERT INTO t VALUES (2, 'b', CURRENT_TIMESTAMP)",
      "INSERT INTO t VALUES (3, 'today'::date, 'x')",
      "INSERT INTO t VALUES (4, 'tomorrow'::date, 'y')",
      "INSERT INTO t VALUES (5, 'c', random())",
      "UPDATE t SET n = n + 1 WHERE id = 1",
      "UPDATE t SET n = n + 2 WHERE id = 3",
      "UPDATE t SET id = id + 1 WHERE n = 3",
      "UPDATE t SET n = s.n FROM s WHERE s.id = t.id AND s.n = 4",
      "UPDATE t SET n = s.n FROM (VALUES (1, 2), (3, 4)) AS s(id, n) WHERE s.id = t.id",
      "UPDATE t SET n = s.n FROM (VALUES (1, 2), (1, 4)) AS s(id, n) WHERE s.id = t.id",
      "INSERT INTO t SELECT * FROM s LIMIT 1",
      "INSERT INTO t SELECT * FROM s LIMIT 2",
      "INSERT INTO t SELECT * FROM s ORDER BY 1 LIMIT 2",
      "INSERT INTO t SELECT * FROM s ORDER BY 2 LIMIT 2",
      "SELECT current_setting('search_path')",
      "SELECT current_setting('port')",
      "SELECT set_config('a.b', '1', true)",
      "SELECT set_config('a.c', '2', false)",
      "SELECT pg_read_file('/etc/passwd')",
      "SELECT pg_read_file('/tmp/x')",
      "SELECT 1 FROM t WHERE id = 1 FOR UPDATE",
      "SELECT 2 FROM t WHERE id = 2 FOR UPDATE",
      "DELETE FROM t WHERE id = 9 RETURNING *",
      "DELETE FROM t WHERE id = 10 RETURNING *",
  };
  sameAsFresh(texts);
  std::reverse(texts.begin(), texts.end());
  sameAsFresh(texts);
}
