// A transaction's staged parts (node/staged.cpp) without a server: a part is checked like any write and stored
// instead of applied; its commit reads the parts back and runs them where they came among its statements.
#include "core/node/batch.hpp"
#include "support/fake_connection.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace kluster;

namespace {

const char* const kTx = R"("time":1700000000000,"seed":0.5,"uuidKey":"tx/1")";

std::string part(int n, const std::string& sql, const std::string& params, const std::string& client = "c") {
  return fmt::format(
      R"({{"messageId":"p{}","clientId":"{}","sqlString":{},"transaction":{{{},"params":[{}],"stage":{}}}}})", n,
      client, ojson(sql).dump(), kTx, params, n);
}

std::string commit(const std::string& statements, const std::string& expect, const std::string& staged) {
  return fmt::format(
      R"({{"messageId":"c","clientId":"c","statements":{},"transaction":{{{},"expect":{},"staged":{}}}}})", statements,
      kTx, expect, staged);
}

} // namespace

TEST_CASE("a staged part is checked as a write and stored, not applied", "[staged]") {
  const auto& pg = db::adapter("postgresql");
  node::Preparer prep{pg, 1 << 20};
  auto p = prep.forAll(part(0, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)", R"([1, "x", 2, null])"), 7, 5000);
  REQUIRE_FALSE(p.refusal);
  CHECK(p.stages);
  REQUIRE(p.work.statements.size() == 1);
  const auto& store = p.work.statements.front();
  CHECK(store.sql.find("INSERT INTO _kluster.staged") != std::string::npos);
  REQUIRE(store.params.size() == 5);
  CHECK(store.params[0] == "tx/1"); // the transaction
  CHECK(store.params[1] == "0");    // the part
  CHECK(store.params[2] == "c");    // its client
  CHECK(store.params[3] == "5000"); // the Kafka timestamp, for expiry
  const auto body = nlohmann::json::parse(*store.params[4]);
  CHECK(body["statements"][0]["sql"] == "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
  CHECK(body["statements"][0]["params"] == nlohmann::json::parse(R"(["1", "x", "2", null])"));

  // Refused as it would be applied: non-determinism, and anything but DML.
  auto clock = prep.forAll(part(1, "INSERT INTO t VALUES (current_user)", ""), 8, 5000);
  REQUIRE(clock.refusal);
  CHECK(clock.refusal->resultCode == code::Nondeterministic);
  auto ddl = prep.forAll(part(2, "CREATE TABLE u (a int)", ""), 9, 5000);
  REQUIRE(ddl.refusal);
  CHECK(ddl.refusal->resultCode == code::BadRequest);
  // On ONE a part means nothing.
  auto one = prep.forOne(part(3, "INSERT INTO t VALUES (1)", ""));
  REQUIRE(one.refusal);
  CHECK(one.refusal->resultCode == code::BadRequest);
}

TEST_CASE("a commit runs its staged parts where they came, compared with nothing, after forgetting them", "[staged]") {
  const auto& pg = db::adapter("postgresql");
  node::Preparer prep{pg, 1 << 20};
  test::FakeConnection db;
  node::FunctionCheck check{pg, &db};
  auto staged = prep.forAll(part(0, "INSERT INTO t VALUES ($1)", "[5]"), 7, 5000);
  REQUIRE(staged.stages);
  db.staged.push_back({0, "c", *staged.work.statements.front().params[4]});
  db.staged.push_back({1, "c", R"j({"statements":[{"sql":"INSERT INTO t VALUES (6)","params":[]}],"random":true})j"});

  // [0, 1]: part 0 before statement 1; [1, 2]: part 1 after the last.
  auto p = prep.forAll(
      commit(R"(["UPDATE t SET a = 1", "SELECT count(*) FROM t"])", R"(["d1", "d2"])", "[[0, 1], [1, 2]]"), 10, 6000);
  REQUIRE_FALSE(p.refusal);
  check.apply(p);
  REQUIRE_FALSE(p.refusal);
  std::vector<std::string> sql;
  for (const auto& st : p.work.statements) sql.push_back(st.sql);
  REQUIRE(sql.size() == 5);
  CHECK(sql[0] == "DELETE FROM _kluster.staged WHERE transaction = $1");
  CHECK(sql[1] == "UPDATE t SET a = 1");
  CHECK(sql[2] == "INSERT INTO t VALUES ($1)");
  CHECK(p.work.statements[2].params == std::vector<std::optional<std::string>>{"5"});
  CHECK(sql[3] == "SELECT count(*) FROM t");
  CHECK(sql[4] == "INSERT INTO t VALUES (6)");
  CHECK(p.work.expect == std::vector<std::string>{"", "d1", "", "d2", ""});
  REQUIRE(p.work.randomSeed); // part 1 draws random(): seeded with the transaction's seed
  CHECK(*p.work.randomSeed == 0.5);
  check.apply(p); // a batch tried again: spliced once
  CHECK(p.work.statements.size() == 5);

  // db::firstMismatch skips what is not compared.
  CHECK_FALSE(db::firstMismatch(p.work, {"x", "d1", "y", "d2", "z"}));
  CHECK(db::firstMismatch(p.work, {"x", "d1", "y", "other", "z"}) == std::size_t{3});
}

TEST_CASE("a commit whose part is missing or another client's is refused, alike on every node", "[staged]") {
  const auto& pg = db::adapter("postgresql");
  node::Preparer prep{pg, 1 << 20};
  test::FakeConnection db;
  node::FunctionCheck check{pg, &db};
  auto missing = prep.forAll(commit(R"(["UPDATE t SET a = 1"])", R"(["d1"])", "[[0, 0]]"), 10, 6000);
  check.apply(missing);
  REQUIRE(missing.refusal);
  CHECK(missing.refusal->resultCode == code::SerializationFailure);

  db.staged.push_back({0, "mallory", R"({"statements":[]})"});
  auto foreign = prep.forAll(commit(R"(["UPDATE t SET a = 1"])", R"(["d1"])", "[[0, 0]]"), 11, 6000);
  check.apply(foreign);
  REQUIRE(foreign.refusal);
  CHECK(foreign.refusal->resultCode == code::Forbidden);

  db.staged = {{0, "c", "{not json"}}; // changed by hand: refused, the apply loop goes on
  auto unreadable = prep.forAll(commit(R"(["UPDATE t SET a = 1"])", R"(["d1"])", "[[0, 0]]"), 12, 6000);
  check.apply(unreadable);
  REQUIRE(unreadable.refusal);
  CHECK(unreadable.refusal->resultCode == code::BadRequest);

  // A commit of nothing but staged rows (BEGIN; COPY ...; COMMIT) is a request.
  db.staged = {{0, "c", R"j({"statements":[{"sql":"INSERT INTO t VALUES (1)","params":[]}]})j"}};
  auto only = prep.forAll(commit("[]", "[]", "[[0, 0]]"), 12, 6000);
  INFO((only.refusal ? only.refusal->errorMessage : ""));
  REQUIRE_FALSE(only.refusal);
  check.apply(only);
  REQUIRE_FALSE(only.refusal);
  CHECK(only.work.statements.size() == 2);
  // A commit that creates a function runs no staged write beside it (it would run unjudged).
  auto fn = prep.forAll(commit(R"(["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'"])", "[]", "[[0, 1]]"),
                        13, 6000);
  REQUIRE(fn.refusal);
  CHECK(fn.refusal->resultCode == code::Nondeterministic);
}
