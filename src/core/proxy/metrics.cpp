#include "core/proxy/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace kluster::proxy {
namespace {

constexpr const char* kRouteNames[] = {"ALL", "ONE", "local"};
constexpr const char* kOutcomeNames[] = {"ok", "error", "timeout", "cancelled", "diverged"};
constexpr const char* kRefusalNames[] = {"too_many",      "auth_failed",     "tls_required",
                                         "tls_handshake", "startup_timeout", "protocol"};
constexpr const char* kMethodNames[] = {"trust", "scram-sha-256"};

} // namespace

Metrics::Metrics(std::string cluster)
    : labels_(fmt::format("cluster=\"{}\"", metrics::escapeLabel(cluster))), latencyAll_(metrics::latencyBounds(), 1e6),
      latencyOne_(metrics::latencyBounds(), 1e6) {}

void Metrics::requestDone(Route route, Outcome outcome, std::optional<std::chrono::steady_clock::duration> latency) {
  inFlight_.fetch_sub(1, std::memory_order_relaxed);
  bump(requests_[static_cast<std::size_t>(route)], outcome);
  if (!latency || route == Route::Local) return;
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(*latency).count();
  (route == Route::All ? latencyAll_ : latencyOne_)
      .observe(static_cast<std::uint64_t>(std::max<std::int64_t>(micros, 0)));
}

std::string Metrics::render() const {
  using metrics::header;
  std::string out;
  out.reserve(8192);
  auto line = [&](std::string_view name, std::string_view extra, auto value) {
    fmt::format_to(std::back_inserter(out), "{}{{{}{}}} {}\n", name, labels_, extra, value);
  };
  auto load = [](const auto& counter) { return counter.load(std::memory_order_relaxed); };

  header(out, "kluster_proxy_connections_open", "gauge", "Client connections open now.");
  line("kluster_proxy_connections_open", "", load(open_));
  header(out, "kluster_proxy_connections_accepted_total", "counter", "Client connections accepted.");
  line("kluster_proxy_connections_accepted_total", "", load(accepted_));
  header(out, "kluster_proxy_connections_refused_total", "counter",
         "Connections closed before their session started, by reason.");
  for (std::size_t i = 0; i < kRefusals; ++i)
    line("kluster_proxy_connections_refused_total", fmt::format(",reason=\"{}\"", kRefusalNames[i]), load(refused_[i]));
  header(out, "kluster_proxy_authentications_total", "counter", "Client authentications, by method and outcome.");
  for (std::size_t i = 0; i < authentications_.size(); ++i)
    line("kluster_proxy_authentications_total",
         fmt::format(",method=\"{}\",outcome=\"{}\"", kMethodNames[i / 2], i % 2 == 0 ? "ok" : "failed"),
         load(authentications_[i]));
  header(out, "kluster_proxy_requests_total", "counter",
         "Requests sent to ALL or ONE, and statements the proxy answered itself (local), by outcome.");
  for (std::size_t r = 0; r < requests_.size(); ++r)
    for (std::size_t o = 0; o < kOutcomes; ++o)
      line("kluster_proxy_requests_total",
           fmt::format(",route=\"{}\",outcome=\"{}\"", kRouteNames[r], kOutcomeNames[o]), load(requests_[r][o]));
  header(out, "kluster_proxy_requests_in_flight", "gauge", "Requests sent to the cluster and not answered yet.");
  line("kluster_proxy_requests_in_flight", "", load(inFlight_));
  header(out, "kluster_proxy_requests_batched_total", "counter",
         "Requests sent to wait (at most proxy.batch_window) for the other clients' that were expected.");
  line("kluster_proxy_requests_batched_total", "", load(batched_));
  header(out, "kluster_proxy_request_duration_seconds", "histogram",
         "Time from handing a request to the client library to its result, by route.");
  latencyAll_.render(out, "kluster_proxy_request_duration_seconds", labels_ + ",route=\"ALL\"");
  latencyOne_.render(out, "kluster_proxy_request_duration_seconds", labels_ + ",route=\"ONE\"");
  return out;
}

std::unique_ptr<metrics::HttpServer> serveMetrics(const std::string& address, std::shared_ptr<const Metrics> m,
                                                  std::function<bool()> alive) {
  return std::make_unique<metrics::HttpServer>(
      address, std::vector<metrics::HttpServer::Route>{
                   {"/metrics",
                    [m] {
                      return metrics::Reply{200, m->render(), metrics::kTextFormat};
                    }},
                   {"/health", [alive = std::move(alive)] { return metrics::healthReply(alive()); }},
               });
}

} // namespace kluster::proxy
