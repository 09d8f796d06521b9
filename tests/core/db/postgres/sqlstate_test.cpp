#include "core/db/postgres/postgres.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using db::ErrorKind;

TEST_CASE("SQLSTATEs split into request outcomes, transient errors and node errors") {
  // Every node hits these identically: they are the request's outcome.
  CHECK(db::classifySqlState("42601") == ErrorKind::Request);
  CHECK(db::classifySqlState("23505") == ErrorKind::Request);
  CHECK(db::classifySqlState("22012") == ErrorKind::Request);
  CHECK(db::classifySqlState("42P01") == ErrorKind::Request);
  CHECK(db::classifySqlState("25006") == ErrorKind::Request);
  // Worth retrying as they are.
  CHECK(db::classifySqlState("40001") == ErrorKind::Transient);
  CHECK(db::classifySqlState("40P01") == ErrorKind::Transient);
  CHECK(db::classifySqlState("08006") == ErrorKind::Transient);
  CHECK(db::classifySqlState("53300") == ErrorKind::Transient);
  // This node's own trouble: never answered as the request's outcome.
  CHECK(db::classifySqlState("53100") == ErrorKind::Node);
  CHECK(db::classifySqlState("42501") == ErrorKind::Node);
  CHECK(db::classifySqlState("57P01") == ErrorKind::Node);
  CHECK(db::classifySqlState("58030") == ErrorKind::Node);
  CHECK(db::classifySqlState("XX000") == ErrorKind::Node);
  CHECK(db::classifySqlState("ZZ999") == ErrorKind::Node);
}

TEST_CASE("result codes name the error family") {
  CHECK(db::resultCodeForSqlState("42601") == code::SyntaxError);
  CHECK(db::resultCodeForSqlState("42P01") == code::UndefinedObject);
  CHECK(db::resultCodeForSqlState("23505") == code::ConstraintViolation);
  CHECK(db::resultCodeForSqlState("22P02") == code::DataException);
  CHECK(db::resultCodeForSqlState("25006") == code::ReadOnly);
  CHECK(db::resultCodeForSqlState("42P07") == code::SqlError);
}

TEST_CASE("the configured database type picks the adapter, which gives the node's own refusals their SQLSTATE") {
  const db::Adapter& pg = db::adapter("postgresql");
  CHECK(pg.type() == "postgresql");
  CHECK(db::databaseTypes() == std::vector<std::string>{"postgresql", "mariadb"});
  CHECK_THROWS_WITH(db::adapter("oracle"),
                    Catch::Contains("'oracle' is not supported") && Catch::Contains("postgresql"));
  // What the wire carried before the seam: the analysis's syntax errors and unsupported statements, and the
  // apply loop's own duplicate detection, with PostgreSQL's codes.
  CHECK(pg.sqlStateFor(code::SyntaxError) == "42601");
  CHECK(pg.sqlStateFor(code::FeatureNotSupported) == "0A000");
  CHECK(pg.sqlStateFor(code::Duplicate) == "23505");
  CHECK(pg.sqlStateFor(code::Forbidden).empty());
  CHECK_THROWS_WITH(pg.connect("mysql://x@localhost/db"), Catch::Contains("unsupported database URL 'mysql'"));
  CHECK(db::volatilityOf('v') == db::Volatility::Volatile);
  CHECK(db::volatilityOf('s') == db::Volatility::Stable);
  CHECK(db::volatilityOf('i') == db::Volatility::Immutable);
  CHECK(db::volatilityOf('\0') == db::Volatility::None);
}
