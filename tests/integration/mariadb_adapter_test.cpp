// The MariaDB adapter (db::Connection for mariadb:// URLs) driven as the node drives it, against the services
// fixture's MariaDB server: bookkeeping, exactly-once batches, request errors inside a batch, determinism pins,
// read-only ONE, checksums. Fails, never skips, when the server is missing.
#include "core/db/mariadb/client.hpp"
#include "core/db/mariadb/mariadb.hpp"
#include "core/db/operations.hpp"
#include "support/cluster.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <random>

using namespace kluster;
using kluster::db::AppliedEntry;
using kluster::db::Outcome;
using kluster::db::Position;
using kluster::db::Statement;
using kluster::db::Work;
namespace mdb = kluster::db::mariadb;

namespace {

std::string serverUrl() {
  const auto& urls = test::Services::get().mariadbUrls;
  if (urls.empty()) FAIL("no MariaDB server in the services env (scripts/services.sh up --mariadb 1)");
  return urls.front();
}

// A fresh database (one node's) on the server, dropped at the end.
struct Database {
  std::string name, url;
  Database() {
    std::random_device rd;
    name = fmt::format("a_{:08x}", rd());
    mdb::Client admin(mdb::Url::parse(serverUrl()));
    admin.exec("CREATE DATABASE " + name);
    const auto base = serverUrl();
    url = base.substr(0, base.rfind('/') + 1) + name;
  }
  ~Database() {
    try {
      mdb::Client admin(mdb::Url::parse(serverUrl()));
      admin.exec("DROP DATABASE IF EXISTS " + name);
    } catch (...) {
    }
  }
  std::unique_ptr<db::Connection> connect() const {
    auto c = db::connect("mariadb", url);
    c->ensureSchema();
    return c;
  }
  std::optional<std::string> scalar(const std::string& sql) const {
    mdb::Client c(mdb::Url::parse(url));
    return c.scalar(sql);
  }
};

Work work(std::vector<std::string> sqls, std::vector<std::optional<std::string>> params = {}) {
  Work w;
  for (auto& s : sqls) w.statements.push_back(Statement{std::move(s), params, true, {}});
  return w;
}

AppliedEntry entry(const std::string& id, std::int64_t offset, const Outcome& o) {
  return {id, offset, o.resultCode, "h", o.rowsAffected};
}

} // namespace

TEST_CASE("db::connect opens the MariaDB adapter for mariadb:// URLs", "[mariadb]") {
  Database d;
  auto c = d.connect();
  c->ensureSchema(); // again: idempotent
  const auto info = c->serverInfo();
  CHECK(info.product == "MariaDB");
  CHECK(info.majorVersion == 10);
  CHECK(info.version.rfind("10.11", 0) == 0);
  CHECK(c->loadPosition("c1").offset == -1);
  CHECK_FALSE(c->loadFingerprint("c1"));
  CHECK_FALSE(c->loadSecurity("c1"));
  CHECK(c->processClaim("c1").empty());
  c->claimProcess("c1", "process-a");
  c->claimProcess("c1", "process-b");
  CHECK(d.connect()->processClaim("c1") == "process-b"); // committed at once, seen by another connection
  CHECK_THROWS_AS(db::connect("mariadb", "mariadb://kluster@127.0.0.1:notaport/x"), UsageError);
  CHECK_THROWS_AS(db::connect("mariadb", "postgresql://kluster@127.0.0.1/x"), UsageError);
  CHECK(db::adapter("mariadb").type() == "mariadb");
  CHECK(db::adapter("mariadb").sqlStateFor(code::Duplicate) == "23000");
  try {
    db::connect("mariadb", "mariadb://kluster@127.0.0.1:1/x");
    FAIL("connecting to a closed port succeeded");
  } catch (const db::DbError& e) {
    CHECK(e.kind() == db::ErrorKind::Transient);
  }
}

TEST_CASE("a batch commits with its position and applied ids; a duplicate id commits nothing", "[mariadb]") {
  Database d;
  auto c = d.connect();
  c->begin();
  auto ddl = work({"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))"});
  auto out = c->execute({&ddl});
  REQUIRE(out[0].ok());
  REQUIRE(c->commit("c1", {entry("m0", 0, out[0])}, {0, "m0"}));

  auto w1 = work({"INSERT INTO t VALUES ($1, $2)"}, {"1", "one"});
  auto w2 = work({"INSERT INTO t VALUES (2, 'two'), (3, 'three')"});
  auto w3 = work({"UPDATE t SET v = upper(v) WHERE id >= $1"}, {"2"});
  c->begin();
  out = c->execute({&w1, &w2, &w3});
  REQUIRE(out.size() == 3);
  CHECK(out[0].rowsAffected == 1);
  CHECK(out[1].rowsAffected == 2);
  CHECK(out[2].rowsAffected == 2);
  CHECK(out[2].result == ojson{{"rowsAffected", 2}});
  REQUIRE(c->commit("c1", {entry("m1", 1, out[0]), entry("m2", 2, out[1]), entry("m3", 3, out[2])}, {3, "m3"}));
  CHECK(c->loadPosition("c1").offset == 3);
  CHECK(c->loadPosition("c1").messageId == "m3");
  CHECK(d.scalar("SELECT group_concat(v ORDER BY id) FROM t") == "one,TWO,THREE");
  auto applied = c->findApplied({"m1", "m3", "nope", "M1"});
  REQUIRE(applied.size() == 2); // ids are case-sensitive
  CHECK(applied["m3"].offset == 3);
  CHECK(applied["m3"].rowsAffected == 2);

  // A batch holding an id recorded before: commit() says so and nothing of the batch stays.
  auto w4 = work({"INSERT INTO t VALUES (4, 'four')"});
  c->begin();
  out = c->execute({&w4});
  REQUIRE(out[0].ok());
  CHECK_FALSE(c->commit("c1", {entry("m4", 4, out[0]), entry("m2", 5, out[0])}, {5, "m2"}));
  c->rollback();
  CHECK(d.scalar("SELECT count(*) FROM t") == "3");
  CHECK(c->loadPosition("c1").offset == 3);
  CHECK(c->findApplied({"m4"}).empty());

  // A batch whose connection goes away before its commit leaves nothing behind.
  {
    auto lost = d.connect();
    lost->begin();
    auto w5 = work({"INSERT INTO t VALUES (5, 'five')"});
    REQUIRE(lost->execute({&w5})[0].ok());
  }
  CHECK(d.scalar("SELECT count(*) FROM t") == "3");
}

TEST_CASE("a request's error undoes that request alone; the batch goes on", "[mariadb]") {
  Database d;
  auto c = d.connect();
  mdb::Client(mdb::Url::parse(d.url)).exec("CREATE TABLE t (id INT PRIMARY KEY, n INT NOT NULL)");
  auto ok1 = work({"INSERT INTO t VALUES (1, 1)"});
  auto bad = work({"INSERT INTO t VALUES (2, 2)", "INSERT INTO t VALUES (1, 9)"}); // second statement fails
  auto ok2 = work({"INSERT INTO t VALUES (3, 3)", "SELECT id, n FROM t ORDER BY id"});
  auto typo = work({"INSRT INTO t VALUES (4, 4)"});
  auto nulls = work({"INSERT INTO t VALUES (5, NULL)"});
  auto missing = work({"SELECT * FROM no_such_table"});
  c->begin();
  auto out = c->execute({&ok1, &bad, &ok2, &typo, &nulls, &missing});
  REQUIRE(out.size() == 6);
  CHECK(out[0].ok());
  CHECK(out[1].resultCode == code::ConstraintViolation);
  CHECK(out[1].sqlState == "23000");
  CHECK(out[1].errorMessage.find("Duplicate entry") != std::string::npos);
  REQUIRE(out[2].ok());
  CHECK(out[2].results.size() == 2);
  CHECK(out[2].result == ojson::parse(R"([{"id":1,"n":1},{"id":3,"n":3}])")); // request 2's row 2 is gone
  CHECK(out[2].columns == ojson::parse(R"([{"name":"id","type":"int"},{"name":"n","type":"int"}])"));
  CHECK(out[3].resultCode == code::SyntaxError);
  CHECK(out[4].resultCode == code::ConstraintViolation);
  CHECK(out[5].resultCode == code::UndefinedObject);
  REQUIRE(c->commit("c1", {}, {6, "m6"}));
  CHECK(d.scalar("SELECT group_concat(id ORDER BY id) FROM t") == "1,3");
}

TEST_CASE("writes are pinned: NOW() to the request's time, RAND() to the log position", "[mariadb]") {
  Database a, b;
  auto apply = [](const Database& d, std::int64_t timeMs, double seed) {
    auto c = d.connect();
    mdb::Client(mdb::Url::parse(d.url))
        .exec("CREATE TABLE IF NOT EXISTS t (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(3), r DOUBLE, r2 DOUBLE, "
              "created TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP(3))");
    Work w =
        work({"INSERT INTO t (at, r, r2) VALUES (NOW(3), RAND(), RAND()), (CURRENT_TIMESTAMP(3), RAND(), RAND())"});
    w.requestTimeMs = timeMs;
    w.randomSeed = seed;
    c->begin();
    auto out = c->execute({&w});
    REQUIRE(out[0].ok());
    REQUIRE(c->commit("c1", {}, {1, "m"}));
    return mdb::Client(mdb::Url::parse(d.url))
        .query("SELECT id, at, r, r2, created, UNIX_TIMESTAMP(created) FROM t ORDER BY id")
        .back()
        .rows;
  };
  const auto rowsA = apply(a, 1767323045678, 0.25);
  const auto rowsB = apply(b, 1767323045678, 0.25);
  CHECK(rowsA == rowsB); // two databases, the same request: the same rows, AUTO_INCREMENT included
  REQUIRE(rowsA.size() == 2);
  CHECK(rowsA[0][1] == "2026-01-02 03:04:05.678");
  CHECK(rowsA[0][4] == "2026-01-02 03:04:05.678");
  CHECK(rowsA[1][0] == "2");
  CHECK(rowsA[0][2] != rowsA[0][3]); // one stream, drawn in order
  CHECK(rowsA[0][2] != rowsA[1][2]);
  Database other;
  const auto rowsC = apply(other, 1767323045678, -0.5);
  CHECK(rowsC[0][2] != rowsA[0][2]); // another position, another stream

  // After the batch, the connection's clock is the server's again.
  auto c = a.connect();
  const auto now = c->query(work({"SELECT UNIX_TIMESTAMP() AS t"}), nullptr);
  REQUIRE(now.ok());
  CHECK(now.result[0]["t"].get<std::int64_t>() != 1767323045);
}

TEST_CASE("ONE reads run read-only, check the read floor and report typed columns", "[mariadb]") {
  Database d;
  auto c = d.connect();
  mdb::Client(mdb::Url::parse(d.url))
      .exec("CREATE TABLE t (id BIGINT PRIMARY KEY, price DECIMAL(10,2), ok BIT(1), raw VARBINARY(4), note TEXT); "
            "INSERT INTO t VALUES (1, 9.99, b'1', x'cafe', NULL)");
  auto read = c->query(work({"SELECT * FROM t WHERE id = $1"}, {"1"}), nullptr);
  REQUIRE(read.ok());
  CHECK(read.result == ojson::parse(R"([{"id":1,"price":9.99,"ok":1,"raw":"\\xcafe","note":null}])"));
  CHECK(read.columns[1]["type"] == "decimal");
  CHECK(read.columns[3]["type"] == "varbinary");

  auto write = c->query(work({"INSERT INTO t (id) VALUES (2)"}), nullptr);
  CHECK(write.resultCode == code::ReadOnly);
  CHECK(write.sqlState == "25006");
  CHECK(d.scalar("SELECT count(*) FROM t") == "1");

  db::ReadFloor floor{"c1", 10};
  CHECK(c->query(work({"SELECT 1"}), &floor).resultCode == code::NotCaughtUp);
  c->begin();
  REQUIRE(c->commit("c1", {}, {10, "m10"}));
  CHECK(c->query(work({"SELECT 1 AS one"}), &floor).ok());
  CHECK(c->query(work({"SELEC 1"}), nullptr).resultCode == code::SyntaxError);
}

TEST_CASE("catalog facts and checksums for the determinism rules and verification", "[mariadb]") {
  Database a, b;
  const char* setup = "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, code VARCHAR(10) NOT NULL, maybe INT, "
                      "UNIQUE KEY by_code (code), UNIQUE KEY by_maybe (maybe)); "
                      "CREATE TABLE u (x INT, y TEXT); "
                      "INSERT INTO t (code, maybe) VALUES ('a', NULL), ('b', 2); INSERT INTO u VALUES (1, NULL)";
  mdb::Client(mdb::Url::parse(a.url)).exec(setup);
  mdb::Client(mdb::Url::parse(b.url)).exec(setup);
  auto c = a.connect();
  CHECK(c->uniqueKeys("", "t") == std::vector<std::vector<std::string>>{{"id"}, {"code"}}); // by_maybe: nullable
  CHECK(c->uniqueKeys("", "u").empty());
  CHECK(c->drawnDefaults("", "t") == std::vector<std::string>{"id"});
  auto v = c->functionVolatility({"uuid", "concat", "sysdate"});
  CHECK(v["uuid"].builtin == db::Volatility::Volatile);
  CHECK(v["sysdate"].builtin == db::Volatility::Volatile);
  CHECK(v["concat"].builtin == db::Volatility::Immutable);

  auto cb = b.connect();
  CHECK(c->openSnapshot("c1") == -1);
  const auto sumsA = c->snapshotChecksums();
  c->closeSnapshot();
  cb->openSnapshot("c1");
  const auto sumsB = cb->snapshotChecksums();
  cb->closeSnapshot();
  REQUIRE(sumsA.size() == 2); // Kluster's own tables left out
  CHECK(sumsA[0].table == "t");
  CHECK(sumsA[0].rows == 2);
  CHECK(sumsA == sumsB);
  mdb::Client(mdb::Url::parse(b.url)).exec("UPDATE u SET y = '' WHERE x = 1"); // NULL and '' differ
  cb->openSnapshot("c1");
  const auto changed = cb->snapshotChecksums();
  cb->closeSnapshot();
  CHECK(changed[0] == sumsA[0]);
  CHECK(changed[1].checksum != sumsA[1].checksum);
  // A difference after the decimal point is one (HEX() of a number alone would round it away).
  for (const auto* url : {&a.url, &b.url})
    mdb::Client(mdb::Url::parse(*url))
        .exec("CREATE TABLE d (id INT PRIMARY KEY, price DECIMAL(10,2), f DOUBLE); "
              "INSERT INTO d VALUES (1, 1.50, 0.25)");
  mdb::Client(mdb::Url::parse(b.url)).exec("UPDATE d SET price = 1.51");
  c->openSnapshot("c1");
  cb->openSnapshot("c1");
  const auto decimalsA = c->snapshotChecksums(), decimalsB = cb->snapshotChecksums();
  c->closeSnapshot();
  cb->closeSnapshot();
  REQUIRE(decimalsA.size() == 3);
  CHECK(decimalsA[0].table == "d");
  CHECK(decimalsA[0].checksum != decimalsB[0].checksum);
}

TEST_CASE("a connection lost during a batch is a transient error; DDL gets a batch of its own", "[mariadb]") {
  Database d;
  auto c = d.connect();
  mdb::Client admin(mdb::Url::parse(d.url));
  admin.exec("CREATE TABLE t (id INT PRIMARY KEY)");
  const auto id = c->query(work({"SELECT CONNECTION_ID() AS id"}), nullptr).result.at(0).at("id").get<std::int64_t>();
  c->begin();
  admin.exec(fmt::format("KILL CONNECTION {}", id));
  auto w = work({"INSERT INTO t VALUES (1)"});
  try {
    c->execute({&w});
    FAIL("a batch on a killed connection did not throw");
  } catch (const db::DbError& e) {
    CHECK(e.kind() == db::ErrorKind::Transient);
    CHECK(e.code() == code::NodeError);
  }
  c->rollback(); // on a dead connection: no throw
  CHECK(admin.scalar("SELECT count(*) FROM t") == "0");
  // MariaDB's DDL commits implicitly: the node must not batch it after other requests.
  CHECK_FALSE(db::adapter("mariadb").transactionalDdl());
  CHECK(db::adapter("postgresql").transactionalDdl());
}

TEST_CASE("the operations: bench apply's baseline runs; restore reads mariadb-dump's backups only", "[mariadb]") {
  Database d;
  const auto& ops = db::adapter("mariadb").operations();
  CHECK(ops.timeInserts(d.url, "bench_baseline", 200, 50) > 0);
  CHECK(d.scalar("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()") == "0");
  CHECK_FALSE(ops.reads("pg_dump", "custom"));
  CHECK(ops.reads("mariadb-dump", "sql"));
  // Backup, restore and verify themselves: integration.mariadb_ops.
  CHECK_THAT(ops.verifyQueries().catalog(), Catch::Contains("information_schema.TABLES"));
}

TEST_CASE("AUTO_INCREMENT counters are put back after a rolled-back or lost batch", "[mariadb]") {
  Database d;
  auto c = d.connect();
  mdb::Client admin(mdb::Url::parse(d.url));
  admin.exec("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))");
  auto insert = [](const std::string& v) { return work({"INSERT INTO t (v) VALUES ($1)"}, {v}); };
  auto a = insert("a"), b = insert("b"), x = insert("x"), y = insert("y"), z = insert("z");
  c->begin();
  REQUIRE(c->execute({&a, &b})[0].ok());
  REQUIRE(c->commit("c1", {}, {1, "m1"}));
  // A batch rolled back (as after a transient error): its values are drawn again by the retry.
  c->begin();
  REQUIRE(c->execute({&x, &y})[0].ok());
  c->rollback();
  c->begin();
  REQUIRE(c->execute({&z})[0].ok());
  REQUIRE(c->commit("c1", {}, {2, "m2"}));
  CHECK(admin.scalar("SELECT group_concat(id, v ORDER BY id) FROM t") == "1a,2b,3z");
  // A batch lost with its connection (a node killed): the next connection puts the counter back first.
  {
    auto lost = d.connect();
    lost->begin();
    REQUIRE(lost->execute({&x, &y})[0].ok());
  }
  auto next = d.connect();
  next->begin();
  REQUIRE(next->execute({&y})[0].ok());
  REQUIRE(next->commit("c1", {}, {3, "m3"}));
  CHECK(admin.scalar("SELECT group_concat(id, v ORDER BY id) FROM t") == "1a,2b,3z,4y");
}
