// COPY ... TO STDOUT through the proxy: the statement's analysis, the lines written in text and CSV format (the
// expected bytes are what PostgreSQL 15 writes for the same values), the record text they are read from, and a
// Session fed a COPY TO with a fake cluster. tests/integration/proxy_copy_test.cpp compares the bytes with PostgreSQL
// itself through a real cluster.
#include "core/proxy/copy_out.hpp"
#include "core/proxy/frontend.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using namespace kluster::proxy;
using Row = CopyWriter::Row;

namespace {

sql::Statement::CopyTo copyToOf(const std::string& sql) {
  const auto a = sql::analyze(sql);
  REQUIRE(a.statements.size() == 1);
  REQUIRE(a.statements[0].copyTo);
  CHECK_FALSE(a.statements[0].copyFrom);
  return *a.statements[0].copyTo;
}

std::string lines(const std::string& sql, const std::vector<Row>& rows) {
  CopyWriter w(copyToOf(sql));
  std::string out = w.header();
  for (const auto& r : rows) out += w.line(r);
  return out;
}

// The values of tests/integration/proxy_copy_test.cpp's awkward rows, as PostgreSQL's output functions write them.
const std::vector<Row> kRows = {
    {"tab\there", "nl\nx"},
    {"back\\slash", std::nullopt},
    {"", "cr\rx"},
    {"a,b", "q\"uote"},
    {"\\N", "\x01"
            "ctl"},
    {"\\.", "é"},
};

} // namespace

TEST_CASE("COPY TO STDOUT: the statement's table or query, columns and options", "[proxy][copy]") {
  const auto t = copyToOf("COPY shop.\"Orders\" (id, \"Name\") TO STDOUT WITH (FORMAT csv, HEADER, FORCE_QUOTE (id))");
  CHECK(t.table == "\"shop\".\"Orders\"");
  CHECK(t.columns == std::vector<std::string>{"\"id\"", "\"Name\""});
  CHECK(t.query.empty());
  CHECK(t.csv);
  CHECK(t.header);
  CHECK(t.forceQuote == std::vector<std::string>{"id"});
  CHECK(t.invalid.empty());
  CHECK(t.unsupported.empty());
  const auto q = copyToOf("/* c */ COPY ( SELECT '(' AS \")\" /* ) */ ORDER BY 1 ) TO stdout CSV FORCE QUOTE *");
  CHECK(q.query == " SELECT '(' AS \")\" /* ) */ ORDER BY 1 ");
  CHECK(q.table.empty());
  CHECK(q.forceQuoteAll);
  const auto old = copyToOf("COPY t TO STDOUT WITH DELIMITER AS '|' NULL AS 'nil'");
  CHECK_FALSE(old.csv);
  CHECK(old.delimiter == '|');
  CHECK(old.null == "nil");
  CHECK(copyToOf("COPY t TO STDOUT (FORMAT binary)").binary);
  CHECK(copyToOf("COPY t TO STDOUT (ENCODING 'LATIN1')").unsupported == "ENCODING");
  CHECK(copyToOf("COPY t TO STDOUT (ENCODING 'UTF8')").unsupported.empty());
  CHECK(copyToOf("COPY t TO STDOUT (FORMAT csv, FORCE_NOT_NULL (a))").unsupported == "force_not_null");
  // What PostgreSQL refuses, with its SQLSTATE and message.
  CHECK(copyToOf("COPY t TO STDOUT (QUOTE '''')").invalid == "COPY quote available only in CSV mode");
  CHECK(copyToOf("COPY t TO STDOUT (FORCE_QUOTE *)").invalidState == "0A000");
  CHECK(copyToOf("COPY t TO STDOUT (DELIMITER 'x')").invalid == "COPY delimiter cannot be \"x\"");
  CHECK(copyToOf("COPY t TO STDOUT (FORMAT csv, DELIMITER '\"')").invalid ==
        "COPY delimiter and quote must be different");
  CHECK(copyToOf("COPY t TO STDOUT (NULL 'a\tb')").invalidState == "22023");
  CHECK(copyToOf("COPY t (a, b, a) TO STDOUT").invalidState == "42701");
  // COPY FROM, and COPY to a file, are not COPY TO STDOUT.
  CHECK_FALSE(sql::analyze("COPY t FROM STDIN").statements[0].copyTo);
  CHECK_FALSE(sql::analyze("COPY t TO '/tmp/t'").statements[0].copyTo);
}

TEST_CASE("COPY TO text format: backslash, tab, newline, CR and the delimiter escaped, NULL as \\N", "[proxy][copy]") {
  CHECK(lines("COPY t TO STDOUT", kRows) == "tab\\there\tnl\\nx\n"
                                            "back\\\\slash\t\\N\n"
                                            "\tcr\\rx\n"
                                            "a,b\tq\"uote\n"
                                            "\\\\N\t\x01"
                                            "ctl\n"
                                            "\\\\.\té\n");
  CHECK(lines("COPY t (a, b) TO STDOUT (DELIMITER ',', HEADER)", {{"tab\there", "nl\nx"}, {"a,b", std::nullopt}}) ==
        "a,b\ntab\\there,nl\\nx\na\\,b,\\N\n"); // the header: the columns' names, escaped as values are
  CHECK(lines("COPY t TO STDOUT (NULL '')", {{"\b\f\v", std::nullopt}}) == "\\b\\f\\v\t\n");
  CHECK(lines("COPY t TO STDOUT (DELIMITER E'\\x01')", {{"a\x01"
                                                         "b",
                                                         "c"}}) == "a\\\x01"
                                                                   "b\x01"
                                                                   "c\n");
}

TEST_CASE("COPY TO CSV format: quotes where needed, doubled quotes, the NULL string, FORCE_QUOTE, header",
          "[proxy][copy]") {
  CHECK(lines("COPY t (a, b) TO STDOUT (FORMAT csv, HEADER)", kRows) == "a,b\n"
                                                                        "tab\there,\"nl\nx\"\n"
                                                                        "back\\slash,\n"
                                                                        "\"\",\"cr\rx\"\n"
                                                                        "\"a,b\",\"q\"\"uote\"\n"
                                                                        "\\N,\x01"
                                                                        "ctl\n"
                                                                        "\\.,é\n");
  std::vector<Row> firsts;
  for (const auto& r : kRows) firsts.push_back({r[0]});
  CHECK(lines("COPY t (a) TO STDOUT (FORMAT csv, HEADER)", firsts) ==
        "a\ntab\there\nback\\slash\n\"\"\n\"a,b\"\n\\N\n\"\\.\"\n"); // "\." alone on a line is quoted
  CHECK(lines("COPY t TO STDOUT (FORMAT csv, NULL 'NULL', FORCE_QUOTE *)", kRows) ==
        "\"tab\there\",\"nl\nx\"\n\"back\\slash\",NULL\n\"\",\"cr\rx\"\n\"a,b\",\"q\"\"uote\"\n\"\\N\",\"\x01"
        "ctl\"\n\"\\.\",\"é\"\n");
  CHECK(lines("COPY t (a, b) TO STDOUT (FORMAT csv, FORCE_QUOTE (b), NULL 'x')", {{"x", "1"}, {"2", std::nullopt}}) ==
        "\"x\",\"1\"\n2,x\n"); // a value equal to the NULL string is quoted; NULL never is
  CHECK(lines("COPY t TO STDOUT (FORMAT csv, QUOTE '''', ESCAPE '\\', DELIMITER ';')", {{"it's", "a\\b;\"c\""}}) ==
        "'it\\'s';'a\\\\b;\"c\"'\n");
  CopyWriter unknown(copyToOf("COPY t (a) TO STDOUT (FORMAT csv, FORCE_QUOTE (b))"));
  CHECK(unknown.error() == "FORCE_QUOTE column \"b\" not referenced by COPY");
}

TEST_CASE("COPY TO reads each row's record text as PostgreSQL's record_out writes it", "[proxy][copy]") {
  CHECK(recordFields("(\"tab\there\",\"nl\nx\")") == Row{"tab\there", "nl\nx"});
  CHECK(recordFields("(\"back\\\\slash\",)") == Row{"back\\slash", std::nullopt});
  CHECK(recordFields("(\"\",\"q\"\"uote\")") == Row{"", "q\"uote"});
  CHECK(recordFields("(a,1.50,\"{\"\"a\"\":1}\",\"{1,2}\",\"x  \",t)") ==
        Row{"a", "1.50", "{\"a\":1}", "{1,2}", "x  ", "t"});
  CHECK(recordFields("()") == Row{std::nullopt});
  CHECK(recordFields("(,)") == Row{std::nullopt, std::nullopt});
  CHECK_THROWS(recordFields("(\"open)"));
  CHECK_THROWS(recordFields("(a,b"));
  CHECK_THROWS(recordFields("(\"a\"b)"));
}

TEST_CASE("a session answers COPY TO STDOUT from a read on ONE: CopyOutResponse, a CopyData per row, COPY n",
          "[proxy][copy]") {
  test::SessionFixture f;
  f.query("COPY t TO STDOUT WITH (FORMAT csv, HEADER)");
  REQUIRE(f.sent.size() == 1);
  CHECK(f.sent[0].target == client::Target::One);
  CHECK(f.sent[0].request.statements ==
        std::vector<std::string>{"WITH kluster_copy AS (SELECT * FROM ONLY \"t\"\n) SELECT ROW(kluster_copy.*)::text "
                                 "AS kluster_copy_row, kluster_copy.* FROM kluster_copy"});
  client::Result r;
  Response resp;
  resp.result = ojson::array({{{"kluster_copy_row", "(1,\"a b\")"}, {"n", 1}, {"s", "a b"}},
                              {{"kluster_copy_row", "(2,)"}, {"n", 2}, {"s", nullptr}}});
  resp.columns = ojson::array({{{"name", "kluster_copy_row"}, {"type", "text"}},
                               {{"name", "n"}, {"type", "integer"}},
                               {{"name", "s"}, {"type", "text"}}});
  r.responses.push_back(resp);
  f.sent[0].done(r);
  const auto out = test::backendMessages(f.session.takeOutput());
  REQUIRE(out.size() == 7);
  CHECK(out[0] == std::pair<char, std::string>{'H', std::string("\0\0\2\0\0\0\0", 7)}); // text, 2 columns, text
  CHECK(out[1] == std::pair<char, std::string>{'d', "n,s\n"});
  CHECK(out[2] == std::pair<char, std::string>{'d', "1,a b\n"});
  CHECK(out[3] == std::pair<char, std::string>{'d', "2,\n"});
  CHECK(out[4] == std::pair<char, std::string>{'c', ""});
  CHECK(out[5] == std::pair<char, std::string>{'C', std::string("COPY 2\0", 7)});
  CHECK(out[6] == std::pair<char, std::string>{'Z', "I"});

  // Inside BEGIN ... COMMIT: the transaction's speculation, as a SELECT would be.
  f.query("BEGIN");
  f.query("COPY (SELECT 1) TO STDOUT");
  REQUIRE(f.sent.size() == 2);
  CHECK(f.sent[1].target == client::Target::One);
  REQUIRE(f.sent[1].request.transaction);
  resp.result = ojson::array({{{"kluster_copy_row", "(1)"}}});
  resp.digests = {"d1"};
  r.responses = {resp};
  f.sent[1].done(r);
  auto types = test::backendMessages(f.session.takeOutput());
  REQUIRE(types.size() == 7); // BEGIN's CommandComplete and ReadyForQuery first
  CHECK(types[2] == std::pair<char, std::string>{'H', std::string("\0\0\1\0\0", 5)});
  CHECK(types[3] == std::pair<char, std::string>{'d', "1\n"});
  CHECK(types[6] == std::pair<char, std::string>{'Z', "T"});

  // Refused: binary, COPY to a file, and COPY through the extended protocol.
  f.query("COPY t TO STDOUT (FORMAT binary)");
  f.query("ROLLBACK");
  f.query("COPY t TO '/tmp/t'");
  f.session.received(test::frontendMessage('P', std::string("\0COPY t TO STDOUT\0\0\0", 20)) +
                     test::frontendMessage('B', std::string(8, '\0')) +
                     test::frontendMessage('E', std::string("\0\0\0\0\0", 5)) + test::frontendMessage('S', ""));
  std::string states;
  for (const auto& [type, body] : test::backendMessages(f.session.takeOutput()))
    if (type == 'E') states += body.substr(body.find("\0C", 0, 2) + 2, 5) + " ";
  CHECK(states == "0A000 42501 0A000 ");
  CHECK(f.sent.size() == 2);
}
