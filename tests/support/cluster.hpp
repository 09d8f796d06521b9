#pragma once
// A throwaway Kluster cluster for an integration test: a unique cluster name, one fresh database per
// node on the test PostgreSQL servers, topics made with `klusterctl init`, nodes run as real
// `klusterctl node run` processes. Everything is stopped and dropped when the fixture goes away.
#include "support/process.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kluster::test {

/// The services the ctest fixture started (scripts/services.sh): fails the test when they are missing.
struct Services {
  std::string brokers;
  std::vector<std::string> pgUrls;
  /// The MariaDB servers (services.sh up --mariadb N), mariadb://kluster@127.0.0.1:PORT/kluster.
  std::vector<std::string> mariadbUrls;
  /// The brokers' SASL_SSL listener (services.sh up --sasl-ssl): PLAIN or SCRAM-SHA-512 over TLS.
  std::string saslSslBrokers, saslCa, saslUser, saslPasswordFile;
  static const Services& get();
};

struct ClusterOptions {
  int nodes = 3;
  int onePartitions = 3;
  bool start = true;           ///< start every node in the constructor (and wait until they joined)
  std::string extraNodeConfig; ///< extra TOML lines appended to the [node] table of every node
  /// How the nodes and klusterctl commands reach Kafka: the fixture's plain listener unless set. The test's own
  /// checks (brokers(), waitForMembers) always use the plain listener.
  std::string brokers;
  /// librdkafka properties for every node's [kafka] table and every klusterctl command (through --config).
  std::map<std::string, std::string> kafka;
  /// Environment of every node and klusterctl command the fixture runs (e.g. KLUSTER_X_SASL_PASSWORD).
  std::map<std::string, std::string> env;
  /// The nodes' [database] type: "postgresql" (the fixture's PostgreSQL servers) or "mariadb" (its MariaDB servers,
  /// services.sh --mariadb). query(), scalar(), serverExec() and serverUrl() speak to that DBMS.
  std::string database = "postgresql";
};

using Row = std::vector<std::optional<std::string>>;

class TestCluster {
public:
  explicit TestCluster(ClusterOptions options = {});
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  const std::string& name() const { return name_; }
  const std::string& brokers() const { return Services::get().brokers; }
  int size() const { return options_.nodes; }
  static std::string nodeId(int i) { return "node" + std::to_string(i); } ///< nodes are numbered from 1
  std::string databaseUrl(int i) const;
  std::string configPath(int i) const;

  void startNode(int i);
  int stopNode(int i);
  void killNode(int i);
  void signalNode(int i, int sig);
  bool nodeRunning(int i);
  /// The process id of node i's `klusterctl node run` (-1 when it was never started).
  int nodePid(int i) const;
  std::string nodeLog(int i) const;
  /// This test's directory (node configs and logs), for files a test writes.
  const std::string& workDir() const { return dir_; }
  /// Waits until exactly these many nodes are live members (their ALL groups are active).
  bool waitForMembers(int count, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// `klusterctl COMMAND --brokers B --cluster C ARGS...` (or `--config` with the options' Kafka properties), in the
  /// options' environment: {COMMAND, ARGS...}.
  CommandResult command(const std::vector<std::string>& args,
                        std::chrono::milliseconds timeout = std::chrono::seconds(60),
                        const std::string& input = {}) const;
  /// The [cluster] and [kafka] tables klusterctl commands use when the options give Kafka properties.
  std::string clientConfigPath() const;
  /// `klusterctl exec --brokers B --cluster C args...`
  CommandResult exec(const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// `klusterctl args...` (no flags added)
  static CommandResult klusterctl(const std::vector<std::string>& args,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(60),
                                  const std::string& input = {});

  /// PostgreSQL: libpq `options` (e.g. "-c statement_timeout=0") for the test's own connections to node i's database
  /// (query(), scalar()), when that database has defaults that would stop the test's own reads (odd_settings.cpp).
  void setDirectOptions(int i, const std::string& options);
  /// Runs SQL directly on node i's database (bypassing Kluster), returning rows of text.
  std::vector<Row> query(int i, const std::string& sql) const;
  std::string scalar(int i, const std::string& sql) const;
  /// Runs SQL on node i's database server, in its maintenance database (e.g. to drop or create databases).
  void serverExec(int i, const std::string& sql) const;
  /// The URL of node i's database server's maintenance database.
  std::string serverUrl(int i) const;
  /// A digest of a whole table's contents, computed in SQL on node i's database.
  std::string tableChecksum(int i, const std::string& table, const std::string& orderBy) const;

private:
  bool mariadb() const { return options_.database == "mariadb"; }
  std::string directUrl(int i) const;
  ClusterOptions options_;
  std::string name_;
  std::string dir_;
  std::vector<std::string> dbUrls_;
  std::map<int, std::string> directOptions_;
  std::vector<Process> nodes_;
};

/// The klusterctl binary under test.
std::string klusterctlPath();

} // namespace kluster::test
