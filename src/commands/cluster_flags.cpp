#include "commands/command.hpp"

#include <fmt/format.h>

namespace kluster::commands {

void ClusterFlags::add(CLI::App* app) {
  app->add_option("--config", config, "TOML config file (see examples/node1.toml)")->envname("KLUSTER_CONFIG");
  app->add_option("--brokers", brokers, "Kafka bootstrap servers (default 127.0.0.1:9092; env KLUSTER_BROKERS)");
  app->add_option("--cluster", cluster,
                  "cluster name, the prefix of its topics (default kluster; env KLUSTER_CLUSTER)");
  app->add_option("-X", kafkaProps,
                  "librdkafka property key=value, passed through (repeatable); secrets are refused here: use the "
                  "[kafka] table or KLUSTER_X_<NAME>");
}

Settings ClusterFlags::resolve() const {
  auto settings = Settings::load(config.empty() ? std::nullopt : std::optional<std::filesystem::path>(config));
  if (!brokers.empty()) settings.setFlag("cluster.brokers", brokers);
  if (!cluster.empty()) settings.setFlag("cluster.name", cluster);
  for (const auto& kv : kafkaProps) {
    auto [k, v] = parseKeyValue(kv);
    if (isSecretKafkaProperty(k))
      throw UsageError(fmt::format("-X {}: secrets are not accepted on the command line, where ps and shell "
                                   "histories show them; put it in the config file's [kafka] table or in the "
                                   "environment as {}",
                                   k, kafkaPropertyEnv(k)));
    settings.setKafka(k, v, "flag");
  }
  return settings;
}

client::ClientOptions clientOptions(const Settings& settings, const std::string& fallbackId) {
  client::ClientOptions o;
  o.brokers = settings.get("cluster.brokers");
  o.cluster = settings.get("cluster.name");
  o.kafka = settings.kafka();
  o.key = clientKey(settings);
  const auto& id = settings.get("security.client_id");
  if (!o.key.empty() && id.empty())
    throw UsageError("a client key needs the client id it belongs to: set security.client_id (KLUSTER_CLIENT_ID)");
  o.clientId = id.empty() ? fallbackId : id;
  return o;
}

} // namespace kluster::commands
