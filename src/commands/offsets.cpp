// klusterctl offsets: where each reader of the cluster stands (Kafka's committed offsets next to the log end
// and, given the node's config, the position in its database), and moving a stopped reader's offsets.
#include "commands/command.hpp"
#include "commands/output.hpp"
#include "core/db/adapter.hpp"
#include "core/ops/cluster_state.hpp"
#include "core/ops/offset_target.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

namespace kluster::commands {
namespace {

struct ShowOptions {
  ClusterFlags flags;
  std::vector<std::string> nodeConfigs;
  std::string output;
};

struct DeleteOptions {
  ClusterFlags flags;
  std::string node;
  bool dryRun = false;
  bool yes = false;
};

struct SetOptions {
  ClusterFlags flags;
  std::string node;
  std::string topic;
  std::string to;
  bool dryRun = false;
  bool yes = false;
};

/// The ALL position a node's own database holds (read with the node's config).
struct DatabasePosition {
  std::string nodeId;
  std::optional<db::Position> position;
  std::string error;
};

std::string offsetText(std::int64_t offset) { return offset >= 0 ? std::to_string(offset) : "-"; }

std::vector<DatabasePosition> readDatabasePositions(const std::vector<std::string>& files, const std::string& cluster) {
  std::vector<DatabasePosition> out;
  for (const auto& file : files) {
    auto node = Settings::load(std::filesystem::path(file));
    const auto& id = node.get("node.id");
    const auto& url = node.get("database.url");
    if (id.empty()) throw UsageError(fmt::format("--node-config {}: it sets no node.id", file));
    if (url.empty()) throw UsageError(fmt::format("--node-config {}: it sets no database.url", file));
    if (node.get("cluster.name") != cluster)
      throw UsageError(
          fmt::format("--node-config {} is for cluster '{}', not '{}'", file, node.get("cluster.name"), cluster));
    // The environment layer wins over the file: with KLUSTER_DATABASE_URL set, every file gives the same URL.
    if (files.size() > 1 && node.source("database.url").rfind("env ", 0) == 0)
      throw UsageError(fmt::format("{} overrides database.url of every --node-config file; unset it to read each "
                                   "node's own database",
                                   node.source("database.url").substr(4)));
    DatabasePosition p{id, std::nullopt, {}};
    try {
      p.position = db::connect(node.get("database.type"), url)->loadPosition(cluster);
    } catch (const std::exception& e) {
      p.error = e.what();
      std::cerr << fmt::format("klusterctl: cannot read the position of {} from {}: {}\n", id, maskUrl(url), e.what());
    }
    out.push_back(std::move(p));
  }
  return out;
}

ojson partitionsJson(const ops::GroupPosition& g) {
  ojson parts = ojson::array();
  for (const auto& p : g.partitions) {
    auto lag = ops::committedLag(p.committed, p.logEnd);
    parts.push_back({{"partition", p.partition},
                     {"committedOffset", p.committed >= 0 ? ojson(p.committed) : ojson(nullptr)},
                     {"logStart", p.logStart},
                     {"logEnd", p.logEnd},
                     {"lag", lag ? ojson(*lag) : ojson(nullptr)}});
  }
  return parts;
}

ojson databaseJson(const DatabasePosition& d) {
  if (!d.error.empty()) return {{"error", d.error}};
  const auto offset = d.position->offset;
  return {{"allOffset", offset >= 0 ? ojson(offset) : ojson(nullptr)},
          {"next", offset >= 0 ? ojson(offset + 1) : ojson(nullptr)},
          {"messageId", offset >= 0 ? ojson(d.position->messageId) : ojson(nullptr)}};
}

const DatabasePosition* findDb(const std::vector<DatabasePosition>& dbs, const std::string& nodeId) {
  for (const auto& d : dbs)
    if (d.nodeId == nodeId) return &d;
  return nullptr;
}

int runShow(const ShowOptions& o) {
  const auto format = outputFormat(o.output, Format::Table);
  const auto settings = o.flags.resolve();
  const Topics topics{settings.get("cluster.name")};
  const auto dbs = readDatabasePositions(o.nodeConfigs, topics.cluster);
  std::vector<std::string> extra;
  for (const auto& d : dbs) extra.push_back(d.nodeId);

  kafka::Admin admin(kafka::clientProperties(settings.get("cluster.brokers"), settings.kafka()));
  const auto state = ops::loadPositions(admin, topics, extra);

  if (format == Format::Json || format == Format::Jsonl) {
    ojson groups = ojson::array();
    for (const auto& g : state.nodes) {
      ojson j{{"group", g.group},      {"nodeId", g.nodeId},    {"topic", g.topic},
              {"state", g.activity()}, {"groupState", g.state}, {"partitions", partitionsJson(g)}};
      if (const auto* d = findDb(dbs, g.nodeId)) j["database"] = databaseJson(*d);
      groups.push_back(std::move(j));
    }
    groups.push_back({{"group", state.one.group},
                      {"nodeId", nullptr},
                      {"topic", state.one.topic},
                      {"state", state.one.activity()},
                      {"groupState", state.one.state},
                      {"partitions", partitionsJson(state.one)}});
    if (format == Format::Jsonl) { // one group per line, each naming the cluster
      for (auto& g : groups) {
        g["cluster"] = topics.cluster;
        std::cout << g.dump() << "\n";
      }
    } else {
      ojson out{{"cluster", topics.cluster}, {"groups", std::move(groups)}};
      std::cout << out.dump(2) << "\n";
    }
  } else {
    std::vector<std::string> header{"NODE", "GROUP", "TOPIC", "PARTITION", "STATE", "COMMITTED", "LOG-END", "LAG"};
    if (!dbs.empty()) header.push_back("DB-NEXT");
    std::vector<std::vector<std::string>> rows;
    auto addRows = [&](const ops::GroupPosition& g, const std::string& who) {
      for (const auto& p : g.partitions) {
        auto lag = ops::committedLag(p.committed, p.logEnd);
        std::vector<std::string> row{who,
                                     g.group,
                                     g.topic,
                                     std::to_string(p.partition),
                                     g.activity(),
                                     offsetText(p.committed),
                                     std::to_string(p.logEnd),
                                     lag ? std::to_string(*lag) : "-"};
        if (!dbs.empty()) {
          const auto* d = findDb(dbs, g.nodeId);
          row.push_back(!d || g.nodeId.empty() ? ""
                        : !d->error.empty()    ? "error"
                                               : offsetText(d->position->offset >= 0 ? d->position->offset + 1 : -1));
        }
        rows.push_back(std::move(row));
      }
    };
    for (const auto& g : state.nodes) addRows(g, g.nodeId);
    addRows(state.one, "(all)");
    std::cout << (format == Format::Csv ? renderCsv({header, rows}) : renderTable({header, rows}, TableStyle::Plain));
  }

  // What an operator could misread: a node does not resume from its committed offset when its database has a
  // position, and does (re-reading from there) when it has none.
  for (const auto& g : state.nodes) {
    const auto* d = findDb(dbs, g.nodeId);
    if (!d || !d->error.empty()) continue;
    const auto committed = g.partitions.front().committed;
    if (d->position->offset < 0)
      std::cerr << fmt::format("note: {}'s database has no position: it will read ALL from {} (its committed "
                               "offset{})\n",
                               g.nodeId, committed >= 0 ? std::to_string(committed) : "the beginning",
                               committed >= 0 ? "" : " is unset");
    else if (d->position->offset + 1 != committed)
      std::cerr << fmt::format("note: {} resumes from its database position (next ALL offset {}), not from the "
                               "committed offset {}\n",
                               g.nodeId, d->position->offset + 1, offsetText(committed));
  }
  for (const auto& d : dbs)
    if (!d.error.empty()) return exitcode::Connection;
  return exitcode::Ok;
}

/// A group as listed, unless it does not exist (or is dead).
std::optional<kafka::GroupListing> findGroup(const std::vector<kafka::GroupListing>& groups, const std::string& group) {
  for (const auto& g : groups)
    if (g.groupId == group && g.state != "Dead") return g;
  return std::nullopt;
}

/// The ids of the nodes that have a group, for messages ("none" when there are none).
std::string knownNodes(const Topics& topics, const std::vector<kafka::GroupListing>& groups) {
  std::string known;
  for (const auto& g : ops::nodeGroupListings(topics, groups))
    known += (known.empty() ? "" : ", ") + ops::nodeIdOfGroup(topics, g.groupId);
  return known.empty() ? "none" : known;
}

int refuseRunningNode(const std::string& what, const std::string& group, const std::string& node,
                      const std::string& state) {
  std::cerr << fmt::format("klusterctl: refusing to {} {}: the group has active members (state {})\n", what, group,
                           state);
  std::cerr << fmt::format("hint: stop the node first ({} is running), then retry; a node that was killed stays a "
                           "member until its session times out (session.timeout.ms)\n",
                           node);
  return exitcode::Usage;
}

bool confirm(const std::string& question) {
  if (!isatty(STDIN_FILENO))
    throw UsageError("not changing anything without confirmation: add --yes (or --dry-run to only show the change)");
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

int runSet(const SetOptions& o) {
  const auto target = ops::OffsetTarget::parse(o.to);
  std::string which = o.topic;
  std::transform(which.begin(), which.end(), which.begin(), ::toupper);
  if (which != "ALL" && which != "ONE") throw UsageError(fmt::format("invalid --topic '{}': use ALL or ONE", o.topic));
  const bool all = which == "ALL";
  if (all && o.node.empty()) throw UsageError("--topic ALL needs --node ID: the node whose ALL group to move");

  const auto settings = o.flags.resolve();
  const Topics topics{settings.get("cluster.name")};
  const auto topic = all ? topics.all() : topics.one();
  const auto group = all ? topics.nodeGroup(o.node) : topics.oneGroup();
  if (!all && !o.node.empty())
    std::cerr << fmt::format("note: --node is ignored for ONE: every node reads ONE in the shared group {}\n", group);

  kafka::Admin admin(kafka::clientProperties(settings.get("cluster.brokers"), settings.kafka()));
  const int partitions = ops::requireTopic(admin, topic);
  const auto groups = admin.listGroups();
  const auto listing = findGroup(groups, group);

  if (listing && listing->active()) {
    if (all) return refuseRunningNode("move the offsets of", group, o.node, listing->state);
    std::cerr << fmt::format("klusterctl: refusing to move the offsets of {}: the group has active members (state "
                             "{})\n",
                             group, listing->state);
    std::cerr << "hint: stop the node first: ONE's group is shared, so every node of the cluster must be stopped, "
                 "and the change affects all of them\n";
    return exitcode::Usage;
  }
  if (all && !listing)
    std::cerr << fmt::format("note: group {} does not exist yet (has {} never run?); it will be created with this "
                             "offset. Known nodes: {}\n",
                             group, o.node, knownNodes(topics, groups));

  const auto marks = ops::topicWatermarks(admin, topic, partitions);
  const auto current = ops::loadGroup(admin, group, topic, marks, listing);
  std::vector<std::int64_t> wanted;
  std::vector<std::vector<std::string>> rows;
  for (int p = 0; p < partitions; ++p) {
    const auto& w = marks[static_cast<std::size_t>(p)];
    wanted.push_back(ops::resolveTarget(target, w, [&](std::int64_t ms) { return admin.offsetForTime(topic, p, ms); }));
    rows.push_back({std::to_string(p), offsetText(current.partitions[static_cast<std::size_t>(p)].committed),
                    std::to_string(wanted.back()), std::to_string(w.low), std::to_string(w.high)});
  }
  std::cout << fmt::format("{} on {}: to {} (offsets are the next message to read)\n", group, topic, target.describe());
  std::cout << renderTable({{"PARTITION", "OLD", "NEW", "LOG-START", "LOG-END"}, rows}, TableStyle::Plain);
  if (all)
    std::cerr << fmt::format(
        "note: {} resumes from the position in its database (_kluster.position) when it has one, whatever its "
        "committed offset; this offset is used only when the database has no position (e.g. one restored without "
        "it). Check with `klusterctl offsets show --node-config FILE`.\n",
        o.node);
  else
    std::cerr << fmt::format("note: {} is shared by every node: this moves where all nodes resume reading ONE\n",
                             group);

  if (o.dryRun) {
    std::cout << "dry run: nothing changed\n";
    return exitcode::Ok;
  }
  if (!o.yes && !confirm(fmt::format("Move the committed offsets of {}?", group))) {
    std::cerr << "aborted: nothing changed\n";
    return exitcode::Usage;
  }
  admin.setCommittedOffsets(group, topic, wanted);
  const auto now = admin.committedOffsets(group, topic, partitions);
  if (now != wanted)
    throw KlusterError(code::NodeError, fmt::format("the committed offsets of {} did not change as asked", group),
                       "check that no node joined the group meanwhile (`klusterctl offsets show`)");
  std::cout << fmt::format("committed offsets of {} set\n", group);
  return exitcode::Ok;
}

int runDelete(const DeleteOptions& o) {
  const auto settings = o.flags.resolve();
  const Topics topics{settings.get("cluster.name")};
  const auto group = topics.nodeGroup(o.node);
  kafka::Admin admin(kafka::clientProperties(settings.get("cluster.brokers"), settings.kafka()));
  const int partitions = ops::requireTopic(admin, topics.all());
  const auto groups = admin.listGroups();
  const auto listing = findGroup(groups, group);
  if (!listing) {
    std::cerr << fmt::format("klusterctl: node {} has no group ({}) in cluster {}\nhint: known nodes: {}\n", o.node,
                             group, topics.cluster, knownNodes(topics, groups));
    return exitcode::Usage;
  }
  if (listing->active()) return refuseRunningNode("delete", group, o.node, listing->state);

  const auto marks = ops::topicWatermarks(admin, topics.all(), partitions);
  const auto current = ops::loadGroup(admin, group, topics.all(), marks, listing);
  const auto& p = current.partitions.front();
  const auto lag = ops::committedLag(p.committed, p.logEnd);
  std::cout << fmt::format("{} ({}): committed offset {} on {}, log end {}, lag {}\n", group, listing->state,
                           offsetText(p.committed), topics.all(), p.logEnd, lag ? std::to_string(*lag) : "-");
  std::cerr << fmt::format("note: this forgets node {} in Kafka only: monitor and offsets stop listing it. Its "
                           "database is not touched. Started again, it rejoins and resumes from its database "
                           "position.\n",
                           o.node);
  if (o.dryRun) {
    std::cout << "dry run: nothing changed\n";
    return exitcode::Ok;
  }
  if (!o.yes && !confirm(fmt::format("Delete group {}?", group))) {
    std::cerr << "aborted: nothing changed\n";
    return exitcode::Usage;
  }
  admin.deleteGroup(group);
  std::cout << fmt::format("group {} deleted: node {} is no longer part of cluster {}\n", group, o.node,
                           topics.cluster);
  return exitcode::Ok;
}

} // namespace

void registerOffsets(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("offsets", "Show, move or delete the consumer offsets of the cluster's nodes");
  cmd->require_subcommand(1);

  auto show = std::make_shared<ShowOptions>();
  auto* s = cmd->add_subcommand("show", "Per node and partition: committed offset, log end, lag, group state");
  show->flags.add(s);
  s->add_option("--node-config", show->nodeConfigs,
                "a node's TOML config (repeatable): also show the position stored in its database")
      ->check(CLI::ExistingFile);
  addOutputFlag(s, show->output, "default table; jsonl: one group per line");
  s->footer("COMMITTED is Kafka's committed offset: the next message the group reads. A node resumes ALL from the "
            "position in its database (DB-NEXT) when it has one; the committed offset is used only when it has "
            "none.\nExit status: 0 OK, 2 usage, 5 Kafka or a database could not be reached.");
  s->callback([show, &action] { action = [show] { return runShow(*show); }; });

  auto set = std::make_shared<SetOptions>();
  auto* t = cmd->add_subcommand("set", "Move a stopped node's committed offset on ALL, or the shared one on ONE");
  set->flags.add(t);
  t->add_option("--node", set->node, "the node whose ALL group to move (C.node.<ID>)");
  t->add_option("--topic", set->topic, "ALL (one node's group) or ONE (the group every node shares)")->required();
  t->add_option("--to", set->to,
                "earliest, latest, an offset, a time (ISO-8601 with a zone, e.g. 2026-11-26T07:00:00Z) or @<epoch ms>")
      ->required();
  t->add_flag("--dry-run", set->dryRun, "show the old and new offsets, change nothing");
  t->add_flag("--yes", set->yes, "do not ask for confirmation");
  t->footer("The group must have no active member: stop the node first (for ONE: every node). A node resumes ALL "
            "from its database position when it has one, so moving ALL matters for a node whose database has no "
            "position (e.g. restored without one).\nExit status: 0 OK, 2 usage or refused, 5 Kafka could not be "
            "reached.");
  t->callback([set, &action] { action = [set] { return runSet(*set); }; });

  auto del = std::make_shared<DeleteOptions>();
  auto* d = cmd->add_subcommand("delete", "Forget a decommissioned node: delete its ALL group and committed offset");
  del->flags.add(d);
  d->add_option("--node", del->node, "the node to forget (its group C.node.<ID>)")->required();
  d->add_flag("--dry-run", del->dryRun, "show the group, change nothing");
  d->add_flag("--yes", del->yes, "do not ask for confirmation");
  d->footer("A stopped node's group keeps its committed offset, so monitor lists the node as stopped (and --check "
            "fails) until Kafka expires the offsets (offsets.retention.minutes, 7 days by default). Delete the group "
            "of a node taken out of the cluster for good. The node must be stopped; its database is left as it "
            "is.\nExit status: 0 OK, 2 usage, refused or no such node, 5 Kafka could not be reached.");
  d->callback([del, &action] { action = [del] { return runDelete(*del); }; });
}

} // namespace kluster::commands
