#include "core/config.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

extern char** environ;

namespace kluster {

const std::vector<SettingSpec>& settingSpecs() {
  static const std::vector<SettingSpec> specs = {
      {"cluster.name", "KLUSTER_CLUSTER", "kluster", "cluster name: the prefix of its topics and groups"},
      {"cluster.brokers", "KLUSTER_BROKERS", "127.0.0.1:9092", "Kafka bootstrap servers"},
      {"node.id", "KLUSTER_NODE_ID", "", "this node's id (unique in the cluster)"},
      {"node.one_workers", "KLUSTER_ONE_WORKERS", "4", "parallel connections serving ONE"},
      {"node.batch_max", "KLUSTER_BATCH_MAX", "500", "ALL requests applied per database transaction at most"},
      {"node.max_retry", "KLUSTER_MAX_RETRY", "5m", "how long a node retries a failing ALL batch before it stops"},
      {"node.check_interval", "KLUSTER_CHECK_INTERVAL", "5m",
       "continuous verification: checksum every table at an ALL offset once per period, the same on every node "
       "(0: off)"},
      {"node.check_full_every", "KLUSTER_CHECK_FULL_EVERY", "12",
       "continuous verification: every this many check periods a check sums every table; the others only those "
       "written since the last check (1: every check is full; give every node the same value)"},
      {"node.speculation_yield", "KLUSTER_SPECULATION_YIELD", "20ms",
       "how long a statement of an interactive transaction waits for the apply loop to run out of ALL requests "
       "before it runs anyway: writes first (0: it never waits)"},
      {"node.speculation_budget", "KLUSTER_SPECULATION_BUDGET", "0",
       "while writes other than interactive transactions' commits flow, the time per second this node's "
       "speculations (statements of those transactions) may take in all; one that finds it spent waits: writes "
       "first (0: no limit)"},
      {"node.synchronous_commit", "KLUSTER_SYNCHRONOUS_COMMIT", "on",
       "off: batches commit without waiting for the database's WAL flush; ALL is the durable copy "
       "(docs/reliability.md)"},
      {"node.max_request_bytes", "KLUSTER_MAX_REQUEST_BYTES", "1048576", "larger requests are refused (TOO_LARGE)"},
      {"database.type", "KLUSTER_DATABASE_TYPE", "postgresql", "database adapter"},
      {"database.url", "KLUSTER_DATABASE_URL", "", "database connection URL", true},
      {"log.level", "KLUSTER_LOG_LEVEL", "info", "debug, info, warn or error"},
      {"security.clients_file", "KLUSTER_CLIENTS_FILE", "",
       "node: the clients' keys and permissions (TOML, mode 600), in effect once published"},
      {"security.skip_publication", "KLUSTER_SKIP_PUBLICATION", "-1",
       "node: the ALL offset of a security request to refuse instead of stopping at it (give every node the same)"},
      {"security.client_id", "KLUSTER_CLIENT_ID", "", "the client id requests are signed as (exec, verify, proxy...)"},
      {"security.client_key", "KLUSTER_CLIENT_KEY", "", "the client's secret key: requests are signed with it", true},
      {"security.client_key_file", "KLUSTER_CLIENT_KEY_FILE", "",
       "a file (mode 600) whose first line is the client's secret key"},
      // klusterctl proxy
      {"proxy.listen", "KLUSTER_PROXY_LISTEN", "127.0.0.1:6432",
       "proxy: HOST:PORT addresses to listen on, comma-separated"},
      {"proxy.batch_window", "KLUSTER_PROXY_BATCH_WINDOW", "1ms",
       "proxy: while other clients are active, how long a request may wait for theirs, to go to Kafka together "
       "(0: each at once)"},
      {"proxy.max_connections", "KLUSTER_PROXY_MAX_CONNECTIONS", "100", "proxy: client connections served at once"},
      {"proxy.metrics_address", "KLUSTER_PROXY_METRICS_ADDRESS", "",
       "proxy: HOST:PORT where it serves /metrics and /health (empty: off)"},
      {"proxy.users_file", "KLUSTER_PROXY_USERS_FILE", "",
       "proxy: USER:SCRAM-SHA-256 verifiers (klusterctl passwd), mode 600: password authentication"},
      {"proxy.startup_timeout", "KLUSTER_PROXY_STARTUP_TIMEOUT", "30s",
       "proxy: a connection that has not finished TLS, startup and password by then is closed"},
      {"proxy.tls_cert", "KLUSTER_PROXY_TLS_CERT", "", "proxy: PEM certificate (chain) for TLS with clients"},
      {"proxy.tls_key", "KLUSTER_PROXY_TLS_KEY", "", "proxy: PEM private key of tls_cert"},
      {"proxy.tls_required", "KLUSTER_PROXY_TLS_REQUIRED", "false",
       "proxy: true refuses clients that do not start TLS (needs tls_cert and tls_key)"},
      {"proxy.trust", "KLUSTER_PROXY_TRUST", "127.0.0.1/32,::1/128",
       "proxy: addresses and CIDR networks whose clients connect without a password, comma-separated (\"\" or none: "
       "nobody; the others use SCRAM-SHA-256)"},
      {"proxy.wait", "KLUSTER_PROXY_WAIT", "first", "proxy: responses a write waits for (first, all, quorum, N)"},
      {"proxy.timeout", "KLUSTER_PROXY_TIMEOUT", "10s", "proxy: how long a request waits for its responses"},
      {"proxy.transaction_max_statements", "KLUSTER_PROXY_TRANSACTION_MAX_STATEMENTS", "1000",
       "proxy: statements one interactive transaction may hold (each is run again at every later statement and at "
       "COMMIT)"},
      {"proxy.transaction_idle_timeout", "KLUSTER_PROXY_TRANSACTION_IDLE_TIMEOUT", "60s",
       "proxy: a connection idle that long inside a transaction is closed (25P03), as "
       "idle_in_transaction_session_timeout; 0: never"},
      {"log.format", "KLUSTER_LOG_FORMAT", "text",
       "text, or json: one object per line (time, level, module, message) for log collectors"},
      {"metrics.address", "KLUSTER_METRICS_ADDRESS", "",
       "HOST:PORT where node run serves /metrics, /health and /ready (empty: off)"},
      {"metrics.ready_max_lag", "KLUSTER_READY_MAX_LAG", "100",
       "/ready answers 200 only within this many unapplied ALL messages"},
  };
  return specs;
}

namespace {

const SettingSpec* findSpec(const std::string& key) {
  for (const auto& s : settingSpecs())
    if (s.key == key) return &s;
  return nullptr;
}

std::string tomlScalar(const toml::node& node, const std::string& key) {
  // Exact types only: value<int64_t>() of a float converts it, undefined past int64's range (5e115).
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  if (const auto* d = node.as_floating_point()) return fmt::format("{}", d->get());
  throw UsageError(fmt::format("config key '{}' must be a string, number or boolean", key));
}

} // namespace

bool isSecretKafkaProperty(const std::string& key) {
  return key.find("password") != std::string::npos || key.find("secret") != std::string::npos ||
         key.find("sasl.oauthbearer.config") != std::string::npos || key == "ssl.key.pem";
}

std::string kafkaPropertyEnv(const std::string& key) {
  std::string env = "KLUSTER_X_";
  for (unsigned char ch : key) env += ch == '.' ? '_' : static_cast<char>(std::toupper(ch));
  return env;
}

std::filesystem::path systemConfigPath() {
  if (const char* v = std::getenv("KLUSTER_SYSTEM_CONFIG")) return v; // empty: no system-wide file
  return "/etc/kluster/kluster.toml";
}

void Settings::loadFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw UsageError(fmt::format("cannot read config {}: {}", file.string(), std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  loadToml(text.str(), file.string());
}

void Settings::loadToml(std::string_view text, const std::string& name) {
  toml::table table;
  try {
    table = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw UsageError(fmt::format("cannot read config {}: {} (line {})", name, e.description(), e.source().begin.line));
  }
  const std::string source = "file " + name;
  for (const auto& [tableName, tableNode] : table) {
    const auto* sub = tableNode.as_table();
    if (!sub) throw UsageError(fmt::format("config {}: '{}' must be a table", name, tableName.str()));
    for (const auto& [entry, node] : *sub) {
      std::string key = std::string(tableName.str()) + "." + std::string(entry.str());
      if (tableName.str() == "kafka") {
        setKafka(std::string(entry.str()), tomlScalar(node, key), source);
        continue;
      }
      if (!findSpec(key))
        throw UsageError(fmt::format("config {}: unknown key '{}' (see `klusterctl config show`)", name, key));
      values_[key] = {tomlScalar(node, key), source};
    }
  }
}

Settings Settings::fromText(std::string_view text, const std::string& name) {
  Settings s;
  for (const auto& spec : settingSpecs()) s.values_[spec.key] = {spec.defaultValue, "default"};
  s.loadToml(text, name);
  return s;
}

Settings Settings::load(const std::optional<std::filesystem::path>& file) {
  Settings s;
  for (const auto& spec : settingSpecs()) s.values_[spec.key] = {spec.defaultValue, "default"};
  // The system-wide file, when there is one, is the layer below the file given.
  if (const auto system = systemConfigPath(); !system.empty() && std::filesystem::exists(system)) s.loadFile(system);
  if (file) {
    if (!std::filesystem::exists(*file)) throw UsageError(fmt::format("config {} does not exist", file->string()));
    s.loadFile(*file);
  }
  for (const auto& spec : settingSpecs())
    if (const char* v = std::getenv(spec.env.c_str()); v && *v) s.values_[spec.key] = {v, "env " + spec.env};
  // librdkafka properties from KLUSTER_X_* (the way to give a secret without a file or a flag).
  constexpr std::string_view prefix = "KLUSTER_X_";
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos || entry.substr(0, prefix.size()) != prefix || eq == prefix.size()) continue;
    std::string key(entry.substr(prefix.size(), eq - prefix.size()));
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char ch) { return ch == '_' ? '.' : static_cast<char>(std::tolower(ch)); });
    s.setKafka(key, std::string(entry.substr(eq + 1)), "env " + std::string(entry.substr(0, eq)));
  }
  return s;
}

void Settings::setFlag(const std::string& key, const std::string& value) {
  if (!findSpec(key)) throw UsageError("unknown setting " + key);
  values_[key] = {value, "flag"};
}

void Settings::setKafka(const std::string& key, const std::string& value, const std::string& source) {
  kafka_[key] = value;
  kafkaSources_[key] = source;
}

const std::string& Settings::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("unknown setting " + key);
  return it->second.value;
}

const std::string& Settings::source(const std::string& key) const { return values_.at(key).source; }

int Settings::getInt(const std::string& key) const {
  const auto& v = get(key);
  try {
    std::size_t used = 0;
    int n = std::stoi(v, &used);
    if (used == v.size()) return n;
  } catch (const std::exception&) {
  }
  throw UsageError(fmt::format("setting {} must be an integer, not '{}' (from {})", key, v, source(key)));
}

std::chrono::milliseconds Settings::getDuration(const std::string& key) const { return util::parseDuration(get(key)); }

std::vector<std::pair<std::string, Settings::Value>> Settings::describe() const {
  std::vector<std::pair<std::string, Value>> out;
  for (const auto& spec : settingSpecs()) {
    Value v = values_.at(spec.key);
    if (spec.secret) v.value = spec.key == "database.url" ? maskUrl(v.value) : v.value.empty() ? "" : "***";
    out.emplace_back(spec.key, v);
  }
  for (const auto& [k, v] : kafka_)
    out.emplace_back("kafka." + k, Value{isSecretKafkaProperty(k) ? "***" : v, kafkaSources_.at(k)});
  return out;
}

std::string clientKey(const Settings& settings) {
  if (const auto& key = settings.get("security.client_key"); !key.empty()) return key;
  const auto& file = settings.get("security.client_key_file");
  if (file.empty()) return {};
  std::istringstream in(util::readSecretFile(file, "security.client_key_file"));
  std::string key;
  std::getline(in, key);
  if (key.empty()) throw UsageError(fmt::format("security.client_key_file {} is empty", file));
  return key;
}

std::string maskUrl(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto at = url.find('@', scheme + 3);
  if (at == std::string::npos) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::pair<std::string, std::string> parseKeyValue(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw UsageError(fmt::format("expected key=value, got '{}'", text));
  return {text.substr(0, eq), text.substr(eq + 1)};
}

} // namespace kluster
