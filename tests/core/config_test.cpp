#include "core/config.hpp"
#include "core/errors.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace kluster;
namespace fs = std::filesystem;

namespace {
fs::path writeConfig(const std::string& text) {
  auto path = fs::temp_directory_path() / ("kluster-config-test-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  return path;
}
} // namespace

TEST_CASE("settings layer defaults, file, environment and flags, remembering their source") {
  auto path = writeConfig(R"(
[cluster]
name = "fromfile"
brokers = "filehost:9092"
[node]
id = "n1"
batch_max = 100
[database]
url = "postgresql://kluster:s3cret@localhost/db"
[kafka]
"security.protocol" = "plaintext"
"sasl.password" = "hidden"
)");
  ::setenv("KLUSTER_BROKERS", "envhost:9092", 1);
  auto s = Settings::load(path);
  ::unsetenv("KLUSTER_BROKERS");
  s.setFlag("node.id", "flagged");

  CHECK(s.get("cluster.name") == "fromfile");
  CHECK(s.source("cluster.name").rfind("file", 0) == 0);
  CHECK(s.get("cluster.brokers") == "envhost:9092");
  CHECK(s.source("cluster.brokers") == "env KLUSTER_BROKERS");
  CHECK(s.get("node.id") == "flagged");
  CHECK(s.source("node.id") == "flag");
  CHECK(s.getInt("node.batch_max") == 100);
  CHECK(s.get("node.one_workers") == "4");
  CHECK(s.source("node.one_workers") == "default");
  CHECK(s.kafka().at("security.protocol") == "plaintext");

  bool maskedUrl = false, maskedKafka = false;
  for (const auto& [key, v] : s.describe()) {
    if (key == "database.url") maskedUrl = v.value == "postgresql://kluster:***@localhost/db";
    if (key == "kafka.sasl.password") maskedKafka = v.value == "***";
  }
  CHECK(maskedUrl);
  CHECK(maskedKafka);
  fs::remove(path);
}

TEST_CASE("an unknown key or a bad file is a usage error naming it") {
  auto path = writeConfig("[node]\nidd = \"typo\"\n");
  CHECK_THROWS_WITH(Settings::load(path), Catch::Contains("node.idd"));
  auto broken = writeConfig("[node\nid = 1\n");
  CHECK_THROWS_AS(Settings::load(broken), UsageError);
  fs::remove(path);
  fs::remove(broken);
}

TEST_CASE("a float where an integer belongs is a usage error, however large (found by fuzz.config)") {
  auto s = Settings::fromText("[node]\nbatch_max = 5e115\n", "huge.toml");
  CHECK_THROWS_WITH(s.getInt("node.batch_max"), Catch::Contains("must be an integer"));
  auto t = Settings::fromText("[node]\nbatch_max = 100.5\n", "float.toml");
  CHECK_THROWS_AS(t.getInt("node.batch_max"), UsageError);
  auto k = Settings::fromText("[kafka]\n\"linger.ms\" = 5e115\n", "kafka.toml");
  CHECK(k.kafka().at("linger.ms") == "5e+115");
}

TEST_CASE("key=value pairs and URL masking") {
  CHECK(parseKeyValue("a.b=c=d") == std::pair<std::string, std::string>{"a.b", "c=d"});
  CHECK_THROWS_AS(parseKeyValue("novalue"), UsageError);
  CHECK(maskUrl("postgresql://u@h/db") == "postgresql://u@h/db");
  CHECK(maskUrl("postgresql://u:p@h/db") == "postgresql://u:***@h/db");
}

TEST_CASE("the system-wide file is the layer below the file given") {
  auto system = writeConfig("[cluster]\nname = \"fromsystem\"\nbrokers = \"systemhost:9092\"\n");
  const auto systemPath = system.string() + ".system.toml";
  fs::rename(system, systemPath);
  auto node = writeConfig("[cluster]\nbrokers = \"nodehost:9092\"\n");
  ::setenv("KLUSTER_SYSTEM_CONFIG", systemPath.c_str(), 1);
  auto s = Settings::load(node);
  CHECK(s.get("cluster.name") == "fromsystem");
  CHECK(s.source("cluster.name") == "file " + systemPath);
  CHECK(s.get("cluster.brokers") == "nodehost:9092");
  CHECK(s.source("cluster.brokers") == "file " + node.string());
  // Without --config the system-wide file still applies; an empty KLUSTER_SYSTEM_CONFIG turns it off.
  CHECK(Settings::load(std::nullopt).get("cluster.brokers") == "systemhost:9092");
  ::setenv("KLUSTER_SYSTEM_CONFIG", "", 1);
  CHECK(Settings::load(std::nullopt).get("cluster.name") == "kluster");
  // A missing system-wide file is no error; a missing --config file is.
  ::setenv("KLUSTER_SYSTEM_CONFIG", (systemPath + ".missing").c_str(), 1);
  CHECK(Settings::load(std::nullopt).source("cluster.name") == "default");
  CHECK_THROWS_WITH(Settings::load(fs::path(systemPath + ".missing")), Catch::Contains("does not exist"));
  // An unknown key in the system-wide file is an error naming that file.
  std::ofstream(systemPath) << "[cluster]\nnmae = \"typo\"\n";
  ::setenv("KLUSTER_SYSTEM_CONFIG", systemPath.c_str(), 1);
  CHECK_THROWS_WITH(Settings::load(node), Catch::Contains(systemPath) && Catch::Contains("cluster.nmae"));
  ::unsetenv("KLUSTER_SYSTEM_CONFIG");
  fs::remove(systemPath);
  fs::remove(node);
}

TEST_CASE("librdkafka properties come from KLUSTER_X_* variables; secrets are recognised") {
  ::setenv("KLUSTER_X_SASL_PASSWORD", "from-env", 1);
  ::setenv("KLUSTER_X_SECURITY_PROTOCOL", "sasl_ssl", 1);
  auto s = Settings::load(std::nullopt);
  ::unsetenv("KLUSTER_X_SASL_PASSWORD");
  ::unsetenv("KLUSTER_X_SECURITY_PROTOCOL");
  CHECK(s.kafka().at("sasl.password") == "from-env");
  CHECK(s.kafka().at("security.protocol") == "sasl_ssl");
  bool masked = false;
  for (const auto& [key, v] : s.describe())
    if (key == "kafka.sasl.password") masked = v.value == "***" && v.source == "env KLUSTER_X_SASL_PASSWORD";
  CHECK(masked);
  CHECK(kafkaPropertyEnv("ssl.key.password") == "KLUSTER_X_SSL_KEY_PASSWORD");
  for (const char* secret : {"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
                             "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config"})
    CHECK(isSecretKafkaProperty(secret));
  for (const char* plain : {"security.protocol", "sasl.username", "ssl.ca.location", "linger.ms"})
    CHECK_FALSE(isSecretKafkaProperty(plain));
}

TEST_CASE("a config given as text reads like a file, without the system file or the environment") {
  ::setenv("KLUSTER_BROKERS", "envhost:9092", 1);
  auto s = Settings::fromText("[cluster]\nname = \"t\"\n[kafka]\n\"linger.ms\" = 1\n", "inline.toml");
  ::unsetenv("KLUSTER_BROKERS");
  CHECK(s.get("cluster.name") == "t");
  CHECK(s.source("cluster.name") == "file inline.toml");
  CHECK(s.get("cluster.brokers") == "127.0.0.1:9092");
  CHECK(s.kafka().at("linger.ms") == "1");
  CHECK_THROWS_WITH(Settings::fromText("[node]\nidd = 1\n", "inline.toml"), Catch::Contains("node.idd"));
  CHECK_THROWS_AS(Settings::fromText("[node\n", "inline.toml"), UsageError);
  CHECK_THROWS_AS(Settings::fromText("node = 1\n", "inline.toml"), UsageError);
  CHECK_THROWS_AS(Settings::fromText("[node]\nid = [1, 2]\n", "inline.toml"), UsageError);
}
