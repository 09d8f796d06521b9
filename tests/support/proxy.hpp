#pragma once
// `klusterctl proxy` in front of a test cluster, and the PostgreSQL client programs that talk to it.
#include "support/cluster.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kluster::test {

/// The full path of a program on PATH (test processes are started with execve); throws when missing.
std::string programPath(const std::string& name);

/// Installs the drivers the proxy's tests use (tests/proxy/setup.sh, from their registries) into `dir`, once per
/// test process; the result of that one run.
const CommandResult& installProxyDrivers(const std::string& sourceDir, const std::string& dir);

/// Raw protocol bytes, for tests of what broken clients send: a loopback connection to `port` (reads time out
/// after 10 s), all of `bytes` sent, everything read until the peer closes (or the timeout), a big-endian int32.
int connectTo(int port);
void sendAll(int fd, const std::string& bytes);
std::string readAll(int fd);
std::string be32(std::uint32_t v);
/// GET `path` from an HTTP server on loopback `port` (HTTP/1.0, so it closes): its status, 0 when it did not
/// answer, and its body.
std::pair<int, std::string> httpGet(int port, const std::string& path);

class TestProxy {
public:
  /// Starts `klusterctl proxy` on a free loopback port and waits until it listens.
  explicit TestProxy(TestCluster& cluster, const std::vector<std::string>& extraArgs = {});
  ~TestProxy();
  int port() const { return port_; }
  /// A libpq connection string for it.
  std::string conninfo(const std::string& extra = {}) const;
  /// A postgresql:// URL for it.
  std::string url() const;
  /// Runs psql against it (-X, no .psqlrc; -v ON_ERROR_STOP=1 when given in args).
  CommandResult psql(const std::vector<std::string>& args, const std::string& input = {}) const;
  bool running() { return process_.running(); }
  /// The port of its /metrics (given --metrics-address 127.0.0.1:0), from its log; 0 when it serves none.
  int metricsPort() const;
  std::string log() const;

private:
  TestCluster& cluster_;
  std::string logFile_;
  Process process_;
  int port_ = 0;
};

} // namespace kluster::test
