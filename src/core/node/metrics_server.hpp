#pragma once
// The node's HTTP endpoint for operators: /metrics (Prometheus text format), /health (the process is up)
// and /ready (caught up and connected: 200, otherwise 503), on a metrics::HttpServer of its own threads.
#include "core/metrics/http_server.hpp"
#include "core/node/metrics.hpp"

#include <functional>
#include <memory>
#include <string>

namespace kluster::node {

class MetricsServer {
public:
  struct Probes {
    std::function<NodeGauges()> gauges; ///< runs on a server thread for each /metrics and /ready
    std::function<bool()> alive;        ///< false once the node is stopping
    std::int64_t readyMaxLag = 0;
  };
  /// Binds `address` (port 0: any free port) and starts serving; throws UsageError when it cannot bind.
  MetricsServer(const std::string& address, const NodeMetrics& metrics, Probes probes);
  int port() const { return server_->port(); }

private:
  const NodeMetrics& metrics_;
  Probes probes_;
  std::unique_ptr<metrics::HttpServer> server_; ///< last: stopped before the probes go
};

} // namespace kluster::node
