#include "core/node/metrics_server.hpp"

#include "core/log.hpp"

#include <nlohmann/json.hpp>

namespace kluster::node {
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
    : metrics_(metrics), probes_(std::move(probes)) {
  server_ = std::make_unique<metrics::HttpServer>(
      address, std::vector<metrics::HttpServer::Route>{
                   {"/metrics",
                    [this] {
                      return metrics::Reply{200, metrics_.render(probes_.gauges()), metrics::kTextFormat};
                    }},
                   {"/health", [this] { return metrics::healthReply(probes_.alive()); }},
                   {"/ready",
                    [this] {
                      const auto g = probes_.gauges();
                      return metrics::Reply{g.ready ? 200 : 503, readiness(g, probes_.readyMaxLag).dump() + "\n"};
                    }},
               });
  KLOG(Info, "node", "serving /metrics, /health and /ready on {}", server_->url());
}

} // namespace kluster::node
