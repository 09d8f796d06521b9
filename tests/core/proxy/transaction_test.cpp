// Interactive transactions at the protocol level: a Session is fed a client's messages, a fake sender stands in
// for the cluster, and the test checks the requests it sends (speculations on ONE, the commit on ALL) and the bytes
// it answers. tests/integration/proxy_transactions_test.cpp runs the same against a real cluster.
#include "core/client/transaction.hpp"
#include "core/errors.hpp"
#include "core/proxy/frontend.hpp"
#include "core/proxy/session.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using namespace kluster::proxy;
using kluster::proxy::test::be32;

namespace {

std::string query(const std::string& sql) { return "Q" + be32(static_cast<std::int32_t>(sql.size() + 5)) + sql + '\0'; }

/// One backend message: its type and what a test looks at (a tag, an SQLSTATE, a status, a row's first value).
struct Answer {
  char type;
  std::string text;
};

std::int32_t int32At(const std::string& s, std::size_t at) {
  return static_cast<std::int32_t>((static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
                                   (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
                                   (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
                                   static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3])));
}

std::vector<Answer> answers(const std::string& bytes) {
  std::vector<Answer> out;
  for (std::size_t at = 0; at + 5 <= bytes.size();) {
    const char type = bytes[at];
    const auto len = static_cast<std::size_t>(int32At(bytes, at + 1));
    const std::string body = bytes.substr(at + 5, len - 4);
    Answer a{type, {}};
    if (type == 'C') a.text = body.substr(0, body.find('\0'));
    if (type == 'Z') a.text = body;
    if (type == 'E') // the SQLSTATE field
      for (std::size_t f = 0; f < body.size() && body[f] != '\0'; f = body.find('\0', f) + 1)
        if (body[f] == 'C') a.text = body.substr(f + 1, body.find('\0', f) - f - 1);
    if (type == 'D' && int32At(body, 0) > 0) { // the first column's text
      const auto n = int32At(body, 2);
      a.text = n < 0 ? "NULL" : body.substr(6, static_cast<std::size_t>(n));
    }
    out.push_back(a);
    at += 1 + len;
  }
  return out;
}

/// The answers' types and texts in one line, e.g. "C:BEGIN C:INSERT 0 1 Z:T".
std::string summary(const std::string& bytes) {
  std::string s;
  for (const auto& a : answers(bytes))
    if (a.type != 'T' && a.type != 'N' && a.type != 'S' && a.type != 'K' && a.type != 'R')
      s += (s.empty() ? "" : " ") + std::string(1, a.type) + (a.text.empty() ? "" : ":" + a.text);
  return s;
}

client::Result ok(ojson result, std::vector<std::string> digests, ojson results = ojson()) {
  client::Result r;
  Response resp;
  resp.result = std::move(result);
  resp.results = std::move(results);
  resp.digests = std::move(digests);
  resp.columns = ojson::array({{{"name", "n"}, {"type", "int4"}}});
  r.responses.push_back(resp);
  return r;
}

client::Result failed(const std::string& code, const std::string& sqlState) {
  client::Result r;
  Response resp;
  resp.resultCode = code;
  resp.sqlState = sqlState;
  resp.errorMessage = "failed";
  r.responses.push_back(resp);
  return r;
}

const ojson kOneRow = ojson{{"rowsAffected", 1}};

struct Fixture : test::SessionFixture {
  std::string out() { return summary(session.takeOutput()); }
};

} // namespace

TEST_CASE("BEGIN; INSERT; SELECT; COMMIT in one query string: speculations on ONE, the commit on ALL", "[proxy]") {
  Fixture f;
  f.session.received(query("BEGIN; INSERT INTO t VALUES (1); SELECT n FROM t; COMMIT"));
  REQUIRE(f.sent.size() == 1);
  const auto first = f.sent[0].request; // a copy: f.sent grows
  CHECK(f.sent[0].target == client::Target::One);
  REQUIRE(first.transaction);
  CHECK(first.statements == std::vector<std::string>{"INSERT INTO t VALUES (1)"});
  CHECK(first.transaction->expect.empty());
  CHECK(first.routingKey == first.transaction->uuidKey); // one node answers the whole transaction
  f.sent[0].done(ok(kOneRow, {"d1"}));

  REQUIRE(f.sent.size() == 2);
  const auto second = f.sent[1].request;
  CHECK(second.statements == std::vector<std::string>{"INSERT INTO t VALUES (1)", "SELECT n FROM t"});
  CHECK(second.transaction->expect == std::vector<std::string>{"d1"});
  CHECK(second.transaction->timeMs == first.transaction->timeMs); // pinned when the transaction began
  CHECK(second.transaction->seed == first.transaction->seed);
  f.sent[1].done(ok(ojson::array({{{"n", 1}}}), {"d1", "d2"}, ojson::array({kOneRow, ojson::array({{{"n", 1}}})})));

  REQUIRE(f.sent.size() == 3);
  const auto commit = f.sent[2].request;
  CHECK(f.sent[2].target == client::Target::All);
  CHECK(commit.statements == second.statements);
  CHECK(commit.transaction->expect == std::vector<std::string>{"d1", "d2"});
  CHECK(commit.transaction->timeMs == first.transaction->timeMs);
  f.sent[2].done(ok(ojson::array({{{"n", 1}}}), {"d1", "d2"}));
  CHECK(f.out() == "C:BEGIN C:INSERT 0 1 D:1 C:SELECT 1 C:COMMIT Z:I");
}

TEST_CASE("a commit whose reads changed answers 40001 and ends the transaction", "[proxy]") {
  Fixture f;
  f.session.received(query("BEGIN"));
  f.session.received(query("SELECT n FROM counter"));
  f.sent[0].done(ok(ojson::array({{{"n", 5}}}), {"r"}));
  f.session.received(query("UPDATE counter SET n = 6"));
  f.sent[1].done(ok(kOneRow, {"r", "w"}, ojson::array({ojson::array({{{"n", 5}}}), kOneRow})));
  CHECK(f.out() == "C:BEGIN Z:T D:5 C:SELECT 1 Z:T C:UPDATE 1 Z:T");
  f.session.received(query("COMMIT"));
  REQUIRE(f.sent.size() == 3);
  f.sent[2].done(failed("SERIALIZATION_FAILURE", "40001"));
  CHECK(f.out() == "E:40001 Z:I");
}

TEST_CASE("a failed statement aborts the transaction until ROLLBACK", "[proxy]") {
  Fixture f;
  f.session.received(query("BEGIN"));
  f.session.received(query("INSERT INTO t VALUES (1)"));
  f.sent[0].done(failed("CONSTRAINT_VIOLATION", "23505"));
  f.session.received(query("SELECT 1"));
  CHECK(f.sent.size() == 1); // nothing sent while aborted
  f.session.received(query("COMMIT"));
  CHECK(f.out() == "C:BEGIN Z:T E:23505 Z:E E:25P02 Z:E C:ROLLBACK Z:I");
  CHECK(f.sent.size() == 1); // a failed transaction commits nothing
}

TEST_CASE("ROLLBACK TO SAVEPOINT drops what followed it; the commit carries the rest", "[proxy]") {
  Fixture f;
  f.session.received(query("BEGIN"));
  f.session.received(query("INSERT INTO t VALUES (1)"));
  f.sent[0].done(ok(kOneRow, {"a"}));
  f.session.received(query("SAVEPOINT s1"));
  f.session.received(query("INSERT INTO t VALUES (2)"));
  f.sent[1].done(failed("CONSTRAINT_VIOLATION", "23505"));
  f.session.received(query("ROLLBACK TO SAVEPOINT s1"));
  f.session.received(query("RELEASE SAVEPOINT s1"));
  f.session.received(query("INSERT INTO t VALUES (3)"));
  REQUIRE(f.sent.size() == 3);
  CHECK(f.sent[2].request.statements ==
        std::vector<std::string>{"INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (3)"});
  f.sent[2].done(ok(kOneRow, {"a", "c"}, ojson::array({kOneRow, kOneRow})));
  f.session.received(query("COMMIT"));
  REQUIRE(f.sent.size() == 4);
  CHECK(f.sent[3].request.statements == f.sent[2].request.statements);
  CHECK(f.sent[3].request.transaction->expect == std::vector<std::string>{"a", "c"});
  f.sent[3].done(ok(kOneRow, {"a", "c"}));
  CHECK(f.out() == "C:BEGIN Z:T C:INSERT 0 1 Z:T C:SAVEPOINT Z:T E:23505 Z:E C:ROLLBACK Z:T C:RELEASE Z:T "
                   "C:INSERT 0 1 Z:T C:COMMIT Z:I");
}

TEST_CASE("a transaction that only read commits without a request; READ ONLY refuses writes", "[proxy]") {
  Fixture f;
  f.session.received(query("BEGIN ISOLATION LEVEL REPEATABLE READ"));
  f.session.received(query("SELECT 1"));
  f.sent[0].done(ok(ojson::array({{{"n", 1}}}), {"r"}));
  f.session.received(query("COMMIT"));
  CHECK(f.sent.size() == 1);
  CHECK(f.out() == "C:BEGIN Z:T D:1 C:SELECT 1 Z:T C:COMMIT Z:I");

  f.session.received(query("START TRANSACTION READ ONLY"));
  f.session.received(query("INSERT INTO t VALUES (1)"));
  CHECK(f.sent.size() == 1);
  f.session.received(query("ROLLBACK"));
  CHECK(f.out() == "C:START TRANSACTION Z:T E:25006 Z:E C:ROLLBACK Z:I");
}

TEST_CASE("Transaction: limits, and reads of the catalog answered but not committed", "[proxy]") {
  client::Transaction tx;
  tx.begin(1000, "tx/1", false);
  auto statements = sql::analyze("SELECT relname FROM pg_class; INSERT INTO t VALUES (1)").statements;
  REQUIRE(statements.size() == 2);
  CHECK_FALSE(statements[0].validatable);
  CHECK(statements[1].validatable);
  tx.record(statements, nlohmann::json::array(), {"c", "w"});
  CHECK(tx.commit().statements == std::vector<std::string>{"INSERT INTO t VALUES (1)"});
  CHECK(tx.commit().transaction->expect == std::vector<std::string>{"w"});
  client::Transaction::Limits limits;
  limits.maxStatements = 1;
  CHECK(tx.refusal({statements[1]}, nlohmann::json::array(), limits));
  limits.maxStatements = 10;
  limits.maxBytes = 30;
  CHECK(tx.refusal({statements[1]}, nlohmann::json::array(), limits));
  limits.maxBytes = 1000;
  CHECK_FALSE(tx.refusal({statements[1]}, nlohmann::json::array(), limits));
}

TEST_CASE("a transaction drawing from a sequence reserves a block of values through ALL and draws from it", "[proxy]") {
  Fixture f;
  const std::string seq = "public.events_id_seq";
  f.session.received(query("BEGIN"));
  f.session.received(query("INSERT INTO events (what) VALUES ('a') RETURNING id"));
  REQUIRE(f.sent.size() == 1);
  CHECK(f.sent[0].request.transaction->sequences.empty());
  auto unreserved = ok(ojson::array({{{"id", 7}}}), {"x"});
  unreserved.responses[0].drawn = {{seq, 7}};
  f.sent[0].done(unreserved);
  // The value came from the sequence's own state, which a concurrent transaction draws too: reserve a block first.
  REQUIRE(f.sent.size() == 2);
  CHECK(f.sent[1].target == client::Target::All);
  CHECK(f.sent[1].request.statements ==
        std::vector<std::string>{"SELECT setval('public.events_id_seq', nextval('public.events_id_seq') + 99)"});
  f.sent[1].done(ok(ojson::array({{{"setval", 200}}}), {}));
  REQUIRE(f.sent.size() == 3); // the same statement again, drawing from the block
  CHECK(f.sent[2].request.statements == f.sent[0].request.statements);
  CHECK(f.sent[2].request.transaction->sequences == std::map<std::string, std::int64_t>{{seq, 101}});
  auto reserved = ok(ojson::array({{{"id", 101}}}), {"y"});
  reserved.responses[0].drawn = {{seq, 101}};
  f.sent[2].done(reserved);
  f.session.received(query("COMMIT"));
  REQUIRE(f.sent.size() == 4);
  CHECK(f.sent[3].request.transaction->sequences == std::map<std::string, std::int64_t>{{seq, 101}});
  f.sent[3].done(ok(kOneRow, {"y"}));
  CHECK(f.out() == "C:BEGIN Z:T D:101 C:INSERT 0 1 Z:T C:COMMIT Z:I");

  // The next transaction draws after what the last one committed; one that draws past the block fails (40001).
  f.session.received(query("BEGIN"));
  f.session.received(query("INSERT INTO events (what) SELECT 'b' FROM generate_series(1, 500) RETURNING id"));
  REQUIRE(f.sent.size() == 5);
  CHECK(f.sent[4].request.transaction->sequences == std::map<std::string, std::int64_t>{{seq, 102}});
  auto tooMany = ok(ojson::array(), {"z"});
  tooMany.responses[0].drawn = {{seq, 601}};
  f.sent[4].done(tooMany);
  CHECK(f.out() == "C:BEGIN Z:T E:40001 Z:E");
}

TEST_CASE("DEALLOCATE is the proxy's: its named statements go, an unknown name is 26000", "[proxy]") {
  Fixture f;
  const std::string sql = "SELECT 1";
  const std::string parse = "P" + be32(static_cast<std::int32_t>(4 + 7 + sql.size() + 1 + 2)) + "_pg3_0" + '\0' + sql +
                            '\0' + std::string(2, '\0');
  f.session.received(parse + "S" + be32(4));
  f.session.received(query("DEALLOCATE _pg3_0"));
  f.session.received(query("DEALLOCATE _pg3_0"));
  f.session.received(query("DEALLOCATE ALL"));
  CHECK(f.sent.empty());
  CHECK(f.out() == "1 Z:I C:DEALLOCATE Z:I E:26000 Z:I C:DEALLOCATE ALL Z:I");
}

TEST_CASE("COPY inside a transaction: its rows are staged on ALL and the commit names them", "[proxy]") {
  Fixture f;
  auto message = [](char type, const std::string& body) {
    return std::string(1, type) + be32(static_cast<std::int32_t>(body.size() + 4)) + body;
  };
  f.session.received(query("BEGIN"));
  f.session.received(query("INSERT INTO t VALUES (0)"));
  REQUIRE(f.sent.size() == 1);
  f.sent[0].done(ok(kOneRow, {"d0"}));
  f.session.received(query("COPY t FROM STDIN"));
  f.session.received(message('d', "1\n2\n") + message('c', ""));
  REQUIRE(f.sent.size() == 2);
  const auto part = f.sent[1].request;
  CHECK(f.sent[1].target == client::Target::All);
  REQUIRE(part.transaction);
  CHECK(part.transaction->stagePart == 0);
  CHECK(part.transaction->uuidKey == f.sent[0].request.transaction->uuidKey);
  CHECK(part.transaction->params.size() == 1); // the chunk's values, as the transaction's statement parameters
  f.sent[1].done(ok(kOneRow, {}));
  CHECK(f.out() == "C:BEGIN Z:T C:INSERT 0 1 Z:T G C:COPY 2 Z:T");

  // A COPY after a savepoint that is rolled back to is not named by the commit.
  f.session.received(query("SAVEPOINT s"));
  f.session.received(query("COPY t FROM STDIN"));
  f.session.received(message('d', "3\n") + message('c', ""));
  REQUIRE(f.sent.size() == 3);
  CHECK(f.sent[2].request.transaction->stagePart == 1);
  f.sent[2].done(ok(kOneRow, {}));
  f.session.received(query("ROLLBACK TO SAVEPOINT s"));
  f.session.received(query("COMMIT"));
  REQUIRE(f.sent.size() == 4);
  const auto commit = f.sent[3].request;
  CHECK(f.sent[3].target == client::Target::All);
  CHECK(commit.statements == std::vector<std::string>{"INSERT INTO t VALUES (0)"});
  REQUIRE(commit.transaction->staged.size() == 1);
  CHECK(commit.transaction->staged[0].part == 0);
  CHECK(commit.transaction->staged[0].before == 1); // after the INSERT
  // The message carries them as the node reads them.
  auto withIds = commit;
  withIds.messageId = "m";
  withIds.clientId = "c";
  const auto parsed = parseRequest(withIds.toJson(), 1 << 20);
  INFO(withIds.toJson() << ": " << parsed.errorMessage);
  REQUIRE(parsed.ok());
  REQUIRE(parsed.request.transaction->staged.size() == 1);
  CHECK(parsed.request.transaction->staged[0].before == 1);
  f.sent[3].done(ok(kOneRow, {}));
  CHECK(f.out() == "C:SAVEPOINT Z:T G C:COPY 1 Z:T C:ROLLBACK Z:T C:COMMIT Z:I");

  // A part the nodes refuse aborts the transaction.
  f.session.received(query("BEGIN"));
  f.session.received(query("COPY t FROM STDIN"));
  f.session.received(message('d', "x\n") + message('c', ""));
  REQUIRE(f.sent.size() == 5);
  f.sent[4].done(failed(std::string(code::Nondeterministic), ""));
  f.session.received(query("SELECT 1"));
  CHECK(f.out() == "C:BEGIN Z:T G E:0A000 Z:E E:25P02 Z:E");
}
