#pragma once
// Layered configuration: built-in defaults < the system-wide TOML file (/etc/kluster/kluster.toml) < the TOML
// file given (--config) < KLUSTER_* environment < command-line flags.
// Every value remembers the layer it came from, so `klusterctl config show` can say why it has that value.
#include "core/kafka/kafka.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kluster {

/// One known setting: its TOML key ("table.name"), its environment variable and its default.
struct SettingSpec {
  std::string key;
  std::string env;
  std::string defaultValue;
  std::string help;
  bool secret = false;
};

class Settings;
/// The client's signing key: security.client_key (KLUSTER_CLIENT_KEY), else the first line of
/// security.client_key_file (which others than its owner must not be able to read); empty when neither is set.
/// Throws UsageError.
std::string clientKey(const Settings& settings);

/// The table of every setting Kluster understands (kafka.* keys pass through to librdkafka).
const std::vector<SettingSpec>& settingSpecs();

class Settings {
public:
  struct Value {
    std::string value;
    std::string source; ///< "default", "file <path>", "env KLUSTER_X" or "flag"
  };

  /// Loads defaults, then the system-wide file (if it exists), then the file (if any), then the
  /// environment. Unknown keys in a file are an error.
  static Settings load(const std::optional<std::filesystem::path>& file);
  /// Sets a value from the command line (highest layer).
  void setFlag(const std::string& key, const std::string& value);

  const std::string& get(const std::string& key) const;
  int getInt(const std::string& key) const;
  std::chrono::milliseconds getDuration(const std::string& key) const;
  const std::string& source(const std::string& key) const;
  /// Pass-through librdkafka properties (the [kafka] table, KLUSTER_X_* variables and -X flags).
  const kafka::Properties& kafka() const { return kafka_; }
  void setKafka(const std::string& key, const std::string& value, const std::string& source);
  /// Every value with its source, secrets masked, for display.
  std::vector<std::pair<std::string, Value>> describe() const;

  /// The built-in defaults with one TOML document on top, named `name` in errors and sources (no system file, no
  /// environment). Throws UsageError as a config file does.
  static Settings fromText(std::string_view toml, const std::string& name);

private:
  void loadFile(const std::filesystem::path& file);
  void loadToml(std::string_view text, const std::string& name);
  std::map<std::string, Value> values_;
  kafka::Properties kafka_;
  std::map<std::string, std::string> kafkaSources_;
};

/// The system-wide config file: $KLUSTER_SYSTEM_CONFIG when set (empty: none), else /etc/kluster/kluster.toml.
std::filesystem::path systemConfigPath();

/// Masks the password of a URL (postgresql://user:secret@host -> postgresql://user:***@host).
std::string maskUrl(const std::string& url);

/// librdkafka properties that hold secrets (passwords, keys, OAuth configs): masked when shown, and never
/// accepted on the command line (-X), where ps and shell histories would show them.
bool isSecretKafkaProperty(const std::string& key);

/// The environment variable that sets librdkafka property `key`: KLUSTER_X_ + the key in upper case with dots
/// as underscores (sasl.password -> KLUSTER_X_SASL_PASSWORD). librdkafka's property names have no underscores.
std::string kafkaPropertyEnv(const std::string& key);

/// Parses "key=value" (for -X); throws UsageError.
std::pair<std::string, std::string> parseKeyValue(const std::string& text);

} // namespace kluster
