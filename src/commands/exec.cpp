// klusterctl exec: publish one request and print its response(s), or run the interactive prompt.
#include "commands/command.hpp"
#include "commands/exec_interactive.hpp"
#include "commands/exec_session.hpp"
#include "core/client/client.hpp"
#include "core/sql/analyzer.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <optional>
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
  std::string session;
  std::string messageId;
  std::string clientId;
};

std::string readAll(std::istream& in) {
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A script's statements, as the cluster's SQL dialect splits them; empty when the text does not parse (it is
/// then sent whole, and every node answers SYNTAX_ERROR without applying any of it).
std::vector<sql::Statement> splitScript(const std::string& text, const sql::Dialect& dialect) {
  try {
    return dialect.analyze(text).statements;
  } catch (const std::exception&) {
    return {};
  }
}

/// Sends a script's statements one request at a time, in order, and stops at the first that fails. Each
/// takes the -p values its $n use; with --message-id ID they are ID.1, ID.2, ..., so running the script
/// again skips what was applied (DUPLICATE counts as done).
int runScript(ExecRunner& runner, const std::vector<sql::Statement>& statements, const ExecOptions& o,
              ExecSettings es) {
  int maxParam = 0;
  for (const auto& st : statements) maxParam = std::max(maxParam, st.maxParam);
  if (static_cast<std::size_t>(maxParam) != o.params.size())
    throw UsageError(
        fmt::format("the script uses {} parameter(s) ($1..${}) but -p gives {}", maxParam, maxParam, o.params.size()));
  es.duplicateOk = !o.messageId.empty();
  for (std::size_t k = 0; k < statements.size(); ++k) {
    Request req;
    req.statements = {statements[k].sql};
    for (int i = 0; i < statements[k].maxParam; ++i) req.params.push_back(o.params[static_cast<std::size_t>(i)]);
    if (!o.messageId.empty()) req.messageId = fmt::format("{}.{}", o.messageId, k + 1);
    if (const int rc = runner.run(std::move(req), es, std::cout, std::cerr); rc != exitcode::Ok) {
      std::cerr << fmt::format("stopped at statement {} of {}: {} before it applied, {} after it not sent (--tx "
                               "sends a script as one atomic request)\n",
                               k + 1, statements.size(), k, statements.size() - k - 1);
      return rc;
    }
  }
  return exitcode::Ok;
}

int runExec(const ExecOptions& o) {
  const auto settings = o.flags.resolve();
  if (!o.sql.empty() && !o.file.empty()) throw UsageError("give the SQL as an argument or with -f, not both");
  // No SQL and a person at a terminal: the prompt. Otherwise standard input holds the SQL.
  const bool interactive = o.sql.empty() && o.file.empty() && isatty(STDIN_FILENO);
  std::string text = o.sql;
  if (!o.file.empty()) {
    std::ifstream in(o.file);
    if (!in) throw UsageError(fmt::format("cannot read {}", o.file));
    text = readAll(in);
  } else if (text == "-" || (text.empty() && !interactive)) {
    text = readAll(std::cin);
  }
  if (!interactive && text.find_first_not_of(" \t\r\n;") == std::string::npos) throw UsageError("the SQL is empty");
  if (interactive && (!o.params.empty() || !o.messageId.empty()))
    throw UsageError("-p and --message-id apply to one request: give the SQL as an argument");

  ExecSettings es;
  es.to = o.to;
  chooseTarget(es.to, {}); // rejects a bad --to before connecting
  try {
    es.dialect = &sql::dialect(settings.get("database.type"));
  } catch (const std::invalid_argument&) {
    throw UsageError(fmt::format("database type '{}' is not supported; set [database] type or KLUSTER_DATABASE_TYPE",
                                 settings.get("database.type")));
  }
  es.waitText = o.wait;
  es.wait = client::WaitPolicy::parse(o.wait);
  es.timeoutText = o.timeout;
  es.timeout = util::parseDuration(o.timeout);
  if (es.timeout.count() <= 0) throw UsageError("--timeout must be positive (e.g. 500ms, 10s)");
  es.format = parseFormat(o.output.empty() ? (interactive || isatty(STDOUT_FILENO) ? "table" : "json") : o.output);
  if (o.after >= 0) es.after = o.after;

  auto copts = clientOptions(settings);
  if (!o.clientId.empty()) copts.clientId = o.clientId;
  // Unreachable brokers fail within the time the caller is willing to wait (at least a second, so a
  // tight --timeout still leaves room to connect, and at most five: metadata on a working cluster takes milliseconds).
  copts.connectTimeout =
      std::clamp<std::chrono::milliseconds>(es.timeout, std::chrono::seconds(1), std::chrono::seconds(5));
  std::optional<SessionFile> session;
  if (!o.session.empty()) session.emplace(o.session, copts.cluster);
  client::Client client(copts);
  ExecRunner runner(client, session ? &*session : nullptr);
  if (interactive) return runInteractive(runner, PromptState{es, false}, copts.cluster);

  // SQL given as the argument is one request, applied atomically (like psql -c); a file or standard input
  // is a script, sent a statement at a time (like psql -f), unless --tx makes it one atomic request.
  const bool script = (!o.file.empty() || o.sql.empty() || o.sql == "-") && !o.tx;
  if (script) {
    if (auto statements = splitScript(text, *es.dialect); statements.size() > 1)
      return runScript(runner, statements, o, es);
  }
  Request req;
  req.statements = {text};
  for (const auto& p : o.params) req.params.push_back(p);
  req.messageId = o.messageId;
  return runner.run(std::move(req), es, std::cout, std::cerr);
}

} // namespace

void registerExec(CLI::App& app, Action& action) {
  auto o = std::make_shared<ExecOptions>();
  auto* cmd = app.add_subcommand(
      "exec", "Publish one SQL request and print the response(s); with no SQL at a terminal, an interactive prompt");
  o->flags.add(cmd);
  cmd->add_option("sql", o->sql,
                  "the SQL ('-': read standard input; nothing: standard input, or a prompt on a terminal)");
  cmd->add_option("-f,--file", o->file,
                  "run a script: one request per statement, in order, stopping at the first that fails");
  cmd->add_option("--to", o->to,
                  "ALL (every node, in order), ONE (one node, read-only) or auto: reads to ONE, "
                  "everything else to ALL")
      ->capture_default_str();
  cmd->add_option("--wait", o->wait, "first, all (every live node), quorum, N, or none (print the request id)")
      ->capture_default_str();
  cmd->add_option("--timeout", o->timeout, "how long to wait for responses (e.g. 500ms, 10s)")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "table, json, jsonl or csv (default: table on a terminal, else json)");
  cmd->add_option("-p,--param", o->params, "value for $1, $2, ... (repeatable, in order)")
      ->allow_extra_args(false); // one value per -p, so the SQL argument is never taken as a parameter
  cmd->add_flag("--tx", o->tx,
                "send a script (-f or standard input) as one atomic request; SQL given as the argument always is");
  cmd->add_option("--after", o->after,
                  "ONE: answer only once the node applied ALL up to this offset (an earlier ALL response's "
                  "allOffset), else NOT_CAUGHT_UP")
      ->type_name("OFFSET");
  cmd->add_option("--session", o->session,
                  "read-your-writes across invocations: FILE keeps the highest ALL offset of this session's ALL "
                  "requests and later ONE reads wait for it (created if missing)")
      ->type_name("FILE");
  cmd->add_option("--message-id", o->messageId, "request id (default: a fresh UUID); resending one is a duplicate");
  cmd->add_option("--client-id", o->clientId, "client id (default: a fresh one per invocation)");
  cmd->footer("--to auto sends a request to ONE only when every statement just reads: SELECT (WITH ... SELECT too) "
              "without FOR UPDATE/SHARE or data-modifying CTEs, EXPLAIN without ANALYZE of a write, SHOW; "
              "everything else goes to ALL.\n"
              "BEGIN; ... COMMIT; in a script or at the prompt is an interactive transaction, as through the proxy: "
              "each statement answered at once (a speculation on ONE), COMMIT applied atomically on every node or "
              "refused with SERIALIZATION_FAILURE (retry it), ROLLBACK and savepoints as in PostgreSQL.\n"
              "Exit status: 0 OK, 1 an error response (SQL error, NOT_CAUGHT_UP), 2 usage, 3 timeout (the "
              "silent nodes are named on stderr), 4 divergence (ALL responses disagree), 5 connection (Kafka "
              "unreachable or the cluster's topics missing).");
  cmd->callback([o, &action] { action = [o] { return runExec(*o); }; });
}

} // namespace kluster::commands
