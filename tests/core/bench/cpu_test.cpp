// The /proc accounting behind bench load's CPU per write (src/core/bench/cpu.*), against this very process
// and children it starts: a parent's tree must show the CPU its child burns, alive and after it was reaped.
#include "core/bench/cpu.hpp"
#include "core/errors.hpp"
#include "core/kafka/statistics.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

extern char** environ;

using namespace kluster::bench;

namespace {

double processCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

/// A forked child that burns `seconds` of CPU, then waits until its pipe is closed, then exits.
struct Burner {
  pid_t pid = -1;
  int release = -1; ///< closing it lets the child end
  int burnt = -1;   ///< the child writes a byte when it has burnt its CPU
  explicit Burner(double seconds) {
    int go[2], done[2];
    REQUIRE(::pipe(go) == 0);
    REQUIRE(::pipe(done) == 0);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(go[1]);
      ::close(done[0]);
      volatile unsigned long x = 0;
      while (processCpuSeconds() < seconds) x = x + 1;
      char c = 'x';
      (void)!::write(done[1], &c, 1);
      (void)!::read(go[0], &c, 1); // returns at EOF
      ::_exit(0);
    }
    ::close(go[0]);
    ::close(done[1]);
    release = go[1];
    burnt = done[0];
  }
  void waitBurnt() {
    char c;
    REQUIRE(::read(burnt, &c, 1) == 1);
  }
  void reap() {
    ::close(release);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    ::close(burnt);
  }
};

} // namespace

TEST_CASE("parseProcStat reads this process's real /proc/self/stat") {
  const auto st = readProcStat(::getpid());
  REQUIRE(st);
  CHECK(st->pid == ::getpid());
  CHECK(st->ppid == ::getppid());
  CHECK(st->comm == "unit_tests");
  CHECK(st->state == 'R'); // it is reading its own stat
  // Burn some CPU: the own time grows, in ticks.
  const auto before = st->utime + st->stime;
  const auto start = processCpuSeconds();
  volatile unsigned long x = 0;
  while (processCpuSeconds() < start + 0.1) x = x + 1;
  const auto after = readProcStat(::getpid());
  REQUIRE(after);
  CHECK(after->utime + after->stime >= before + 5); // 0.1 s is 10 ticks at 100 Hz; allow rounding
}

TEST_CASE("parseProcStat takes the name up to the last parenthesis and refuses what is not a stat line") {
  const std::string line = "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 123 45 6 7 20 0 1 0 99 1000 10";
  const auto st = parseProcStat(line);
  REQUIRE(st);
  CHECK(st->pid == 4242);
  CHECK(st->comm == "a) b (c)");
  CHECK(st->state == 'S');
  CHECK(st->ppid == 17);
  CHECK(st->utime == 123);
  CHECK(st->stime == 45);
  CHECK(st->cutime == 6);
  CHECK(st->cstime == 7);
  CHECK(st->ticksWithChildren() == 181);
  CHECK_FALSE(parseProcStat(""));
  CHECK_FALSE(parseProcStat("4242 (x) S 17 1 2"));                                          // too short
  CHECK_FALSE(parseProcStat("abc (x) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 3 4 20 0")); // no pid
}

TEST_CASE("machine busy ticks leave idle and iowait out") {
  // user nice system idle iowait irq softirq steal guest guest_nice
  CHECK(machineBusyTicks("cpu  100 2 30 5000 40 5 6 7 50 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n") == 100 + 2 + 30 + 5 + 6 + 7);
  CHECK(machineBusyTicks("cpu  1 2 3 4\n") == 6); // old kernels: fewer fields
  CHECK_THROWS(machineBusyTicks("intr 1 2 3\n"));
  CHECK(machineBusyTicks() > 0);
}

TEST_CASE("per-write arithmetic: ticks to microseconds, divided by the writes") {
  const auto hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  CHECK(ticksToMicros(static_cast<std::uint64_t>(hz)) == Approx(1e6));
  CHECK(ticksToMicros(0) == 0);
  CHECK(perWrite(2.5e6, 1000) == Approx(2500));
  CHECK(perWrite(1e6, 0) == 0);
}

TEST_CASE("--cpu-pid and --cpu-match specs") {
  const auto t = parseCpuTarget("node1=123", true);
  CHECK(t.name == "node1");
  CHECK(t.pid == 123);
  const auto m = parseCpuTarget("broker=java .*kafka\\.Kafka", false);
  CHECK(m.name == "broker");
  CHECK(m.pid == 0);
  CHECK(m.regex == "java .*kafka\\.Kafka");
  CHECK_THROWS_AS(parseCpuTarget("node1", true), kluster::UsageError);
  CHECK_THROWS_AS(parseCpuTarget("=123", true), kluster::UsageError);
  CHECK_THROWS_AS(parseCpuTarget("node1=", true), kluster::UsageError);
  CHECK_THROWS_AS(parseCpuTarget("node1=12x", true), kluster::UsageError);
  CHECK_THROWS_AS(parseCpuTarget("node1=-5", true), kluster::UsageError);
  CHECK_THROWS_AS(matchCommandLine("(", 0), kluster::UsageError);
}

TEST_CASE("a child's CPU shows up in its parent's tree, alive and after it was reaped") {
  CpuSampler sampler({{"me", static_cast<int>(::getpid()), {}}});
  sampler.start();
  const auto ownBefore = processCpuSeconds();
  Burner child(0.4);
  child.waitBurnt();

  // Alive: counted through its own /proc/<pid>/stat, found as a descendant by its ppid.
  const auto tree = processTree(::getpid(), allProcesses());
  CHECK(std::find(tree.begin(), tree.end(), child.pid) != tree.end());
  CHECK(tree.front() == ::getpid());
  sampler.stop();
  const auto own = processCpuSeconds() - ownBefore;
  auto usage = sampler.usage();
  REQUIRE(usage.size() == 1);
  CHECK(usage[0].name == "me");
  CHECK(usage[0].pids == std::vector<int>{::getpid()});
  // The child's 0.4 s, beyond what this process used itself (tick rounding: 10 ms per process).
  CHECK(usage[0].micros / 1e6 - own >= 0.3);
  CHECK(sampler.machineMicros() / 1e6 >= 0.3);

  // Reaped: its time moved to this process's cutime/cstime; the tree's total does not drop.
  child.reap();
  sampler.stop();
  usage = sampler.usage();
  CHECK(usage[0].micros / 1e6 - (processCpuSeconds() - ownBefore) >= 0.3);

  // A process tree of a pid that is not running is empty.
  CHECK(processTree(child.pid, allProcesses()).empty());
}

TEST_CASE("--cpu-match finds a process by its command line, not the one asking") {
  pid_t pid = -1;
  char arg0[] = "sleep", arg1[] = "31.4159";
  char* argv[] = {arg0, arg1, nullptr};
  REQUIRE(::posix_spawnp(&pid, "sleep", nullptr, nullptr, argv, environ) == 0);
  std::vector<int> found;
  for (int i = 0; i < 100 && found.empty(); ++i) { // until it has exec'd
    found = matchCommandLine("^sleep 31\\.4159$", ::getpid());
    if (found.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(found == std::vector<int>{pid});
  CHECK(matchCommandLine("^sleep 31\\.4159$", pid).empty()); // excluded
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST_CASE("librdkafka statistics: requests and responses summed over a report's brokers") {
  std::string name;
  const auto c = kluster::kafka::parseStatistics(
      R"({"name": "rdkafka#producer-1", "type": "producer", "brokers": {
            "127.0.0.1:9092/bootstrap": {"nodeid": -1, "tx": 3, "rx": 3},
            "127.0.0.1:9092/1": {"nodeid": 1, "tx": 120, "rx": 118, "txbytes": 99999}}})",
      &name);
  CHECK(name == "rdkafka#producer-1");
  CHECK(c.sent == 123);
  CHECK(c.received == 121);
  CHECK(c.clients == 1);
  CHECK(kluster::kafka::parseStatistics(R"({"name": "x"})").sent == 0); // no broker yet
  CHECK_THROWS(kluster::kafka::parseStatistics("not json"));
}
