// The arbitrary choices PostgreSQL's documentation names for joins in writes (docs/determinism.md): an UPDATE ...
// FROM (or the RETURNING of a DELETE ... USING) takes a target row's values from whichever join row comes first
// when several match; a MERGE inserts its new rows in the join's order; INSERT ... ON CONFLICT DO NOTHING keeps the
// first of the rows that conflict. The analysis lists what the node decides with the catalog's unique keys.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/sql/analyzer.hpp"
#include "core/sql/determinism.hpp"
#include "core/sql/function_body.hpp"

using kluster::sql::analyze;
using kluster::sql::joinAmbiguity;
using kluster::sql::orderIsTotal;
using kluster::sql::TableRef;

namespace {

// Unique keys: t(id), s(id) and u(a, b); n has none.
std::vector<std::vector<std::string>> keysOf(const TableRef& t) {
  if (t.name == "t" || t.name == "s") return {{"id"}};
  if (t.name == "u") return {{"a", "b"}};
  return {};
}

// The FROM item whose join may be ambiguous ("" when every item read is joined on a unique key); "-" when the
// statement has no join write.
std::string ambiguous(const std::string& sql) {
  const auto a = analyze(sql);
  INFO(sql);
  REQUIRE_FALSE(a.nondeterministic);
  if (a.joinWrites.empty()) return "-";
  for (const auto& w : a.joinWrites)
    if (auto item = joinAmbiguity(w, keysOf); !item.empty()) return item;
  return "";
}

} // namespace

TEST_CASE("UPDATE ... FROM must join every FROM item it reads on a unique key", "[sql][determinism][joins]") {
  // The UPDATE page: "only one of the join rows will be used to update the target row, but which one will be used is
  // not readily predictable".
  CHECK(ambiguous("UPDATE t SET v = n.v FROM n WHERE n.k = t.k") == "n");
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s WHERE s.grp = t.grp") == "s");
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s WHERE s.id = t.sid") == "");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM s AS x WHERE t.sid = x.id AND x.v > 0") == "");
  CHECK(ambiguous("UPDATE t AS o SET v = s.v FROM s WHERE s.id = o.sid + 1") == "");
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s WHERE s.id = 5") == "");
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s WHERE s.id = $1") == "");
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s WHERE s.id = new.k AND t.id = new.id") == "");  // a trigger's NEW
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s WHERE s.id = t.sid OR s.id = t.other") == "s"); // no top-level AND
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s WHERE s.id::text = t.code") == "s");            // not the column
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s WHERE s.id = s.v") == "s"); // of itself, not of the target
  // Unqualified columns could be any item's: only an item joined on its key may be read so.
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s WHERE s.id = sid") == "s");
  CHECK(ambiguous("UPDATE t SET v = v + 1 FROM n WHERE n.k = t.k") == "n");
  CHECK(ambiguous("UPDATE t SET v = t.v + 1 FROM n WHERE n.k = t.k") == ""); // reads no column of n
  CHECK(ambiguous("UPDATE t SET v = 1 FROM n WHERE n.k = t.k") == "");
  CHECK(ambiguous("UPDATE t SET v = 1 FROM n WHERE n.k = t.k RETURNING n.v") == "n");
  CHECK(ambiguous("UPDATE t SET v = 1 FROM n WHERE n.k = t.k RETURNING *") == "n");
  CHECK(ambiguous("UPDATE t SET v = (SELECT max(z.v) FROM z WHERE z.k = n.k) FROM n WHERE n.k = t.k") == "n");
  // A multi-column key needs every column; chains of keys are followed, cycles are not.
  CHECK(ambiguous("UPDATE t SET v = u.v FROM u WHERE u.a = t.a") == "u");
  CHECK(ambiguous("UPDATE t SET v = u.v FROM u WHERE u.a = t.a AND u.b = 2") == "");
  CHECK(ambiguous("UPDATE t SET v = u.v FROM s, u WHERE u.a = s.v AND u.b = t.b AND s.id = t.sid") == "");
  CHECK(ambiguous("UPDATE t SET v = u.v FROM n, u WHERE u.a = n.v AND u.b = t.b AND n.k = t.k") == "u");
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s, s AS s2 WHERE s.id = s2.v AND s2.id = s.v") == "s");
  // Joins in the FROM list: an inner join's ON counts, an outer join's for its nullable side only.
  CHECK(ambiguous("UPDATE t SET v = u.v FROM s JOIN u ON u.a = s.id AND u.b = s.v WHERE s.id = t.sid") == "");
  CHECK(ambiguous("UPDATE t SET v = u.v FROM s LEFT JOIN u ON u.a = s.id AND u.b = 1 WHERE s.id = t.sid") == "");
  CHECK(ambiguous("UPDATE t SET v = s.v FROM u LEFT JOIN s ON s.id = u.a WHERE u.a = t.id") == "s"); // through u
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s RIGHT JOIN u ON s.id = u.a WHERE u.a = t.id AND u.b = 1") == "");
  CHECK(ambiguous("UPDATE t SET v = s.v FROM s FULL JOIN n ON s.id = n.k WHERE s.id = t.sid") == "");
  CHECK(ambiguous("UPDATE t SET v = s.v FROM n FULL JOIN s ON s.id = n.k WHERE n.k = t.k") == "s");
  // The deterministic rewrites the hint shows: aggregate in a subquery, or pick one row with a total order.
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (SELECT k, max(v) AS v FROM n GROUP BY k) x WHERE x.k = t.k") == "");
  CHECK(ambiguous("UPDATE t SET v = x.m FROM (SELECT k AS key, max(v) AS m FROM n GROUP BY k) x WHERE x.key = t.k") ==
        "");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (SELECT k, v FROM n GROUP BY k, v) x WHERE x.k = t.k") == "x");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (SELECT DISTINCT ON (k) k, v FROM n ORDER BY k, id) x WHERE x.k = t.k") ==
        "");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (SELECT DISTINCT k, v FROM n) x WHERE x.k = t.k AND x.v = t.w") == "");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (SELECT v FROM n ORDER BY id LIMIT 1) x") == "");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (SELECT $1::int AS k, $2::text AS v) x WHERE x.k = t.id") == "");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (SELECT v FROM n) x") == "x");
  CHECK(ambiguous("UPDATE t SET v = (SELECT n.v FROM n WHERE n.k = t.k ORDER BY n.id LIMIT 1)") == "-");
  CHECK(ambiguous("WITH x AS (SELECT k, sum(v) AS v FROM n GROUP BY k) UPDATE t SET v = x.v FROM x WHERE x.k = t.k") ==
        "");
  CHECK(ambiguous("WITH x(key, v) AS (SELECT k, v FROM n) UPDATE t SET v = x.v FROM x WHERE x.key = t.k") == "x");
  // VALUES: a column of distinct literals is a key; duplicates, parameters or mixed kinds are not.
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (VALUES (1, 'a'), (2, 'b')) AS x(id, v) WHERE t.id = x.id") == "");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (VALUES ('p', 'a'), ('q', 'b')) AS x(k, v) WHERE t.k = x.k") == "");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (VALUES (1, 'a'), (1, 'b')) AS x(id, v) WHERE t.id = x.id") == "x");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (VALUES ($1, 'a'), ($2, 'b')) AS x(id, v) WHERE t.id = x.id") == "x");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (VALUES (1, 'a'), (1.0, 'b')) AS x(id, v) WHERE t.id = x.id") == "x");
  CHECK(ambiguous("UPDATE t SET v = x.v FROM (VALUES (1.0, 'a'), (1.00, 'b')) AS x(id, v) WHERE t.id = x.id") == "x");
  CHECK(ambiguous("UPDATE t SET v = x.column2 FROM (VALUES (1, 'a'), (2, 'b')) x WHERE t.id = x.column1") == "");
  // Functions have no key: their rows may repeat.
  CHECK(ambiguous("UPDATE t SET v = x.v FROM unnest($1::int[], $2::text[]) AS x(id, v) WHERE t.id = x.id") == "x");
  // In CTEs; and a DELETE ... USING deletes each row once, so only its RETURNING can read an arbitrary join row.
  CHECK(ambiguous("WITH w AS (UPDATE t SET v = n.v FROM n WHERE n.k = t.k RETURNING t.id) SELECT * FROM w") == "n");
  CHECK(ambiguous("DELETE FROM t USING n WHERE n.k = t.k") == "-");
  CHECK(ambiguous("DELETE FROM t USING n WHERE n.k = t.k RETURNING t.id") == "");
  CHECK(ambiguous("DELETE FROM t USING n WHERE n.k = t.k RETURNING n.v") == "n");
  CHECK(ambiguous("DELETE FROM t USING s WHERE s.id = t.sid RETURNING s.v") == "");
  CHECK(ambiguous("UPDATE t SET v = 1 WHERE id = 2") == "-");
}

TEST_CASE("join writes in function bodies are listed for the node too", "[sql][determinism][joins]") {
  const auto body = kluster::sql::analyzeFunctionBody(
      "plpgsql", "",
      "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN UPDATE t SET v = n.v FROM n WHERE "
      "n.k = t.k; END $$");
  REQUIRE_FALSE(body.refusal);
  REQUIRE(body.joinWrites.size() == 1);
  CHECK(joinAmbiguity(body.joinWrites[0], keysOf) == "n");
  const auto sqlBody = kluster::sql::analyzeFunctionBody("sql", "UPDATE t SET v = s.v FROM s WHERE s.id = t.sid", "");
  REQUIRE(sqlBody.joinWrites.size() == 1);
  CHECK(joinAmbiguity(sqlBody.joinWrites[0], keysOf).empty());
  const auto block = analyze("DO $$ BEGIN UPDATE t SET v = n.v FROM n WHERE n.k = t.k; END $$");
  REQUIRE(block.joinWrites.size() == 1);
}

TEST_CASE("MERGE inserts in its join's order: DEFAULTs drawn per row are refused", "[sql][determinism][joins]") {
  // PostgreSQL raises an error when a target row would be changed twice (deterministic); the rows it inserts come in
  // the order of its join, so a SERIAL of the target would be drawn for different rows on different nodes.
  const auto a = analyze("MERGE INTO t USING n ON t.id = n.k WHEN MATCHED THEN UPDATE SET v = n.v WHEN NOT MATCHED "
                         "THEN INSERT (k, v) VALUES (n.k, n.v)");
  REQUIRE_FALSE(a.nondeterministic);
  REQUIRE(a.orderRequirements.size() == 1);
  const auto& r = a.orderRequirements[0];
  CHECK(r.unordered);
  REQUIRE(r.onlyIfDrawnDefaults);
  CHECK(r.onlyIfDrawnDefaults->target.name == "t");
  CHECK(r.onlyIfDrawnDefaults->listed);
  CHECK(r.onlyIfDrawnDefaults->given == std::vector<std::string>{"k", "v"});
  CHECK_FALSE(r.why.empty());
  CHECK_FALSE(r.hint.empty());
  CHECK(analyze("MERGE INTO t USING n ON t.id = n.k WHEN MATCHED THEN DELETE").orderRequirements.empty());
}

TEST_CASE("INSERT ... SELECT ... ON CONFLICT DO NOTHING from tables needs a total order", "[sql][determinism][joins]") {
  auto orders = [](const std::string& sql) {
    const auto a = analyze(sql);
    INFO(sql);
    REQUIRE_FALSE(a.nondeterministic);
    std::vector<bool> total;
    for (const auto& r : a.orderRequirements)
      if (!r.onlyIfDrawnDefaults) total.push_back(orderIsTotal(r, keysOf));
    return total;
  };
  CHECK(orders("INSERT INTO t SELECT k, v FROM n ON CONFLICT DO NOTHING") == std::vector<bool>{false});
  CHECK(orders("INSERT INTO t SELECT k, v FROM s ON CONFLICT (k) DO NOTHING") == std::vector<bool>{false});
  CHECK(orders("INSERT INTO t SELECT k, v FROM s ORDER BY s.id ON CONFLICT (k) DO NOTHING") == std::vector<bool>{true});
  CHECK(orders("INSERT INTO t SELECT k, v FROM s ON CONFLICT (k) DO UPDATE SET v = excluded.v").empty());
  CHECK(orders("INSERT INTO t VALUES (1, 'a'), (1, 'b') ON CONFLICT DO NOTHING").empty());
  CHECK(orders("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 3) g ON CONFLICT DO NOTHING").empty());
  CHECK(analyze("INSERT INTO t SELECT k, v FROM (SELECT k, v FROM s) q ON CONFLICT DO NOTHING")
            .orderRequirements.at(0)
            .unordered);
}

TEST_CASE("a table written by two parts of one statement is refused", "[sql][determinism][joins]") {
  // "The sub-statements in WITH are executed concurrently with each other and with the main query ... the order in
  // which the specified updates actually happen is unpredictable" (WITH queries, data-modifying statements).
  auto refused = [](const std::string& sql) { return analyze(sql).nondeterministic.has_value(); };
  CHECK(refused("WITH a AS (UPDATE t SET v = 1 WHERE id = 1 RETURNING id) UPDATE t SET v = 2 WHERE id = 1"));
  CHECK(refused("WITH a AS (DELETE FROM t WHERE v > 1 RETURNING id), b AS (UPDATE t SET v = 0 RETURNING id) "
                "SELECT * FROM a, b"));
  CHECK(refused("WITH a AS (INSERT INTO t VALUES (1) RETURNING id) UPDATE t SET v = 2 FROM a WHERE t.id = a.id"));
  CHECK_FALSE(refused("WITH a AS (DELETE FROM t WHERE v > 1 RETURNING *) INSERT INTO archive SELECT * FROM a"));
  CHECK_FALSE(refused("UPDATE t SET v = 1 WHERE id = 1; UPDATE t SET v = 2 WHERE id = 1")); // two statements
  CHECK_FALSE(refused("CREATE RULE r AS ON INSERT TO t DO ALSO (UPDATE u SET v = 1; UPDATE u SET v = 2)"));
}
