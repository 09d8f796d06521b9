// The MariaDB client wrapper (src/core/db/mariadb/client.*) against a real MariaDB server that the services
// fixture started (scripts/services.sh up --mariadb 1). Fails, never skips, when the server is missing.
#include "core/db/mariadb/client.hpp"
#include "support/cluster.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <random>

using namespace kluster;
using namespace kluster::db::mariadb;

namespace {

std::string serverUrl() {
  const auto& urls = test::Services::get().mariadbUrls;
  if (urls.empty()) FAIL("no MariaDB server in the services env (scripts/services.sh up --mariadb 1)");
  return urls.front();
}

// A fresh database for one test case, dropped at the end.
struct Scratch {
  std::string name;
  std::string url;
  explicit Scratch() {
    std::random_device rd;
    name = fmt::format("t_{:08x}", rd());
    Client admin(Url::parse(serverUrl()));
    admin.exec("CREATE DATABASE " + name);
    auto base = serverUrl();
    url = base.substr(0, base.rfind('/') + 1) + name;
  }
  ~Scratch() {
    try {
      Client admin(Url::parse(serverUrl()));
      admin.exec("DROP DATABASE IF EXISTS " + name);
    } catch (...) {
    }
  }
};

} // namespace

TEST_CASE("the client runs statements and reads typed results with NULLs", "[mariadb]") {
  Scratch db;
  Client c(Url::parse(db.url));
  CHECK(c.serverVersion().find("MariaDB") != std::string::npos);
  c.exec("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), amount DECIMAL(10,2), big BIGINT UNSIGNED, "
         "at DATETIME(3), raw VARBINARY(8)) ENGINE=InnoDB");
  auto r = c.query("INSERT INTO t VALUES (1, 'one', 1.50, 18446744073709551615, '2026-01-02 03:04:05.678', x'00ff'),"
                   " (2, NULL, NULL, NULL, NULL, NULL)");
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].hasRows);
  CHECK(r[0].affectedRows == 2);

  auto rows = c.query("SELECT id, name, amount, big, at, raw FROM t ORDER BY id");
  REQUIRE(rows.size() == 1);
  const auto& res = rows[0];
  REQUIRE(res.hasRows);
  REQUIRE(res.columns.size() == 6);
  CHECK(res.columns[0].name == "id");
  CHECK(res.columns[0].typeName() == "int");
  CHECK(res.columns[1].typeName() == "varchar");
  CHECK(res.columns[2].typeName() == "decimal");
  CHECK(res.columns[3].typeName() == "bigint unsigned");
  CHECK(res.columns[4].typeName() == "datetime");
  CHECK(res.columns[5].typeName() == "varbinary");
  REQUIRE(res.rows.size() == 2);
  CHECK(res.rows[0][1] == "one");
  CHECK(res.rows[0][2] == "1.50");
  CHECK(res.rows[0][3] == "18446744073709551615");
  CHECK(res.rows[0][4] == "2026-01-02 03:04:05.678");
  CHECK(res.rows[0][5] == std::string("\x00\xff", 2));
  for (std::size_t col = 1; col < 6; ++col) CHECK_FALSE(res.rows[1][col].has_value());

  // UPDATE counts the rows it matched, as PostgreSQL does (CLIENT_FOUND_ROWS), not only those it changed.
  auto upd = c.query("UPDATE t SET name = 'one' WHERE id IN (1, 2)");
  CHECK(upd[0].affectedRows == 2);
}

TEST_CASE("several statements run in one round trip; the first error stops them", "[mariadb]") {
  Scratch db;
  Client c(Url::parse(db.url));
  auto results = c.query("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2); SELECT count(*) AS n "
                         "FROM t");
  REQUIRE(results.size() == 3);
  CHECK(results[1].affectedRows == 2);
  CHECK(results[2].columns[0].name == "n");
  CHECK(results[2].rows[0][0] == "2");

  auto partial = c.run("INSERT INTO t VALUES (3); INSERT INTO t VALUES (1); INSERT INTO t VALUES (4)");
  CHECK(partial.results.size() == 1);
  REQUIRE(partial.error);
  CHECK(partial.error->number() == 1062); // ER_DUP_ENTRY
  CHECK(partial.error->sqlState() == "23000");
  CHECK(std::string(partial.error->what()).find("Duplicate entry") != std::string::npos);
  CHECK(c.scalar("SELECT group_concat(id ORDER BY id) FROM t") == "1,2,3"); // 4 never ran
  CHECK(c.alive());

  try {
    c.exec("SELEC 1");
    FAIL("a syntax error did not throw");
  } catch (const Error& e) {
    CHECK(e.number() == 1064);
    CHECK(e.sqlState() == "42000");
    CHECK_FALSE(e.clientSide());
  }
  try {
    c.exec("SELECT * FROM missing_table");
    FAIL("a missing table did not throw");
  } catch (const Error& e) {
    CHECK(e.number() == 1146);
    CHECK(e.sqlState() == "42S02");
  }
}

TEST_CASE("$n parameters are bound as escaped literals on the client", "[mariadb]") {
  Scratch db;
  Client c(Url::parse(db.url));
  c.exec("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)");
  const std::string nasty = "it's a \\ \"quote\"; DROP TABLE t; -- \n\x01 é 🙂";
  c.exec(c.bind("INSERT INTO t VALUES ($1, $2), ($3, $4)", {"1", nasty, "2", std::nullopt}));
  CHECK(c.scalar(c.bind("SELECT v FROM t WHERE id = $1", {"1"})) == nasty);
  CHECK(c.scalar("SELECT v IS NULL FROM t WHERE id = 2") == "1");
  // A parameter used twice, and text in quotes that looks like one.
  CHECK(c.scalar(c.bind("SELECT concat($1, '$1', $1)", {"x"})) == "x$1x");
  CHECK_THROWS_AS(c.bind("SELECT $2", {"only one"}), std::invalid_argument);
  CHECK_THROWS_AS(c.bind("SELECT $0", {"x"}), std::invalid_argument);
}

TEST_CASE("transactions commit and roll back", "[mariadb]") {
  Scratch db;
  Client c(Url::parse(db.url));
  Client other(Url::parse(db.url));
  c.exec("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB");
  c.exec("START TRANSACTION; INSERT INTO t VALUES (1)");
  CHECK(other.scalar("SELECT count(*) FROM t") == "0"); // not yet visible
  c.exec("ROLLBACK");
  c.exec("START TRANSACTION; INSERT INTO t VALUES (2); COMMIT");
  CHECK(other.scalar("SELECT group_concat(id) FROM t") == "2");
  // A read-only transaction refuses writes with ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION.
  c.exec("START TRANSACTION READ ONLY");
  try {
    c.exec("INSERT INTO t VALUES (3)");
    FAIL("a write in a read-only transaction did not throw");
  } catch (const Error& e) {
    CHECK(e.number() == 1792);
    CHECK(e.sqlState() == "25006");
  }
  c.exec("ROLLBACK");
}

TEST_CASE("a connection that fails or is lost reports a client-side error", "[mariadb]") {
  auto url = Url::parse(serverUrl());
  url.user = "no_such_user";
  try {
    Client c(url);
    FAIL("connecting as an unknown user succeeded");
  } catch (const Error& e) {
    CHECK((e.number() == 1045 || e.number() == 1698)); // access denied (1698: without a password)
  }
  auto dead = Url::parse(serverUrl());
  dead.port = 1; // nothing listens there
  try {
    Client c(dead, 2);
    FAIL("connecting to a closed port succeeded");
  } catch (const Error& e) {
    CHECK(e.clientSide());
  }
  Client victim(Url::parse(serverUrl()));
  Client killer(Url::parse(serverUrl()));
  killer.exec("KILL CONNECTION " + victim.scalar("SELECT connection_id()").value());
  try {
    victim.exec("SELECT 1");
    FAIL("a killed connection still answered");
  } catch (const Error& e) {
    CHECK(e.clientSide());
  }
  CHECK_FALSE(victim.alive());
}
