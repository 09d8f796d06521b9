// klusterctl verify: proves the nodes hold identical data, compared at the same ALL offset on every node.
#include "core/ops/verify.hpp"
#include "commands/command.hpp"
#include "commands/output.hpp"
#include "core/client/client.hpp"
#include "core/db/operations.hpp"
#include "core/kafka/admin.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

namespace kluster::commands {
namespace {

struct VerifyCommandOptions {
  ClusterFlags flags;
  std::string timeout = "30s";
  std::string output;
  int buckets = 16;
  std::vector<std::string> tables;
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? "-" : out;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// Per table and node: rows, checksum and whether it matches; mismatches in red on a terminal (`color`).
Table nodeTable(const ops::verify::Report& report, bool color) {
  Table t{{"TABLE", "NODE", "ROWS", "CHECKSUM", "STATUS"}, {}};
  for (const auto& tab : report.tables) {
    bool first = true;
    auto nodes = report.nodes;
    nodes.insert(nodes.end(), report.missing.begin(), report.missing.end());
    for (const auto& node : nodes) {
      std::vector<std::string> row{first ? tab.table.qualified() : "", node, "-", "-", "ok"};
      first = false;
      if (auto it = tab.nodes.find(node); it != tab.nodes.end()) {
        row[2] = std::to_string(it->second.rows);
        row[3] = it->second.checksum.substr(0, 16);
      }
      if (contains(report.missing, node)) {
        row[4] = "NO ANSWER";
      } else if (contains(tab.differing, node)) {
        auto note = tab.notes.find(node);
        row[4] = note == tab.notes.end() ? "DIFFERS" : "DIFFERS (" + note->second + ")";
      }
      // the last column: its escape codes pad nothing
      if (color && row[4] != "ok") row[4] = "\x1b[1;31m" + row[4] + "\x1b[0m";
      t.rows.push_back(std::move(row));
    }
  }
  return t;
}

// Where each differing table differs: the narrowest key ranges, then the rows themselves.
void printDifferences(const ops::verify::Report& report, std::ostream& out) {
  for (const auto& t : report.tables) {
    if (t.identical()) continue;
    std::vector<std::string> agreeing;
    for (const auto& n : report.nodes)
      if (!contains(t.differing, n)) agreeing.push_back(n);
    out << fmt::format("\n{}: {} on {}{}\n", t.table.qualified(),
                       t.status == "missing" ? "not on every node" : t.status, joined(t.differing),
                       agreeing.empty() ? " (no majority)" : " (" + joined(agreeing) + " agree)");
    for (const auto& [node, note] : t.notes) out << fmt::format("  {}: {}\n", node, note);
    for (const auto& r : t.ranges) {
      std::string counts;
      for (const auto& [node, s] : r.nodes) counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", node, s.rows);
      out << fmt::format("  key range {}: rows {}; differs on {}\n", r.where, counts, joined(r.differing));
    }
    for (const auto& row : t.rows) {
      std::string key;
      for (std::size_t i = 0; i < row.key.size() && i < t.table.key.size(); ++i)
        key += t.table.key[i].name.empty() ? fmt::format("'{}'", row.key[i]) // no primary key: the row itself
                                           : fmt::format("{}{} = '{}'", i ? ", " : "", t.table.key[i].name, row.key[i]);
      std::vector<std::string> missing, extra, changed;
      const bool majorityHasRow = row.hashes.size() * 2 > report.nodes.size();
      for (const auto& n : row.differing) {
        if (!row.hashes.count(n))
          missing.push_back(n);
        else if (!majorityHasRow)
          extra.push_back(n);
        else
          changed.push_back(n);
      }
      std::string what;
      if (!changed.empty()) what += "changed on " + joined(changed);
      if (!missing.empty()) what += (what.empty() ? "" : "; ") + std::string("missing on ") + joined(missing);
      if (!extra.empty()) what += (what.empty() ? "" : "; ") + std::string("only on ") + joined(extra);
      out << fmt::format("  row {}: {}\n", key, what);
    }
  }
}

int runVerify(const VerifyCommandOptions& o) {
  const auto settings = o.flags.resolve();
  const auto timeout = util::parseDuration(o.timeout);
  const auto format = outputFormat(o.output, terminalDefault());
  const Topics topics{settings.get("cluster.name")};

  auto copts = clientOptions(settings);
  client::Client client(copts);
  if (client.liveNodes().empty())
    throw KlusterError(code::NodeError, fmt::format("no node of cluster {} is running", topics.cluster),
                       "start the nodes (klusterctl node run), and check --cluster and --brokers");
  // Nodes that ran once but are stopped are not compared; say so, as they may be stale.
  std::vector<std::string> stopped;
  {
    kafka::Admin admin(kafka::clientProperties(copts.brokers, copts.kafka));
    for (const auto& g : admin.listGroups())
      if (g.groupId.rfind(topics.nodeGroupPrefix(), 0) == 0 && !g.active())
        stopped.push_back(g.groupId.substr(topics.nodeGroupPrefix().size()));
  }

  ops::verify::Options options;
  options.buckets = o.buckets;
  options.tables = o.tables;
  const auto& queries = db::adapter(settings.get("database.type")).operations().verifyQueries();
  auto report = ops::verify::run(ops::verify::clientAsk(client, timeout), queries, options);
  report.cluster = topics.cluster;

  if (format == Format::Json || format == Format::Jsonl) {
    auto j = report.toJson();
    j["stoppedNodes"] = stopped;
    std::cout << j.dump(format == Format::Json ? 2 : -1) << "\n";
  } else if (format == Format::Csv) {
    std::cout << renderCsv(nodeTable(report, false));
  } else {
    std::cout << fmt::format("cluster {} at ALL offset {}: nodes {}\n\n", report.cluster, report.allOffset,
                             joined(report.nodes));
    std::cout << renderTable(nodeTable(report, isatty(STDOUT_FILENO)), TableStyle::Plain);
    printDifferences(report, std::cout);
  }
  if (!stopped.empty()) std::cerr << "not compared (not running): " << joined(stopped) << "\n";
  const int code = report.exitCode();
  if (code == exitcode::Ok) {
    std::cerr << fmt::format("all {} table(s) identical on {} at ALL offset {}\n", report.tables.size(),
                             joined(report.nodes), report.allOffset);
  } else if (code == exitcode::Divergence) {
    std::vector<std::string> bad;
    for (const auto& t : report.tables)
      if (!t.identical()) bad.push_back(fmt::format("{} ({})", t.table.qualified(), joined(t.differing)));
    std::cerr << fmt::format("DIVERGENCE: {} table(s) differ: {}\n", bad.size(), joined(bad));
    std::cerr << "hint: rebuild a differing node from a backup of a good one (klusterctl backup, then klusterctl "
                 "restore --force)\n";
  }
  if (!report.missing.empty())
    std::cerr << fmt::format("timeout: no answer from {} within {} (hint: is the node stopped, paused or far behind? "
                             "see klusterctl monitor)\n",
                             joined(report.missing), o.timeout);
  return code;
}

} // namespace

void registerVerify(CLI::App& app, Action& action) {
  auto o = std::make_shared<VerifyCommandOptions>();
  auto* cmd = app.add_subcommand("verify", "Prove the running nodes hold identical data: per-table checksums "
                                           "computed at the same ALL offset on every node");
  o->flags.add(cmd);
  cmd->add_option("--timeout", o->timeout, "how long to wait for every node's answer, per request")
      ->capture_default_str();
  addOutputFlag(cmd, o->output,
                "default: table on a terminal, else json; jsonl: the report on one line, csv: a row "
                "per table and node");
  cmd->add_option("--buckets", o->buckets, "key ranges per split when narrowing a difference down")
      ->capture_default_str()
      ->check(CLI::Range(2, 1000));
  cmd->add_option("--table", o->tables, "only this table (schema.table, or table in public; repeatable)");
  cmd->footer("The questions are read-only requests on ALL, so every node answers at the same log position, "
              "even while clients write; each runs inside the nodes' apply loop and delays writes while it scans.\n"
              "Exit status: 0 identical, 3 a node did not answer, 4 divergence, 5 Kafka unreachable or no node "
              "running.");
  cmd->callback([o, &action] { action = [o] { return runVerify(*o); }; });
}

} // namespace kluster::commands
