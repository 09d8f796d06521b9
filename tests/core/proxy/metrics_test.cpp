// The proxy's metrics: what a session counts for each way a request or a connection ends (a fake sender stands
// in for the cluster), the rendering, and docs/proxy.md's list. tests/integration/proxy_test.cpp scrapes a real proxy.
#include "core/proxy/frontend.hpp"
#include "core/proxy/metrics.hpp"
#include "core/proxy/session.hpp"

#include <catch2/catch.hpp>
#include <httplib.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace kluster;
using namespace kluster::proxy;
using kluster::proxy::test::be32;

namespace {

std::string startup(std::int32_t code = wire::kProtocol3) {
  const std::string body = be32(code) + "user" + '\0' + "app" + '\0' + '\0';
  return be32(static_cast<std::int32_t>(body.size() + 4)) + body;
}

std::string query(const std::string& sql) { return "Q" + be32(static_cast<std::int32_t>(sql.size() + 5)) + sql + '\0'; }

/// The value of the sample `series` (name and labels as printed), NaN when absent.
double sampleValue(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return std::nan("");
  const auto from = at + series.size() + 2;
  return std::stod(text.substr(from, text.find('\n', from) - from));
}

struct Sent {
  client::Target target;
  Session::Done done;
};

client::Result answered(const std::string& code) {
  client::Result r;
  Response resp;
  resp.resultCode = code;
  resp.result = code == "OK" ? ojson::array() : ojson();
  resp.errorMessage = code == "OK" ? "" : "failed";
  r.responses.push_back(resp);
  return r;
}

} // namespace

TEST_CASE("a session counts requests by route and outcome, authentications and refusals", "[proxy]") {
  auto metrics = std::make_shared<Metrics>("c1");
  std::vector<Sent> sent;
  SessionOptions options;
  options.metrics = metrics;
  auto sender = [&](Request, client::Target target, client::WaitPolicy, std::chrono::milliseconds, Session::Done done) {
    sent.push_back({target, std::move(done)});
  };
  auto value = [&](const std::string& series) { return sampleValue(metrics->render(), series); };
  auto requests = [&](const std::string& route, const std::string& outcome) {
    return value(R"(kluster_proxy_requests_total{cluster="c1",route=")" + route + R"(",outcome=")" + outcome + "\"}");
  };
  const std::string inFlight = R"(kluster_proxy_requests_in_flight{cluster="c1"})";

  {
    Session session(options, sender, 1, 2, true);
    session.received(startup());
    CHECK(value(R"(kluster_proxy_authentications_total{cluster="c1",method="trust",outcome="ok"})") == 1);
    session.received(query("SET application_name = 'x'"));
    session.received(query("SHOW application_name"));
    session.received(query("SELEC 1"));
    session.received(query("SET TimeZone = 'Europe/Paris'")); // refused by the proxy
    CHECK(requests("local", "ok") == 2);
    CHECK(requests("local", "error") == 2);

    session.received(query("SELECT 1"));
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].target == client::Target::One);
    CHECK(value(inFlight) == 1);
    sent[0].done(answered("OK"));
    CHECK(value(inFlight) == 0);
    CHECK(requests("ONE", "ok") == 1);

    session.received(query("INSERT INTO t VALUES (1)"));
    REQUIRE(sent.size() == 2);
    CHECK(sent[1].target == client::Target::All);
    sent[1].done(answered("CONSTRAINT_VIOLATION"));
    CHECK(requests("ALL", "error") == 1);

    session.received(query("INSERT INTO t VALUES (2)"));
    auto diverged = answered("OK");
    diverged.diverged = true;
    sent[2].done(diverged);
    CHECK(requests("ALL", "diverged") == 1);

    session.received(query("SELECT 2"));
    sent[3].done(client::Result{}); // no node answered in time
    session.received(query("SELECT 3"));
    sent[4].done(answered("TIMEOUT"));
    CHECK(requests("ONE", "timeout") == 2);

    session.received(query("SELECT 5"));
    session.cancel();
    CHECK(requests("ONE", "cancelled") == 1);
    CHECK(value(inFlight) == 0);
    sent[5].done(answered("OK")); // too late: not counted again
    CHECK(requests("ONE", "ok") == 1);

    // BEGIN ... COMMIT: BEGIN is answered by the proxy, each statement by a speculation on ONE, COMMIT by one
    // request to ALL.
    session.received(query("BEGIN"));
    CHECK(requests("local", "ok") == 3);
    session.received(query("INSERT INTO t VALUES (3)"));
    REQUIRE(sent.size() == 7);
    CHECK(sent[6].target == client::Target::One);
    auto speculated = answered("OK");
    speculated.responses[0].result = ojson{{"rowsAffected", 1}};
    speculated.responses[0].digests = {"d1"};
    sent[6].done(speculated);
    CHECK(requests("ONE", "ok") == 2);
    session.received(query("COMMIT"));
    REQUIRE(sent.size() == 8);
    CHECK(sent[7].target == client::Target::All);
    CHECK(requests("local", "ok") == 3);
    sent[7].done(answered("OK"));
    CHECK(requests("ALL", "ok") == 1);

    session.received(query("SELECT 4"));
    CHECK(value(inFlight) == 1);
  } // the client went away with a request in flight
  CHECK(value(inFlight) == 0);
  CHECK(requests("ONE", "cancelled") == 2);
  const auto text = metrics->render();
  CHECK(sampleValue(text, R"(kluster_proxy_request_duration_seconds_count{cluster="c1",route="ONE"})") == 4);
  CHECK(sampleValue(text, R"(kluster_proxy_request_duration_seconds_count{cluster="c1",route="ALL"})") == 3);

  auto refused = [&](const std::string& reason) {
    return value(R"(kluster_proxy_connections_refused_total{cluster="c1",reason=")" + reason + "\"}");
  };
  Session untrusted(options, sender, 3, 4, false); // and no users file
  untrusted.received(startup());
  CHECK(untrusted.closing());
  CHECK(refused("auth_failed") == 1);
  Session badVersion(options, sender, 5, 6, true);
  badVersion.received(startup(2 << 16));
  CHECK(refused("protocol") == 1);
  auto tlsOptions = options;
  tlsOptions.tlsRequired = true;
  Session plain(tlsOptions, sender, 7, 8, true);
  plain.received(startup());
  CHECK(refused("tls_required") == 1);
  Session full(options, sender, 9, 10, true, errorNotice("53300", "too many"));
  full.received(startup());
  CHECK(refused("too_many") == 1);
  CHECK(refused("startup_timeout") == 0);
}

TEST_CASE("the proxy's metrics render every series from the start, in the Prometheus text format", "[proxy]") {
  Metrics m("c\"1");
  m.connectionOpened();
  m.connectionOpened();
  m.connectionClosed();
  m.refused(Refusal::StartupTimeout);
  m.authenticated(AuthMethod::Scram, false);
  m.requestSent();
  m.requestDone(Route::All, Outcome::Ok, std::chrono::milliseconds(3));
  m.requestSent();
  m.requestDone(Route::One, Outcome::Ok, std::chrono::milliseconds(30));
  m.requestSent();
  const auto text = m.render();
  INFO(text);
  const std::string l = R"(cluster="c\"1")";
  CHECK(sampleValue(text, "kluster_proxy_connections_open{" + l + "}") == 1);
  CHECK(sampleValue(text, "kluster_proxy_connections_accepted_total{" + l + "}") == 2);
  CHECK(sampleValue(text, "kluster_proxy_connections_refused_total{" + l + ",reason=\"startup_timeout\"}") == 1);
  CHECK(sampleValue(text, "kluster_proxy_connections_refused_total{" + l + ",reason=\"too_many\"}") == 0);
  CHECK(sampleValue(text,
                    "kluster_proxy_authentications_total{" + l + ",method=\"scram-sha-256\",outcome=\"failed\"}") == 1);
  CHECK(sampleValue(text, "kluster_proxy_requests_total{" + l + ",route=\"local\",outcome=\"diverged\"}") == 0);
  CHECK(sampleValue(text, "kluster_proxy_requests_in_flight{" + l + "}") == 1);
  CHECK(sampleValue(text, "kluster_proxy_request_duration_seconds_bucket{" + l + ",route=\"ALL\",le=\"0.0025\"}") == 0);
  CHECK(sampleValue(text, "kluster_proxy_request_duration_seconds_bucket{" + l + ",route=\"ALL\",le=\"0.005\"}") == 1);
  CHECK(sampleValue(text, "kluster_proxy_request_duration_seconds_bucket{" + l + ",route=\"ONE\",le=\"0.025\"}") == 0);
  CHECK(sampleValue(text, "kluster_proxy_request_duration_seconds_bucket{" + l + ",route=\"ONE\",le=\"+Inf\"}") == 1);
  CHECK(sampleValue(text, "kluster_proxy_request_duration_seconds_sum{" + l + ",route=\"ONE\"}") == 0.03);
  const std::regex line(R"((# (HELP|TYPE) kluster_proxy_[a-z_]+ .+|kluster_proxy_[a-z_]+\{[^}]*\} [0-9.e+-]+))");
  std::istringstream lines(text);
  for (std::string one; std::getline(lines, one);) {
    INFO(one);
    CHECK(std::regex_match(one, line));
  }

  // Every family is documented in docs/proxy.md, with its type.
  std::ifstream in(std::string(KLUSTER_SOURCE_DIR) + "/docs/proxy.md");
  REQUIRE(in);
  std::stringstream readme;
  readme << in.rdbuf();
  std::set<std::string> families;
  const std::regex type(R"(# TYPE (kluster_proxy_[a-z_]+) ([a-z]+))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), type); it != std::sregex_iterator(); ++it) {
    INFO((*it)[1]);
    CHECK(std::regex_search(readme.str(),
                            std::regex("\\| `" + (*it)[1].str() + "(\\{[a-z,]+\\})?` \\| " + (*it)[2].str() + " \\|")));
    families.insert((*it)[1]);
  }
  CHECK(families.size() == 8);
}

TEST_CASE("the proxy's endpoint serves /metrics and /health", "[proxy]") {
  auto m = std::make_shared<Metrics>("c1");
  std::atomic<bool> alive{false};
  auto server = serveMetrics("127.0.0.1:0", m, [&] { return alive.load(); });
  REQUIRE(server->port() > 0);
  CHECK(server->url() == "http://127.0.0.1:" + std::to_string(server->port()));
  httplib::Client client("127.0.0.1", server->port());
  client.set_read_timeout(10, 0);
  m->connectionOpened();
  const auto scrape = client.Get("/metrics");
  REQUIRE(scrape);
  CHECK(scrape->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(sampleValue(scrape->body, R"(kluster_proxy_connections_accepted_total{cluster="c1"})") == 1);
  const auto stuck = client.Get("/health"); // the event loop did not answer
  REQUIRE(stuck);
  CHECK(stuck->status == 503);
  alive = true;
  const auto up = client.Get("/health");
  REQUIRE(up);
  CHECK(up->body == "{\"status\":\"up\"}\n");
  const auto ready = client.Get("/ready"); // the node's: a proxy has no backlog to catch up with
  REQUIRE(ready);
  CHECK(ready->status == 404);
}
