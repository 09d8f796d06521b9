// pinAggregateOrder(): aggregates whose result depends on their input's order get an order of their own on ALL.
#include "core/sql/analyzer.hpp"

#include <catch2/catch.hpp>

using namespace kluster::sql;

TEST_CASE("sum(), avg(), max() and the statistics get ORDER BY their arguments' text on ALL") {
  CHECK(pinAggregateOrder("INSERT INTO s SELECT sum(f) FROM t") ==
        "INSERT INTO s SELECT sum(f ORDER BY (f)::text) FROM t");
  CHECK(pinAggregateOrder("INSERT INTO s SELECT g, avg(a.f * 2), max(n) FROM t a GROUP BY g") ==
        "INSERT INTO s SELECT g, avg(a.f * 2 ORDER BY (a.f * 2)::text), max(n ORDER BY (n)::text) FROM t a GROUP BY g");
  CHECK(pinAggregateOrder("UPDATE t SET x = (SELECT pg_catalog.stddev(f) FROM u WHERE u.k = t.k)") ==
        "UPDATE t SET x = (SELECT pg_catalog.stddev(f ORDER BY (f)::text) FROM u WHERE u.k = t.k)");
  // Two arguments, each a key; a function call with commas of its own stays one argument.
  CHECK(pinAggregateOrder("INSERT INTO s SELECT corr(y, coalesce(x, 0)) FROM t") ==
        "INSERT INTO s SELECT corr(y, coalesce(x, 0) ORDER BY (y)::text, (coalesce(x, 0))::text) FROM t");
  // FILTER, HAVING, ALL, a comment at the end of the argument, a parameter.
  CHECK(pinAggregateOrder("INSERT INTO s SELECT sum(f) FILTER (WHERE f > 0) FROM t HAVING min(ALL f) > $1") ==
        "INSERT INTO s SELECT sum(f ORDER BY (f)::text) FILTER (WHERE f > 0) FROM t HAVING min(ALL f ORDER BY "
        "(f)::text) > $1");
  CHECK(pinAggregateOrder("INSERT INTO s SELECT sum(f -- the column\n) FROM t") ==
        "INSERT INTO s SELECT sum(f -- the column\n ORDER BY (f)::text) FROM t");
  CHECK(analyze("INSERT INTO s SELECT sum(f) FROM t").ordersAggregates);
  CHECK(analyze("INSERT INTO s SELECT sum(f) FROM t").statements.at(0).allSql ==
        "INSERT INTO s SELECT sum(f ORDER BY (f)::text) FROM t");
}

TEST_CASE("aggregates whose order is fixed, or that the order cannot change, are left as written") {
  for (const char* sql : {
           "INSERT INTO s SELECT sum(f ORDER BY id) FROM t",        // an order of its own
           "INSERT INTO s SELECT sum(DISTINCT f) FROM t",           // PostgreSQL sorts a DISTINCT's input
           "INSERT INTO s SELECT sum(f) OVER (ORDER BY id) FROM t", // a window function
           "INSERT INTO s SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY f) FROM t",
           "INSERT INTO s SELECT count(*), count(f), bool_and(b), every(b) FROM t", // exact whatever the order
           "INSERT INTO s SELECT myschema.sum(f) FROM t",                           // not the built-in
           "CREATE VIEW v AS SELECT sum(f) FROM t",                                 // stored: runs when read
           "CREATE FUNCTION f() RETURNS float8 LANGUAGE sql RETURN (SELECT sum(f) FROM t)",
           "SELECT 'sum(f)' -- sum(f)\n",
       }) {
    INFO(sql);
    CHECK(pinAggregateOrder(sql) == sql);
    CHECK(analyze(sql).statements.at(0).allSql.empty());
  }
}
