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
  /// Pass-through librdkafka properties (the [kafka] table and -X flags).
  const kafka::Properties& kafka() const { return kafka_; }
  void setKafka(const std::string& key, const std::string& value, const std::string& source);
  /// Every value with its source, secrets masked, for display.
  std::vector<std::pair<std::string, Value>> describe() const;

private:
  void loadFile(const std::filesystem::path& file);
  std::map<std::string, Value> values_;
  kafka::Properties kafka_;
  std::map<std::string, std::string> kafkaSources_;
};

/// The system-wide config file: $KLUSTER_SYSTEM_CONFIG when set (empty: none), else /etc/kluster/kluster.toml.
std::filesystem::path systemConfigPath();

/// Masks the password of a URL (postgresql://user:secret@host -> postgresql://user:***@host).
std::string maskUrl(const std::string& url);

/// Parses "key=value" (for -X); throws UsageError.
std::pair<std::string, std::string> parseKeyValue(const std::string& text);

} // namespace kluster
