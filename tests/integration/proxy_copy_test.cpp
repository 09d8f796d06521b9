// COPY ... TO STDOUT through klusterctl proxy: psql's \copy of a table with awkward values (tabs, newlines, CRs,
// backslashes, quotes, commas, NULL and the empty string, unicode, numeric with trailing zeros, timestamptz, bool,
// bytea, json and jsonb, arrays, char(n), float) writes exactly the bytes PostgreSQL itself writes for the same
// command against a node's database, in text and CSV format, for a table, its columns and a query.
#include "support/cluster.hpp"
#include "support/proxy.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace kluster::test;

namespace {

const char* const kTable = R"(
CREATE TABLE awkward (id int PRIMARY KEY, t text, n numeric(10,2), x numeric, ts timestamptz, b bool, raw bytea,
                      doc jsonb, js json, tags text[], f float8, r real, c char(4), iv interval,
                      tenfold int GENERATED ALWAYS AS (id * 10) STORED);
INSERT INTO awkward VALUES
  (1, E'tab\there, and a comma', 12.50, 1.000, '2024-03-01 12:34:56.789+02', true, '\x00ff5c0a',
   '{"b": [1, "x\ty", null], "a": 1.50}', '{"k" :  1,  "k": 2}', '{"a b","c,d",NULL,"q\"t"}', 1.5e-7, 0.1, 'ab',
   '1 day 02:03:04'),
  (2, E'new\nline and CR\r and back\\slash', -0.10, 123456789012345678901234567890.5, '1999-12-31 23:59:59+00', false,
   '', '{}', '[]', '{}', 'Infinity', -3.25, NULL, '-1 mons'),
  (3, '', NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL),
  (4, 'say "hi"; it''s ok', 1e6, -1e-20, '2024-01-01 00:00:00+00', true, '\x22', '"s"', '"s"', '{{1,2},{3,4}}', 0, 0,
   'abcd', '0'),
  (5, 'ünïcødé ☃ 日本', 0.01, 2, '2024-06-30 12:00:00.000001+00', false, '\xdeadbeef', '{"ü": "☃"}', '{"ü":"☃"}',
   '{ü}', -0.5, 1e10, 'ü', '1 year'),
  (6, '\N', 99999999.99, NULL, NULL, NULL, NULL, 'null', 'null', '{NULL}', 1e300, NULL, NULL, NULL),
  (7, '\.', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE parent (a int, b text);
CREATE TABLE child (c int) INHERITS (parent);
INSERT INTO parent VALUES (1, 'parent''s');
INSERT INTO child VALUES (2, 'child''s', 3);
CREATE VIEW awkward_view AS SELECT id, t FROM awkward;
CREATE TABLE parted (a int) PARTITION BY RANGE (a);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);
)";

// psql -c ... against a node's database, with the settings every node's connections run with.
CommandResult psqlDirect(TestCluster& cluster, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {programPath("psql"),   "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                                   cluster.databaseUrl(1)};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, std::chrono::minutes(1),
             {{"PGOPTIONS", "-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=1 "
                            "-c bytea_output=hex"}});
}

std::string fileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST_CASE("COPY TO STDOUT through the proxy writes the bytes PostgreSQL writes", "[proxy]") {
  TestCluster cluster;
  TestProxy proxy(cluster);
  auto created = proxy.psql({"-v", "ON_ERROR_STOP=1", "-c", kTable});
  INFO(created.err);
  REQUIRE(created.exitCode == 0);
  REQUIRE(
      waitUntil([&] { return cluster.scalar(1, "SELECT count(*) FROM pg_tables WHERE tablename = 'awkward'") == "1"; },
                std::chrono::seconds(30)));
  REQUIRE(cluster.scalar(1, "SELECT count(*) FROM awkward") == "8"); // one request: the table came with its rows

  const std::vector<std::string> commands = {
      "\\copy awkward to stdout",
      "\\copy awkward to stdout with (format csv, header)",
      "\\copy awkward (t, id, n) to stdout with (header, delimiter ',', null '<null>')",
      "\\copy (select id, t, n, tags from awkward order by id desc) to stdout",
      "\\copy (select t, js, doc from awkward where id < 6 order by id) to stdout with (format csv, header, "
      "delimiter ';', force_quote (t, doc))",
      "\\copy awkward (id, t, raw) to stdout with (format csv, force_quote *, null 'NULL', quote '''', escape '\\')",
      "\\copy awkward (t) to stdout csv",
      "\\copy (select x, f, r, c, iv, ts, b from awkward order by id) to stdout with (format csv)",
      "COPY (SELECT id, t FROM awkward WHERE id IN (1, 2) ORDER BY id) TO STDOUT WITH (FORMAT csv)",
      "\\copy parent to stdout with (format csv, header)", // its own rows, not its child's
      "\\copy (select * from parent order by a) to stdout with (format csv, header)",
  };
  for (const auto& command : commands) {
    INFO(command);
    const auto expected = psqlDirect(cluster, {"-c", command});
    INFO(expected.err);
    REQUIRE(expected.exitCode == 0);
    REQUIRE(!expected.out.empty());
    const auto got = proxy.psql({"-q", "-v", "ON_ERROR_STOP=1", "-c", command});
    INFO(got.err);
    CHECK(got.exitCode == 0);
    CHECK(got.out == expected.out);
    if (command == commands.front()) { // values as their types write them, which a row's JSON would not keep
      CHECK(got.out.find("\t12.50\t1.000\t") != std::string::npos);
      CHECK(got.out.find("\t{\"k\" :  1,  \"k\": 2}\t") != std::string::npos);
    }
  }

  // \copy to a file, as a user saves a table.
  const auto mine = cluster.workDir() + "/awkward.proxy.csv", theirs = cluster.workDir() + "/awkward.pg.csv";
  REQUIRE(psqlDirect(cluster, {"-c", "\\copy awkward to '" + theirs + "' with (format csv, header)"}).exitCode == 0);
  auto saved = proxy.psql({"-q", "-c", "\\copy awkward to '" + mine + "' with (format csv, header)"});
  INFO(saved.err);
  CHECK(saved.exitCode == 0);
  CHECK(fileText(mine) == fileText(theirs));

  // Inside BEGIN ... ROLLBACK: a read of the block's own writes, as a SELECT there is.
  const std::vector<std::string> block = {
      "-c", "BEGIN",
      "-c", "INSERT INTO awkward (id, t) VALUES (100, E'in\\ta tx')",
      "-c", "\\copy (select id, t from awkward where id >= 8 order by id) to stdout",
      "-c", "ROLLBACK"};
  const auto direct = psqlDirect(cluster, block);
  REQUIRE(direct.exitCode == 0);
  CHECK(direct.out == "8\t\\N\n100\tin\\ta tx\n");
  std::vector<std::string> args = {"-q", "-v", "ON_ERROR_STOP=1"};
  args.insert(args.end(), block.begin(), block.end());
  auto inBlock = proxy.psql(args);
  INFO(inBlock.err);
  CHECK(inBlock.exitCode == 0);
  CHECK(inBlock.out == direct.out);
  CHECK(cluster.scalar(1, "SELECT count(*) FROM awkward") == "8");

  // COPY (INSERT ... RETURNING) TO STDOUT is a write: it goes to ALL, and its rows are the first node's answer.
  auto returning = proxy.psql({"-q", "-c", "COPY (INSERT INTO parent VALUES (5, E'new\\trow') RETURNING *) TO STDOUT"});
  INFO(returning.err);
  CHECK(returning.exitCode == 0);
  CHECK(returning.out == "5\tnew\\trow\n");
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(waitUntil([&] { return cluster.scalar(i, "SELECT count(*) FROM ONLY parent WHERE a = 5") == "1"; },
                    std::chrono::seconds(30)));

  // What PostgreSQL refuses, refused alike.
  for (const std::string relation : {"awkward_view", "parted"}) {
    const auto command = "\\copy " + relation + " to stdout";
    INFO(command);
    const auto expected = psqlDirect(cluster, {"-c", command});
    REQUIRE(expected.exitCode != 0);
    const auto got = proxy.psql({"-q", "-v", "ON_ERROR_STOP=1", "-c", command});
    CHECK(got.exitCode == expected.exitCode);
    CHECK(got.err == expected.err); // ERROR:  cannot copy from view "awkward_view", and the same HINT
  }

  // What the proxy refuses, with 0A000 and a hint.
  auto binary = proxy.psql({"-c", "\\copy awkward to stdout with (format binary)"});
  CHECK(binary.exitCode != 0);
  CHECK(binary.err.find("COPY in binary format is not supported by the proxy") != std::string::npos);
  auto file = proxy.psql({"-c", "COPY awkward TO '/tmp/awkward'"});
  CHECK(file.exitCode != 0);
  CHECK(file.err.find("would reach the database server's own files") != std::string::npos);
}
