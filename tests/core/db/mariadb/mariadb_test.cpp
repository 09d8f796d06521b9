// Unit tests of the MariaDB adapter (no server): its error numbers in Kluster's classes (errors.cpp, docs/mariadb.md),
// mariadb:// URLs, where $n placeholders are, the position in a mariadb-dump file and the verify SQL's forms. The
// rest runs against a server: tests/integration/mariadb_*.
#include "core/db/mariadb/client.hpp"
#include "core/db/mariadb/mariadb.hpp"
#include "core/db/mariadb/operations.hpp"
#include "core/sql/mariadb/analyzer.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <sstream>

using namespace kluster;
namespace mdb = kluster::db::mariadb;

TEST_CASE("MariaDB error numbers map to Kluster's error classes", "[mariadb]") {
  using db::ErrorKind;
  CHECK(mdb::classifyError(1062, "23000") == ErrorKind::Request);
  CHECK(mdb::resultCodeForError(1062, "23000") == code::ConstraintViolation);
  CHECK(mdb::resultCodeForError(1146, "42S02") == code::UndefinedObject);
  CHECK(mdb::resultCodeForError(1064, "42000") == code::SyntaxError);
  CHECK(mdb::resultCodeForError(1644, "45000") == code::RaisedException);
  CHECK(mdb::classifyError(1644, "45000") == ErrorKind::Request);
  CHECK(mdb::classifyError(1213, "40001") == ErrorKind::Transient);
  CHECK(mdb::classifyError(1205, "HY000") == ErrorKind::Transient);
  CHECK(mdb::classifyError(2013, "HY000") == ErrorKind::Transient);
  CHECK(mdb::classifyError(1142, "42000") == ErrorKind::Node); // grants differ on this node
  CHECK(mdb::classifyError(1021, "HY000") == ErrorKind::Node);
  CHECK(mdb::classifyError(9999, "HY000") == ErrorKind::Node); // unknown: never the request's outcome
  CHECK(mdb::resultCodeForError(9998, "22003") == code::DataException);
}

TEST_CASE("every session setting the MariaDB adapter pins may be read by a write", "[mariadb]") {
  // kSessionSettings is one SET SESSION name = value, ...; a value may be quoted and hold commas.
  std::string_view s = mdb::kSessionSettings;
  REQUIRE(s.rfind("SET SESSION ", 0) == 0);
  s.remove_prefix(12);
  int names = 0;
  while (!s.empty()) {
    const auto eq = s.find(" = ");
    REQUIRE(eq != std::string_view::npos);
    const std::string name(s.substr(0, eq));
    CHECK(kluster::sql::mariadb::pinnedVariable(name));
    ++names;
    s.remove_prefix(eq + 3);
    const auto end = s.front() == '\'' ? s.find("', ", 1) + 1 : s.find(", ");
    s.remove_prefix(end == std::string_view::npos || end > s.size() ? s.size() : end + 2);
  }
  CHECK(names > 30);
  CHECK_FALSE(kluster::sql::mariadb::pinnedVariable("hostname"));
  CHECK(kluster::sql::mariadb::pinnedVariable("session.SQL_MODE"));
}

using namespace kluster::db::mariadb;

TEST_CASE("MariaDB URLs parse into their parts", "[mariadb]") {
  auto u = Url::parse("mariadb://kluster@127.0.0.1:3307/kdb");
  CHECK(u.user == "kluster");
  CHECK(u.password.empty());
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == 3307);
  CHECK(u.database == "kdb");
  auto p = Url::parse("mariadb://me:p%40ss%3Aw@db.example/");
  CHECK(p.user == "me");
  CHECK(p.password == "p@ss:w");
  CHECK(p.host == "db.example");
  CHECK(p.port == 3306);
  CHECK(p.database.empty());
  CHECK_THROWS_AS(Url::parse("postgresql://x@h/db"), std::invalid_argument);
  CHECK_THROWS_AS(Url::parse("mariadb://x@h:99999/db"), std::invalid_argument);
  CHECK_THROWS_AS(Url::parse("mariadb://x@:3306/db"), std::invalid_argument);
}

TEST_CASE("$n placeholders are found outside strings, identifiers and comments", "[mariadb]") {
  auto at = [](std::string_view sql) {
    std::vector<unsigned> ns;
    for (const auto& p : findPlaceholders(sql)) ns.push_back(p.n);
    return ns;
  };
  CHECK(at("SELECT $1, $2 + $10") == std::vector<unsigned>{1, 2, 10});
  CHECK(at("SELECT '$1', \"$2\", `$3`, a$4, $5x") == std::vector<unsigned>{});
  CHECK(at("SELECT 'it''s $1', 'a\\'$2', $3") == std::vector<unsigned>{3});
  CHECK(at("SELECT 1 -- $1\n, $2 # $3\n, /* $4 */ $5") == std::vector<unsigned>{2, 5});
  CHECK(at("SELECT 1 /*! + $1 */") == std::vector<unsigned>{1}); // executable comments run
  CHECK(at("SELECT 5--$1") == std::vector<unsigned>{1});         // '--' without a space is minus minus
}

namespace {

mdb::DumpedPosition positionIn(const std::string& dump, const std::string& cluster) {
  std::istringstream in(dump);
  return mdb::findDumpedPosition(
      [&]() -> std::optional<std::string> {
        std::string line;
        if (!std::getline(in, line)) return std::nullopt;
        return line;
      },
      cluster);
}

} // namespace

TEST_CASE("the ALL position is read from the _kluster_position rows of a mariadb-dump file", "[mariadb]") {
  const std::string dump =
      "CREATE TABLE `_kluster_position` (\n"
      "  `cluster` varchar(255) NOT NULL\n"
      ") ENGINE=InnoDB;\n"
      "INSERT INTO `other` (`cluster`, `all_offset`) VALUES ('c1',99);\n"
      "INSERT INTO `_kluster_position` (`cluster`, `all_offset`, `message_id`, `updated_at`) VALUES "
      "('c0',7,'x','2024-01-01 00:00:00.000000'),\n"
      "('c1',41,'node1.a\\'b,c)\\\\','2024-01-01 00:00:00.000000'),\n"
      "('c2',NULL,'it''s;','2024-01-01');\n"
      "UNLOCK TABLES;\n";
  auto p = positionIn(dump, "c1");
  CHECK(p.tableSeen);
  CHECK(p.offset == 41);
  CHECK(p.messageId == "node1.a'b,c)\\"); // the dump's \\ is one backslash
  CHECK(positionIn(dump, "c0").offset == 7);
  CHECK(positionIn(dump, "c2").messageId == "it's;");
  // No row for the cluster (a node that applied nothing yet), and no table at all.
  auto none = positionIn(dump, "c9");
  CHECK(none.tableSeen);
  CHECK(none.offset == -1);
  CHECK_FALSE(positionIn("CREATE TABLE `t` (\n);\n", "c1").tableSeen);
  // A statement cut short is an error, not a position.
  CHECK_THROWS(positionIn("INSERT INTO `_kluster_position` (`cluster`, `all_offset`, `message_id`) VALUES "
                          "('c1',41,'x'),\n",
                          "c1"));
}

TEST_CASE("MariaDB server versions compare by their numbers", "[mariadb]") {
  CHECK(mdb::parseServerVersion("10.11.19-MariaDB-0+deb12u1") == std::array<int, 3>{10, 11, 19});
  CHECK(mdb::parseServerVersion("11.4.2") == std::array<int, 3>{11, 4, 2});
  CHECK(mdb::parseServerVersion("") == std::array<int, 3>{0, 0, 0});
}

TEST_CASE("verify's MariaDB SQL quotes identifiers and literals, and compares text keys byte-wise", "[mariadb]") {
  const mdb::MariaDbVerifyQueries q;
  db::TableInfo t;
  t.name = "we`ird";
  t.key = {{"na`me", "varchar(20)", true}};
  t.columns = {{"na`me", "varchar(20)", true}, {"n", "int(11)", false}};
  const auto sql = q.rows(t, {{"a'b\\c"}, {}}, 10);
  CHECK_THAT(sql, Catch::Contains("FROM `we``ird` r"));
  CHECK_THAT(sql,
             Catch::Contains("CAST(CONVERT(r.`na``me` USING utf8mb4) AS BINARY)) >= (CAST('a''b\\\\c' AS BINARY))"));
  CHECK_THAT(sql, Catch::Contains("ORDER BY CAST(CONVERT(r.`na``me` USING utf8mb4) AS BINARY) LIMIT 10"));
  CHECK_THAT(q.checksums({t}), Catch::Contains("'we`ird' AS `name`") && Catch::Contains("HEX(CONCAT(r.`n`))"));
}
