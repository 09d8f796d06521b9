#include "core/node/metrics_server.hpp"

#include "core/errors.hpp"
#include "core/log.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>

namespace kluster::node {

std::pair<std::string, int> parseListenAddress(const std::string& address) {
  const auto colon = address.rfind(':');
  auto bad = [&] {
    return UsageError(fmt::format("invalid metrics address '{}': use HOST:PORT, e.g. 127.0.0.1:9187", address));
  };
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) throw bad();
  std::string host = address.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']') throw bad();
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  try {
    std::size_t used = 0;
    port = std::stoi(address.substr(colon + 1), &used);
    if (used != address.size() - colon - 1) throw bad();
  } catch (const std::logic_error&) {
    throw bad();
  }
  if (port < 0 || port > 65535) throw bad();
  return {host, port};
}

namespace {

nlohmann::json readiness(const NodeGauges& g, std::int64_t maxLag) {
  nlohmann::json body = {{"ready", g.ready},
                         {"kafka", g.kafkaConnected},
                         {"database", g.databaseConnected},
                         {"appliedOffset", g.appliedOffset},
                         {"maxLag", maxLag}};
  if (g.lagMessages) body["lagMessages"] = *g.lagMessages;
  return body;
}

} // namespace

MetricsServer::MetricsServer(const std::string& address, const NodeMetrics& metrics, Probes probes)
    : metrics_(metrics), probes_(std::move(probes)), server_(std::make_unique<httplib::Server>()) {
  auto [host, port] = parseListenAddress(address);
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(probes_.gauges()), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const bool alive = probes_.alive();
    res.status = alive ? 200 : 503;
    res.set_content(nlohmann::json{{"status", alive ? "up" : "stopping"}}.dump() + "\n", "application/json");
  });
  server_->Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
    const auto g = probes_.gauges();
    res.status = g.ready ? 200 : 503;
    res.set_content(readiness(g, probes_.readyMaxLag).dump() + "\n", "application/json");
  });
  // SO_REUSEADDR only: cpp-httplib's default also sets SO_REUSEPORT, which lets a second process bind the same
  // port silently (and share its connections) instead of failing with "address in use".
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const bool bound = port == 0 ? (port_ = server_->bind_to_any_port(host)) > 0 : server_->bind_to_port(host, port);
  if (!bound) throw UsageError(fmt::format("cannot listen on {} for metrics: {}", address, std::strerror(errno)));
  if (port != 0) port_ = port;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  KLOG(Info, "node", "serving /metrics, /health and /ready on http://{}:{}",
       host.find(':') != std::string::npos ? "[" + host + "]" : host, port_);
}

MetricsServer::~MetricsServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

} // namespace kluster::node
