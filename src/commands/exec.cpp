// klusterctl exec: publish one request and print its response(s).
#include "commands/command.hpp"
#include "commands/exec_output.hpp"
#include "core/client/client.hpp"
#include "core/sql/analyzer.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace kluster::commands {
namespace {

struct ExecOptions {
  ClusterFlags flags;
  std::string sql;
  std::string file;
  std::string to = "auto";
  std::string wait = "first";
  std::string timeout = "10s";
  std::string output;
  std::vector<std::string> params;
  bool tx = false;
  std::int64_t after = -1;
  std::string messageId;
  std::string clientId;
};

std::string readAll(std::istream& in) {
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

client::Target chooseTarget(const std::string& to, const std::vector<std::string>& statements) {
  std::string t = to;
  std::transform(t.begin(), t.end(), t.begin(), ::tolower);
  if (t == "all") return client::Target::All;
  if (t == "one") return client::Target::One;
  if (t != "auto") throw UsageError(fmt::format("invalid --to '{}': use ALL, ONE or auto", to));
  // Only statements that provably just read may go to ONE; the rule is PostgreSQL's own parser's.
  for (const auto& s : statements)
    if (!sql::isReadOnly(s)) return client::Target::All;
  return client::Target::One;
}

int runExec(const ExecOptions& o) {
  const auto settings = o.flags.resolve();
  Request req;
  if (!o.sql.empty() && !o.file.empty()) throw UsageError("give the SQL as an argument or with -f, not both");
  std::string text = o.sql;
  if (!o.file.empty()) {
    std::ifstream in(o.file);
    if (!in) throw UsageError(fmt::format("cannot read {}", o.file));
    text = readAll(in);
  } else if (text.empty() || text == "-") {
    if (isatty(STDIN_FILENO) && text.empty())
      throw UsageError("no SQL given: pass it as an argument, with -f FILE, or on standard input");
    text = readAll(std::cin);
  }
  if (text.find_first_not_of(" \t\r\n;") == std::string::npos) throw UsageError("the SQL is empty");
  // One request: its statements (several from a file) apply atomically; --tx states it explicitly.
  req.statements = {text};
  for (const auto& p : o.params) req.params.push_back(p);
  if (o.after >= 0) req.minAllOffset = o.after;
  req.messageId = o.messageId;

  const auto target = chooseTarget(o.to, req.statements);
  const auto wait = client::WaitPolicy::parse(o.wait);
  const auto timeout = util::parseDuration(o.timeout);
  const auto format = parseFormat(o.output.empty() ? (isatty(STDOUT_FILENO) ? "table" : "json") : o.output);

  client::ClientOptions copts;
  copts.brokers = settings.get("cluster.brokers");
  copts.cluster = settings.get("cluster.name");
  copts.kafka = settings.kafka();
  copts.clientId = o.clientId;
  client::Client client(copts);
  auto result = client.send(std::move(req), target, wait, timeout).get();

  if (wait.kind == client::WaitPolicy::Kind::None) {
    std::cout << result.requestId << "\n";
    return exitcode::Ok;
  }
  render(result, format, std::cout, std::cerr);
  if (result.diverged) {
    std::cerr << "DIVERGENCE: the nodes answered this ALL request differently:\n";
    for (const auto& r : result.responses)
      std::cerr << fmt::format("  {:<16} {:<22} resultHash {}\n", r.nodeId, r.resultCode, r.resultHash);
    return exitcode::Divergence;
  }
  if (result.timedOut) {
    std::string missing;
    for (const auto& n : result.missingNodes) missing += (missing.empty() ? "" : ", ") + n;
    std::string answered;
    for (const auto& r : result.responses) answered += (answered.empty() ? "" : ", ") + r.nodeId;
    std::cerr << fmt::format("timeout after {}: {} response(s) (from: {}){}\n", o.timeout, result.responses.size(),
                             answered.empty() ? "none" : answered,
                             missing.empty() ? "" : "; no answer from: " + missing);
    if (result.responses.empty())
      std::cerr << "hint: is a node running? (klusterctl node run), and is --cluster right?\n";
    return exitcode::Timeout;
  }
  for (const auto& r : result.responses)
    if (!r.ok()) {
      std::cerr << fmt::format("error {} from {}: {}\n", r.resultCode, r.nodeId, r.errorMessage);
      if (!r.hint.empty()) std::cerr << "hint: " << r.hint << "\n";
      return exitcode::SqlError;
    }
  return exitcode::Ok;
}

} // namespace

void registerExec(CLI::App& app, Action& action) {
  auto o = std::make_shared<ExecOptions>();
  auto* cmd = app.add_subcommand("exec", "Publish one SQL request and print the response(s)");
  o->flags.add(cmd);
  cmd->add_option("sql", o->sql, "the SQL ('-' or nothing: read standard input)");
  cmd->add_option("-f,--file", o->file, "read the SQL from a file (its statements apply atomically)");
  cmd->add_option("--to", o->to,
                  "ALL (every node, in order), ONE (one node, read-only) or auto: reads to ONE, "
                  "everything else to ALL")
      ->capture_default_str();
  cmd->add_option("--wait", o->wait, "first, all (every live node), quorum, N, or none (print the request id)")
      ->capture_default_str();
  cmd->add_option("--timeout", o->timeout, "how long to wait for responses (e.g. 500ms, 10s)")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "table, json, jsonl or csv (default: table on a terminal, else json)");
  cmd->add_option("-p,--param", o->params, "value for $1, $2, ... (repeatable, in order)");
  cmd->add_flag("--tx", o->tx, "send all statements as one atomic request (the default for one request)");
  cmd->add_option("--after", o->after, "ONE: answer only once the node applied ALL up to this offset");
  cmd->add_option("--message-id", o->messageId, "request id (default: a fresh UUID); resending one is a duplicate");
  cmd->add_option("--client-id", o->clientId, "client id (default: a fresh one per invocation)");
  cmd->footer("Exit status: 0 OK, 1 an error response, 2 usage, 3 timeout, 4 divergence, 5 connection.");
  cmd->callback([o, &action] { action = [o] { return runExec(*o); }; });
}

} // namespace kluster::commands
