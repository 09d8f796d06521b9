// klusterctl proxy against a real cluster: psql (simple query, scripts, \x, catalog commands, \copy from) and the
// proxy's /metrics after it, pgbench in simple, extended and prepared mode, and raw bytes a broken client might send.
#include "support/cluster.hpp"
#include "support/proxy.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

using namespace kluster::test;

namespace {

std::string writeFile(const TestCluster& c, const std::string& name, const std::string& text) {
  const auto path = fmt::format("{}/{}", c.workDir(), name);
  std::ofstream(path) << text;
  return path;
}

// Every node holds the same rows.
void checkIdentical(const TestCluster& c, const std::string& table, const std::string& orderBy) {
  const auto first = c.tableChecksum(1, table, orderBy);
  for (int i = 2; i <= c.size(); ++i) CHECK(c.tableChecksum(i, table, orderBy) == first);
}

/// The value of the sample `series` (name and labels as printed) in a scrape, NaN when absent.
double sampleValue(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return std::nan("");
  const auto from = at + series.size() + 2;
  return std::stod(text.substr(from, text.find('\n', from) - from));
}

} // namespace

TEST_CASE("psql through the proxy: statements, tags, errors, scripts, \\x, catalog commands; its /metrics count them",
          "[proxy]") {
  TestCluster cluster;
  TestProxy proxy(cluster, {"--metrics-address", "127.0.0.1:0"});

  auto create = proxy.psql({"-c", "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), "
                                  "at timestamptz)"});
  INFO(create.out << create.err << proxy.log());
  REQUIRE(create.exitCode == 0);
  CHECK(create.out == "CREATE TABLE\n");

  auto insert = proxy.psql({"-c", "INSERT INTO items VALUES (1, 'apple', 1.25, '2024-01-02 03:04:05+00'), "
                                  "(2, 'pear', NULL, NULL)"});
  CHECK(insert.out == "INSERT 0 2\n");
  auto update = proxy.psql({"-c", "UPDATE items SET name = upper(name)"});
  CHECK(update.out == "UPDATE 2\n");

  // A read right after the writes sees them (read-your-writes within a connection; each psql is one).
  auto select = proxy.psql({"-A", "-t", "-F", "|", "-c", "SELECT id, name, price, at FROM items ORDER BY id"});
  INFO(select.err);
  CHECK(select.exitCode == 0);
  CHECK(select.out == "1|APPLE|1.25|2024-01-02 03:04:05+00\n2|PEAR||\n");

  // Several statements in one query are one atomic request: the duplicate key undoes the first insert.
  auto atomic =
      proxy.psql({"-v", "VERBOSITY=verbose", "-c",
                  "INSERT INTO items VALUES (3, 'fig', 2, NULL); INSERT INTO items VALUES (1, 'dup', 0, NULL)"});
  CHECK(atomic.exitCode == 1);
  CHECK(atomic.err.find("ERROR:  23505:") != std::string::npos);
  for (int i = 1; i <= cluster.size(); ++i) CHECK(cluster.scalar(i, "SELECT count(*) FROM items") == "2");

  auto missing = proxy.psql({"-v", "VERBOSITY=verbose", "-c", "SELECT * FROM no_such_table"});
  CHECK(missing.exitCode == 1);
  CHECK(missing.err.find("42P01") != std::string::npos);
  auto syntax = proxy.psql({"-c", "SELEC 1"});
  CHECK(syntax.exitCode == 1);
  CHECK(syntax.err.find("syntax error at or near \"SELEC\"") != std::string::npos);

  // A script with ON_ERROR_STOP stops at the failing statement; what ran before it stays applied.
  const auto script = writeFile(cluster, "script.sql",
                                "INSERT INTO items VALUES (4, 'kiwi', 3, NULL);\n"
                                "INSERT INTO items VALUES (4, 'again', 3, NULL);\n"
                                "INSERT INTO items VALUES (5, 'never', 3, NULL);\n");
  auto run = proxy.psql({"-v", "ON_ERROR_STOP=1", "-f", script});
  CHECK(run.exitCode == 3);
  CHECK(run.out == "INSERT 0 1\n");
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(cluster.scalar(i, "SELECT string_agg(id::text, ',' ORDER BY id) FROM items") == "1,2,4");

  auto expanded = proxy.psql({"-c", "\\x on", "-c", "SELECT id, name FROM items WHERE id = 1"});
  CHECK(expanded.out.find("-[ RECORD 1 ]") != std::string::npos);
  CHECK(expanded.out.find("name | APPLE") != std::string::npos);

  auto empty = proxy.psql({"-c", ";"});
  CHECK(empty.exitCode == 0);

  // \dt and \d run psql's catalog queries, which are reads answered by one node.
  auto dt = proxy.psql({"-c", "\\dt"});
  INFO(dt.err);
  CHECK(dt.exitCode == 0);
  CHECK(dt.out.find("items") != std::string::npos);
  // \d TABLE feeds one query's oid into the next; oids differ between nodes, so when its queries reach
  // different nodes psql may find no such relation, or another one (docs/proxy.md). It must still end cleanly.
  auto d = proxy.psql({"-c", "\\d items"});
  INFO(d.out << d.err);
  CHECK((d.exitCode == 0 || d.exitCode == 1));

  // \copy FROM stdin: its rows reach every node; a bad row is refused with the row count applied before it.
  auto copy = proxy.psql({"-c", "\\copy items from stdin"}, "9\tx\t1\t\\N\n10\ty\t\\N\t\\N\n\\.\n");
  INFO(copy.err);
  CHECK(copy.exitCode == 0);
  CHECK(copy.out == "COPY 2\n");
  auto badCopy = proxy.psql({"-c", "\\copy items (id, name) from stdin with (format csv)"}, "11,\"a, b\"\n1,dup\n");
  CHECK(badCopy.exitCode != 0);
  CHECK(badCopy.err.find("duplicate key") != std::string::npos);
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(waitUntil([&] { return cluster.scalar(i, "SELECT count(*) FROM items WHERE id IN (9, 10)") == "2"; },
                    std::chrono::seconds(30)));
  // \copy TO stdout: a read (tests/integration/proxy_copy_test.cpp compares its bytes with PostgreSQL's).
  auto copyOut = proxy.psql({"-c", "\\copy (select * from items where id in (9, 10) order by id) to stdout"});
  INFO(copyOut.err);
  CHECK(copyOut.exitCode == 0);
  CHECK(copyOut.out == "9\tx\t1.00\t\\N\n10\ty\t\\N\t\\N\n");
  auto binaryOut = proxy.psql({"-c", "\\copy items to stdout with (format binary)"});
  CHECK(binaryOut.err.find("COPY in binary format is not supported") != std::string::npos);
  CHECK(proxy.psql({"-c", "DELETE FROM items WHERE id IN (9, 10)"}).exitCode == 0);

  // SET/SHOW of session settings, BEGIN ... COMMIT as one atomic request.
  auto settings = proxy.psql(
      {"-A", "-t", "-c", "SET application_name = 'shop'", "-c", "SHOW application_name", "-c", "SHOW TimeZone"});
  CHECK(settings.out == "SET\nshop\nUTC\n");
  auto tz = proxy.psql({"-c", "SET TimeZone = 'Europe/Paris'"});
  CHECK(tz.exitCode == 1);
  CHECK(tz.err.find("cannot set TimeZone") != std::string::npos);
  auto block = proxy.psql({"-v", "ON_ERROR_STOP=1"}, "BEGIN;\nINSERT INTO items VALUES (6, 'plum', 1, NULL);\n"
                                                     "INSERT INTO items VALUES (7, 'lime', 1, NULL);\nCOMMIT;\n");
  INFO(block.err);
  CHECK(block.exitCode == 0);
  CHECK(block.out == "BEGIN\nINSERT 0 1\nINSERT 0 1\nCOMMIT\n");
  auto failedBlock = proxy.psql({}, "BEGIN;\nINSERT INTO items VALUES (8, 'x', 1, NULL);\n"
                                    "INSERT INTO items VALUES (1, 'dup', 1, NULL);\nCOMMIT;\n");
  CHECK(failedBlock.err.find("duplicate key") != std::string::npos);
  // A transaction's statements run (each answered with its real row count) and ROLLBACK applies none of them.
  auto rolledBack = proxy.psql({"-v", "ON_ERROR_STOP=1"}, "BEGIN;\nUPDATE items SET price = 0;\nROLLBACK;\n");
  INFO(rolledBack.err);
  CHECK(rolledBack.out == "BEGIN\nUPDATE 5\nROLLBACK\n");
  for (int i = 1; i <= cluster.size(); ++i) CHECK(cluster.scalar(i, "SELECT price FROM items WHERE id = 1") == "1.25");

  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(cluster.scalar(i, "SELECT string_agg(id::text, ',' ORDER BY id) FROM items") == "1,2,4,6,7");
  checkIdentical(cluster, "items", "id");
  CHECK(proxy.running());

  // What the statements above count, as Prometheus would scrape it: every psql has exited, so no connection stays
  // open and no request in flight (the proxy notices a closed connection at its next read).
  const int metricsPort = proxy.metricsPort();
  REQUIRE(metricsPort > 0);
  CHECK(httpGet(metricsPort, "/health") == std::pair<int, std::string>{200, "{\"status\":\"up\"}\n"});
  const std::string labels = fmt::format("cluster=\"{}\"", cluster.name());
  std::pair<int, std::string> scrape;
  auto value = [&](const std::string& name, const std::string& extra = {}) {
    return sampleValue(scrape.second, name + "{" + labels + extra + "}");
  };
  CHECK(waitUntil(
      [&] {
        scrape = httpGet(metricsPort, "/metrics");
        return value("kluster_proxy_connections_open") == 0;
      },
      std::chrono::seconds(10)));
  INFO(scrape.second);
  REQUIRE(scrape.first == 200);
  CHECK(value("kluster_proxy_connections_accepted_total") >= 18); // one per psql above
  CHECK(value("kluster_proxy_connections_refused_total", ",reason=\"too_many\"") == 0);
  CHECK(value("kluster_proxy_authentications_total", ",method=\"trust\",outcome=\"ok\"") >= 18);
  auto requests = [&](const std::string& route, const std::string& outcome) {
    return value("kluster_proxy_requests_total", fmt::format(",route=\"{}\",outcome=\"{}\"", route, outcome));
  };
  CHECK(requests("ALL", "ok") >= 5);      // CREATE, INSERT, UPDATE, the script's first INSERT, COMMIT
  CHECK(requests("ALL", "error") >= 2);   // the duplicate keys in autocommit (the block's fails in its speculation)
  CHECK(requests("ONE", "ok") >= 3);      // the SELECTs, \dt
  CHECK(requests("ONE", "error") >= 2);   // no_such_table, the block's duplicate key
  CHECK(requests("local", "ok") >= 6);    // SET, SHOW, BEGIN, ROLLBACK...
  CHECK(requests("local", "error") >= 3); // the syntax error, SET TimeZone, COPY in binary
  CHECK(requests("ALL", "timeout") == 0);
  CHECK(requests("ALL", "diverged") == 0);
  CHECK(value("kluster_proxy_requests_in_flight") == 0);
  CHECK(value("kluster_proxy_requests_batched_total") == 0); // one client at a time: nothing waits for others
  CHECK(value("kluster_proxy_request_duration_seconds_count", ",route=\"ALL\"") >= 7);
  CHECK(value("kluster_proxy_request_duration_seconds_count", ",route=\"ONE\"") >= 5);
  CHECK(value("kluster_proxy_request_duration_seconds_sum", ",route=\"ALL\"") > 0);
}

TEST_CASE("pgbench through the proxy: simple, extended and prepared, 16 clients, no failures", "[proxy]") {
  TestCluster cluster;
  TestProxy proxy(cluster, {"--metrics-address", "127.0.0.1:0"});
  REQUIRE(proxy.psql({"-c", "CREATE TABLE bench (id bigint PRIMARY KEY, v bigint NOT NULL, mode text NOT NULL)"})
              .exitCode == 0);
  int expected = 0;
  for (const std::string mode : {"simple", "extended", "prepared"}) {
    const auto script = writeFile(cluster, "bench_" + mode + ".sql",
                                  "\\set id random(1, 9000000000000000000)\n"
                                  "INSERT INTO bench (id, v, mode) VALUES (:id, :client_id, '" +
                                      mode +
                                      "');\n"
                                      "SELECT v FROM bench WHERE id = :id;\n");
    auto r = run({programPath("pgbench"), "-n", "-M", mode, "-c", "16", "-j", "2", "-t", "10", "-f", script, "-h",
                  "127.0.0.1", "-p", std::to_string(proxy.port()), "-U", "app", "kluster"},
                 std::chrono::seconds(300));
    INFO(mode << "\n" << r.out << r.err << proxy.log());
    CHECK(r.exitCode == 0);
    CHECK(r.out.find("number of transactions actually processed: 160/160") != std::string::npos);
    CHECK(r.out.find("number of failed transactions: 0") != std::string::npos);
    expected += 160;
    // Writes wait for the first node's answer (proxy.wait = first): the others get there soon after.
    for (int i = 1; i <= cluster.size(); ++i) {
      const auto sql = fmt::format("SELECT count(*) FROM bench WHERE mode = '{}'", mode);
      CHECK(waitUntil([&] { return cluster.scalar(i, sql) == "160"; }, std::chrono::seconds(30)));
    }
  }
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(cluster.scalar(i, "SELECT count(*) FROM bench") == std::to_string(expected));
  checkIdentical(cluster, "bench", "id");
  // 16 clients at once: requests went in batches (proxy.batch_window), every one of them answered.
  const auto scrape = httpGet(proxy.metricsPort(), "/metrics").second;
  INFO(scrape);
  const std::string labels = fmt::format("{{cluster=\"{}\"}}", cluster.name());
  CHECK(sampleValue(scrape, "kluster_proxy_requests_batched_total" + labels) > 0);
  CHECK(sampleValue(scrape, "kluster_proxy_requests_in_flight" + labels) == 0);
}

TEST_CASE("raw bytes: malformed startup, huge lengths, dropped connections get a clean close", "[proxy]") {
  TestCluster cluster;
  TestProxy proxy(cluster);
  auto healthy = [&] {
    auto r = proxy.psql({"-A", "-t", "-c", "SELECT 1 + 1"});
    return r.exitCode == 0 && r.out == "2\n";
  };
  REQUIRE(healthy());

  SECTION("a malformed startup packet") {
    const int fd = connectTo(proxy.port());
    sendAll(fd, be32(12) + be32(196608) + "user"); // no terminators
    const auto answer = readAll(fd);
    ::close(fd);
    CHECK(answer.substr(0, 1) == "E");
    CHECK(answer.find("08P01") != std::string::npos);
  }
  SECTION("a startup packet with a huge length") {
    const int fd = connectTo(proxy.port());
    sendAll(fd, be32(0x7ffffff0) + be32(196608));
    const auto answer = readAll(fd);
    ::close(fd);
    CHECK(answer.find("08P01") != std::string::npos);
  }
  SECTION("a message with a huge length after startup") {
    const int fd = connectTo(proxy.port());
    const std::string params = std::string("user") + '\0' + "app" + '\0' + '\0';
    sendAll(fd, be32(static_cast<std::uint32_t>(8 + params.size())) + be32(196608) + params);
    sendAll(fd, "Q" + be32(0x7ffffff0) + "SELECT");
    const auto answer = readAll(fd);
    ::close(fd);
    CHECK(answer.find("54000") != std::string::npos);
  }
  SECTION("an unknown protocol version and an unknown message type") {
    const int fd = connectTo(proxy.port());
    sendAll(fd, be32(8) + be32(0x00020000));
    CHECK(readAll(fd).find("0A000") != std::string::npos);
    ::close(fd);
    const int fd2 = connectTo(proxy.port());
    const std::string params = std::string("user") + '\0' + "app" + '\0' + '\0';
    sendAll(fd2, be32(static_cast<std::uint32_t>(8 + params.size())) + be32(196608) + params + "?" + be32(4));
    CHECK(readAll(fd2).find("08P01") != std::string::npos);
    ::close(fd2);
  }
  SECTION("connections dropped mid-message, and during a query") {
    for (int i = 0; i < 20; ++i) {
      const int fd = connectTo(proxy.port());
      const std::string params = std::string("user") + '\0' + "app" + '\0' + '\0';
      sendAll(fd, be32(static_cast<std::uint32_t>(8 + params.size())) + be32(196608) + params);
      if (i % 2)
        sendAll(fd, "Q" + be32(100) + "SELECT"); // half a message
      else
        sendAll(fd, "Q" + be32(4 + 9) + "SELECT 1" + '\0'); // a whole query, then gone before the answer
      ::close(fd);
    }
  }
  CHECK(healthy());
  CHECK(proxy.running());
}

namespace {

std::string be16(std::uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }

std::string message(char type, const std::string& body) {
  return type + be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}

std::uint32_t readBe32(const std::string& s, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at]) << 24 |
                                    static_cast<unsigned char>(s[at + 1]) << 16 |
                                    static_cast<unsigned char>(s[at + 2]) << 8 | static_cast<unsigned char>(s[at + 3]));
}

std::size_t readBe16(const std::string& s, std::size_t at) {
  return static_cast<std::size_t>(static_cast<unsigned char>(s[at]) << 8 | static_cast<unsigned char>(s[at + 1]));
}

// A protocol-level client: just enough of the extended query protocol to see what a describe answers.
class RawClient {
public:
  explicit RawClient(int port) : fd_(connectTo(port)) {
    const std::string params = std::string("user") + '\0' + "app" + '\0' + '\0';
    sendAll(fd_, be32(static_cast<std::uint32_t>(8 + params.size())) + be32(196608) + params);
    untilReady();
  }
  ~RawClient() { ::close(fd_); }

  struct Described {
    std::vector<std::uint32_t> params;
    std::vector<std::pair<std::string, std::uint32_t>> columns;
    std::string sqlState; // of an ErrorResponse, if one came
  };
  // Parse (with declared types) + Describe statement + Sync: what the statement takes and returns.
  Described describe(const std::string& sql, const std::vector<std::uint32_t>& declared = {}) {
    // The unnamed statement: each Parse replaces it, even after an error.
    std::string parse = std::string(1, '\0') + sql + '\0' + be16(static_cast<std::uint16_t>(declared.size()));
    for (auto t : declared) parse += be32(t);
    sendAll(fd_, message('P', parse) + message('D', std::string("S") + '\0') + message('S', ""));
    Described d;
    for (const auto& [type, body] : untilReady()) {
      if (type == 't')
        for (std::size_t k = 0; k < readBe16(body, 0); ++k) d.params.push_back(readBe32(body, 2 + 4 * k));
      if (type == 'T') {
        std::size_t at = 2;
        for (std::size_t k = 0, n = readBe16(body, 0); k < n; ++k) {
          const auto end = body.find('\0', at);
          d.columns.emplace_back(body.substr(at, end - at), readBe32(body, end + 1 + 6));
          at = end + 1 + 18;
        }
      }
      if (type == 'E') {
        const auto c = body.find(std::string("\0C", 2));
        d.sqlState = body.substr(c + 2, 5);
      }
    }
    return d;
  }
  std::vector<std::pair<char, std::string>> query(const std::string& sql) {
    sendAll(fd_, message('Q', sql + '\0'));
    return untilReady();
  }
  void send(const std::string& bytes) { sendAll(fd_, bytes); }
  // The types of the messages that came in the proxy's first write after `bytes` were sent (what one recv()
  // gives on loopback; nothing must be buffered yet).
  std::string firstWrite(const std::string& bytes) {
    REQUIRE(buffer_.empty());
    sendAll(fd_, bytes);
    char buf[16384];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    buffer_.assign(buf, static_cast<std::size_t>(n));
    std::string types;
    std::size_t at = 0;
    for (; at + 5 <= buffer_.size() && at + 1 + readBe32(buffer_, at + 1) <= buffer_.size();
         at += 1 + readBe32(buffer_, at + 1))
      types += buffer_[at];
    buffer_.erase(0, at); // read
    return types;
  }
  // Messages up to and including the first of type `last` (or until the connection closes or 30 s pass).
  std::vector<std::pair<char, std::string>> until(char last) {
    std::vector<std::pair<char, std::string>> out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      while (buffer_.size() >= 5 && buffer_.size() >= 1 + readBe32(buffer_, 1)) {
        const auto len = readBe32(buffer_, 1);
        out.emplace_back(buffer_[0], buffer_.substr(5, len - 4));
        buffer_.erase(0, 1 + len);
        if (out.back().first == last) return out;
      }
      char buf[4096];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0 && std::chrono::steady_clock::now() > deadline) FAIL("no message of type " << last);
      if (n == 0) FAIL("the proxy closed the connection");
      if (n > 0) buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

private:
  std::vector<std::pair<char, std::string>> untilReady() { return until('Z'); }
  int fd_;
  std::string buffer_;
};

} // namespace

TEST_CASE("describe before bind: a node describes parameters and columns, errors keep their SQLSTATE", "[proxy]") {
  TestCluster cluster;
  TestProxy proxy(cluster);
  RawClient client(proxy.port());
  const auto created =
      client.query("CREATE TYPE mood AS ENUM ('sad', 'happy'); "
                   "CREATE TABLE pets (id bigint PRIMARY KEY, name varchar(20), born timestamptz, mood mood)");
  REQUIRE(created.front().first == 'C');

  // The table was created by this connection a moment ago: the describe waits until a node has it.
  auto d = client.describe("SELECT id, name, born, mood FROM pets WHERE id = $1 AND name <> $2");
  INFO(proxy.log());
  CHECK(d.sqlState.empty());
  CHECK(d.params == std::vector<std::uint32_t>{20, 25}); // varchar compares as text
  using Columns = std::vector<std::pair<std::string, std::uint32_t>>;
  // The enum's OID differs between nodes: described as text.
  CHECK(d.columns == Columns{{"id", 20}, {"name", 1043}, {"born", 1184}, {"mood", 25}});
  // A write's parameters, a declared type that wins over inference, RETURNING's columns.
  auto w = client.describe("INSERT INTO pets (id, name, mood) VALUES ($1, $2, $3) RETURNING id", {0, 25});
  CHECK(w.sqlState.empty());
  CHECK(w.params == std::vector<std::uint32_t>{20, 25, 25});
  CHECK(w.columns == Columns{{"id", 20}});
  CHECK(client.describe("UPDATE pets SET born = $1").columns.empty());

  // Statements a node cannot prepare: PostgreSQL's SQLSTATE, and the connection goes on.
  CHECK(client.describe("SELECT * FROM no_such_table WHERE id = $1").sqlState == "42P01");
  CHECK(client.describe("SELECT no_such_column FROM pets").sqlState == "42703");
  CHECK(client.describe("SELECT $1 + $2 FROM pets", {16, 1184}).sqlState == "42883");

  // DDL through the proxy drops the cached descriptions: the new column is described.
  CHECK(client.describe("SELECT * FROM pets").columns.size() == 4);
  REQUIRE(client.query("ALTER TABLE pets ADD COLUMN weight numeric").front().first == 'C');
  const auto after = client.describe("SELECT * FROM pets");
  REQUIRE(after.columns.size() == 5);
  CHECK(after.columns.back() == std::pair<std::string, std::uint32_t>{"weight", 1700});
  const auto rows = client.query("SELECT count(*) FROM pets");
  CHECK(rows.front().first == 'T');
  CHECK(proxy.running());
}

TEST_CASE("extended query: answers are written at Sync or Flush, one write per round trip", "[proxy]") {
  TestCluster cluster;
  TestProxy proxy(cluster);
  RawClient client(proxy.port());
  REQUIRE(client.query("CREATE TABLE marks (id int PRIMARY KEY)").front().first == 'C');
  auto insert = [](int id) {
    return message('P', std::string(1, '\0') + fmt::format("INSERT INTO marks VALUES ({})", id) + '\0' + be16(0)) +
           message('B', std::string(2, '\0') + be16(0) + be16(0) + be16(0)) +
           message('E', std::string(1, '\0') + be32(0));
  };
  auto types = [](const std::vector<std::pair<char, std::string>>& messages) {
    std::string out;
    for (const auto& m : messages) out += m.first;
    return out;
  };
  // As from PostgreSQL: ParseComplete and BindComplete wait for the write's result and ReadyForQuery, and all
  // come in one write (a client is woken once per round trip, not once for them and again for the result).
  CHECK(client.firstWrite(insert(1) + message('S', "")) == "12CZ");
  // Flush: what the messages before it produced comes at once, without waiting for a Sync.
  client.send(insert(2) + message('H', ""));
  CHECK(types(client.until('C')) == "12C");
  client.send(message('S', ""));
  CHECK(types(client.until('Z')) == "Z");
  // An error is written at once too, and the messages up to Sync are skipped.
  client.send(insert(2) + message('H', ""));
  const auto failed = client.until('E');
  CHECK(types(failed) == "12E");
  CHECK(failed.back().second.find(std::string("C23505", 6)) != std::string::npos);
  CHECK(client.firstWrite(insert(3) + message('S', "")) == "Z");
  CHECK(types(client.query("SELECT count(*) FROM marks")) == "TDCZ");
  // Writes wait for the first node's answer (proxy.wait = first): the others get there soon after.
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(waitUntil([&] { return cluster.scalar(i, "SELECT count(*) FROM marks") == "2"; }, std::chrono::seconds(30)));
  checkIdentical(cluster, "marks", "id");
}
