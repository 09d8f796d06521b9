#pragma once
// CPU time per process from /proc, for `bench load` and bench/compare.sh: how much CPU each process of a setup
// (broker, nodes, database servers, proxy, client) spends per replicated write. A process counts with its
// whole tree: a PostgreSQL postmaster with its backends, which are child processes. Linux only.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kluster::bench {

/// The fields of /proc/<pid>/stat that the CPU accounting needs. Times are in clock ticks (sysconf(_SC_CLK_TCK)).
struct ProcStat {
  int pid = 0;
  std::string comm; ///< the executable's name, as the kernel keeps it (may hold spaces and parentheses)
  char state = '?';
  int ppid = 0;
  std::uint64_t utime = 0, stime = 0;   ///< the process's own user and system time
  std::uint64_t cutime = 0, cstime = 0; ///< of its children that ended and were waited for
  /// Own time plus that of waited-for children: what a process tree has used, summed over its live members
  /// (a backend that ended is counted in the postmaster that reaped it).
  std::uint64_t ticksWithChildren() const { return utime + stime + cutime + cstime; }
};

/// Parses the text of /proc/<pid>/stat; nullopt when it is not one. The name is taken up to the last ')'.
std::optional<ProcStat> parseProcStat(const std::string& text);
/// /proc/<pid>/stat of a live process; nullopt when it is gone.
std::optional<ProcStat> readProcStat(int pid);
/// Every process now (walks /proc/*/stat).
std::vector<ProcStat> allProcesses();
/// The ids of `root` and every descendant of it in `procs` (by ppid); empty when root is not among them.
std::vector<int> processTree(int root, const std::vector<ProcStat>& procs);
/// Ids of processes whose command line (/proc/<pid>/cmdline, arguments joined by spaces) matches the
/// ECMAScript regular expression anywhere, leaving out `exclude` and those whose parent matched too (their
/// tree is counted through it). Throws UsageError on a bad expression.
std::vector<int> matchCommandLine(const std::string& regex, int exclude);

/// Busy ticks of the whole machine from /proc/stat's first line: user, nice, system, irq, softirq and
/// steal, summed over CPUs (idle and iowait left out; guest time is part of user already).
std::uint64_t machineBusyTicks(const std::string& procStatText);
std::uint64_t machineBusyTicks();

/// Clock ticks to microseconds (sysconf(_SC_CLK_TCK), 100 on Linux).
double ticksToMicros(std::uint64_t ticks);
/// Microseconds of CPU per write; 0 when there were no writes.
double perWrite(double cpuMicros, std::uint64_t writes);

/// A process (tree) to account: by pid, or every process whose command line matches a regex.
struct CpuTarget {
  std::string name;
  int pid = 0;       ///< 0: use regex
  std::string regex; ///< matched once, at the first sample
};
/// Parses NAME=PID (--cpu-pid) or NAME=REGEX (--cpu-match); throws UsageError.
CpuTarget parseCpuTarget(const std::string& spec, bool byPid);

/// One sample of the targets' trees and of the machine.
struct CpuSample {
  std::map<std::string, std::uint64_t> ticks; ///< per target name (its live tree, with reaped children)
  std::uint64_t machineTicks = 0;
};

/// Samples the CPU time of named process trees: start() at the beginning of the measured interval, stop()
/// at its end. The pids of regex targets are fixed at start(); a target whose processes are gone at stop()
/// keeps the ticks it had (the measured interval then undercounts it).
class CpuSampler {
public:
  explicit CpuSampler(std::vector<CpuTarget> targets);
  void start();
  void stop();
  struct Usage {
    std::string name;
    std::vector<int> pids;
    double micros = 0; ///< CPU time used in the interval
  };
  /// After stop(): each target's use, in the targets' order, and the machine's busy time.
  std::vector<Usage> usage() const;
  double machineMicros() const;
  bool sampled() const { return stopped_; }

private:
  CpuSample sample() const;
  std::vector<CpuTarget> targets_;
  std::map<std::string, std::vector<int>> pids_;
  CpuSample first_, last_;
  bool stopped_ = false;
};

} // namespace kluster::bench
