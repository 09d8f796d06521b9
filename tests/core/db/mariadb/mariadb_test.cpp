// Unit tests of the MariaDB adapter (no server): its error numbers in Kluster's classes (errors.cpp, docs/mariadb.md),
// mariadb:// URLs and where $n placeholders are. The rest runs against a server: tests/integration/mariadb_*.
#include "core/db/mariadb/client.hpp"
#include "core/db/mariadb/mariadb.hpp"
#include "core/sql/mariadb/analyzer.hpp"

#include <catch2/catch.hpp>

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
