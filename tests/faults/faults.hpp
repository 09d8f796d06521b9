#pragma once
// Fault injection for the fault suite: the services of the `faults` ctest fixture (a 3-broker KRaft
// cluster with proxied listeners, three PostgreSQL instances), driven through the project's own scripts
// (scripts/kafka.sh, scripts/pg.sh), and a TCP proxy on loopback that the test can cut and heal.
#include "support/cluster.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kluster::test::faults {

/// The fault fixture's service directory (KLUSTER_TEST_SERVICES_DIR in the env file): fails when missing.
const std::string& servicesDir();

/// Runs one of the project's scripts (scripts/NAME) with args; throws with its output when it fails.
CommandResult script(const std::string& name, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = std::chrono::seconds(180));

int brokerCount();
void killBroker(int k);  ///< SIGKILL broker k (1-based)
void startBroker(int k); ///< restart broker k and wait until it answers
void stopKafka();        ///< stop every broker (SIGTERM)
void startKafka();       ///< start every broker again, together (a KRaft quorum needs a majority)
/// The broker id leading `topic`[partition], per the cluster's metadata; -1 when none is.
int leaderOf(const std::string& brokers, const std::string& topic, int partition);
/// Replicas and in-sync replicas of `topic`[partition].
std::pair<int, int> replicasOf(const std::string& brokers, const std::string& topic, int partition);

/// Stops node i's PostgreSQL instance (pg_ctl -m mode) / starts it again.
void stopPostgres(int instance, const std::string& mode);
void startPostgres(int instance);

/// A TCP proxy on 127.0.0.1:listenPort to 127.0.0.1:targetPort. cut(): nothing more is forwarded
/// (bytes wait in the kernel, new connections wait in the backlog), as when a network drops packets;
/// heal(): forwarding resumes.
class TcpProxy {
public:
  TcpProxy(int listenPort, int targetPort);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;
  void cut() { cut_.store(true); }
  void heal() { cut_.store(false); }

private:
  void loop();
  int listen_ = -1;
  int target_;
  std::atomic<bool> cut_{false}, stop_{false};
  std::thread thread_;
};

/// One proxy per broker of the fixture (brokerK/proxy-port -> brokerK/proxied-port); bootstrap() is the
/// list a node uses to reach Kafka only through them.
class KafkaProxies {
public:
  KafkaProxies();
  std::string bootstrap() const { return bootstrap_; }
  void cut();
  void heal();

private:
  std::vector<std::unique_ptr<TcpProxy>> proxies_;
  std::string bootstrap_;
};

/// `klusterctl monitor --check --brokers B --cluster C args...`
CommandResult monitorCheck(TestCluster& cluster, const std::vector<std::string>& args = {});

} // namespace kluster::test::faults
