// klusterctl proxy against a real cluster: psql (simple query, scripts, \x, catalog commands, \copy),
// pgbench in simple, extended and prepared mode, and raw bytes a broken client might send.
#include "support/cluster.hpp"
#include "support/proxy.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

} // namespace

TEST_CASE("psql through the proxy: statements, tags, errors, scripts, \\x, catalog commands", "[proxy]") {
  TestCluster cluster;
  TestProxy proxy(cluster);

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
  // different nodes psql may find no such relation, or another one (README). It must still end cleanly.
  auto d = proxy.psql({"-c", "\\d items"});
  INFO(d.out << d.err);
  CHECK((d.exitCode == 0 || d.exitCode == 1));

  // \copy is refused with a clear error, and nothing is applied.
  auto copy = proxy.psql({"-c", "\\copy items from stdin"}, "9\tx\t1\t\\N\n\\.\n");
  CHECK(copy.exitCode != 0);
  CHECK(copy.err.find("COPY is not supported") != std::string::npos);

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
  auto refused = proxy.psql({"-v", "VERBOSITY=verbose"}, "BEGIN;\nUPDATE items SET price = 0;\nROLLBACK;\n");
  CHECK(refused.err.find("0A000") != std::string::npos);

  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(cluster.scalar(i, "SELECT string_agg(id::text, ',' ORDER BY id) FROM items") == "1,2,4,6,7");
  checkIdentical(cluster, "items", "id");
  CHECK(proxy.running());
}

TEST_CASE("pgbench through the proxy: simple, extended and prepared, 16 clients, no failures", "[proxy]") {
  TestCluster cluster;
  TestProxy proxy(cluster);
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
    for (int i = 1; i <= cluster.size(); ++i)
      CHECK(cluster.scalar(i, fmt::format("SELECT count(*) FROM bench WHERE mode = '{}'", mode)) == "160");
  }
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(cluster.scalar(i, "SELECT count(*) FROM bench") == std::to_string(expected));
  checkIdentical(cluster, "bench", "id");
}

namespace {

int connectTo(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void sendAll(int fd, const std::string& bytes) {
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}

// Everything the proxy sends until it closes the connection (or 10 s pass).
std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

} // namespace

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
