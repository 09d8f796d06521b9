// klusterctl proxy: PostgreSQL's wire protocol in front of the cluster (src/core/proxy).
#include "commands/command.hpp"
#include "core/client/client.hpp"
#include "core/log.hpp"
#include "core/proxy/metrics.hpp"
#include "core/proxy/server.hpp"
#include "core/util.hpp"
#include "core/version.hpp"

#include <fmt/format.h>

#include <iostream>
#include <sstream>

namespace kluster::commands {
namespace {

struct ProxyOptions {
  ClusterFlags flags;
  std::vector<std::string> listen;
  int maxConnections = -1;
  std::string wait;
  std::string timeout;
  std::string metricsAddress;
};

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

int runProxy(const ProxyOptions& o) {
  auto settings = o.flags.resolve();
  proxy::ServerOptions so;
  so.listen = o.listen.empty() ? splitList(settings.get("proxy.listen")) : o.listen;
  if (so.listen.empty()) throw UsageError("proxy.listen is empty: give at least one HOST:PORT");
  const int maxConnections = o.maxConnections >= 0 ? o.maxConnections : settings.getInt("proxy.max_connections");
  if (maxConnections < 1) throw UsageError("--max-connections must be at least 1");
  so.maxConnections = static_cast<std::size_t>(maxConnections);
  so.trust = proxy::TrustList::parse(settings.get("proxy.trust"));
  so.startupTimeout = settings.getDuration("proxy.startup_timeout");
  if (so.startupTimeout.count() <= 0) throw UsageError("proxy.startup_timeout must be positive");
  so.batchWindow = settings.getDuration("proxy.batch_window");
  if (so.batchWindow > std::chrono::seconds(1)) throw UsageError("proxy.batch_window must be at most 1s (e.g. 1ms)");
  so.tlsCert = settings.get("proxy.tls_cert");
  so.tlsKey = settings.get("proxy.tls_key");
  const auto& tlsRequired = settings.get("proxy.tls_required");
  if (tlsRequired != "true" && tlsRequired != "false") throw UsageError("proxy.tls_required must be true or false");
  so.session.tlsRequired = tlsRequired == "true";
  if (const auto& users = settings.get("proxy.users_file"); !users.empty())
    so.session.users = std::make_shared<const proxy::Users>(proxy::Users::load(users));
  const auto waitText = o.wait.empty() ? settings.get("proxy.wait") : o.wait;
  so.session.writeWait = client::WaitPolicy::parse(waitText);
  if (so.session.writeWait.kind == client::WaitPolicy::Kind::None)
    throw UsageError("--wait none cannot answer a client: use first, all, quorum or a number");
  so.session.timeoutText = o.timeout.empty() ? settings.get("proxy.timeout") : o.timeout;
  so.session.timeout = util::parseDuration(so.session.timeoutText);
  if (so.session.timeout.count() <= 0) throw UsageError("--timeout must be positive (e.g. 10s)");
  so.session.serverVersion = fmt::format("15.0 (Kluster {})", kVersion);
  const int maxStatements = settings.getInt("proxy.transaction_max_statements");
  if (maxStatements < 1) throw UsageError("proxy.transaction_max_statements must be at least 1");
  so.session.transactionLimits.maxStatements = static_cast<std::size_t>(maxStatements);
  // The commit request carries the statements, their parameters and digests: room for the latter.
  so.session.transactionLimits.maxBytes = static_cast<std::size_t>(settings.getInt("node.max_request_bytes")) / 4 * 3;
  so.session.transactionIdleTimeout = settings.getDuration("proxy.transaction_idle_timeout");
  const auto metricsAddress = o.metricsAddress.empty() ? settings.get("proxy.metrics_address") : o.metricsAddress;
  if (!metricsAddress.empty()) metrics::parseListenAddress(metricsAddress); // fail before connecting

  auto copts = clientOptions(settings, fmt::format("proxy-{}", util::uuid4().substr(0, 8)));
  copts.readerThread = false; // the server's loop reads the responses
  copts.batchLinger = so.batchWindow;
  auto client = std::make_unique<client::Client>(copts);
  so.session.metrics = std::make_shared<proxy::Metrics>(copts.cluster);
  proxy::Server server(so, *client);
  std::unique_ptr<metrics::HttpServer> endpoint; // after the server: stopped before it goes
  if (!metricsAddress.empty()) {
    endpoint = proxy::serveMetrics(metricsAddress, so.session.metrics,
                                   [&server] { return server.responsive(std::chrono::seconds(2)); });
    KLOG(Info, "proxy", "serving /metrics and /health on {}", endpoint->url());
  }
  for (const auto& a : server.addresses()) std::cout << "listening on " << a << std::endl;
  KLOG(Info, "proxy", "cluster {} at {}: serving PostgreSQL clients (writes wait for {})", copts.cluster, copts.brokers,
       waitText);
  KLOG(Info, "proxy", "without a password: {}; SCRAM-SHA-256 users: {}; TLS: {}",
       so.trust.empty() ? "nobody" : so.trust.text(),
       so.session.users ? std::to_string(so.session.users->size()) : "none (no proxy.users_file)",
       so.tlsCert.empty()       ? "off"
       : so.session.tlsRequired ? "required"
                                : "offered");
  server.run(true);
  KLOG(Info, "proxy", "stopped");
  return exitcode::Ok;
}

} // namespace

void registerProxy(CLI::App& app, Action& action) {
  auto o = std::make_shared<ProxyOptions>();
  auto* cmd = app.add_subcommand("proxy", "Serve PostgreSQL clients (psql, JDBC, Go, Python, Node) in front of the "
                                          "cluster: PostgreSQL's wire protocol, version 3");
  o->flags.add(cmd);
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (repeatable; default proxy.listen, 127.0.0.1:6432)")
      ->type_name("HOST:PORT");
  cmd->add_option(
      "--max-connections", o->maxConnections,
      "client connections served at once; more are refused with 53300 (default proxy.max_connections, 100)");
  cmd->add_option("--wait", o->wait,
                  "responses a write waits for: first, all, quorum or N (default proxy.wait, first)");
  cmd->add_option("--timeout", o->timeout, "how long a request waits for its responses (default proxy.timeout, 10s)");
  cmd->add_option("--metrics-address", o->metricsAddress,
                  "serve Prometheus /metrics and /health on HOST:PORT (default proxy.metrics_address: off; port 0: "
                  "any free port, logged)")
      ->type_name("HOST:PORT");
  cmd->footer("Connect with any PostgreSQL client, e.g. psql \"host=127.0.0.1 port=6432 dbname=kluster\". Reads go to "
              "ONE and see the connection's own earlier writes; everything else goes to ALL. Clients from the "
              "addresses in proxy.trust (loopback by default) connect without a password; the others "
              "authenticate with SCRAM-SHA-256 against proxy.users_file (klusterctl passwd). TLS with "
              "proxy.tls_cert and proxy.tls_key. See docs/proxy.md in the source tree.");
  cmd->callback([o, &action] { action = [o] { return runProxy(*o); }; });
}

} // namespace kluster::commands
