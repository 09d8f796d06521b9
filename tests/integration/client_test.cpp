// The client side end to end: exec's routing and exit codes, waiting on live members, divergence,
// read-your-writes (--after, --session), the client library under 10,000 requests in flight and read by
// the caller's own loop (no reader thread), and the interactive prompt on a pseudo-terminal.
#include "core/client/client.hpp"
#include "core/db/postgres/pg_tools.hpp"
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"
#include "support/terminal.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Where exec sent a request, from its JSON output.
std::string topicOf(TestCluster& c, const std::string& sql) {
  auto r = c.exec({"-o", "json", sql});
  INFO(sql << "\n" << r.err);
  REQUIRE(r.exitCode == 0);
  auto j = parseJson(r.out);
  REQUIRE(!j.empty());
  return j[0]["requestTopic"].get<std::string>();
}

std::int64_t residentBytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

std::string tempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / fmt::format("kluster-client-{}-{}", ::getpid(), name)).string();
}

} // namespace

TEST_CASE("--to auto routes reads to ONE and writes, DDL and locking reads to ALL; exit codes 0, 1, 2", "[client]") {
  TestCluster cluster;
  REQUIRE(cluster.exec({"--wait", "all", "CREATE TABLE t (id int PRIMARY KEY, v text)"}).exitCode == 0);
  CHECK(topicOf(cluster, "INSERT INTO t VALUES (1, 'a')") == "ALL");
  CHECK(topicOf(cluster, "SELECT id, v FROM t") == "ONE");
  CHECK(topicOf(cluster, "WITH x AS (SELECT id FROM t) SELECT count(*) FROM x") == "ONE");
  CHECK(topicOf(cluster, "EXPLAIN SELECT * FROM t") == "ONE");
  CHECK(topicOf(cluster, "SELECT * FROM t FOR UPDATE") == "ALL");
  CHECK(topicOf(cluster, "WITH d AS (UPDATE t SET v = 'b' RETURNING id) SELECT count(*) FROM d") == "ALL");
  CHECK(topicOf(cluster, "CREATE INDEX t_v ON t (v)") == "ALL");

  // 1: an error response, named on stderr with its code.
  auto missing = cluster.exec({"SELECT * FROM no_such_table"});
  CHECK(missing.exitCode == 1);
  CHECK(missing.err.find("UNDEFINED_OBJECT") != std::string::npos);
  auto duplicate = cluster.exec({"--wait", "all", "INSERT INTO t VALUES (1, 'again')"});
  CHECK(duplicate.exitCode == 1);
  CHECK(duplicate.err.find("CONSTRAINT_VIOLATION") != std::string::npos);
  // A write sent to ONE is refused by the node, also exit 1.
  CHECK(cluster.exec({"--to", "ONE", "INSERT INTO t VALUES (2, 'x')"}).exitCode == 1);
  // 2: usage, before anything is sent.
  for (const auto& bad : std::vector<std::vector<std::string>>{{"--wait", "most", "SELECT 1"},
                                                               {"--to", "SOME", "SELECT 1"},
                                                               {"--timeout", "soon", "SELECT 1"},
                                                               {"-o", "xml", "SELECT 1"},
                                                               {"   ;  "}}) {
    auto r = cluster.exec(bad);
    INFO(bad.front() << ": " << r.err);
    CHECK(r.exitCode == 2);
    CHECK_FALSE(r.err.empty());
  }
  CHECK(cluster.scalar(1, "SELECT count(*) FROM t") == "1");
}

TEST_CASE("--wait all with a stopped node times out naming it (exit 3); --wait quorum succeeds", "[client]") {
  TestCluster cluster;
  REQUIRE(cluster.exec({"--wait", "all", "CREATE TABLE t (id int PRIMARY KEY)"}).exitCode == 0);
  cluster.signalNode(3, SIGSTOP); // still a member (its group lives for the 10 s session timeout), but silent
  const auto started = std::chrono::steady_clock::now();
  auto all =
      cluster.exec({"--to", "ALL", "--wait", "all", "--timeout", "2s", "-o", "json", "INSERT INTO t VALUES (1)"});
  const auto took = std::chrono::steady_clock::now() - started;
  INFO(all.err);
  CHECK(all.exitCode == 3);
  CHECK(all.err.find("no answer from: node3") != std::string::npos);
  CHECK(parseJson(all.out).size() == 2); // what did come is still printed
  CHECK(took < 5s);

  auto quorum =
      cluster.exec({"--to", "ALL", "--wait", "quorum", "--timeout", "5s", "-o", "json", "INSERT INTO t VALUES (2)"});
  INFO(quorum.err);
  CHECK(quorum.exitCode == 0);
  CHECK(parseJson(quorum.out).size() == 2);
  cluster.signalNode(3, SIGCONT);
  // Resumed, node 3 applies what it missed, in order.
  CHECK(waitUntil([&] { return cluster.scalar(3, "SELECT count(*) FROM t") == "2"; }, 20s));

  // A killed node stays a member until its session times out: --wait all names it too.
  cluster.killNode(2);
  auto afterKill = cluster.exec({"--to", "ALL", "--wait", "all", "--timeout", "2s", "SELECT 1"});
  CHECK(afterKill.exitCode == 3);
  CHECK(afterKill.err.find("no answer from: node2") != std::string::npos);
}

TEST_CASE("responses that disagree, including OK against an error, are a divergence (exit 4)", "[client]") {
  TestCluster cluster;
  REQUIRE(cluster.exec({"--wait", "all", "CREATE TABLE t (id int PRIMARY KEY, n int)"}).exitCode == 0);
  REQUIRE(cluster.exec({"--wait", "all", "INSERT INTO t VALUES (1, 10)"}).exitCode == 0);
  // Break node 3 behind Kluster's back: an extra row, and a constraint the others lack.
  cluster.query(3, "INSERT INTO t VALUES (2, 20)");
  cluster.query(3, "ALTER TABLE t ADD CONSTRAINT small CHECK (n < 100)");

  auto rows = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "SELECT count(*) AS c FROM t"});
  INFO(rows.err);
  CHECK(rows.exitCode == 4);
  CHECK(rows.err.find("DIVERGENCE") != std::string::npos);
  CHECK(parseJson(rows.out).size() == 3);

  auto okVsError = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "INSERT INTO t VALUES (3, 500)"});
  INFO(okVsError.err);
  CHECK(okVsError.exitCode == 4);
  CHECK(okVsError.err.find("DIVERGENCE") != std::string::npos);
  CHECK(okVsError.err.find("CONSTRAINT_VIOLATION") != std::string::npos);
  std::set<std::string> codes;
  for (const auto& r : parseJson(okVsError.out)) codes.insert(r["resultCode"].get<std::string>());
  CHECK(codes == std::set<std::string>{"OK", "CONSTRAINT_VIOLATION"});

  // Agreement is not divergence: the same error everywhere is an ordinary error.
  CHECK(cluster.exec({"--to", "ALL", "--wait", "all", "INSERT INTO nowhere VALUES (1)"}).exitCode == 1);
}

TEST_CASE("unreachable brokers and a missing cluster fail fast with exit 5", "[client]") {
  // A port that is bound but never listened on: connecting is refused, and nobody else can take it.
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const auto brokers = fmt::format("127.0.0.1:{}", ntohs(addr.sin_port));

  const auto started = std::chrono::steady_clock::now();
  auto r = TestCluster::klusterctl(
      {"exec", "--brokers", brokers, "--cluster", "nowhere", "--timeout", "1s", "SELECT 1"}, 30s);
  const auto took = std::chrono::steady_clock::now() - started;
  ::close(sock);
  INFO(r.err);
  CHECK(r.exitCode == 5);
  CHECK(r.err.find("cannot reach Kafka at " + brokers) != std::string::npos);
  CHECK(r.err.find("hint:") != std::string::npos);
  CHECK(took < 5s);

  auto noCluster = TestCluster::klusterctl(
      {"exec", "--brokers", Services::get().brokers, "--cluster", "never_initialised", "SELECT 1"}, 30s);
  INFO(noCluster.err);
  CHECK(noCluster.exitCode == 5);
  CHECK(noCluster.err.find("klusterctl init") != std::string::npos);
}

TEST_CASE("10,000 requests in flight from one client complete with bounded memory", "[client]") {
  TestCluster cluster;
  auto client = makeClient(cluster);
  const auto before = residentBytes();
  {
    std::vector<std::future<client::Result>> futures;
    futures.reserve(10000);
    for (int i = 0; i < 10000; ++i) {
      Request r;
      r.statements = {"SELECT 1 AS one"};
      futures.push_back(client.send(r, client::Target::All, client::WaitPolicy::parse("all"), 120s));
    }
    CHECK(client.inFlight() > 0);
    int ok = 0;
    for (auto& f : futures) ok += f.get().allOk() ? 1 : 0;
    CHECK(ok == 10000);
  }
  CHECK(client.inFlight() == 0);
  const auto growth = residentBytes() - before;
  INFO("RSS growth " << growth / (1024 * 1024) << " MB");
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine (256 MB by default) and adds its own bookkeeping.
  CHECK(growth < 1024LL * 1024 * 1024);
#else
  CHECK(growth < 200LL * 1024 * 1024);
#endif

  // Timed-out requests are forgotten as well, and their late responses dropped.
  cluster.signalNode(3, SIGSTOP);
  std::vector<std::future<client::Result>> late;
  for (int i = 0; i < 300; ++i) {
    Request r;
    r.statements = {"SELECT 2 AS two"};
    late.push_back(client.send(r, client::Target::All, client::WaitPolicy::parse("all"), 1s));
  }
  for (auto& f : late) {
    auto result = f.get();
    CHECK(result.timedOut);
    CHECK(result.missingNodes == std::vector<std::string>{"node3"});
  }
  CHECK(client.inFlight() == 0);
  cluster.signalNode(3, SIGCONT); // its 300 late answers now arrive for nobody
  Request after;
  after.statements = {"SELECT 3 AS three"};
  auto result = client.send(after, client::Target::All, client::WaitPolicy::parse("all"), 30s).get();
  CHECK(result.allOk());
  CHECK(result.responses.size() == 3);
  CHECK(client.inFlight() == 0);
}

// How the proxy's event loop uses the client: no reader thread of the client's own, a descriptor that
// becomes readable when responses arrive, and results handed over on the thread that reads them.
TEST_CASE("without a reader thread, results come on the thread that reads the client's descriptor", "[client]") {
  TestCluster cluster;
  auto client = makeClient(cluster, false);
  const auto self = std::this_thread::get_id();
  int done = 0, ok = 0, elsewhere = 0;
  auto send = [&](const std::string& sql, std::chrono::milliseconds timeout, client::Result* out) {
    Request r;
    r.statements = {sql};
    client.sendAsync(r, client::Target::All, client::WaitPolicy::parse("all"), timeout, [&, out](client::Result res) {
      ++done;
      ok += res.allOk() ? 1 : 0;
      elsewhere += std::this_thread::get_id() == self ? 0 : 1;
      if (out) *out = std::move(res);
    });
  };
  // Reads until `want` results came; each wait for the descriptor is bounded, so deadlines are served too.
  auto readUntil = [&](int want, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (done < want && std::chrono::steady_clock::now() < deadline) {
      pollfd pfd{client.readFd(), POLLIN, 0};
      ::poll(&pfd, 1, 20);
      client.readResponses();
    }
  };

  for (int i = 0; i < 200; ++i) send(fmt::format("SELECT {} AS n", i), 60s, nullptr);
  // The descriptor signals the first responses; none is handed over until this thread reads them.
  pollfd pfd{client.readFd(), POLLIN, 0};
  REQUIRE(::poll(&pfd, 1, 60000) == 1);
  CHECK(done == 0);
  readUntil(200, 60s);
  CHECK(done == 200);
  CHECK(ok == 200);
  CHECK(elsewhere == 0);
  CHECK(client.inFlight() == 0);

  // A request past its deadline is answered by readResponses() although no response comes.
  cluster.signalNode(3, SIGSTOP);
  client::Result late;
  send("SELECT 2 AS two", 1s, &late);
  readUntil(201, 30s);
  cluster.signalNode(3, SIGCONT);
  REQUIRE(done == 201);
  CHECK(late.timedOut);
  CHECK(late.missingNodes == std::vector<std::string>{"node3"});
  CHECK(elsewhere == 0);
}

TEST_CASE("a ONE read with --after or --session never sees data older than the write", "[client]") {
  TestCluster cluster;
  REQUIRE(cluster.exec({"--wait", "all", "CREATE TABLE t (id int PRIMARY KEY, v text)"}).exitCode == 0);
  REQUIRE(cluster.exec({"--wait", "all", "CREATE TABLE blocker (id int)"}).exitCode == 0);
  db::PgSession lock(cluster.databaseUrl(3)); // the test's own connection, holding a lock across requests
  lock.exec("BEGIN");
  lock.exec("LOCK TABLE blocker IN ACCESS EXCLUSIVE MODE");
  REQUIRE(cluster.exec({"--to", "ALL", "--wait", "quorum", "INSERT INTO blocker VALUES (1)"}).exitCode == 0);

  const auto session = tempPath("session.json");
  std::filesystem::remove(session);
  auto write = cluster.exec(
      {"--to", "ALL", "--wait", "quorum", "--session", session, "-o", "json", "INSERT INTO t VALUES (42, 'new')"});
  INFO(write.err);
  REQUIRE(write.exitCode == 0);
  const auto offset = parseJson(write.out)[0]["allOffset"].get<std::int64_t>();
  const auto recorded = parseJson([&] {
    std::ifstream in(session);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }());
  CHECK(recorded["allOffsets"][cluster.name()] == offset);
  CHECK(std::stoll(cluster.scalar(3, "SELECT coalesce(max(all_offset), -1) FROM _kluster.position")) < offset);

  const std::string read = "SELECT count(*) AS n FROM t WHERE id = 42";
  // Runs `exec --to ONE extra... read` until node 3 answers (each try lands on a random ONE partition,
  // one of which is node 3's); checks every answer on the way.
  auto readUntilNode3 = [&](const std::vector<std::string>& extra, bool mayBeStale) {
    for (int attempt = 0; attempt < 60; ++attempt) {
      std::vector<std::string> args = {"--to", "ONE", "-o", "json"};
      args.insert(args.end(), extra.begin(), extra.end());
      args.push_back(read);
      auto r = cluster.exec(args);
      INFO(r.err << r.out);
      REQUIRE((r.exitCode == 0 || r.exitCode == 1));
      auto response = parseJson(r.out).at(0);
      const bool fromNode3 = response["nodeId"] == "node3";
      if (r.exitCode == 1) {
        CHECK(response["resultCode"] == "NOT_CAUGHT_UP"); // never a stale answer
        CHECK(fromNode3);
      } else if (!fromNode3 || !mayBeStale) {
        CHECK(response["result"][0]["n"] == 1);
      }
      if (fromNode3) return response;
    }
    FAIL("no read landed on node 3 in 60 tries");
    return json();
  };
  // Without --after the lagging node answers at once, from before the write: a stale read.
  auto stale = readUntilNode3({}, true);
  CHECK(stale["resultCode"] == "OK");
  CHECK(stale["result"][0]["n"] == 0);
  // With --after (or the session that recorded the write) it waits, then says it is behind.
  CHECK(readUntilNode3({"--after", std::to_string(offset), "--timeout", "1500ms"}, false)["resultCode"] ==
        "NOT_CAUGHT_UP");
  CHECK(readUntilNode3({"--session", session, "--timeout", "1500ms"}, false)["resultCode"] == "NOT_CAUGHT_UP");

  // Reads waiting on node 3 answer with the new data once it catches up.
  auto client = makeClient(cluster);
  std::vector<std::future<client::Result>> reads;
  for (int i = 0; i < 30; ++i) {
    Request r;
    r.statements = {read};
    r.minAllOffset = offset;
    reads.push_back(client.send(r, client::Target::One, client::WaitPolicy::parse("first"), 60s));
  }
  // Those on nodes 1 and 2 answer at once; the rest wait on node 3 (with 30 reads over 3 partitions, some
  // surely landed on its partition). Wait until only those remain, then release the lock.
  std::size_t last = 0;
  int steady = 0;
  REQUIRE(waitUntil(
      [&] {
        const auto now = client.inFlight();
        steady = (now == last && now > 0) ? steady + 1 : 0;
        last = now;
        return steady >= 5;
      },
      20s));
  lock.exec("COMMIT");
  int fromNode3 = 0;
  std::int64_t longestWait = 0;
  for (auto& f : reads) {
    auto result = f.get();
    REQUIRE(result.responses.size() == 1);
    const auto& r = result.responses[0];
    INFO(r.raw);
    CHECK(r.resultCode == "OK");
    CHECK(r.result[0]["n"] == 1);
    if (r.nodeId == "node3") {
      ++fromNode3;
      longestWait = std::max(longestWait, r.durationMs);
    }
  }
  CHECK(fromNode3 > 0);
  CHECK(longestWait >= 300); // node 3 held them until it had applied the write

  // The same with a node paused instead: stopped during the write, resumed, read at once.
  cluster.signalNode(3, SIGSTOP);
  auto write2 = cluster.exec({"--to", "ALL", "--wait", "first", "-o", "json", "INSERT INTO t VALUES (43, 'later')"});
  REQUIRE(write2.exitCode == 0);
  const auto offset2 = parseJson(write2.out)[0]["allOffset"].get<std::int64_t>();
  cluster.signalNode(3, SIGCONT);
  std::vector<std::future<client::Result>> reads2;
  for (int i = 0; i < 30; ++i) {
    Request r;
    r.statements = {"SELECT count(*) AS n FROM t WHERE id = 43"};
    r.minAllOffset = offset2;
    reads2.push_back(client.send(r, client::Target::One, client::WaitPolicy::parse("first"), 30s));
  }
  for (auto& f : reads2) {
    auto result = f.get();
    REQUIRE(result.responses.size() == 1);
    CHECK(result.responses[0].result[0]["n"] == 1);
  }
  const auto reference = cluster.tableChecksum(1, "t", "id");
  for (int i = 2; i <= 3; ++i) CHECK(waitUntil([&] { return cluster.tableChecksum(i, "t", "id") == reference; }, 20s));
  std::filesystem::remove(session);
}

TEST_CASE("the interactive prompt: multi-line statements, meta-commands, history", "[client]") {
  ClusterOptions options;
  options.nodes = 1;
  options.onePartitions = 1;
  TestCluster cluster(options);
  const auto home = tempPath("home");
  std::filesystem::create_directories(home);
  const std::map<std::string, std::string> env = {{"HOME", home}, {"TERM", "xterm"}};
  const std::vector<std::string> argv = {klusterctlPath(),  "exec",      "--brokers",
                                         cluster.brokers(), "--cluster", cluster.name()};
  const auto prompt = cluster.name() + "=> ";
  {
    Terminal t(argv, env);
    INFO(t.screen());
    REQUIRE(t.expect("\\? for help"));
    REQUIRE(t.expect(prompt));
    t.type("CREATE TABLE p (id int,\r");
    REQUIRE(t.expect(cluster.name() + "-> ")); // the statement goes on
    t.type("  v text) -- a comment; not the end\r");
    REQUIRE(t.expect(cluster.name() + "-> "));
    t.type(";\r");
    CHECK(t.expect("row(s) affected"));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("\\timing\r");
    CHECK(t.expect("Timing is on."));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("\\wait all\r");
    CHECK(t.expect("Waiting for all."));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("INSERT INTO p VALUES (1, 'a;b'); INSERT INTO p VALUES (2, 'c');\r");
    CHECK(t.expect("OK, 1 row(s) affected"));
    CHECK(t.expect("Time: "));
    CHECK(t.expect("OK, 1 row(s) affected"));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("\\o json\r");
    CHECK(t.expect("Output format is json."));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("SELECT v FROM p WHERE id = 1;\r");
    CHECK(t.expect("\"requestTopic\": \"ONE\"")); // --to auto: a read goes to ONE
    CHECK(t.expect("\"v\": \"a;b\""));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("\\to ALL\r");
    CHECK(t.expect("Statements go to ALL."));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("\x1b[A\r");        // up arrow: the previous line again... which was \to ALL
    CHECK(t.expect("Statements go to ALL."));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("\x1b[A\x1b[A\r");  // ...and before it the SELECT, now sent to ALL
    CHECK(t.expect("\"requestTopic\": \"ALL\""));
    CHECK(t.expect("\"v\": \"a;b\""));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("\\nonsense\r");
    CHECK(t.expect("invalid command \\nonsense"));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("\\q\r");
    CHECK(t.wait() == 0);
  }
  std::ifstream history(home + "/.kluster_history");
  std::stringstream saved;
  saved << history.rdbuf();
  CHECK(saved.str().find("INSERT") != std::string::npos);
  {
    // The saved history comes back in the next session; Ctrl-D ends it.
    Terminal t(argv, env);
    INFO(t.screen());
    REQUIRE(t.expect(prompt));
    t.type("\\o json\r");
    REQUIRE(t.expect("Output format is json."));
    // Back past "\o json", "\q" and "\nonsense" to the SELECT of the last session.
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    t.type("\x1b[A\x1b[A\x1b[A\x1b[A\r");
    CHECK(t.expect("\"v\": \"a;b\""));
    REQUIRE(t.expect(prompt)); // type only at a prompt, as a person would
    // Ctrl-D right as the prompt comes back after a slow request (two answers wanted, one node). libedit
    // prints the prompt before it leaves line mode; a Ctrl-D typed in between was lost (half the time on a
    // loaded machine) until exec left line mode before each prompt.
    t.type("SELECT 'dropped by Ctrl-C'");
    t.type("\x03"); // Ctrl-C drops the line being typed, as in psql, and the prompt goes on
    REQUIRE(t.expect(prompt));
    t.type("\\wait 2\r");
    REQUIRE(t.expect(prompt));
    t.type("\\timeout 1s\r");
    REQUIRE(t.expect(prompt));
    t.type("SELECT 1;\r");
    CHECK(t.expect("timeout after 1s"));
    REQUIRE(t.expect(prompt));
    // Ctrl-C while waiting (here for an answer that cannot come for a minute) stops waiting at once.
    t.type("\\timeout 60s\r");
    REQUIRE(t.expect(prompt));
    t.type("SELECT 2;\r");
    REQUIRE(t.expect("SELECT 2;\r\n")); // the line editor accepted the line: the request is on its way
    t.type("\x03");
    CHECK(t.expect("interrupted: stopped waiting for request", 10s));
    REQUIRE(t.expect(prompt));
    t.type("\x04");
    CHECK(t.wait(std::chrono::seconds(10)) == 0);
  }
  std::ifstream again(home + "/.kluster_history");
  std::stringstream kept;
  kept << again.rdbuf();
  CHECK(kept.str().find("dropped by Ctrl-C") == std::string::npos); // never accepted, never sent
  std::filesystem::remove_all(home);
}
