// klusterctl demo: a throwaway cluster (Kafka, N PostgreSQL servers or one MariaDB, N nodes, the example tables) and
// the exec prompt against it; everything is stopped and removed at the end (src/core/ops/demo.*).
#include "core/ops/demo.hpp"
#include "commands/command.hpp"
#include "commands/exec_interactive.hpp"
#include "commands/exec_session.hpp"
#include "core/client/client.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

namespace kluster::commands {
namespace {

struct DemoFlags {
  int nodes = 3;
  std::string database = "postgresql";
  bool withLoad = false;
  std::vector<std::string> execute;
  std::string output;
  std::string source;
  std::string kafkaHome;
};

// Ctrl-C, SIGTERM or SIGHUP while the demo starts or stops: it stops what it started and exits. (The prompt
// has handlers of its own while it runs: Ctrl-C drops a line there, SIGTERM and SIGHUP end it.)
volatile std::sig_atomic_t stopSignal = 0;
void onStopSignal(int signal) { stopSignal = signal; }

std::string pidList(const std::vector<int>& pids) {
  std::string out;
  for (const int p : pids) out += (out.empty() ? "" : " ") + std::to_string(p);
  return out.empty() ? "-" : out;
}

int runDemo(const DemoFlags& f) {
  const bool interactive = f.execute.empty();
  if (interactive && !isatty(STDIN_FILENO))
    throw UsageError("demo's prompt needs a terminal on standard input; use --execute SQL to run statements and exit");
  ExecSettings es;
  es.format = parseFormat(f.output.empty() ? (isatty(STDOUT_FILENO) ? "table" : "json") : f.output);
  es.dialect = &sql::dialect(f.database); // the prompt splits and routes in the nodes' dialect

  struct sigaction stop {};
  stop.sa_handler = onStopSignal;
  sigemptyset(&stop.sa_mask);
  for (const int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &stop, nullptr);

  ops::DemoOptions o;
  o.nodes = f.nodes;
  o.database = f.database;
  o.withLoad = f.withLoad;
  o.sourceDir = f.source.empty() && std::getenv("KLUSTER_SOURCE_DIR") ? std::getenv("KLUSTER_SOURCE_DIR") : f.source;
  o.kafkaHome = f.kafkaHome;
  o.interrupted = [] { return stopSignal != 0; };
  o.progress = [](const std::string& line) { std::cerr << "demo: " << line << "\n"; };
  ops::Demo demo(o);
  try {
    demo.start();
  } catch (const ops::DemoInterrupted&) {
    std::cerr << "demo: stopped (signal while starting); everything it started is stopped and removed\n";
    return 128 + static_cast<int>(stopSignal);
  }
  const auto& info = demo.info();
  std::cerr << fmt::format("demo: cluster {} with {} node(s) is ready; Kafka at {}\n"
                           "demo: processes: kafka {}, {} {}, nodes {}{}\n"
                           "demo: files in {} (removed at exit)\n",
                           info.cluster, info.nodePids.size(), info.brokers, pidList(info.kafkaPids),
                           f.database == "mariadb" ? "mariadb" : "postgres", pidList(info.databasePids),
                           pidList(info.nodePids),
                           info.loadPid ? fmt::format(", load {}", info.loadPid) : std::string(), info.dir);
  std::cerr << fmt::format("demo: in another terminal: klusterctl monitor --brokers {} --cluster {}\n", info.brokers,
                           info.cluster);

  client::ClientOptions copts;
  copts.brokers = info.brokers;
  copts.cluster = info.cluster;
  int rc = exitcode::Ok;
  {
    client::Client client(copts);
    ExecRunner runner(client, nullptr);
    if (interactive) {
      std::cerr << "Try: SELECT p.firstName, p.lastName, a.street, a.city FROM person p JOIN address a ON "
                   "p.addressId = a.id;\n";
      rc = runInteractive(runner, PromptState{es, false}, info.cluster);
    } else {
      for (const auto& sql : f.execute) {
        if (stopSignal) break;
        Request request;
        request.statements = {sql};
        rc = runner.run(std::move(request), es, std::cout, std::cerr);
        std::cout << std::flush;
        if (rc != exitcode::Ok) break;
      }
    }
  }
  std::cerr << fmt::format("demo: stopping the nodes, Kafka and {}\n",
                           f.database == "mariadb" ? "MariaDB" : "PostgreSQL");
  demo.stop();
  std::cerr << fmt::format("demo: stopped; {} removed\n", info.dir);
  return rc;
}

} // namespace

void registerDemo(CLI::App& app, Action& action) {
  auto f = std::make_shared<DemoFlags>();
  auto* cmd = app.add_subcommand(
      "demo", "Start a throwaway cluster (Kafka, PostgreSQL or MariaDB, nodes, example tables) and open the exec "
              "prompt on it; everything is removed at exit");
  cmd->add_option("--nodes", f->nodes, "nodes, each with its own PostgreSQL server (or MariaDB database)")
      ->capture_default_str()
      ->check(CLI::Range(1, 9));
  cmd->add_option("--db", f->database,
                  "the nodes' database: postgresql (a PostgreSQL 15 server per node) or mariadb (one MariaDB 10.11 "
                  "server, a database per node; docs/mariadb.md says what works)")
      ->capture_default_str()
      ->check(CLI::IsMember({"postgresql", "mariadb"}));
  cmd->add_flag("--with-load", f->withLoad,
                "run a small background workload (20 requests/s) so `klusterctl monitor` shows something moving");
  cmd->add_option("-e,--execute", f->execute,
                  "run this SQL (one request, as exec \"SQL\") instead of the prompt, then stop; repeatable, "
                  "stops at the first that fails")
      ->allow_extra_args(false)
      ->type_name("SQL");
  cmd->add_option("-o,--output", f->output, "table, json, jsonl or csv (default: table on a terminal, else json)")
      ->check(CLI::IsMember({"table", "json", "jsonl", "csv"}));
  cmd->add_option("--source", f->source,
                  "a Kluster source tree whose scripts start Kafka and the databases (default: $KLUSTER_SOURCE_DIR, "
                  "else the tree this binary lies in or was built from)")
      ->type_name("DIR");
  cmd->add_option("--kafka-home", f->kafkaHome,
                  "where Kafka's jars are, in DIR/lib (default: $KLUSTER_KAFKA_HOME, else SOURCE/.kafka)")
      ->type_name("DIR");
  cmd->footer("Kafka, PostgreSQL 15 (or, with --db mariadb, one MariaDB server holding a database per node) and "
              "the nodes run on free loopback ports from a temporary directory; the cluster is named demo and holds "
              "the tables address and person of the original design, created by SQL both databases accept. "
              "The prompt is exec's (\\? for help); \\q or Ctrl-D ends the demo, Ctrl-C drops the line being typed. "
              "Ctrl-C while it starts, SIGTERM or SIGHUP stop it; everything it started is stopped and its "
              "directory removed, also when it is killed (a guardian process cleans up).\n"
              "Exit status: as exec for --execute (0 OK, 1 an error response, 3 timeout, 4 divergence); 2 usage "
              "(no terminal and no --execute, no source tree found); 5 a service or node did not start.");
  cmd->callback([f, &action] { action = [f] { return runDemo(*f); }; });
}

} // namespace kluster::commands
