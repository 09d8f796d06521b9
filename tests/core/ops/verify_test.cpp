// verify's SQL, agreement and report logic, without services (a fake stands in for the nodes' answers).
#include "core/ops/verify.hpp"

#include "core/errors.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using namespace kluster::ops::verify;

namespace {

const std::vector<std::string> kNodes = {"node1", "node2", "node3"};
// PostgreSQL's SQL, as a cluster of the default database type sends it.
const db::VerifyQueries& pg = db::adapter("postgresql").operations().verifyQueries();

TableInfo itemsTable() {
  return parseCatalog(ojson::parse(R"([{"schema":"public","name":"items","definition":"d1",
      "key":[{"name":"id","type":"uuid","collatable":false}]}])"))
      .at(0);
}

// Answers catalog and checksum questions the way nodes with these per-node tables would.
struct FakeCluster {
  std::map<std::string, ojson> catalog; // node -> catalog rows
  std::map<std::string, ojson> sums;    // node -> checksum rows
  std::vector<std::string> questions;
  Answers operator()(const std::string& sql) {
    questions.push_back(sql);
    Answers a;
    a.allOffset = 77;
    const bool isCatalog = sql.find("pg_class") != std::string::npos;
    for (const auto& [node, rows] : isCatalog ? catalog : sums) a.rows[node] = rows;
    return a;
  }
};

ojson catalogRow(const std::string& name, const std::string& definition = "d1") {
  return {{"schema", "public"},
          {"name", name},
          {"definition", definition},
          {"key", ojson::parse(R"([{"name":"id","type":"integer","collatable":false}])")}};
}

ojson sumRow(const std::string& name, std::int64_t rows, const std::string& checksum) {
  return {{"schema", "public"}, {"name", name}, {"rows", rows}, {"checksum", checksum}};
}

} // namespace

TEST_CASE("the majority is the reference; the others differ") {
  CHECK(agree(kNodes, {{"node1", "a"}, {"node2", "a"}, {"node3", "a"}}).identical());
  auto one = agree(kNodes, {{"node1", "a"}, {"node2", "b"}, {"node3", "a"}});
  CHECK(one.differing == std::vector<std::string>{"node2"});
  CHECK(one.agreeing == std::vector<std::string>{"node1", "node3"});
  // Two nodes that disagree: nobody can tell which is right.
  auto tie = agree({"node1", "node2"}, {{"node1", "a"}, {"node2", "b"}});
  CHECK(tie.agreeing.empty());
  CHECK(tie.differing.size() == 2);
  // A node without a value (e.g. lacking a row) differs from the others, and two such agree.
  CHECK(agree(kNodes, {{"node1", "a"}, {"node2", "a"}}).differing == std::vector<std::string>{"node3"});
  CHECK(agree(kNodes, {{"node1", "a"}}).differing == std::vector<std::string>{"node1"});
}

TEST_CASE("tables without a primary key are keyed by the whole row") {
  auto tables = parseCatalog(ojson::parse(R"([
    {"schema":"public","name":"a","definition":"x","key":[{"name":"region","type":"text","collatable":true},
                                                          {"name":"id","type":"integer","collatable":false}]},
    {"schema":"s","name":"log","definition":"y","key":null}])"));
  REQUIRE(tables.size() == 2);
  CHECK(tables[0].hasPrimaryKey);
  CHECK(tables[0].key.size() == 2);
  CHECK(tables[0].key[0].collatable);
  CHECK(tables[1].qualified() == "s.log");
  CHECK_FALSE(tables[1].hasPrimaryKey);
  REQUIRE(tables[1].key.size() == 1);
  CHECK(tables[1].key[0].name.empty());
  CHECK_THAT(pg.rows(tables[1], {}, 10), Catch::Contains("ORDER BY (r.*)::text COLLATE \"C\""));
}

TEST_CASE("boundaries cut a range into consecutive half-open parts") {
  const KeyRange all;
  auto parts = split(all, {{"a"}, {"c"}, {"e"}});
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].lo.empty());
  CHECK(parts[0].hi == std::vector<std::string>{"c"});
  CHECK(parts[1].lo == std::vector<std::string>{"c"});
  CHECK(parts[1].hi == std::vector<std::string>{"e"});
  CHECK(parts[2].lo == std::vector<std::string>{"e"});
  CHECK(parts[2].hi.empty());
  // Within a bounded range the outer bounds are kept.
  auto inner = split({{"b"}, {"z"}}, {{"b"}, {"m"}});
  REQUIRE(inner.size() == 2);
  CHECK(inner[0].lo == std::vector<std::string>{"b"});
  CHECK(inner[1].hi == std::vector<std::string>{"z"});
  CHECK(split(all, {{"a"}}).size() == 1);
  CHECK(split(all, {}).size() == 1);
}

TEST_CASE("ranges are described for people") {
  const auto items = itemsTable();
  CHECK(describeRange(items, {}) == "all rows");
  CHECK(describeRange(items, {{"1a"}, {}}) == "id >= '1a'");
  CHECK(describeRange(items, {{"1a"}, {"3f"}}) == "id >= '1a' AND id < '3f'");
  TableInfo composite = items;
  composite.key = {{"region", "text", true}, {"id", "integer", false}};
  CHECK(describeRange(composite, {{}, {"eu", "5"}}) == "(region, id) < ('eu', '5')");
}

TEST_CASE("the SQL quotes names and values and compares text in the C collation") {
  TableInfo t;
  t.schema = "we\"ird";
  t.name = "it's";
  t.hasPrimaryKey = true;
  t.key = {{"code", "character varying(20)", true}, {"n", "integer", false}};
  const auto sums = pg.checksums({t, itemsTable()});
  CHECK_THAT(sums, Catch::Contains("FROM \"we\"\"ird\".\"it's\" r") && Catch::Contains("'we\"ird' AS schema") &&
                       Catch::Contains("'it''s' AS name") && Catch::Contains("UNION ALL"));
  const auto bounds = pg.boundaries(t, {{"o'k", "1"}, {}}, 16);
  CHECK_THAT(bounds, Catch::Contains("ntile(16)") &&
                         Catch::Contains("ROW(r.\"code\" COLLATE \"C\", r.\"n\") >= ROW(CAST('o''k' AS character "
                                         "varying(20)) COLLATE \"C\", CAST('1' AS integer))"));
  const auto ranges = pg.rangeChecksums(t, {}, {{"a", "1"}, {"m", "2"}});
  CHECK_THAT(ranges, Catch::Contains("WHEN ROW(s.k0 COLLATE \"C\", s.k1) < ROW(CAST('m' AS character varying(20)) "
                                     "COLLATE \"C\", CAST('2' AS integer)) THEN 0 ELSE 1 END"));
  CHECK_THAT(pg.rows(t, {}, 50), Catch::Contains("LIMIT 50") && Catch::Contains("WHERE true"));
  // Nothing a node would refuse on ALL: no volatile function.
  for (const auto& sql : {pg.catalog(), sums, bounds, ranges})
    for (const char* f : {"random(", "now(", "clock_timestamp(", "nextval("}) CHECK(sql.find(f) == std::string::npos);
}

TEST_CASE("identical nodes give an identical report and exit 0") {
  FakeCluster fake;
  for (const auto& n : kNodes) {
    fake.catalog[n] = ojson::array({catalogRow("a"), catalogRow("b")});
    fake.sums[n] = ojson::array({sumRow("a", 10, "x"), sumRow("b", 0, "y")});
  }
  auto report = run(std::ref(fake), pg, {});
  CHECK(report.identical());
  CHECK(report.exitCode() == 0);
  CHECK(report.nodes == kNodes);
  CHECK(report.allOffset == 77);
  REQUIRE(report.tables.size() == 2);
  CHECK(report.tables[0].nodes.at("node2").rows == 10);
  CHECK(fake.questions.size() == 2); // the catalog, then one checksum request for both tables
  auto j = report.toJson();
  CHECK(j["identical"] == true);
  CHECK(j["tables"][0]["table"] == "public.a");
  CHECK(j["tables"][0]["primaryKey"] == ojson::parse(R"(["id"])"));
}

TEST_CASE("a table missing or defined differently on one node is a divergence") {
  FakeCluster fake;
  fake.catalog["node1"] = ojson::array({catalogRow("a"), catalogRow("b")});
  fake.catalog["node2"] = ojson::array({catalogRow("a"), catalogRow("b", "other columns")});
  fake.catalog["node3"] = ojson::array({catalogRow("a")});
  for (const auto& n : kNodes) fake.sums[n] = ojson::array({sumRow("a", 1, "x")});
  Options only;
  auto report = run(std::ref(fake), pg, only);
  CHECK(report.exitCode() == 4);
  REQUIRE(report.tables.size() == 2);
  CHECK(report.tables[0].identical());
  const auto& b = report.tables[1];
  CHECK(b.status == "missing");
  CHECK(b.notes.at("node3") == "table missing");
  CHECK(std::find(b.differing.begin(), b.differing.end(), "node3") != b.differing.end());

  only.tables = {"a"};
  CHECK(run(std::ref(fake), pg, only).exitCode() == 0);
}

TEST_CASE("a node that did not answer is a timeout unless something differs") {
  Report r;
  r.nodes = {"node1", "node2"};
  r.missing = {"node3"};
  r.tables.push_back({});
  CHECK(r.exitCode() == 3);
  r.tables.back().status = "differs";
  CHECK(r.exitCode() == 4);
  CHECK(Report{}.exitCode() == 3); // nobody answered
}

TEST_CASE("a catalog may give its JSON arrays as text, and tables without a schema are named alone") {
  // MariaDB's JSON_ARRAYAGG answers text, and its tables have no schema common to the nodes.
  auto tables = parseCatalog(ojson::parse(R"([{"schema":"","name":"items","definition":"d1",
      "columns":"[{\"name\": \"id\", \"type\": \"int(11)\", \"collatable\": false}, {\"name\": \"v\", \"type\": \"text\", \"collatable\": true}]",
      "key":"[{\"name\": \"id\", \"type\": \"int(11)\", \"collatable\": false}]"},
      {"schema":"","name":"loose","definition":"d2","columns":"[]","key":null}])"));
  REQUIRE(tables.size() == 2);
  CHECK(tables[0].qualified() == "items");
  CHECK(tables[0].hasPrimaryKey);
  REQUIRE(tables[0].key.size() == 1);
  CHECK(tables[0].key[0].type == "int(11)");
  REQUIRE(tables[0].columns.size() == 2);
  CHECK(tables[0].columns[1].collatable);
  CHECK_FALSE(tables[1].hasPrimaryKey);
  CHECK(tables[1].key[0].name.empty()); // the whole row is the key
}
