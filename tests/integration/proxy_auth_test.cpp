// klusterctl proxy with passwords: SCRAM-SHA-256 against a users file made by `klusterctl passwd`, with
// proxy.trust = "" (loopback too must authenticate). psql with the right password gets in; a wrong password and an
// unknown user get 28P01; a client that answers the SASL request with another mechanism, or with garbage, is closed
// cleanly; and the proxy keeps serving the others throughout.
#include "support/cluster.hpp"
#include "support/proxy.hpp"
#include "support/terminal.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace kluster::test;

namespace {

CommandResult psqlAs(const TestProxy& proxy, const std::string& user, const std::string& password,
                     const std::string& sql, const std::string& extra = {}) {
  const auto conninfo =
      fmt::format("host=127.0.0.1 port={} dbname=kluster user={} sslmode=disable {}", proxy.port(), user, extra);
  return run({programPath("psql"), "-X", "-A", "-t", "-d", conninfo, "-c", sql}, std::chrono::seconds(60),
             {{"PGPASSWORD", password}, {"PGCONNECT_TIMEOUT", "10"}});
}

// Sends a startup packet for `user`, reads the proxy's first answer, then sends `reply` and reads what follows.
std::pair<std::string, std::string> startupThen(int port, const std::string& user, const std::string& reply) {
  const int fd = connectTo(port);
  const std::string params = std::string("user") + '\0' + user + '\0' + "database" + '\0' + "kluster" + '\0' + '\0';
  sendAll(fd, be32(static_cast<std::uint32_t>(8 + params.size())) + be32(196608) + params);
  char buf[4096];
  const auto n = ::recv(fd, buf, sizeof buf, 0);
  std::string first = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  sendAll(fd, reply);
  auto rest = readAll(fd);
  ::close(fd);
  return {first, rest};
}

// One backend message (type, body), read whole.
std::pair<char, std::string> readMessage(int fd) {
  std::string got;
  const auto need = [&](std::size_t n) {
    char buf[4096];
    while (got.size() < n) {
      const auto r = ::recv(fd, buf, std::min(sizeof buf, n - got.size()), 0);
      if (r <= 0) return false;
      got.append(buf, static_cast<std::size_t>(r));
    }
    return true;
  };
  if (!need(5)) return {'\0', got};
  const auto* b = reinterpret_cast<const unsigned char*>(got.data()) + 1;
  const std::size_t len = (std::size_t{b[0]} << 24) | (std::size_t{b[1]} << 16) | (std::size_t{b[2]} << 8) | b[3];
  if (len < 4 || !need(1 + len)) return {'\0', got};
  return {got[0], got.substr(5)};
}

// The salt and iteration count ("s=...,i=...") the proxy's server-first-message gives `user`.
std::string saltFor(int port, const std::string& user) {
  const int fd = connectTo(port);
  const std::string params = std::string("user") + '\0' + user + '\0' + "database" + '\0' + "kluster" + '\0' + '\0';
  sendAll(fd, be32(static_cast<std::uint32_t>(8 + params.size())) + be32(196608) + params);
  readMessage(fd); // AuthenticationSASL
  const std::string first = "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL";
  sendAll(fd, "p" + be32(static_cast<std::uint32_t>(4 + 14 + 4 + first.size())) + "SCRAM-SHA-256" + '\0' +
                  be32(static_cast<std::uint32_t>(first.size())) + first);
  const auto [type, body] = readMessage(fd); // AuthenticationSASLContinue: int32 11, server-first-message
  ::close(fd);
  const auto at = body.find(",s=");
  return type == 'R' && at != std::string::npos ? body.substr(at + 1) : "no server-first-message: " + body;
}

} // namespace

TEST_CASE("the proxy asks for passwords (SCRAM-SHA-256) and refuses wrong ones cleanly", "[proxy][auth]") {
  TestCluster cluster;
  const auto users = cluster.workDir() + "/proxy-users";
  auto set = TestCluster::klusterctl({"passwd", "app", "--users-file", users}, std::chrono::seconds(30),
                                     "correct horse battery staple\n");
  INFO(set.out << set.err);
  REQUIRE(set.exitCode == 0);
  {
    std::ifstream in(users);
    std::stringstream text;
    text << in.rdbuf();
    CHECK(text.str().find("app:SCRAM-SHA-256$4096:") != std::string::npos);
    CHECK(text.str().find("battery") == std::string::npos); // never the password itself
  }
  const auto config = cluster.workDir() + "/proxy.toml";
  std::ofstream(config) << fmt::format("[proxy]\nusers_file = \"{}\"\ntrust = \"\"\n", users);
  TestProxy proxy(cluster, {"--config", config});

  auto good = psqlAs(proxy, "app", "correct horse battery staple", "SELECT 40 + 2");
  INFO(good.out << good.err << proxy.log());
  CHECK(good.exitCode == 0);
  CHECK(good.out == "42\n");

  auto wrong = psqlAs(proxy, "app", "Tr0ub4dor&3", "SELECT 1");
  CHECK(wrong.exitCode == 2);
  CHECK(wrong.err.find("password authentication failed for user \"app\"") != std::string::npos);
  auto unknown = psqlAs(proxy, "mallory", "correct horse battery staple", "SELECT 1");
  CHECK(unknown.exitCode == 2);
  CHECK(unknown.err.find("password authentication failed for user \"mallory\"") != std::string::npos);
  // An unknown user gets a salt as stable as a known user's, so that the salt does not tell them apart.
  const auto appSalt = saltFor(proxy.port(), "app"), mallorySalt = saltFor(proxy.port(), "mallory");
  CHECK(appSalt.rfind("s=", 0) == 0);
  CHECK(mallorySalt.rfind("s=", 0) == 0);
  CHECK(saltFor(proxy.port(), "app") == appSalt);
  CHECK(saltFor(proxy.port(), "mallory") == mallorySalt);
  CHECK(mallorySalt != appSalt);
  // A client that insists on channel binding (SCRAM-SHA-256-PLUS, not offered) stops with libpq's own message.
  auto binding = psqlAs(proxy, "app", "correct horse battery staple", "SELECT 1", "channel_binding=require");
  CHECK(binding.exitCode == 2);
  CHECK(binding.err.find("channel binding") != std::string::npos);

  // Raw clients: the first answer is AuthenticationSASL (R, code 10) naming SCRAM-SHA-256 only.
  auto [asked, closed] =
      startupThen(proxy.port(), "app", "p" + be32(4 + 6 + 4 + 8) + "PLAIN" + '\0' + be32(8) + "secretpw");
  CHECK(asked.substr(0, 1) == "R");
  CHECK(asked.find("SCRAM-SHA-256") != std::string::npos);
  CHECK(asked.find("PLUS") == std::string::npos);
  CHECK(closed.substr(0, 1) == "E");
  CHECK(closed.find("mechanism PLAIN is not supported") != std::string::npos);
  auto [asked2, garbage] = startupThen(proxy.port(), "app", "p" + be32(4 + 3) + "xyz");
  CHECK(garbage.substr(0, 1) == "E");
  CHECK(garbage.find("08P01") != std::string::npos);
  auto [asked3, notSasl] = startupThen(proxy.port(), "app", "Q" + be32(4 + 9) + "SELECT 1" + '\0');
  CHECK(notSasl.find("expected a SASL response") != std::string::npos);

  // Still serving.
  auto again = psqlAs(proxy, "app", "correct horse battery staple", "SELECT 'still here'");
  CHECK(again.out == "still here\n");
  CHECK(proxy.running());

  // Nobody trusted and no users file: every client is refused, with a hint of what to set.
  const auto noUsers = cluster.workDir() + "/proxy-nousers.toml";
  std::ofstream(noUsers) << "[proxy]\ntrust = \"\"\n";
  TestProxy locked(cluster, {"--config", noUsers});
  auto refused = psqlAs(locked, "app", "correct horse battery staple", "SELECT 1");
  INFO(refused.err);
  CHECK(refused.exitCode == 2);
  CHECK(refused.err.find("address is not in proxy.trust") != std::string::npos);
  CHECK(refused.err.find("proxy.users_file") != std::string::npos);
  CHECK(locked.running());
}

TEST_CASE("TLS: the proxy answers SSLRequest with S, and can refuse clients that do not use it", "[proxy][tls]") {
  TestCluster cluster;
  const auto dir = cluster.workDir();
  auto cert = run({programPath("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                   dir + "/proxy-key.pem", "-out", dir + "/proxy-cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1"},
                  std::chrono::seconds(60));
  INFO(cert.err);
  REQUIRE(cert.exitCode == 0);
  const auto users = dir + "/proxy-users";
  REQUIRE(TestCluster::klusterctl({"passwd", "app", "--users-file", users}, std::chrono::seconds(30), "pw over tls\n")
              .exitCode == 0);
  const auto config = dir + "/proxy.toml";
  std::ofstream(config) << fmt::format("[proxy]\nusers_file = \"{0}/proxy-users\"\ntrust = \"\"\n"
                                       "tls_cert = \"{0}/proxy-cert.pem\"\ntls_key = \"{0}/proxy-key.pem\"\n"
                                       "tls_required = true\nstartup_timeout = \"2s\"\n",
                                       dir);
  TestProxy proxy(cluster, {"--config", config});
  const auto psql = [&](const std::string& sslmode, const std::vector<std::string>& args) {
    std::vector<std::string> argv{
        programPath("psql"),
        "-X",
        "-A",
        "-t",
        "-d",
        fmt::format("host=127.0.0.1 port={} dbname=kluster user=app sslmode={}", proxy.port(), sslmode)};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, std::chrono::seconds(60), {{"PGPASSWORD", "pw over tls"}, {"PGCONNECT_TIMEOUT", "10"}});
  };

  auto secure = psql("require", {"-c", "SELECT 'over tls'", "-c", "\\conninfo"});
  INFO(secure.out << secure.err << proxy.log());
  CHECK(secure.exitCode == 0);
  CHECK(secure.out.find("over tls") != std::string::npos);
  CHECK(secure.out.find("SSL connection (protocol: TLSv1.") != std::string::npos);

  auto plain = psql("disable", {"-c", "SELECT 1"});
  CHECK(plain.exitCode == 2);
  CHECK(plain.err.find("accepts only TLS connections") != std::string::npos);

  // Startup bytes sent right behind the SSLRequest, before the answer (CVE-2021-23214's pattern): refused.
  const int fd = connectTo(proxy.port());
  const std::string params = std::string("user") + '\0' + "app" + '\0' + '\0';
  sendAll(fd, be32(8) + be32(80877103) + be32(static_cast<std::uint32_t>(8 + params.size())) + be32(196608) + params);
  const auto answer = readAll(fd);
  ::close(fd);
  CHECK(answer.find("unencrypted data after SSL request") != std::string::npos);

  // A client that connects and says nothing is closed after proxy.startup_timeout.
  const int silent = connectTo(proxy.port());
  const auto started = std::chrono::steady_clock::now();
  CHECK(readAll(silent).empty());
  ::close(silent);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(8)); // 2 s, not the read timeout of 10
  CHECK(psql("require", {"-c", "SELECT 'still serving'"}).out == "still serving\n");

  // GSSENCRequest: answered N, and the connection goes on in plain text (here refused: TLS is required).
  const int gss = connectTo(proxy.port());
  sendAll(gss, be32(8) + be32(80877104));
  char no = 0;
  CHECK(::recv(gss, &no, 1, 0) == 1);
  CHECK(no == 'N');
  sendAll(gss, be32(static_cast<std::uint32_t>(8 + params.size())) + be32(196608) + params);
  CHECK(readAll(gss).find("accepts only TLS connections") != std::string::npos);
  ::close(gss);

  // TLS offered, not required, loopback trusted (the default): sslmode=prefer gets TLS, disable plain text.
  const auto offered = dir + "/proxy-offered.toml";
  std::ofstream(offered) << fmt::format("[proxy]\ntls_cert = \"{0}/proxy-cert.pem\"\ntls_key = \"{0}/proxy-key.pem\"\n",
                                        dir);
  TestProxy optional(cluster, {"--config", offered});
  const auto conninfo = [&](const std::string& sslmode) {
    return fmt::format("host=127.0.0.1 port={} dbname=kluster user=app sslmode={}", optional.port(), sslmode);
  };
  auto prefer = run({programPath("psql"), "-X", "-A", "-t", "-d", conninfo("prefer"), "-c", "\\conninfo"},
                    std::chrono::seconds(60), {{"PGCONNECT_TIMEOUT", "10"}});
  INFO(prefer.out << prefer.err << optional.log());
  CHECK(prefer.out.find("SSL connection (protocol: TLSv1.") != std::string::npos);
  auto clear = run({programPath("psql"), "-X", "-A", "-t", "-d", conninfo("disable"), "-c", "\\conninfo"},
                   std::chrono::seconds(60), {{"PGCONNECT_TIMEOUT", "10"}});
  CHECK(clear.exitCode == 0);
  CHECK(clear.out.find("You are connected") != std::string::npos);
  CHECK(clear.out.find("SSL connection") == std::string::npos);
}

TEST_CASE("klusterctl passwd at a terminal: no echo, asked twice, the terminal given back after Ctrl-C",
          "[proxy][passwd]") {
  const auto dir = std::string(TEST_WORK_DIR) + "/passwd-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const auto users = dir + "/users";
  const std::vector<std::string> argv{klusterctlPath(), "passwd", "app", "--users-file", users};
  {
    Terminal t(argv, {});
    INFO(t.screen());
    REQUIRE(t.expect("Password: "));
    REQUIRE(waitUntil([&] { return !t.echoing(); }, std::chrono::seconds(10)));
    t.type("s3cret-at-the-prompt\n");
    REQUIRE(t.expect("Again: "));
    t.type("s3cret-at-the-prompt\n");
    CHECK(t.wait() == 0);
    CHECK(t.screen().find("password of user app set") != std::string::npos);
    CHECK(t.screen().find("s3cret") == std::string::npos); // never echoed
  }
  {
    Terminal t(argv, {});
    INFO(t.screen());
    REQUIRE(t.expect("Password: "));
    t.type("one\n");
    REQUIRE(t.expect("Again: "));
    t.type("another\n");
    CHECK(t.wait() == 2);
    CHECK(t.screen().find("the passwords differ") != std::string::npos);
  }
  {
    Terminal t(argv, {});
    REQUIRE(t.expect("Password: "));
    REQUIRE(waitUntil([&] { return !t.echoing(); }, std::chrono::seconds(10)));
    t.type("\x03"); // Ctrl-C
    CHECK(t.wait() == 128 + SIGINT);
    CHECK(t.echoing()); // the terminal echoes again
  }
  std::ifstream in(users);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str().find("app:SCRAM-SHA-256$4096:") != std::string::npos); // the first password, set once
  CHECK(text.str().find("s3cret") == std::string::npos);
  CHECK((std::filesystem::status(users).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  std::filesystem::remove_all(dir);
}
