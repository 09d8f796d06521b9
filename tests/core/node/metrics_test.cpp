// The node's metrics and its HTTP endpoint, without Kafka or a database: fixed gauges stand in for the
// node's probe. tests/integration/metrics_test.cpp scrapes a real node.
#include "core/errors.hpp"
#include "core/node/metrics.hpp"
#include "core/node/metrics_server.hpp"

#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

using namespace kluster;
using namespace kluster::node;

namespace {

/// The value of the first sample line that starts with `series` (name and labels), or NaN when none does.
double sampleValue(const std::string& text, const std::string& series) {
  std::size_t at = 0;
  while ((at = text.find(series, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const auto space = at + series.size();
      if (space < text.size() && text[space] == ' ')
        return std::stod(text.substr(space + 1, text.find('\n', space) - space - 1));
    }
    at += series.size();
  }
  return std::nan("");
}

} // namespace

TEST_CASE("metrics render in the Prometheus text format with cumulative histogram buckets") {
  NodeMetrics m("c1", "n\"1");
  m.countRequest("ALL", "OK");
  m.countRequest("ALL", "OK");
  m.countRequest("ALL", "SYNTAX_ERROR");
  m.countRequest("ONE", "OK");
  m.countRequest("ONE", "SOMETHING_NEW");
  m.countRetry();
  m.countNodeError("NODE_ERROR");
  const auto start = std::chrono::steady_clock::now();
  m.batchApplied(3, start, 1000);
  m.batchApplied(40, start, 2000);
  m.batchApplied(40, start, 0); // no timestamp: keeps the last one
  CHECK(m.lastAppliedTimestampMs() == 2000);

  NodeGauges g;
  g.appliedOffset = 41;
  g.lagMessages = 7;
  g.lagSeconds = 1.5;
  const auto text = m.render(g);
  INFO(text);
  const std::string l = R"(cluster="c1",node="n\"1")";
  CHECK(sampleValue(text, "kluster_build_info{" + l + ",version=\"0.1.0\"}") == 1);
  CHECK(sampleValue(text, "kluster_node_applied_offset{" + l + "}") == 41);
  CHECK(sampleValue(text, "kluster_node_lag_messages{" + l + "}") == 7);
  CHECK(sampleValue(text, "kluster_node_lag_seconds{" + l + "}") == 1.5);
  CHECK(sampleValue(text, "kluster_node_ready{" + l + "}") == 0);
  CHECK(sampleValue(text, "kluster_requests_total{" + l + ",topic=\"ALL\",code=\"OK\"}") == 2);
  CHECK(sampleValue(text, "kluster_requests_total{" + l + ",topic=\"ALL\",code=\"SYNTAX_ERROR\"}") == 1);
  CHECK(sampleValue(text, "kluster_requests_total{" + l + ",topic=\"ONE\",code=\"OK\"}") == 1);
  CHECK(sampleValue(text, "kluster_requests_total{" + l + ",topic=\"ONE\",code=\"OTHER\"}") == 1);
  CHECK(std::isnan(sampleValue(text, "kluster_requests_total{" + l + ",topic=\"ONE\",code=\"SYNTAX_ERROR\"}")));
  CHECK(sampleValue(text, "kluster_retries_total{" + l + "}") == 1);
  CHECK(sampleValue(text, "kluster_node_errors_total{" + l + ",code=\"NODE_ERROR\"}") == 1);
  CHECK(sampleValue(text, "kluster_divergences_total{" + l + "}") == 0);
  CHECK(sampleValue(text, "kluster_apply_batch_size_bucket{" + l + ",le=\"2\"}") == 0);
  CHECK(sampleValue(text, "kluster_apply_batch_size_bucket{" + l + ",le=\"5\"}") == 1);
  CHECK(sampleValue(text, "kluster_apply_batch_size_bucket{" + l + ",le=\"50\"}") == 3);
  CHECK(sampleValue(text, "kluster_apply_batch_size_bucket{" + l + ",le=\"+Inf\"}") == 3);
  CHECK(sampleValue(text, "kluster_apply_batch_size_sum{" + l + "}") == 83);
  CHECK(sampleValue(text, "kluster_apply_batch_size_count{" + l + "}") == 3);
  CHECK(sampleValue(text, "kluster_apply_duration_seconds_count{" + l + "}") == 3);
  // Every family has HELP and TYPE, and every sample line is `name{labels} value`.
  for (const auto* family : {"kluster_node_applied_offset gauge", "kluster_requests_total counter",
                             "kluster_apply_duration_seconds histogram", "kluster_divergences_total counter"})
    CHECK(text.find(std::string("# TYPE ") + family + "\n") != std::string::npos);
  const std::regex line(R"((# (HELP|TYPE) kluster_[a-z_]+ .+|kluster_[a-z_]+\{[^}]*\} ([0-9.e+-]+|NaN)))");
  std::size_t start2 = 0;
  for (auto end = text.find('\n'); end != std::string::npos; start2 = end + 1, end = text.find('\n', start2)) {
    const auto one = text.substr(start2, end - start2);
    INFO(one);
    CHECK(std::regex_match(one, line));
  }

  g.lagMessages.reset();
  g.lagSeconds = std::nan("");
  CHECK(m.render(g).find("kluster_node_lag_messages{" + l + "} NaN\n") != std::string::npos);
}

TEST_CASE("listen addresses are HOST:PORT or [IPv6]:PORT") {
  CHECK(metrics::parseListenAddress("127.0.0.1:9187") == std::pair<std::string, int>{"127.0.0.1", 9187});
  CHECK(metrics::parseListenAddress("[::1]:0") == std::pair<std::string, int>{"::1", 0});
  CHECK(metrics::parseListenAddress("localhost:80") == std::pair<std::string, int>{"localhost", 80});
  for (const auto* bad : {"", "9187", ":9187", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000", "[::1:9"}) {
    INFO(bad);
    CHECK_THROWS_AS(metrics::parseListenAddress(bad), UsageError);
  }
}

TEST_CASE("the endpoint serves /metrics, /health and /ready (503 until ready)") {
  NodeMetrics m("c1", "n1");
  std::mutex mutex;
  NodeGauges gauges;
  gauges.lagMessages = 500;
  std::atomic<bool> alive{true};
  MetricsServer server("127.0.0.1:0", m,
                       {[&] {
                          std::lock_guard lock(mutex);
                          return gauges;
                        },
                        [&] { return alive.load(); }, 10});
  REQUIRE(server.port() > 0);
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(10, 0);

  auto ready = client.Get("/ready");
  REQUIRE(ready);
  CHECK(ready->status == 503);
  CHECK(ready->body.find("\"lagMessages\":500") != std::string::npos);
  {
    std::lock_guard lock(mutex);
    gauges.ready = true;
    gauges.lagMessages = 0;
  }
  ready = client.Get("/ready");
  REQUIRE(ready);
  CHECK(ready->status == 200);

  m.countRequest("ALL", "OK");
  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(sampleValue(metrics->body, R"(kluster_requests_total{cluster="c1",node="n1",topic="ALL",code="OK"})") == 1);
  CHECK(sampleValue(metrics->body, R"(kluster_node_ready{cluster="c1",node="n1"})") == 1);

  auto health = client.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  alive = false;
  health = client.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 503);

  auto missing = client.Get("/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);

  // A second server cannot take the same port: a clear error, not a node that runs without its endpoint.
  CHECK_THROWS_AS(MetricsServer("127.0.0.1:" + std::to_string(server.port()), m, {}), UsageError);
}

TEST_CASE("every metric is documented in docs/operations.md; the dashboard and Prometheus use only real ones") {
  NodeMetrics m("c", "n");
  m.countRequest("ALL", "OK");
  m.countNodeError("NODE_ERROR");
  const auto text = m.render(NodeGauges{});
  std::set<std::string> families;
  const std::regex type(R"(# TYPE (kluster_[a-z_]+) )");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), type); it != std::sregex_iterator(); ++it)
    families.insert((*it)[1]);
  REQUIRE(families.size() >= 13);

  auto slurp = [](const std::string& path) {
    std::ifstream in(std::string(KLUSTER_SOURCE_DIR) + "/" + path);
    REQUIRE(in);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const auto readme = slurp("docs/operations.md"); // "Metrics and health"
  for (const auto& f : families) {
    INFO(f);
    CHECK(std::regex_search(readme, std::regex("\\| `" + f + "(\\{[a-z,]+\\})?` \\| (gauge|counter|histogram) \\|")));
  }
  for (const auto* example : {"examples/grafana/kluster.json", "examples/prometheus.yml"}) {
    const auto body = slurp(example);
    const std::regex used(R"(kluster_[a-z_]+)");
    int count = 0;
    for (auto it = std::sregex_iterator(body.begin(), body.end(), used); it != std::sregex_iterator(); ++it) {
      std::string name = (*it)[0];
      for (const auto* suffix : {"_bucket", "_sum", "_count"})
        if (name.size() > std::strlen(suffix) && name.ends_with(suffix) &&
            families.count(name.substr(0, name.size() - std::strlen(suffix))))
          name = name.substr(0, name.size() - std::strlen(suffix));
      INFO(example << ": " << name);
      CHECK(families.count(name) == 1);
      ++count;
    }
    CHECK(count > 3);
  }
}
