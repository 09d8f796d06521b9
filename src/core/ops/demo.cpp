#include "core/ops/demo.hpp"

#include "core/client/client.hpp"
#include "core/db/mariadb/client.hpp"
#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef KLUSTER_SOURCE_DIR
#define KLUSTER_SOURCE_DIR ""
#endif

namespace kluster::ops {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string selfExe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

bool hasScripts(const fs::path& dir) {
  std::error_code ec;
  return !dir.empty() && fs::is_regular_file(dir / "scripts" / "services.sh", ec);
}

std::string readText(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A log's last lines, indented under the message that quotes them.
std::string lastLines(const fs::path& path, int lines) {
  std::istringstream tail(util::tailFile(path.string(), lines));
  std::string out;
  for (std::string line; std::getline(tail, line);) out += "  " + line + "\n";
  return out;
}

std::vector<char*> argvOf(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

/// Starts argv as a child in a process group of its own (so a Ctrl-C at the terminal reaches only the
/// demo, which decides what to stop), with standard input from /dev/null and its output appended to
/// `logFile`. With `dieWithParent`, the kernel sends it SIGTERM when this process dies. Only
/// async-signal-safe calls run between fork and exec: the process has threads.
int spawnChild(std::vector<std::string> args, const std::string& logFile, bool dieWithParent,
               const std::vector<std::string>& env = {}) {
  auto argv = argvOf(args);
  std::vector<std::string> envStrings;
  for (char** e = environ; *e; ++e) envStrings.emplace_back(*e);
  envStrings.insert(envStrings.end(), env.begin(), env.end());
  auto envp = argvOf(envStrings);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    if (dieWithParent) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127); // the parent died before prctl took effect
    }
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) _exit(127);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

/// The child's exit status if it has exited (reaping it), without waiting.
std::optional<int> exitedNow(int pid) {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) return decodeStatus(status);
  if (r < 0 && errno == ECHILD) return -1;
  return std::nullopt;
}

/// SIGTERM to the child's process group (unless `signalled` already), SIGKILL after `grace`; waits for it.
/// One SIGTERM only: a node's second signal makes it exit at once, without finishing its batch.
void stopChild(int pid, std::chrono::milliseconds grace, bool signalled = false) {
  if (pid <= 0 || exitedNow(pid)) return;
  if (!signalled) ::kill(-pid, SIGTERM);
  const auto deadline = Clock::now() + grace;
  while (Clock::now() < deadline) {
    if (exitedNow(pid)) return;
    std::this_thread::sleep_for(20ms);
  }
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

/// `KEY=value` lines of a services env file.
std::string envValue(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return {};
}

int pidFromFile(const fs::path& path) {
  std::ifstream in(path);
  int pid = 0;
  in >> pid;
  return pid;
}

// The original design's example (kluster-design.md): people and their addresses. SQL that PostgreSQL and MariaDB
// (10.7 and later: its UUID type) both accept, and PostgreSQL's parser, which still reads a MariaDB cluster's
// requests (docs/mariadb.md): the foreign key as a table constraint (MariaDB ignores a column's REFERENCES).
const std::vector<std::string> kExampleSchema = {
    "CREATE TABLE address (id uuid PRIMARY KEY, street text NOT NULL, city text NOT NULL)",
    "CREATE TABLE person (id uuid PRIMARY KEY, firstName text NOT NULL, lastName text NOT NULL, "
    "addressId uuid, FOREIGN KEY (addressId) REFERENCES address (id))",
    "INSERT INTO address (id, street, city) VALUES "
    "('053caa8f-952a-4a3f-8c5d-3eac6e40f133', 'Hoofdstraat', 'Gent'), "
    "('2b0f4c1e-6a47-4f7c-9d55-0a4b8e2f6c11', 'Hoofdstraat', 'Duckstad'), "
    "('7e3d9a20-1c5b-4e8f-b2a6-5f9c0d4e8a37', 'Dorpstraat', 'Dorpje')",
    "INSERT INTO person (id, firstName, lastName, addressId) VALUES "
    "('a1c4e5f6-0b2d-4c3e-8f9a-1b2c3d4e5f60', 'Jan', 'Klaassen', '053caa8f-952a-4a3f-8c5d-3eac6e40f133'), "
    "('b2d5f607-1c3e-4d4f-9a0b-2c3d4e5f6071', 'Donald', 'Duck', '2b0f4c1e-6a47-4f7c-9d55-0a4b8e2f6c11'), "
    "('c3e60718-2d4f-4e50-8b1c-3d4e5f607182', 'Oblix', 'de Gallier', '7e3d9a20-1c5b-4e8f-b2a6-5f9c0d4e8a37')",
};

/// The directory where scripts/pg.sh or scripts/mariadb.sh put their instances: DIR, or the one DIR/base names.
fs::path instancesDir(const fs::path& dir) {
  if (!fs::exists(dir / "base")) return dir;
  const auto base = readText(dir / "base");
  return base.substr(0, base.find('\n'));
}

} // namespace

std::string findSourceDir(const std::string& explicitDir) {
  const std::string hint =
      "hint: run the klusterctl of a build inside a Kluster source tree, or pass --source DIR (or set "
      "KLUSTER_SOURCE_DIR) naming a clone; Kafka's jars come from DIR/.kafka (scripts/kafka.sh fetch), or "
      "--kafka-home / KLUSTER_KAFKA_HOME";
  if (!explicitDir.empty()) {
    if (hasScripts(explicitDir)) return fs::absolute(explicitDir).string();
    throw UsageError(
        fmt::format("{} is not a Kluster source tree: it has no scripts/services.sh\n{}", explicitDir, hint));
  }
  const auto exe = selfExe();
  for (fs::path dir = fs::path(exe).parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (hasScripts(dir)) return dir.string();
    if (dir == dir.root_path()) break;
  }
  if (hasScripts(KLUSTER_SOURCE_DIR)) return KLUSTER_SOURCE_DIR;
  throw UsageError(fmt::format("demo starts Kafka and PostgreSQL with Kluster's scripts (scripts/services.sh), and "
                               "found none near {} nor in {}\n{}",
                               exe.empty() ? "this binary" : exe, *KLUSTER_SOURCE_DIR ? KLUSTER_SOURCE_DIR : "(none)",
                               hint));
}

class Demo::Impl {
public:
  explicit Impl(DemoOptions o) : o_(std::move(o)) {
    if (o_.klusterctl.empty()) o_.klusterctl = selfExe();
    if (!o_.interrupted) o_.interrupted = [] { return false; };
    if (!o_.progress) o_.progress = [](const std::string&) {};
  }

  void start() {
    const auto source = findSourceDir(o_.sourceDir);
    makeDir();
    startGuardian(source);
    startServices(source);
    runInit();
    startNodes();
    client::ClientOptions copts;
    copts.brokers = info_.brokers;
    copts.cluster = info_.cluster;
    copts.kafka["log_level"] = "3"; // a fresh broker's "coordinator load in progress" warnings are expected here
    client_ = std::make_unique<client::Client>(copts);
    waitForNodes();
    loadExample();
    client_.reset();
    if (o_.withLoad) startLoad();
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    client_.reset();
    stopChild(info_.loadPid, 5s);
    for (const int pid : info_.nodePids) ::kill(pid, SIGTERM); // all at once, then wait for each
    for (const int pid : info_.nodePids) stopChild(pid, 15s, true);
    // The guardian stops Kafka and PostgreSQL and removes the directory once its pipe closes.
    if (guardianPipe_ >= 0) close(guardianPipe_);
    guardianPipe_ = -1;
    if (guardian_ > 0) {
      int status = 0;
      while (waitpid(guardian_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }

  DemoOptions o_;
  DemoInfo info_;

private:
  void checkInterrupted() {
    if (o_.interrupted()) throw DemoInterrupted();
  }

  void makeDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/kluster-demo.XXXXXX";
    if (!mkdtemp(pattern.data())) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    // PostgreSQL runs as an unprivileged user when we are root (scripts/pg.sh): it must reach the directory.
    chmod(pattern.c_str(), 0755);
    info_.dir = pattern;
    info_.cluster = o_.cluster;
  }

  /// A bash process in a session of its own that ignores terminal signals and waits for end-of-file on a
  /// pipe only this process holds: the pipe closes when this process exits, however it exits (even
  /// SIGKILL), and the guardian then stops whatever is left and removes the directory.
  void startGuardian(const std::string& source) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    const std::string script = "read -r _\n" // returns at end of file: the demo has exited
                               "source \"$1/scripts/lib.sh\"\n"
                               // a start still under way: end it first, so it starts nothing after the stop below
                               "[[ -f $2/services.pid ]] && kill -KILL -- \"-$(<\"$2/services.pid\")\" 2>/dev/null\n"
                               "[[ -f $2/nodes.pids ]] && stop_pids 15 \"$2\" $(<\"$2/nodes.pids\")\n"
                               "bash \"$1/scripts/services.sh\" down \"$2/services\" >>\"$2/guardian.log\" 2>&1\n"
                               "[[ -f $2/services/pg/base ]] && rm -rf \"$(<\"$2/services/pg/base\")\"\n"
                               "[[ -f $2/services/mariadb/base ]] && rm -rf \"$(<\"$2/services/mariadb/base\")\"\n"
                               "rm -rf \"$2\"\n";
    std::vector<std::string> args = {"/bin/bash", "-c", script, "kluster-demo-guardian", source, info_.dir};
    auto argv = argvOf(args);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      setsid();
      signal(SIGINT, SIG_IGN);
      signal(SIGTERM, SIG_IGN);
      signal(SIGHUP, SIG_IGN);
      signal(SIGQUIT, SIG_IGN);
      const int null = open("/dev/null", O_RDWR);
      dup2(fds[0], STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[0]);
    guardian_ = pid;
    guardianPipe_ = fds[1];
  }

  /// Waits for a child to finish, polling `interrupted`; returns its exit status.
  int waitChild(int pid) {
    for (;;) {
      if (auto rc = exitedNow(pid)) return *rc;
      if (o_.interrupted()) {
        stopChild(pid, 10s);
        throw DemoInterrupted();
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  bool mariadb() const { return o_.database == "mariadb"; }

  void startServices(const std::string& source) {
    const auto dbms = mariadb() ? std::string("one MariaDB server") : fmt::format("{} PostgreSQL server(s)", o_.nodes);
    o_.progress(fmt::format("starting Kafka and {} in {} (about 20 s)", dbms, info_.dir));
    std::vector<std::string> env;
    if (!o_.kafkaHome.empty()) env.push_back("KLUSTER_KAFKA_HOME=" + fs::absolute(o_.kafkaHome).string());
    const auto log = info_.dir + "/services.log";
    const int pid =
        spawnChild({"/bin/bash", source + "/scripts/services.sh", "up", info_.dir + "/services", "--pg",
                    mariadb() ? "0" : std::to_string(o_.nodes), "--mariadb", mariadb() ? "1" : "0", "--brokers", "1"},
                   log, false, env);
    std::ofstream(info_.dir + "/services.pid") << pid << "\n";
    const int rc = waitChild(pid);
    fs::remove(info_.dir + "/services.pid");
    if (rc != 0)
      throw KlusterError(code::NodeError,
                         fmt::format("Kafka and {} did not start (scripts/services.sh exit {}):\n{}",
                                     mariadb() ? "MariaDB" : "PostgreSQL", rc, lastLines(log, 15)),
                         mariadb() ? "Kafka needs Java 17 and its jars (scripts/kafka.sh fetch, or --kafka-home), "
                                     "MariaDB its server (mariadb-server; scripts/setup.sh installs all)"
                                   : "Kafka needs Java 17 and its jars (scripts/kafka.sh fetch, or --kafka-home), "
                                     "PostgreSQL 15 its binaries (scripts/setup.sh installs both)");
    const auto env0 = readText(info_.dir + "/services/env");
    info_.brokers = envValue(env0, "KLUSTER_TEST_BROKERS");
    std::istringstream urls(envValue(env0, mariadb() ? "KLUSTER_TEST_MARIADB_URLS" : "KLUSTER_TEST_PG_URLS"));
    for (std::string url; urls >> url;) info_.databaseUrls.push_back(url);
    if (mariadb()) info_.databaseUrls = nodeDatabases(info_.databaseUrls);
    if (info_.brokers.empty() || static_cast<int>(info_.databaseUrls.size()) != o_.nodes)
      throw KlusterError(code::NodeError, "scripts/services.sh wrote no broker list or too few database URLs");
    for (const auto& entry : fs::directory_iterator(info_.dir + "/services/kafka"))
      if (entry.is_directory() && fs::exists(entry.path() / "pid"))
        info_.kafkaPids.push_back(pidFromFile(entry.path() / "pid"));
    if (mariadb()) {
      info_.databasePids.push_back(
          pidFromFile(instancesDir(info_.dir + "/services/mariadb") / "mdb1" / "mariadbd.pid"));
      return;
    }
    const auto pgBase = instancesDir(info_.dir + "/services/pg");
    for (int k = 1; k <= o_.nodes; ++k)
      info_.databasePids.push_back(pidFromFile(pgBase / fmt::format("pg{}", k) / "data" / "postmaster.pid"));
  }

  /// One MariaDB server, a database per node (kluster_node1...), as scripts/local-cluster.sh --db mariadb:
  /// their URLs.
  std::vector<std::string> nodeDatabases(const std::vector<std::string>& serverUrls) {
    if (serverUrls.size() != 1)
      throw KlusterError(code::NodeError, "scripts/services.sh did not write the MariaDB server's URL");
    const auto& url = serverUrls.front();
    std::vector<std::string> out;
    try {
      db::mariadb::Client server(db::mariadb::Url::parse(url));
      for (int k = 1; k <= o_.nodes; ++k) {
        const auto name = fmt::format("kluster_node{}", k);
        server.exec(fmt::format("CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", name));
        out.push_back(url.substr(0, url.rfind('/') + 1) + name);
      }
    } catch (const std::exception& e) {
      throw KlusterError(code::NodeError, fmt::format("creating the nodes' databases on {} failed: {}", url, e.what()));
    }
    return out;
  }

  void runInit() {
    checkInterrupted();
    const auto log = info_.dir + "/init.log";
    const int pid = spawnChild(
        {o_.klusterctl, "init", "--brokers", info_.brokers, "--cluster", info_.cluster, "--one-partitions", "3"}, log,
        true);
    if (const int rc = waitChild(pid); rc != 0)
      throw KlusterError(code::NodeError, fmt::format("klusterctl init failed (exit {}):\n{}", rc, lastLines(log, 10)));
  }

  void startNodes() {
    std::ofstream pids(info_.dir + "/nodes.pids");
    for (int k = 1; k <= o_.nodes; ++k) {
      checkInterrupted();
      const auto config = fmt::format("{}/node{}.toml", info_.dir, k);
      std::ofstream(config) << fmt::format("[cluster]\nname = \"{}\"\nbrokers = \"{}\"\n\n[node]\nid = \"node{}\"\n\n"
                                           "[database]\ntype = \"{}\"\nurl = \"{}\"\n",
                                           info_.cluster, info_.brokers, k, o_.database,
                                           info_.databaseUrls[static_cast<std::size_t>(k - 1)]);
      const int pid = spawnChild({o_.klusterctl, "node", "run", "--config", config},
                                 fmt::format("{}/node{}.log", info_.dir, k), true);
      info_.nodePids.push_back(pid);
      pids << pid << "\n" << std::flush;
    }
    o_.progress(fmt::format("{} node(s) started; waiting until each answers", o_.nodes));
  }

  void checkNodesAlive() {
    for (std::size_t i = 0; i < info_.nodePids.size(); ++i)
      if (auto rc = exitedNow(info_.nodePids[i]))
        throw KlusterError(code::NodeError, fmt::format("node{} exited (status {}):\n{}", i + 1, *rc,
                                                        lastLines(fmt::format("{}/node{}.log", info_.dir, i + 1), 15)));
  }

  /// Sends `statements` to ALL and waits until every node answered.
  client::Result sendToAll(std::vector<std::string> statements, std::chrono::milliseconds timeout) {
    Request r;
    r.statements = std::move(statements);
    client::WaitPolicy wait;
    wait.kind = client::WaitPolicy::Kind::Count;
    wait.count = o_.nodes;
    auto future = client_->send(std::move(r), client::Target::All, wait, timeout);
    while (future.wait_for(100ms) != std::future_status::ready) checkInterrupted();
    return future.get();
  }

  void waitForNodes() {
    const auto deadline = Clock::now() + 120s;
    for (;;) {
      checkInterrupted();
      checkNodesAlive();
      const auto result = sendToAll({"SELECT 1 AS ready"}, 3s);
      if (static_cast<int>(result.responses.size()) == o_.nodes && result.allOk()) return;
      if (Clock::now() > deadline)
        throw KlusterError(code::NodeError,
                           fmt::format("the nodes did not all answer within 120 s (logs: {}/node*.log)", info_.dir));
    }
  }

  void loadExample() {
    const auto result = sendToAll(kExampleSchema, 30s);
    if (static_cast<int>(result.responses.size()) != o_.nodes || !result.allOk()) {
      std::string why = result.responses.empty() ? "no answer" : result.responses.front().resultCode;
      for (const auto& r : result.responses)
        if (r.resultCode != "OK") why = r.resultCode + ": " + r.errorMessage;
      throw KlusterError(code::NodeError, "loading the example tables failed: " + why);
    }
    o_.progress("loaded the example tables address and person (3 rows each)");
  }

  void startLoad() {
    info_.loadPid = spawnChild({o_.klusterctl, "bench", "load", "--brokers", info_.brokers, "--cluster", info_.cluster,
                                "--clients", "2", "--rate", "20", "--duration", "24h", "--warmup", "0s", "--workload",
                                "mix", "--table", "demo_load"},
                               info_.dir + "/load.log", true);
    o_.progress("a background workload sends 20 requests/s (table demo_load; log load.log)");
  }

  std::unique_ptr<client::Client> client_;
  int guardian_ = -1;
  int guardianPipe_ = -1;
  bool stopped_ = false;
};

Demo::Demo(DemoOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Demo::~Demo() {
  try {
    impl_->stop();
  } catch (...) {
  }
}

void Demo::start() {
  try {
    impl_->start();
  } catch (...) {
    impl_->stop();
    throw;
  }
}

const DemoInfo& Demo::info() const { return impl_->info_; }

void Demo::stop() { impl_->stop(); }

} // namespace kluster::ops
