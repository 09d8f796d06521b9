// klusterctl init: creates the cluster's four topics. Safe to run again.
#include "commands/command.hpp"
#include "core/kafka/admin.hpp"
#include "core/topics.hpp"

#include <fmt/format.h>

#include <iostream>

namespace kluster::commands {
namespace {

struct InitOptions {
  ClusterFlags flags;
  int onePartitions = 3;
  int responsePartitions = 6;
  int replicationFactor = 0; // 0: min(3, brokers)
};

int runInit(const InitOptions& o) {
  const auto settings = o.flags.resolve();
  const Topics topics{settings.get("cluster.name")};
  kafka::Admin admin(kafka::clientProperties(settings.get("cluster.brokers"), settings.kafka()));
  const int brokers = admin.brokerCount();
  const int rf = o.replicationFactor > 0 ? o.replicationFactor : std::min(3, brokers);
  if (rf > brokers)
    throw UsageError(
        fmt::format("--replication-factor {} needs at least {} brokers; the cluster has {}", rf, rf, brokers));
  const std::string minIsr = std::to_string(rf >= 3 ? 2 : 1);
  const std::map<std::string, std::string> common = {{"min.insync.replicas", minIsr},
                                                     {"unclean.leader.election.enable", "false"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    extra.insert(common.begin(), common.end());
    return extra;
  };
  // ALL is the cluster's history: it is never deleted by retention, so any backup can be replayed from.
  std::vector<kafka::TopicSpec> specs = {
      {topics.all(), 1, rf, with({{"retention.ms", "-1"}, {"retention.bytes", "-1"}, {"cleanup.policy", "delete"}})},
      {topics.one(), o.onePartitions, rf, with({{"retention.ms", "86400000"}})},
      {topics.responses(), o.responsePartitions, rf, with({{"retention.ms", "86400000"}})},
      {topics.errors(), 1, rf, with({{"retention.ms", "604800000"}})},
  };
  auto outcomes = admin.createTopics(specs);
  bool allExisted = true;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const bool created = outcomes[i] == kafka::CreateOutcome::Created;
    allExisted &= !created;
    auto partitions = admin.partitionCount(specs[i].name).value_or(specs[i].partitions);
    fmt::print("{:<28} {:>3} partition(s)  {}\n", specs[i].name, partitions, created ? "created" : "exists");
  }
  if (auto p = admin.partitionCount(topics.all()); p && *p != 1)
    throw KlusterError(code::NodeError, fmt::format("{} has {} partitions; it must have exactly 1", topics.all(), *p),
                       "delete it or pick another cluster name");
  std::cerr << (allExisted ? "cluster " + topics.cluster + " already initialized; nothing changed\n"
                           : fmt::format("cluster {} initialized (replication factor {})\n", topics.cluster, rf));
  return exitcode::Ok;
}

} // namespace

void registerInit(CLI::App& app, Action& action) {
  auto o = std::make_shared<InitOptions>();
  auto* cmd = app.add_subcommand("init", "Create the cluster's topics (ALL, ONE, RESPONSES, ERRORS); idempotent");
  o->flags.add(cmd);
  cmd->add_option("--one-partitions", o->onePartitions, "partitions of ONE (parallel reads)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--responses-partitions", o->responsePartitions, "partitions of RESPONSES")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--replication-factor", o->replicationFactor, "replicas per partition (default: min(3, brokers))")
      ->check(CLI::Range(1, 16));
  cmd->callback([o, &action] { action = [o] { return runInit(*o); }; });
}

} // namespace kluster::commands
