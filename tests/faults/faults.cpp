#include "faults/faults.hpp"

#include "core/kafka/kafka.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

namespace kluster::test::faults {
namespace fs = std::filesystem;

const std::string& servicesDir() {
  static const std::string dir = [] {
    const char* path = std::getenv("KLUSTER_TEST_ENV");
    if (!path) throw std::runtime_error("KLUSTER_TEST_ENV is not set: run the fault suite through ctest");
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot read {}: did the faults fixture start?", path));
    for (std::string line; std::getline(in, line);)
      if (line.rfind("KLUSTER_TEST_SERVICES_DIR=", 0) == 0) return line.substr(line.find('=') + 1);
    throw std::runtime_error(fmt::format("{} lacks KLUSTER_TEST_SERVICES_DIR", path));
  }();
  return dir;
}

CommandResult script(const std::string& name, const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {"/bin/bash", std::string(KLUSTER_SOURCE_DIR) + "/scripts/" + name};
  argv.insert(argv.end(), args.begin(), args.end());
  // A broker restarted after SIGKILL recovers its logs first: on a loaded machine that took over
  // kafka.sh's default 90 s once (faults.brokers), so the suite allows 240 s.
  auto r = run(argv, std::max<std::chrono::milliseconds>(timeout, std::chrono::seconds(300)),
               {{"KLUSTER_KAFKA_READY_TIMEOUT", "240"}});
  if (r.exitCode != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error(fmt::format("{}failed ({}): {}{}", cmd, r.exitCode, r.out, r.err));
  }
  return r;
}

namespace {
std::string kafkaDir() { return servicesDir() + "/kafka"; }
std::string pgDir() { return servicesDir() + "/pg"; }
int readPort(const fs::path& file) {
  std::ifstream in(file);
  int port = 0;
  if (!(in >> port)) throw std::runtime_error("cannot read " + file.string());
  return port;
}
} // namespace

int brokerCount() {
  int n = 0;
  while (fs::exists(fmt::format("{}/broker{}/server.properties", kafkaDir(), n + 1))) ++n;
  return n;
}

void killBroker(int k) { script("kafka.sh", {"stop-broker", "--dir", kafkaDir(), std::to_string(k), "--kill"}); }
void startBroker(int k) { script("kafka.sh", {"start-broker", "--dir", kafkaDir(), std::to_string(k)}); }
void stopKafka() { script("kafka.sh", {"stop", "--dir", kafkaDir()}); }

void startKafka() {
  // Each broker is also a controller: none finishes starting before a majority runs, so start all at once.
  std::vector<std::thread> starters;
  std::mutex mutex;
  std::string failures;
  for (int k = 1; k <= brokerCount(); ++k)
    starters.emplace_back([&, k] {
      try {
        startBroker(k);
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        failures += e.what();
      }
    });
  for (auto& t : starters) t.join();
  if (!failures.empty()) throw std::runtime_error(failures);
}

namespace {
template <typename F> auto withPartition(const std::string& brokers, const std::string& topic, int partition, F&& f) {
  kafka::Producer p(kafka::clientProperties(brokers, {}), false);
  RdKafka::Metadata* raw = nullptr;
  std::string err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(&p.handle(), topic, nullptr, err));
  if (p.handle().metadata(false, t.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR || !raw)
    throw std::runtime_error("cannot read metadata of " + topic);
  std::unique_ptr<RdKafka::Metadata> md(raw);
  for (const auto* tm : *md->topics())
    for (const auto* pm : *tm->partitions())
      if (pm->id() == partition) return f(*pm);
  throw std::runtime_error(fmt::format("no partition {} of {}", partition, topic));
}
} // namespace

int leaderOf(const std::string& brokers, const std::string& topic, int partition) {
  return withPartition(brokers, topic, partition,
                       [](const RdKafka::PartitionMetadata& pm) { return static_cast<int>(pm.leader()); });
}

std::pair<int, int> replicasOf(const std::string& brokers, const std::string& topic, int partition) {
  return withPartition(brokers, topic, partition, [](const RdKafka::PartitionMetadata& pm) {
    return std::pair<int, int>(static_cast<int>(pm.replicas()->size()), static_cast<int>(pm.isrs()->size()));
  });
}

void stopPostgres(int instance, const std::string& mode) {
  script("pg.sh", {"stop-instance", "--dir", pgDir(), std::to_string(instance), "--mode", mode});
}
void startPostgres(int instance) { script("pg.sh", {"start-instance", "--dir", pgDir(), std::to_string(instance)}); }

// ---------------------------------------------------------------------------------------------- proxy

TcpProxy::TcpProxy(int listenPort, int targetPort) : target_(targetPort) {
  listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(listenPort));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_, 64) != 0) {
    ::close(listen_);
    throw std::runtime_error(fmt::format("proxy cannot listen on 127.0.0.1:{}", listenPort));
  }
  thread_ = std::thread([this] { loop(); });
}

TcpProxy::~TcpProxy() {
  stop_.store(true);
  thread_.join();
  ::close(listen_);
}

void TcpProxy::loop() {
  struct Pair {
    int a, b;
  };
  std::vector<Pair> pairs;
  char buf[65536];
  const auto closePair = [](Pair& p) {
    ::close(p.a);
    ::close(p.b);
    p.a = p.b = -1;
  };
  while (!stop_.load()) {
    if (cut_.load()) { // partitioned: read nothing, accept nothing
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    std::vector<pollfd> fds{{listen_, POLLIN, 0}};
    for (const auto& p : pairs) {
      fds.push_back({p.a, POLLIN, 0});
      fds.push_back({p.b, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      int client = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(target_));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
          pairs.push_back({client, up});
        } else {
          ::close(up);
          ::close(client);
        }
      }
    }
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      for (int side = 0; side < 2; ++side) {
        const auto& f = fds[1 + 2 * i + static_cast<std::size_t>(side)];
        if (pairs[i].a < 0 || !(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const int from = side == 0 ? pairs[i].a : pairs[i].b, to = side == 0 ? pairs[i].b : pairs[i].a;
        ssize_t n = ::read(from, buf, sizeof buf);
        bool ok = n > 0;
        for (ssize_t off = 0; ok && off < n;) {
          ssize_t w = ::write(to, buf + off, static_cast<std::size_t>(n - off));
          if (w <= 0)
            ok = false;
          else
            off += w;
        }
        if (!ok) closePair(pairs[i]);
      }
    }
    std::erase_if(pairs, [](const Pair& p) { return p.a < 0; });
  }
  for (auto& p : pairs) closePair(p);
}

KafkaProxies::KafkaProxies() {
  for (int k = 1; k <= brokerCount(); ++k) {
    const auto dir = fmt::format("{}/broker{}", kafkaDir(), k);
    if (!fs::exists(dir + "/proxy-port"))
      throw std::runtime_error("the faults fixture's brokers have no proxied listener (kafka.sh start --proxied)");
    const int port = readPort(dir + "/proxy-port");
    proxies_.push_back(std::make_unique<TcpProxy>(port, readPort(dir + "/proxied-port")));
    bootstrap_ += fmt::format("{}127.0.0.1:{}", bootstrap_.empty() ? "" : ",", port);
  }
}

void KafkaProxies::cut() {
  for (auto& p : proxies_) p->cut();
}
void KafkaProxies::heal() {
  for (auto& p : proxies_) p->heal();
}

CommandResult monitorCheck(TestCluster& cluster, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"monitor", "--check", "--brokers", cluster.brokers(), "--cluster", cluster.name()};
  argv.insert(argv.end(), args.begin(), args.end());
  return TestCluster::klusterctl(argv, std::chrono::seconds(60));
}

} // namespace kluster::test::faults
