#include "support/proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <fmt/format.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace kluster::test {

const CommandResult& installProxyDrivers(const std::string& sourceDir, const std::string& dir) {
  static const CommandResult setup =
      run({programPath("bash"), sourceDir + "/tests/proxy/setup.sh", dir}, std::chrono::minutes(10));
  return setup;
}

std::string programPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const auto candidate = dir + "/" + name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(name + " is not on PATH (scripts/setup.sh installs it)");
}

namespace {

// proxy.log, then proxy-2.log...: a log of its own for each proxy of a cluster, so that the port read from it is
// this proxy's.
std::string freshLogFile(const std::string& dir) {
  std::string path = dir + "/proxy.log";
  for (int n = 2; ::access(path.c_str(), F_OK) == 0; ++n) path = fmt::format("{}/proxy-{}.log", dir, n);
  return path;
}

} // namespace

TestProxy::TestProxy(TestCluster& cluster, const std::vector<std::string>& extraArgs)
    : cluster_(cluster), logFile_(freshLogFile(cluster.workDir())) {
  std::vector<std::string> argv = {klusterctlPath(), "proxy",        "--brokers", cluster.brokers(),
                                   "--cluster",      cluster.name(), "--listen",  "127.0.0.1:0"};
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
  process_ = Process(argv, {}, logFile_);
  const std::regex listening(R"(listening on 127\.0\.0\.1:(\d+))");
  const bool up = waitUntil(
      [&] {
        std::smatch m;
        const auto text = log();
        if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
        return port_ != 0 || !process_.running();
      },
      std::chrono::seconds(60));
  if (!up || port_ == 0) throw std::runtime_error("klusterctl proxy did not start listening:\n" + log());
}

TestProxy::~TestProxy() { process_.stop(); }

std::string TestProxy::log() const {
  std::ifstream in(logFile_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int TestProxy::metricsPort() const {
  std::smatch m;
  const auto text = log();
  if (!std::regex_search(text, m, std::regex(R"(serving /metrics and /health on http://127\.0\.0\.1:(\d+))"))) return 0;
  return std::stoi(m[1]);
}

std::string TestProxy::conninfo(const std::string& extra) const {
  return fmt::format("host=127.0.0.1 port={} dbname=kluster user=app sslmode=disable {}", port_, extra);
}

std::string TestProxy::url() const { return fmt::format("postgresql://app@127.0.0.1:{}/kluster", port_); }

CommandResult TestProxy::psql(const std::vector<std::string>& args, const std::string& input) const {
  std::vector<std::string> argv = {programPath("psql"), "-X", "-d", conninfo()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, std::chrono::seconds(60), {{"PGCONNECT_TIMEOUT", "10"}}, input);
}

int connectTo(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void sendAll(int fd, const std::string& bytes) {
  if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size()))
    throw std::runtime_error("send to the proxy failed");
}

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::pair<int, std::string> httpGet(int port, const std::string& path) {
  const int fd = connectTo(port);
  std::string response;
  try {
    sendAll(fd, "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    response = readAll(fd);
  } catch (const std::exception&) {
  }
  ::close(fd);
  std::smatch m;
  if (!std::regex_search(response, m, std::regex(R"(^HTTP/1\.[01] (\d{3}) )"))) return {0, {}};
  const auto body = response.find("\r\n\r\n");
  return {std::stoi(m[1]), body == std::string::npos ? std::string() : response.substr(body + 4)};
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

} // namespace kluster::test
