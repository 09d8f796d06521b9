#include "support/cluster.hpp"

#include "core/db/mariadb/client.hpp"
#include "core/db/mariadb/mariadb.hpp"
#include "core/db/postgres/pg_tools.hpp"
#include "core/errors.hpp"
#include "core/kafka/admin.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace kluster::test {
namespace fs = std::filesystem;

std::string klusterctlPath() { return KLUSTERCTL_PATH; }

const Services& Services::get() {
  static const Services services = [] {
    const char* path = std::getenv("KLUSTER_TEST_ENV");
    if (!path)
      throw std::runtime_error("KLUSTER_TEST_ENV is not set: run the integration tests through ctest, which starts "
                               "Kafka and PostgreSQL (scripts/services.sh)");
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot read {}: did the services fixture start?", path));
    Services s;
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      auto key = line.substr(0, eq), value = line.substr(eq + 1);
      if (key == "KLUSTER_TEST_BROKERS") s.brokers = value;
      if (key == "KLUSTER_TEST_SASL_SSL_BROKERS") s.saslSslBrokers = value;
      if (key == "KLUSTER_TEST_SASL_CA") s.saslCa = value;
      if (key == "KLUSTER_TEST_SASL_USER") s.saslUser = value;
      if (key == "KLUSTER_TEST_SASL_PASSWORD_FILE") s.saslPasswordFile = value;
      if (key == "KLUSTER_TEST_MARIADB_URLS") {
        std::istringstream words(value);
        for (std::string url; words >> url;) s.mariadbUrls.push_back(url);
      }
      if (key == "KLUSTER_TEST_PG_URLS") {
        std::istringstream words(value);
        for (std::string url; words >> url;) s.pgUrls.push_back(url);
      }
    }
    if (s.brokers.empty() || s.pgUrls.empty()) throw std::runtime_error(fmt::format("{} lacks brokers or URLs", path));
    return s;
  }();
  return services;
}

namespace {

std::string uniqueName() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return fmt::format("t{}_{}_{:04x}", ::getpid(), counter++, rd() & 0xffff);
}

std::string withDatabase(const std::string& url, const std::string& db) {
  auto slash = url.rfind('/');
  return url.substr(0, slash + 1) + db;
}

} // namespace

TestCluster::TestCluster(ClusterOptions options) : options_(std::move(options)), name_(uniqueName()) {
  const auto& services = Services::get();
  dir_ = (fs::path(TEST_WORK_DIR) / name_).string();
  fs::create_directories(dir_);
  const std::string clientBrokers = options_.brokers.empty() ? services.brokers : options_.brokers;
  std::string kafkaTable;
  for (const auto& [k, v] : options_.kafka) kafkaTable += fmt::format("\"{}\" = \"{}\"\n", k, v);
  if (!kafkaTable.empty()) {
    kafkaTable = "\n[kafka]\n" + kafkaTable;
    std::ofstream(clientConfigPath()) << fmt::format("[cluster]\nname = \"{}\"\nbrokers = \"{}\"\n{}", name_,
                                                     clientBrokers, kafkaTable);
  }
  for (int i = 1; i <= options_.nodes; ++i) {
    const auto dbName = fmt::format("{}_n{}", name_, i);
    if (mariadb()) {
      serverExec(i, "CREATE DATABASE `" + dbName + "`");
      dbUrls_.push_back(withDatabase(serverUrl(i), dbName));
    } else {
      const auto& server = serverUrl(i);
      db::PgSession(server).exec(fmt::format("CREATE DATABASE {}", db::quoteIdent(dbName)));
      dbUrls_.push_back(withDatabase(server, dbName));
    }
    std::ofstream cfg(configPath(i));
    cfg << fmt::format("[cluster]\nname = \"{}\"\nbrokers = \"{}\"\n\n[node]\nid = \"{}\"\n{}\n\n"
                       "[database]\ntype = \"{}\"\nurl = \"{}\"\n\n[log]\nlevel = \"info\"\n{}",
                       name_, clientBrokers, nodeId(i), options_.extraNodeConfig, options_.database, dbUrls_.back(),
                       kafkaTable);
  }
  auto init = command({"init", "--one-partitions", std::to_string(options_.onePartitions)});
  if (init.exitCode != 0) throw std::runtime_error("klusterctl init failed: " + init.err);
  nodes_.resize(static_cast<std::size_t>(options_.nodes));
  if (options_.start) {
    for (int i = 1; i <= options_.nodes; ++i) startNode(i);
    if (!waitForMembers(options_.nodes)) throw std::runtime_error("nodes did not join in time; see logs in " + dir_);
  }
}

TestCluster::~TestCluster() {
  for (auto& n : nodes_) n.stop(std::chrono::seconds(10));
  std::cerr << "[cluster " << name_ << "] node logs in " << dir_ << "\n";
  for (std::size_t i = 0; i < dbUrls_.size(); ++i) {
    try {
      if (mariadb()) {
        serverExec(static_cast<int>(i) + 1, fmt::format("DROP DATABASE IF EXISTS `{}_n{}`", name_, i + 1));
        continue;
      }
      db::PgSession(Services::get().pgUrls[i % Services::get().pgUrls.size()])
          .exec(fmt::format("DROP DATABASE IF EXISTS \"{}_n{}\" WITH (FORCE)", name_, i + 1));
    } catch (const std::exception& e) {
      std::cerr << "cleanup: " << e.what() << "\n";
    }
  }
}

std::string TestCluster::databaseUrl(int i) const { return dbUrls_.at(static_cast<std::size_t>(i - 1)); }
std::string TestCluster::configPath(int i) const { return fmt::format("{}/node{}.toml", dir_, i); }
std::string TestCluster::nodeLog(int i) const {
  std::ifstream in(fmt::format("{}/node{}.log", dir_, i));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void TestCluster::startNode(int i) {
  auto& slot = nodes_.at(static_cast<std::size_t>(i - 1));
  slot = Process({klusterctlPath(), "node", "run", "--config", configPath(i)}, options_.env,
                 fmt::format("{}/node{}.log", dir_, i));
}

int TestCluster::stopNode(int i) { return nodes_.at(static_cast<std::size_t>(i - 1)).stop(); }
void TestCluster::killNode(int i) { nodes_.at(static_cast<std::size_t>(i - 1)).kill(); }
void TestCluster::signalNode(int i, int sig) { nodes_.at(static_cast<std::size_t>(i - 1)).signal(sig); }
bool TestCluster::nodeRunning(int i) { return nodes_.at(static_cast<std::size_t>(i - 1)).running(); }
int TestCluster::nodePid(int i) const { return nodes_.at(static_cast<std::size_t>(i - 1)).pid(); }

bool TestCluster::waitForMembers(int count, std::chrono::milliseconds timeout) {
  kafka::Admin admin(kafka::clientProperties(brokers(), {}));
  const auto prefix = name_ + ".node.";
  return waitUntil(
      [&] {
        int active = 0;
        try {
          for (const auto& g : admin.listGroups())
            if (g.groupId.rfind(prefix, 0) == 0 && g.state == "Stable") ++active;
        } catch (const KlusterError&) {
          return false; // a fresh broker answers "coordinator load in progress" for a few seconds
        }
        return active == count;
      },
      timeout, std::chrono::milliseconds(200));
}

CommandResult TestCluster::exec(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {"exec"};
  argv.insert(argv.end(), args.begin(), args.end());
  return command(argv, timeout);
}

std::string TestCluster::clientConfigPath() const { return dir_ + "/client.toml"; }

CommandResult TestCluster::command(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                                   const std::string& input) const {
  std::vector<std::string> argv = {klusterctlPath(), args.at(0)};
  if (options_.kafka.empty()) {
    argv.insert(argv.end(), {"--brokers", options_.brokers.empty() ? brokers() : options_.brokers, "--cluster", name_});
  } else {
    argv.insert(argv.end(), {"--config", clientConfigPath()});
  }
  argv.insert(argv.end(), args.begin() + 1, args.end());
  auto env = options_.env;
  if (mariadb()) env.emplace("KLUSTER_DATABASE_TYPE", "mariadb"); // exec splits and routes in MariaDB's dialect
  return run(argv, timeout, env, input);
}

CommandResult TestCluster::klusterctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                                      const std::string& input) {
  std::vector<std::string> argv = {klusterctlPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout, {}, input);
}

void TestCluster::setDirectOptions(int i, const std::string& options) { directOptions_[i] = options; }

std::string TestCluster::directUrl(int i) const {
  const auto it = directOptions_.find(i);
  if (it == directOptions_.end() || it->second.empty()) return databaseUrl(i);
  std::string encoded;
  for (unsigned char ch : it->second)
    encoded += std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' ? std::string(1, char(ch))
                                                                       : fmt::format("%{:02X}", int(ch));
  const auto url = databaseUrl(i);
  return url + (url.find('?') == std::string::npos ? "?options=" : "&options=") + encoded;
}

std::vector<Row> TestCluster::query(int i, const std::string& sql) const {
  try {
    if (mariadb()) {
      db::mariadb::Client c(db::mariadb::Url::parse(databaseUrl(i)));
      c.exec(db::mariadb::kSessionSettings); // read as a node does: node 2's server has other defaults
      auto results = c.query(sql);
      return results.empty() ? std::vector<Row>{} : results.back().rows;
    }
    return db::PgSession(directUrl(i)).query(sql);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("node{}: {}: {}", i, sql, e.what()));
  }
}

std::string TestCluster::scalar(int i, const std::string& sql) const {
  auto rows = query(i, sql);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return "";
  return *rows[0][0];
}

std::string TestCluster::serverUrl(int i) const {
  const auto& urls = mariadb() ? Services::get().mariadbUrls : Services::get().pgUrls;
  if (urls.empty()) throw std::runtime_error("no MariaDB server in the services env (services.sh up --mariadb 1)");
  return urls[static_cast<std::size_t>(i - 1) % urls.size()];
}

void TestCluster::serverExec(int i, const std::string& sql) const {
  try {
    if (mariadb())
      db::mariadb::Client(db::mariadb::Url::parse(serverUrl(i))).exec(sql);
    else
      db::PgSession(serverUrl(i)).exec(sql);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", sql, e.what()));
  }
}

std::string TestCluster::tableChecksum(int i, const std::string& table, const std::string& orderBy) const {
  return scalar(i, fmt::format("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY {})), '') "
                               "FROM {} t",
                               orderBy, table));
}

} // namespace kluster::test
