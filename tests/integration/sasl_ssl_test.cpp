// Security (issue 14), transport: nodes and clients reach Kafka over SASL_SSL through the [kafka] pass-through,
// with the password given only in the environment (KLUSTER_X_SASL_PASSWORD), never on a command line or in a
// file the cluster writes. The fixture's brokers have a SASL_SSL listener with a CA made at run time
// (scripts/kafka.sh start --sasl-ssl).
#include "support/cluster.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace kluster::test;
namespace fs = std::filesystem;

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

} // namespace

TEST_CASE("nodes and clients over SASL_SSL apply and answer; the password stays out of files and command lines",
          "[security][sasl]") {
  const auto& services = Services::get();
  REQUIRE_FALSE(services.saslSslBrokers.empty()); // the services fixture starts the listener (--sasl-ssl)
  const std::string password = trimmed(readFile(services.saslPasswordFile));
  REQUIRE(password.size() >= 16);

  ClusterOptions options;
  options.nodes = 2;
  options.brokers = services.saslSslBrokers;
  // PLAIN over TLS: Debian 12's librdkafka (2.0.2) fails SCRAM against Kafka 4 brokers (fixed in 2.6.1).
  options.kafka = {{"security.protocol", "SASL_SSL"},
                   {"sasl.mechanisms", "PLAIN"},
                   {"sasl.username", services.saslUser},
                   {"ssl.ca.location", services.saslCa}};
  options.env = {{"KLUSTER_X_SASL_PASSWORD", password}};
  TestCluster cluster(options); // init and both nodes went through the SASL_SSL listener

  auto r = cluster.exec({"--to", "ALL", "--wait", "all", "CREATE TABLE secret_notes (id int PRIMARY KEY, note text)"});
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  r = cluster.exec({"--to", "ALL", "--wait", "all", "INSERT INTO secret_notes VALUES (1, 'over tls')"});
  REQUIRE(r.exitCode == 0);
  r = cluster.exec({"--to", "ONE", "-o", "csv", "SELECT note FROM secret_notes"});
  REQUIRE(r.exitCode == 0);
  CHECK(r.out.find("over tls") != std::string::npos);
  for (int i = 1; i <= 2; ++i) CHECK(cluster.scalar(i, "SELECT note FROM secret_notes WHERE id = 1") == "over tls");

  // The password is in no file the cluster's configuration lives in, and `config show` masks it.
  for (const auto& entry : fs::directory_iterator(cluster.workDir()))
    if (entry.path().extension() == ".toml") CHECK(readFile(entry.path().string()).find(password) == std::string::npos);
  auto shown = run({klusterctlPath(), "config", "show", "--config", cluster.clientConfigPath()},
                   std::chrono::seconds(30), {{"KLUSTER_X_SASL_PASSWORD", password}});
  CHECK(shown.exitCode == 0);
  CHECK(shown.out.find(password) == std::string::npos);
  CHECK(shown.out.find("KLUSTER_X_SASL_PASSWORD") != std::string::npos); // where it came from

  // On the command line it is refused before anything connects.
  auto refused = TestCluster::klusterctl(
      {"exec", "--config", cluster.clientConfigPath(), "-X", "sasl.password=" + password, "--to", "ONE", "SELECT 1"});
  CHECK(refused.exitCode == 2);
  CHECK(refused.err.find("KLUSTER_X_SASL_PASSWORD") != std::string::npos);

  // A wrong password is an authentication failure, not a hang.
  auto wrong = run(
      {klusterctlPath(), "exec", "--config", cluster.clientConfigPath(), "--timeout", "10s", "--to", "ONE", "SELECT 1"},
      std::chrono::seconds(60), {{"KLUSTER_X_SASL_PASSWORD", "not-the-password"}});
  CHECK(wrong.exitCode != 0);
  CHECK(wrong.err.find("uthentication") != std::string::npos);
}
