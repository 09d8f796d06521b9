// COPY ... FROM STDIN through the proxy: the parser of the text and CSV formats (as PostgreSQL's COPY reads them),
// the INSERTs it becomes, and a Session fed the protocol's messages (CopyData, CopyDone, CopyFail) with a fake
// cluster. tests/integration/proxy_migrate_test.cpp loads pg_dump's COPY output and pgbench -i through a real one.
#include "core/proxy/copy.hpp"
#include "core/proxy/frontend.hpp"
#include "core/proxy/session.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using namespace kluster::proxy;
using kluster::proxy::test::be32;
using Row = CopyParser::Row;

namespace {

sql::Statement::CopyFrom copyOf(const std::string& sql) {
  const auto a = sql::analyze(sql);
  REQUIRE(a.statements.size() == 1);
  REQUIRE(a.statements[0].copyFrom);
  return *a.statements[0].copyFrom;
}

std::vector<Row> parseAll(const std::string& sql, const std::string& data, std::size_t piece = 3) {
  CopyParser p(copyOf(sql));
  for (std::size_t i = 0; i < data.size(); i += piece) p.feed(std::string_view(data).substr(i, piece));
  p.finish();
  return p.take(1000000);
}

Row row(std::initializer_list<std::optional<std::string>> values) { return Row(values); }

} // namespace

TEST_CASE("COPY FROM STDIN: the statement's table, columns and options", "[proxy][copy]") {
  const auto c = copyOf("COPY shop.\"Orders\" (id, \"Name\") FROM stdin WITH (FORMAT csv, HEADER, DELIMITER ';')");
  CHECK(c.table == "\"shop\".\"Orders\"");
  CHECK(c.columns == std::vector<std::string>{"\"id\"", "\"Name\""});
  CHECK(c.csv);
  CHECK(c.header);
  CHECK(c.delimiter == ';');
  CHECK(c.null.empty());
  CHECK(c.unsupported.empty());
  const auto t = copyOf("COPY t FROM STDIN");
  CHECK(t.table == "\"t\"");
  CHECK_FALSE(t.csv);
  CHECK(t.delimiter == '\t');
  CHECK(t.null == "\\N");
  CHECK(copyOf("COPY t FROM STDIN (FORMAT csv, FORCE_NOT_NULL (a))").unsupported == "force_not_null");
  CHECK(copyOf("COPY t FROM STDIN (FORMAT binary)").binary);
  CHECK_FALSE(sql::analyze("COPY t TO STDOUT").statements[0].copyFrom);
  CHECK_FALSE(sql::analyze("COPY t FROM '/etc/passwd'").statements[0].copyFrom);
}

TEST_CASE("COPY text format: escapes, NULL, the end marker, pieces split anywhere", "[proxy][copy]") {
  const std::string data = "1\tplain\t\\N\n"
                           "2\ttab\\there\\nnewline\tback\\\\slash\n"
                           "3\t\\101\\x42\\\\N\t\r\n" // octal A, hex B, a literal \N; an empty value; CRLF
                           "\\.\n"
                           "ignored after the end marker\n";
  for (std::size_t piece : {1, 2, 5, 64}) {
    INFO("piece " << piece);
    const auto rows = parseAll("COPY t FROM STDIN", data, piece);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0] == row({"1", "plain", std::nullopt}));
    CHECK(rows[1] == row({"2", "tab\there\nnewline", "back\\slash"}));
    CHECK(rows[2] == row({"3", "AB\\N", ""}));
  }
  const auto noNewline = parseAll("COPY t FROM STDIN", "1\tlast");
  CHECK(noNewline == std::vector<Row>{row({"1", "last"})});
  CHECK_THROWS_AS(parseAll("COPY t (a, b) FROM STDIN", "1\t2\t3\n"), CopyError);
  CHECK_THROWS_AS(parseAll("COPY t FROM STDIN", "1\t2\n3\n"), CopyError);
}

TEST_CASE("COPY CSV format: quotes, doubled quotes, newlines inside quotes, NULL, header", "[proxy][copy]") {
  const std::string data = "id,name,note\n"
                           "1,\"a, b\",\n"
                           "2,\"say \"\"hi\"\"\",\"\"\n"
                           "3,\"two\nlines\",x\n";
  for (std::size_t piece : {1, 4, 100}) {
    INFO("piece " << piece);
    const auto rows = parseAll("COPY t FROM STDIN WITH (FORMAT csv, HEADER true)", data, piece);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0] == row({"1", "a, b", std::nullopt})); // unquoted empty: NULL
    CHECK(rows[1] == row({"2", "say \"hi\"", ""}));     // quoted empty: an empty string
    CHECK(rows[2] == row({"3", "two\nlines", "x"}));
  }
  CHECK_THROWS_AS(parseAll("COPY t FROM STDIN (FORMAT csv)", "1,\"open\n"), CopyError);
}

TEST_CASE("COPY rows become one multi-row INSERT with text parameters", "[proxy][copy]") {
  nlohmann::json params;
  const auto sql =
      copyInsert(copyOf("COPY s.t (a, b) FROM STDIN"), {row({"1", std::nullopt}), row({"2", "x"})}, params);
  CHECK(sql == "INSERT INTO \"s\".\"t\" (\"a\", \"b\") VALUES ($1, $2), ($3, $4)");
  CHECK(params == nlohmann::json::array({"1", nullptr, "2", "x"}));
}

namespace {

std::string message(char type, const std::string& body) {
  return std::string(1, type) + be32(static_cast<std::int32_t>(body.size() + 4)) + body;
}

client::Result applied(std::int64_t rows) {
  client::Result r;
  Response resp;
  resp.result = ojson{{"rowsAffected", rows}};
  resp.rowsAffected = rows;
  r.responses.push_back(resp);
  return r;
}

using CopyFixture = test::SessionFixture;

} // namespace

TEST_CASE("a session runs COPY FROM STDIN as INSERTs through ALL, in order, and answers COPY n", "[proxy][copy]") {
  CopyFixture f;
  auto& sent = f.sent;
  auto& session = f.session;
  session.received(message('Q', std::string("COPY t (a, b) FROM STDIN") + '\0'));
  const auto response = session.takeOutput();
  REQUIRE(response.size() >= 1);
  CHECK(response[0] == 'G'); // CopyInResponse
  std::string rows;
  for (int i = 1; i <= 1500; ++i) rows += std::to_string(i) + "\tv" + std::to_string(i) + "\n";
  session.received(message('d', rows) + message('c', ""));
  REQUIRE(sent.size() == 1); // 1000 rows at most per INSERT; the next waits for this one
  CHECK(sent[0].target == client::Target::All);
  CHECK(sent[0].request.params.size() == 2000);
  CHECK(sent[0].request.statements[0].rfind("INSERT INTO \"t\" (\"a\", \"b\") VALUES ($1, $2), ", 0) == 0);
  sent[0].done(applied(1000));
  REQUIRE(sent.size() == 2);
  CHECK(sent[1].request.params.size() == 1000);
  CHECK(sent[1].request.params[0] == "1001");
  sent[1].done(applied(500));
  const auto done = session.takeOutput();
  CHECK(done.find(std::string("COPY 1500") + '\0') != std::string::npos);
  CHECK(done.back() == 'I'); // ReadyForQuery, idle

  // CopyFail: an error, and the session goes on.
  session.received(message('Q', std::string("COPY t FROM STDIN") + '\0'));
  session.received(message('d', "1\tx\n") + message('f', std::string("user abort") + '\0'));
  auto failed = session.takeOutput();
  CHECK(failed.find("57014") != std::string::npos);
  CHECK(failed.find("COPY from stdin failed: user abort") != std::string::npos);
  CHECK(sent.size() == 2); // the one row never went out
  // Malformed data: 22P04; the CopyData and CopyDone the client still sends are dropped.
  session.received(message('Q', std::string("COPY t (a) FROM STDIN") + '\0'));
  session.received(message('d', "1\t2\n") + message('c', ""));
  failed = session.takeOutput();
  CHECK(failed.find("22P04") != std::string::npos);
  CHECK(failed.back() == 'I');
  // (Inside a transaction block the rows are staged: transaction_test.cpp.)
}

TEST_CASE("a COPY larger than the proxy's read buffer goes through in order", "[proxy][copy]") {
  CopyFixture f;
  auto& sent = f.sent;
  auto& session = f.session;
  session.received(message('Q', std::string("COPY t (a, b, c, f) FROM STDIN") + '\0'));
  session.takeOutput();
  std::string data;
  for (int i = 1; i <= 100000; ++i) data += std::to_string(i) + "\t1\t0\t" + std::string(84, ' ') + "\n";
  std::string messages;
  for (std::size_t at = 0; at < data.size(); at += 8192) messages += message('d', data.substr(at, 8192));
  session.received(messages + message('c', ""));
  CHECK_FALSE(session.closing());
  // Each INSERT is answered in turn; the next goes out only then.
  for (std::size_t answered = 0; answered < sent.size(); ++answered) {
    const auto rows = static_cast<std::int64_t>(sent[answered].request.params.size() / 4);
    sent[answered].done(applied(rows));
  }
  CHECK(sent.size() == 100);
  const auto out = session.takeOutput();
  CHECK(out.find(std::string("COPY 100000") + '\0') != std::string::npos);
}
