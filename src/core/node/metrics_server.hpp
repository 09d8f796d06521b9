#pragma once
// The node's HTTP endpoint for operators: /metrics (Prometheus text format), /health (the process is up)
// and /ready (caught up and connected: 200, otherwise 503). Served by cpp-httplib on two threads of its own,
// so a slow scraper never slows the apply loop.
#include "core/node/metrics.hpp"

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace kluster::node {

/// "HOST:PORT" or "[IPv6]:PORT" split in two; throws UsageError on anything else.
std::pair<std::string, int> parseListenAddress(const std::string& address);

class MetricsServer {
public:
  struct Probes {
    std::function<NodeGauges()> gauges; ///< runs on a server thread for each /metrics and /ready
    std::function<bool()> alive;        ///< false once the node is stopping
    std::int64_t readyMaxLag = 0;
  };
  /// Binds `address` (port 0: any free port) and starts serving; throws UsageError when it cannot bind.
  MetricsServer(const std::string& address, const NodeMetrics& metrics, Probes probes);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  int port() const { return port_; }

private:
  const NodeMetrics& metrics_;
  Probes probes_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

} // namespace kluster::node
