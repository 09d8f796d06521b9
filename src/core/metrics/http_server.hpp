#pragma once
// A small HTTP endpoint for operators (GET only: /metrics, /health, ...), served by cpp-httplib on two threads of
// its own, so a slow scraper never slows the process it watches. The node and the proxy each build theirs on it.
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
}

namespace kluster::metrics {

/// "HOST:PORT" or "[IPv6]:PORT" split in two; throws UsageError on anything else.
std::pair<std::string, int> parseListenAddress(const std::string& address);

struct Reply {
  int status = 200;
  std::string body;
  std::string contentType = "application/json";
};

/// /health's answer: 200 {"status":"up"}, or 503 {"status":"stopping"}.
Reply healthReply(bool alive);

class HttpServer {
public:
  /// A path and what answers it, on a server thread.
  using Route = std::pair<std::string, std::function<Reply()>>;
  /// Binds `address` (port 0: any free port) and starts serving; throws UsageError when it cannot bind.
  HttpServer(const std::string& address, std::vector<Route> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  int port() const { return port_; }
  /// http://HOST:PORT, with the port actually bound.
  std::string url() const;

private:
  std::unique_ptr<httplib::Server> server_;
  std::string host_;
  int port_ = 0;
  std::thread thread_;
};

} // namespace kluster::metrics
