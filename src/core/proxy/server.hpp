#pragma once
// The proxy's server: one event loop (standalone asio) accepting on every listen address and running
// every connection's session; requests go through one shared client whose completions are posted back
// to the loop. Not a thread per connection: one thread serves them all.
#include "core/client/client.hpp"
#include "core/proxy/session.hpp"
#include "core/proxy/trust.hpp"

#include <memory>
#include <string>
#include <vector>

namespace kluster::proxy {

struct ServerOptions {
  std::vector<std::string> listen{"127.0.0.1:6432"}; ///< HOST:PORT each; port 0 picks a free one
  std::size_t maxConnections = 100;
  /// Peers that connect without a password (proxy.trust); the others need SCRAM (session.users).
  TrustList trust = TrustList::parse("127.0.0.1/32,::1/128");
  std::string tlsCert; ///< PEM certificate chain (proxy.tls_cert); with tlsKey, SSLRequest gets TLS
  std::string tlsKey;  ///< PEM private key (proxy.tls_key)
  std::chrono::milliseconds startupTimeout{std::chrono::seconds(30)}; ///< TLS handshake, startup and password
  /// How long after its answer a client counts as about to reply: a request sent while others are expected
  /// goes through the client's batching producer (proxy.batch_window, which is also the client's
  /// batchLinger; 0: every request at once). See RequestBatcher.
  std::chrono::milliseconds batchWindow{1};
  SessionOptions session; ///< session.metrics: the counters the server and its sessions update
};

class Server {
public:
  /// `client` must be made with ClientOptions::readerThread false: the server's loop reads its responses
  /// (results reach their connections without a hand-over between threads). It must outlive the server.
  Server(ServerOptions options, client::Client& client);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The addresses actually bound (HOST:PORT), once constructed.
  std::vector<std::string> addresses() const;
  /// Serves until stop() (from any thread) or SIGINT/SIGTERM when `signals`.
  void run(bool signals);
  void stop();
  /// Whether the event loop runs a task posted to it within `within` (from any thread but the loop's): /health.
  bool responsive(std::chrono::milliseconds within);

private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// Splits "HOST:PORT" ("[::1]:5432" for IPv6); throws UsageError.
std::pair<std::string, unsigned short> parseAddress(const std::string& text);

} // namespace kluster::proxy
