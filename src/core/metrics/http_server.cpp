#include "core/metrics/http_server.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>

namespace kluster::metrics {

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

Reply healthReply(bool alive) {
  return {alive ? 200 : 503, nlohmann::json{{"status", alive ? "up" : "stopping"}}.dump() + "\n"};
}

HttpServer::HttpServer(const std::string& address, std::vector<Route> routes)
    : server_(std::make_unique<httplib::Server>()) {
  auto [host, port] = parseListenAddress(address);
  host_ = host;
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  for (auto& [path, answer] : routes)
    server_->Get(path, [answer = std::move(answer)](const httplib::Request&, httplib::Response& res) {
      auto reply = answer();
      res.status = reply.status;
      res.set_content(std::move(reply.body), reply.contentType);
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
}

HttpServer::~HttpServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string HttpServer::url() const {
  return fmt::format("http://{}:{}", host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_, port_);
}

} // namespace kluster::metrics
