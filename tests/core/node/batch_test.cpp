// One attempt at an ALL batch (node/batch.hpp) against a fake database (tests/support/fake_connection.hpp): the
// apply loop's answers, exactly-once bookkeeping, duplicates and errors of each kind, without a server or Kafka.
#include "core/node/batch.hpp"
#include "support/fake_connection.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <deque>

using namespace kluster;

namespace {

struct Fixture {
  test::FakeConnection db;
  node::Preparer prep{db::adapter("postgresql"), 1 << 20};
  node::FunctionCheck check{db::adapter("postgresql"), &db};
  node::BatchContext context{&db::adapter("postgresql"), "c1", "node1"};
  std::deque<node::Prepared> prepared; // stable addresses for the batch's pointers
  std::vector<node::BatchRequest> batch;

  /// Adds the request `id` running `sql` at ALL offset `offset`; returns the SQL the database will run.
  std::string add(std::int64_t offset, const std::string& id, const std::string& sql) {
    prepared.push_back(prep.forAll(
        fmt::format(R"({{"messageId":"{}","clientId":"c","sqlString":{}}})", id, ojson(sql).dump()), offset, 1000));
    REQUIRE_FALSE(prepared.back().refusal);
    batch.push_back({offset, &prepared.back(), 0});
    return prepared.back().work.statements.at(0).sql;
  }
  bool run(bool careful, node::BatchAnswers& answers) {
    return node::runBatch(context, db, check, batch, careful, answers, 0);
  }
};

} // namespace

TEST_CASE("a batch answers each request in order and commits their ids with the position of its last one") {
  Fixture f;
  f.add(10, "m10", "INSERT INTO t VALUES (10)");
  f.add(11, "m11", "INSERT INTO t VALUES (11)");
  f.add(12, "m12", "UPDATE t SET v = 1");
  node::BatchAnswers answers;
  REQUIRE(f.run(false, answers));
  CHECK(f.db.begins == 1);
  CHECK(f.db.commits == 1);
  CHECK(f.db.ran.size() == 3);
  REQUIRE(answers.responses.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(answers.responses[i].resultCode == code::Ok);
    CHECK(answers.responses[i].allOffset == static_cast<std::int64_t>(10 + i));
    CHECK(answers.responses[i].nodeId == "node1");
  }
  CHECK(answers.responses[0].requestId == "m10");
  CHECK(f.db.position.offset == 12);
  CHECK(f.db.position.messageId == "m12");
  REQUIRE(f.db.applied.size() == 3);
  CHECK(f.db.applied.at("m11").offset == 11);
  CHECK(f.db.applied.at("m11").resultHash == answers.responses[1].resultHash);
}

TEST_CASE("a request's own error is its answer, recorded as applied; the others in the batch apply") {
  Fixture f;
  f.add(1, "a", "INSERT INTO t VALUES (1)");
  const auto bad = f.add(2, "b", "INSERT INTO t VALUES (2)");
  f.add(3, "c", "INSERT INTO t VALUES (3)");
  f.db.scripts[bad].outcome =
      db::Outcome::error(code::ConstraintViolation, "duplicate key value violates unique constraint", "23505");
  node::BatchAnswers answers;
  REQUIRE(f.run(false, answers));
  REQUIRE(answers.responses.size() == 3);
  CHECK(answers.responses[0].resultCode == code::Ok);
  CHECK(answers.responses[1].resultCode == code::ConstraintViolation);
  CHECK(answers.responses[1].sqlState == "23505");
  CHECK(answers.responses[2].resultCode == code::Ok);
  // Exactly once: a client retrying "b" gets DUPLICATE, not a second try.
  CHECK(f.db.applied.at("b").resultCode == std::string(code::ConstraintViolation));
  CHECK(f.db.position.offset == 3);
}

TEST_CASE("the same request twice in one batch runs once; the second is answered DUPLICATE") {
  Fixture f;
  const auto sql = f.add(7, "same", "INSERT INTO t VALUES (7)");
  f.add(8, "same", "INSERT INTO t VALUES (7)");
  node::BatchAnswers answers;
  REQUIRE(f.run(false, answers));
  CHECK(std::count(f.db.ran.begin(), f.db.ran.end(), sql) == 1);
  REQUIRE(answers.responses.size() == 2);
  CHECK(answers.responses[0].resultCode == code::Ok);
  CHECK(answers.responses[1].resultCode == code::Duplicate);
  CHECK_THAT(answers.responses[1].errorMessage, Catch::Contains("in this batch"));
  CHECK(f.db.applied.at("same").offset == 7);
  CHECK(f.db.position.offset == 8); // the duplicate still moves the position
}

TEST_CASE("a request an earlier batch applied: the commit refuses it, and the careful attempt answers DUPLICATE") {
  Fixture f;
  f.db.applied["old"] = {4, std::string(code::Ok), "h", 1};
  f.add(20, "new", "INSERT INTO t VALUES (20)");
  f.add(21, "old", "INSERT INTO t VALUES (4)");
  node::BatchAnswers answers;
  CHECK_FALSE(f.run(false, answers)); // optimistic: nothing looked up, the commit finds the id recorded
  CHECK(f.db.commits == 0);
  f.db.rollback();
  REQUIRE(f.run(true, answers));
  CHECK(f.db.commits == 1);
  REQUIRE(answers.responses.size() == 2);
  CHECK(answers.responses[0].resultCode == code::Ok);
  CHECK(answers.responses[1].resultCode == code::Duplicate);
  CHECK(answers.responses[1].allOffset == 4); // where it was applied
  CHECK(answers.responses[1].rowsAffected == 1);
  CHECK(f.db.applied.at("old").offset == 4); // not recorded again
  CHECK(f.db.position.offset == 21);
}

TEST_CASE("transient and node errors throw for the caller's retry and commit nothing; the retry applies the batch") {
  Fixture f;
  const auto sql = f.add(30, "x", "INSERT INTO t VALUES (30)");
  for (auto kind : {db::ErrorKind::Transient, db::ErrorKind::Node}) {
    f.db.scripts[sql].throws = kind;
    f.db.scripts[sql].times = 1;
    node::BatchAnswers answers;
    try {
      f.run(false, answers);
      FAIL("no DbError");
    } catch (const db::DbError& e) {
      CHECK(e.kind() == kind);
      CHECK(e.code() == code::NodeError);
    }
    CHECK(f.db.commits == 0);
    CHECK(f.db.applied.empty());
  }
  node::BatchAnswers answers;
  REQUIRE(f.run(false, answers)); // the scripted failures are spent
  CHECK(answers.responses.at(0).resultCode == code::Ok);
  CHECK(f.db.applied.count("x") == 1);
}

TEST_CASE("a request refused before it runs is answered with its refusal and never reaches the database") {
  Fixture f;
  f.db.volatility["clock_timestamp"] = {db::Volatility::Volatile, db::Volatility::None};
  const auto sql = f.add(40, "r", "INSERT INTO t VALUES (clock_timestamp())");
  node::BatchAnswers answers;
  REQUIRE(f.run(false, answers));
  CHECK(f.db.ran.empty());
  REQUIRE(answers.responses.size() == 1);
  CHECK(answers.responses[0].resultCode == code::Nondeterministic);
  CHECK(f.db.applied.at("r").resultCode == std::string(code::Nondeterministic));
}
