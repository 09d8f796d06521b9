#include "commands/monitor_view.hpp"

#include "commands/output.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

namespace kluster::commands {
namespace {

std::string ago(std::int64_t ms) {
  if (ms < 60'000) return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
  if (ms < 3'600'000) return fmt::format("{}m{:02}s", ms / 60'000, (ms / 1000) % 60);
  return fmt::format("{}h{:02}m", ms / 3'600'000, (ms / 60'000) % 60);
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// One line of a possibly long message, so the feed keeps one line per report.
std::string oneLine(std::string text, std::size_t max) {
  for (auto& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  if (text.size() > max) text = text.substr(0, max - 3) + "...";
  return text;
}

} // namespace

Table monitorNodes(const ops::MonitorSnapshot& s) {
  Table t{{"NODE", "STATE", "APPLIED", "LAG", "LAST-ALL", "RESP/S", "ERR/S", "COMMITTED", "GROUP"}, {}};
  for (const auto& n : s.nodes) {
    t.rows.push_back({n.nodeId, std::string(ops::stateName(n.state)), n.applied ? std::to_string(*n.applied) : "-",
                      std::to_string(n.lag),
                      n.lastAllResponseMs ? ago(std::max<std::int64_t>(0, s.takenMs - *n.lastAllResponseMs)) : "-",
                      fmt::format("{:.2f}", n.responsesPerSec), fmt::format("{:.2f}", n.errorsPerSec),
                      n.committed >= 0 ? std::to_string(n.committed) : "-", n.groupState});
  }
  return t;
}

std::string renderMonitor(const ops::MonitorSnapshot& s, std::size_t errors, const std::string& footer) {
  std::string out = fmt::format("cluster {}  {}  ALL log end {}  rates over {}{}\n\n", s.cluster,
                                util::isoMillis(s.takenMs), s.allLogEnd, ago(s.windowMs), footer);
  out += renderTable(monitorNodes(s), TableStyle::Plain);
  if (s.nodes.empty()) out += "(no node groups: has any node of this cluster run?)\n";

  std::string oneLag;
  for (const auto& p : s.one.partitions) {
    auto lag = ops::committedLag(p.committed, p.logEnd);
    oneLag += fmt::format("{}{}:{}", oneLag.empty() ? "" : " ", p.partition, lag ? std::to_string(*lag) : "-");
  }
  out += fmt::format("\nONE group {} ({}), lag per partition: {}\n", s.one.group, s.one.state, oneLag);

  if (!s.divergences.empty()) {
    out += "\nDIVERGENCES (newest first)\n";
    for (const auto& d : s.divergences) {
      std::string answers;
      for (const auto& [hash, who] : d.hashes)
        answers += fmt::format("{}{} by {}", answers.empty() ? "" : "; ", hash, joined(who));
      if (d.check) {
        out += fmt::format("  check at ALL offset {}: diverged {}\n", d.allOffset, joined(d.divergedNodes));
        for (const auto& t : d.tables) out += fmt::format("    {}\n", t);
        continue;
      }
      out += fmt::format("  request {} at ALL offset {}: diverged {} ({})\n", d.requestId, d.allOffset,
                         joined(d.divergedNodes), answers);
    }
  }

  out += fmt::format("\nERRORS (newest first, last {})\n", errors);
  if (s.errors.empty()) out += "  none\n";
  for (std::size_t i = 0; i < s.errors.size() && i < errors; ++i) {
    const auto& e = s.errors[i];
    out += fmt::format("  {}  {}  {} {}{}: {}\n", util::isoMillis(e.timestampMs), e.nodeId, e.severity, e.code,
                       e.requestId.empty() ? "" : " request " + e.requestId, oneLine(e.message, 160));
  }

  if (!s.problems.empty()) {
    out += "\nPROBLEMS\n";
    for (const auto& p : s.problems) out += "  " + p + "\n";
  }
  return out;
}

} // namespace kluster::commands
