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
  REQUIRE(unknown.problem());
  CHECK(unknown.problem()->sqlState == "42P10");
  CHECK(unknown.problem()->message == "FORCE_QUOTE column \"b\" not referenced by COPY");
}

TEST_CASE("COPY table TO asks the catalog for the columns it copies and refuses what PostgreSQL refuses",
          "[proxy][copy]") {
  CopyWriter table(copyToOf("COPY s.\"T\" TO STDOUT (FORMAT csv, HEADER, FORCE_QUOTE (\"b c\"))"));
  CHECK(table.relationQuery().find("c.oid = '\"s\".\"T\"'::regclass") != std::string::npos);
  CHECK_FALSE(table.problem());
  table.setRelation({{"kind", "r"}, {"name", "T"}, {"columns", {"a", "b c"}}}); // generated ones left out
  CHECK_FALSE(table.problem());
  CHECK_FALSE(table.wantsNames());
  CHECK(table.select() == "WITH kluster_copy AS (SELECT \"a\", \"b c\" FROM ONLY \"s\".\"T\"\n) SELECT "
                          "ROW(kluster_copy.*)::text AS kluster_copy_row FROM kluster_copy");
  CHECK(table.header() == "a,b c\n");
  CHECK(table.row("(1,\"x y\")") == "1,\"x y\"\n");
  CHECK(table.columns(std::nullopt) == 2);

  CopyWriter view(copyToOf("COPY v TO STDOUT"));
  view.setRelation({{"kind", "v"}, {"name", "v"}, {"columns", {"a"}}});
  REQUIRE(view.problem());
  CHECK(view.problem()->sqlState == "42809");
  CHECK(view.problem()->message == "cannot copy from view \"v\"");
  CHECK(view.problem()->hint == "Try the COPY (SELECT ...) TO variant.");
  CopyWriter partitioned(copyToOf("COPY p TO STDOUT"));
  partitioned.setRelation({{"kind", "p"}, {"name", "p"}, {"columns", {"a"}}});
  CHECK(partitioned.problem()->message == "cannot copy from partitioned table \"p\"");
  CopyWriter missing(copyToOf("COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE (x))"));
  missing.setRelation({{"kind", "r"}, {"name", "t"}, {"columns", {"a"}}});
  CHECK(missing.problem()->sqlState == "42P10");
  CopyWriter empty(copyToOf("COPY nothing TO STDOUT"));
  empty.setRelation({{"kind", "r"}, {"name", "nothing"}, {"columns", ojson::array()}});
  CHECK(empty.row("()") == "\n"); // a table of no columns: empty lines

  // COPY (query) TO with HEADER: the query's columns come after the record, for their names.
  CopyWriter query(copyToOf("COPY (SELECT 1 AS one) TO STDOUT (HEADER)"));
  CHECK(query.relationQuery().empty());
  CHECK(query.wantsNames());
  CHECK(query.select() == "WITH kluster_copy AS (SELECT 1 AS one\n) SELECT ROW(kluster_copy.*)::text AS "
                          "kluster_copy_row, kluster_copy.* FROM kluster_copy");
  query.setNames({"one"});
  CHECK(query.header() == "one\n");
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
  auto answer = [&](std::size_t i, ojson rows, std::vector<std::string> digests = {}) {
    client::Result r;
    Response resp;
    resp.result = std::move(rows);
    resp.digests = std::move(digests);
    r.responses.push_back(resp);
    f.sent.at(i).done(r);
  };
  f.query("COPY t TO STDOUT WITH (FORMAT csv, HEADER)");
  REQUIRE(f.sent.size() == 1); // the catalog first: the columns COPY copies
  CHECK(f.sent[0].target == client::Target::One);
  CHECK(f.sent[0].request.statements.at(0).rfind("SELECT c.relkind::text AS kind", 0) == 0);
  answer(0, ojson::array({{{"kind", "r"}, {"name", "t"}, {"columns", {"n", "s"}}}}));
  REQUIRE(f.sent.size() == 2);
  CHECK(f.sent[1].target == client::Target::One);
  CHECK(f.sent[1].request.statements ==
        std::vector<std::string>{"WITH kluster_copy AS (SELECT \"n\", \"s\" FROM ONLY \"t\"\n) SELECT "
                                 "ROW(kluster_copy.*)::text AS kluster_copy_row FROM kluster_copy"});
  answer(1, ojson::array({{{"kluster_copy_row", "(1,\"a b\")"}}, {{"kluster_copy_row", "(2,)"}}}));
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
  REQUIRE(f.sent.size() == 3);
  CHECK(f.sent[2].target == client::Target::One);
  REQUIRE(f.sent[2].request.transaction);
  answer(2, ojson::array({{{"kluster_copy_row", "(1)"}}}), {"d1"});
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
  CHECK(f.sent.size() == 3);

  // A view: refused as PostgreSQL refuses it, once the catalog says what it is.
  f.query("COPY v TO STDOUT");
  answer(3, ojson::array({{{"kind", "v"}, {"name", "v"}, {"columns", {"a"}}}}));
  CHECK(f.sent.size() == 4);
  const auto refused = test::backendMessages(f.session.takeOutput());
  REQUIRE(refused.size() == 2);
  CHECK(refused[0].first == 'E');
  CHECK(refused[0].second.find("cannot copy from view \"v\"") != std::string::npos);
  CHECK(refused[1] == std::pair<char, std::string>{'Z', "I"});
}
