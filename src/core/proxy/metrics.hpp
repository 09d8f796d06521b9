#pragma once
// The proxy's Prometheus metrics: connections, authentications, requests by route and outcome, request latency.
// Updated on the event loop with relaxed atomics only (no lock), read by the metrics endpoint's threads when
// scraped. docs/proxy.md documents each one.
#include "core/metrics/http_server.hpp"
#include "core/metrics/prometheus.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace kluster::proxy {

/// Where a request went: ALL (writes, DDL), ONE (reads, describes), or nowhere (answered by the proxy).
enum class Route { All, One, Local };
/// How it ended for the client. Cancelled: a CancelRequest, or the client went away before the answer.
enum class Outcome { Ok, Error, Timeout, Cancelled, Diverged };
/// Why a connection was closed before its session started.
enum class Refusal { TooMany, AuthFailed, TlsRequired, TlsHandshake, StartupTimeout, Protocol };
enum class AuthMethod { Trust, Scram };

class Metrics {
public:
  explicit Metrics(std::string cluster = {});

  void connectionOpened() {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    open_.fetch_add(1, std::memory_order_relaxed);
  }
  void connectionClosed() { open_.fetch_sub(1, std::memory_order_relaxed); }
  void refused(Refusal why) { bump(refused_, why); }
  void authenticated(AuthMethod method, bool ok) {
    authentications_[static_cast<std::size_t>(method) * 2 + (ok ? 0 : 1)].fetch_add(1, std::memory_order_relaxed);
  }
  /// A request handed to the client library (in flight until requestDone).
  void requestSent() { inFlight_.fetch_add(1, std::memory_order_relaxed); }
  /// A request sent through the batching producer (other clients' requests were expected to join it).
  void requestBatched() { batched_.fetch_add(1, std::memory_order_relaxed); }
  /// A request sent to ALL or ONE ended; `latency` from its sending to its result (none when cancelled).
  void requestDone(Route route, Outcome outcome, std::optional<std::chrono::steady_clock::duration> latency);
  /// A statement the proxy answered itself (SET, SHOW, BEGIN, a refused statement...).
  void answeredLocally(Outcome outcome) { bump(requests_[static_cast<std::size_t>(Route::Local)], outcome); }

  /// The whole exposition, in Prometheus text format 0.0.4.
  std::string render() const;

private:
  static constexpr std::size_t kOutcomes = 5, kRefusals = 6;
  using Counter = std::atomic<std::uint64_t>;
  template <std::size_t N, typename E> static void bump(std::array<Counter, N>& counters, E which) {
    counters[static_cast<std::size_t>(which)].fetch_add(1, std::memory_order_relaxed);
  }

  std::string labels_; ///< cluster=".."
  Counter accepted_{0};
  std::atomic<std::int64_t> open_{0};
  std::atomic<std::int64_t> inFlight_{0};
  Counter batched_{0};
  std::array<Counter, kRefusals> refused_{};
  std::array<Counter, 4> authentications_{}; ///< by method, then ok/failed
  std::array<std::array<Counter, kOutcomes>, 3> requests_{};
  metrics::Histogram latencyAll_; ///< microseconds
  metrics::Histogram latencyOne_;
};

/// Serves GET /metrics and /health on `address` (HOST:PORT, port 0: any free port) on threads of their own;
/// `alive` answers /health. Throws UsageError when it cannot listen there.
std::unique_ptr<metrics::HttpServer> serveMetrics(const std::string& address, std::shared_ptr<const Metrics> m,
                                                  std::function<bool()> alive);

} // namespace kluster::proxy
