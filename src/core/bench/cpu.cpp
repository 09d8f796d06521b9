#include "core/bench/cpu.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace kluster::bench {
namespace {

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return s.str();
}

bool parseInt(const std::string& s, long long& out) {
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end;
}

/// Numeric entries of /proc.
std::vector<int> pids() {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    long long pid = 0;
    if (parseInt(e.path().filename().string(), pid) && pid > 0) out.push_back(static_cast<int>(pid));
  }
  return out;
}

} // namespace

std::optional<ProcStat> parseProcStat(const std::string& text) {
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime
  // cstime ...": comm may hold anything, so the fields after it start at the last ')'.
  const auto open = text.find(" (");
  const auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  ProcStat st;
  long long pid = 0;
  if (!parseInt(text.substr(0, open), pid)) return std::nullopt;
  st.pid = static_cast<int>(pid);
  st.comm = text.substr(open + 2, close - open - 2);
  std::istringstream rest(text.substr(close + 1));
  std::vector<std::string> f; // f[0] is field 3 (state)
  for (std::string w; f.size() < 15 && rest >> w;) f.push_back(w);
  if (f.size() < 15 || f[0].size() != 1) return std::nullopt;
  st.state = f[0][0];
  long long v[5];
  const int at[5] = {1, 11, 12, 13, 14}; // ppid, utime, stime, cutime, cstime
  for (int i = 0; i < 5; ++i)
    if (!parseInt(f[static_cast<std::size_t>(at[i])], v[i]) || v[i] < 0) return std::nullopt;
  st.ppid = static_cast<int>(v[0]);
  st.utime = static_cast<std::uint64_t>(v[1]);
  st.stime = static_cast<std::uint64_t>(v[2]);
  st.cutime = static_cast<std::uint64_t>(v[3]);
  st.cstime = static_cast<std::uint64_t>(v[4]);
  return st;
}

std::optional<ProcStat> readProcStat(int pid) {
  const auto text = slurp(fmt::format("/proc/{}/stat", pid));
  return text ? parseProcStat(*text) : std::nullopt;
}

std::vector<ProcStat> allProcesses() {
  std::vector<ProcStat> out;
  for (int pid : pids())
    if (auto st = readProcStat(pid)) out.push_back(std::move(*st)); // a process may end meanwhile
  return out;
}

std::vector<int> processTree(int root, const std::vector<ProcStat>& procs) {
  std::multimap<int, int> children;
  bool present = false;
  for (const auto& p : procs) {
    children.emplace(p.ppid, p.pid);
    present = present || p.pid == root;
  }
  if (!present) return {};
  std::vector<int> tree{root};
  for (std::size_t i = 0; i < tree.size(); ++i) {
    const auto [b, e] = children.equal_range(tree[i]);
    for (auto it = b; it != e; ++it)
      if (it->second != tree[i]) tree.push_back(it->second);
  }
  return tree;
}

std::vector<int> matchCommandLine(const std::string& regex, int exclude) {
  std::regex re;
  try {
    re = std::regex(regex, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw UsageError(fmt::format("--cpu-match: bad regular expression '{}': {}", regex, e.what()));
  }
  std::set<int> matched;
  std::map<int, int> parent;
  for (int pid : pids()) {
    if (pid == exclude) continue;
    auto cmd = slurp(fmt::format("/proc/{}/cmdline", pid));
    if (!cmd || cmd->empty()) continue; // kernel threads, or gone
    if (cmd->back() == '\0') cmd->pop_back();
    std::replace(cmd->begin(), cmd->end(), '\0', ' ');
    if (!std::regex_search(*cmd, re)) continue;
    matched.insert(pid);
    if (auto st = readProcStat(pid)) parent[pid] = st->ppid;
  }
  std::vector<int> out;
  for (int pid : matched)
    if (!matched.count(parent[pid])) out.push_back(pid);
  return out;
}

std::uint64_t machineBusyTicks(const std::string& text) {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"
  std::istringstream in(text.substr(0, text.find('\n')));
  std::string label;
  in >> label;
  if (label != "cpu") throw std::runtime_error("/proc/stat: no aggregate cpu line");
  std::uint64_t v[8] = {};
  for (auto& x : v)
    if (!(in >> x)) break;
  return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

std::uint64_t machineBusyTicks() {
  const auto text = slurp("/proc/stat");
  if (!text) throw std::runtime_error("cannot read /proc/stat");
  return machineBusyTicks(*text);
}

double ticksToMicros(std::uint64_t ticks) {
  static const long hz = ::sysconf(_SC_CLK_TCK);
  return static_cast<double>(ticks) * 1e6 / static_cast<double>(hz > 0 ? hz : 100);
}

double perWrite(double cpuMicros, std::uint64_t writes) {
  return writes > 0 ? cpuMicros / static_cast<double>(writes) : 0;
}

CpuTarget parseCpuTarget(const std::string& spec, bool byPid) {
  const auto flag = byPid ? "--cpu-pid" : "--cpu-match";
  const auto eq = spec.find('=');
  if (eq == 0 || eq == std::string::npos || eq + 1 == spec.size())
    throw UsageError(fmt::format("{} {}: expected NAME={}", flag, spec, byPid ? "PID" : "REGEX"));
  CpuTarget t;
  t.name = spec.substr(0, eq);
  const auto value = spec.substr(eq + 1);
  if (!byPid) {
    t.regex = value;
    return t;
  }
  long long pid = 0;
  if (!parseInt(value, pid) || pid <= 0 || pid > 1 << 30)
    throw UsageError(fmt::format("--cpu-pid {}: '{}' is not a process id", spec, value));
  t.pid = static_cast<int>(pid);
  return t;
}

CpuSampler::CpuSampler(std::vector<CpuTarget> targets) : targets_(std::move(targets)) {}

CpuSample CpuSampler::sample() const {
  CpuSample s;
  const auto procs = allProcesses();
  std::map<int, const ProcStat*> byPid;
  for (const auto& p : procs) byPid[p.pid] = &p;
  for (const auto& [name, roots] : pids_) {
    std::set<int> seen; // roots' trees may overlap (a pid given twice, a match inside another's tree)
    std::uint64_t ticks = 0;
    for (int root : roots)
      for (int pid : processTree(root, procs))
        if (seen.insert(pid).second) ticks += byPid.at(pid)->ticksWithChildren();
    s.ticks[name] = ticks;
  }
  s.machineTicks = machineBusyTicks();
  return s;
}

void CpuSampler::start() {
  pids_.clear();
  for (const auto& t : targets_) {
    auto& roots = pids_[t.name];
    if (t.pid) {
      roots.push_back(t.pid);
    } else {
      const auto found = matchCommandLine(t.regex, ::getpid());
      roots.insert(roots.end(), found.begin(), found.end());
    }
  }
  first_ = sample();
  stopped_ = false;
}

void CpuSampler::stop() {
  last_ = sample();
  // A target whose processes ended meanwhile reads as less than before: keep what it had.
  for (auto& [name, ticks] : last_.ticks) ticks = std::max(ticks, first_.ticks[name]);
  stopped_ = true;
}

std::vector<CpuSampler::Usage> CpuSampler::usage() const {
  std::vector<Usage> out;
  std::set<std::string> done;
  for (const auto& t : targets_) {
    if (!done.insert(t.name).second) continue; // the same name twice: one row for both
    Usage u;
    u.name = t.name;
    u.pids = pids_.at(t.name);
    u.micros = ticksToMicros(last_.ticks.at(t.name) - first_.ticks.at(t.name));
    out.push_back(std::move(u));
  }
  return out;
}

double CpuSampler::machineMicros() const {
  return last_.machineTicks >= first_.machineTicks ? ticksToMicros(last_.machineTicks - first_.machineTicks) : 0;
}

} // namespace kluster::bench
