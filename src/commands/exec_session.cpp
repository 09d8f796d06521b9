#include "commands/exec_session.hpp"

#include "core/util.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kluster::commands {

client::Target chooseTarget(const std::string& to, const std::vector<std::string>& statements,
                            const sql::Dialect& dialect) {
  std::string t = to;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (t == "all") return client::Target::All;
  if (t == "one") return client::Target::One;
  if (t != "auto") throw UsageError(fmt::format("invalid --to '{}': use ALL, ONE or auto", to));
  // Only statements that provably just read may go to ONE; the rule is the dialect's. Text that does not
  // parse goes to ALL, where every node answers the same SYNTAX_ERROR.
  for (const auto& s : statements)
    if (!dialect.isReadOnly(s)) return client::Target::All;
  return client::Target::One;
}

// --- session file --------------------------------------------------------------------------------

namespace {

// The whole file as JSON; an empty file (say, fresh from mktemp) is an empty session.
nlohmann::json readSession(const std::string& path, bool& exists) {
  std::ifstream in(path);
  exists = static_cast<bool>(in);
  if (!exists) return nlohmann::json::object();
  std::stringstream ss;
  ss << in.rdbuf();
  const auto text = ss.str();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return nlohmann::json::object();
  try {
    auto j = nlohmann::json::parse(text);
    if (j.is_object() && (!j.contains("allOffsets") || j["allOffsets"].is_object())) return j;
  } catch (const nlohmann::json::exception&) {
  }
  throw UsageError(fmt::format("{} is not a klusterctl session file (expected JSON with \"allOffsets\"); give "
                               "--session a new or empty file",
                               path));
}

void writeAtomically(const std::string& path, const std::string& content) {
  // Written beside the target and renamed over it: readers see the old file or the new one, never a torn one.
  const auto tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw UsageError(fmt::format("cannot write the session file {}: {}", path, std::strerror(errno)));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw UsageError(fmt::format("cannot replace the session file {}: {}", path, why));
  }
}

std::string sessionJson(nlohmann::json j) {
  j["version"] = 1;
  if (!j.contains("allOffsets")) j["allOffsets"] = nlohmann::json::object();
  return j.dump(2) + "\n";
}

} // namespace

SessionFile::SessionFile(std::string path, std::string cluster) : path_(std::move(path)), cluster_(std::move(cluster)) {
  bool exists = false;
  auto j = readSession(path_, exists);
  if (j.contains("allOffsets") && j["allOffsets"].contains(cluster_) && j["allOffsets"][cluster_].is_number_integer())
    offset_ = j["allOffsets"][cluster_].get<std::int64_t>();
  // Creating it now shows at once, before any request is sent, when the file cannot be written.
  if (!exists) writeAtomically(path_, sessionJson(j));
}

void SessionFile::record(std::int64_t offset) {
  bool exists = false;
  auto j = readSession(path_, exists);
  auto& offsets = j["allOffsets"];
  if (offsets.contains(cluster_) && offsets[cluster_].is_number_integer())
    offset_ = std::max(offset_.value_or(-1), offsets[cluster_].get<std::int64_t>());
  if (offset_ && *offset_ >= offset && exists) return;
  offset_ = std::max(offset_.value_or(-1), offset);
  offsets[cluster_] = *offset_;
  writeAtomically(path_, sessionJson(std::move(j)));
}

// --- sending and reporting -----------------------------------------------------------------------

int ExecRunner::run(Request request, const ExecSettings& settings, std::ostream& out, std::ostream& err) {
  if (auto code = transaction(request, settings, out, err)) return *code;
  const auto target = chooseTarget(settings.to, request.statements, *settings.dialect);
  if (target == client::Target::One) {
    // Read-your-writes: the read may only be answered by a node that applied this session's writes.
    std::optional<std::int64_t> after = settings.after;
    if (session_ && session_->allOffset()) after = std::max(after.value_or(-1), *session_->allOffset());
    if (seenAll_) after = std::max(after.value_or(-1), *seenAll_);
    if (after) request.minAllOffset = after;
  }
  if (request.messageId.empty()) request.messageId = util::uuid4();
  const auto requestId = request.messageId;
  auto pending = client_.send(std::move(request), target, settings.wait, settings.timeout);
  if (settings.interrupted)
    while (pending.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
      if (settings.interrupted()) {
        err << fmt::format("interrupted: stopped waiting for request {} (it was sent, so it may still be applied)\n",
                           requestId);
        return exitcode::Timeout;
      }
  auto result = pending.get();
  if (target == client::Target::All)
    if (const auto offset = result.allOffset()) {
      seenAll_ = std::max(seenAll_.value_or(-1), *offset);
      if (session_) session_->record(*offset);
    }
  if (settings.wait.kind == client::WaitPolicy::Kind::None) {
    if (result.timedOut) {
      err << fmt::format("timeout after {}: the request was not delivered to Kafka\n", settings.timeoutText);
      return exitcode::Timeout;
    }
    out << result.requestId << "\n";
    return exitcode::Ok;
  }
  return report(result, settings, out, err);
}

int report(const client::Result& result, const ExecSettings& settings, std::ostream& out, std::ostream& err) {
  render(result, settings.format, out, err);
  if (result.diverged) {
    err << fmt::format("DIVERGENCE: the nodes answered ALL request {} differently; their databases are no longer "
                       "identical:\n",
                       result.requestId);
    for (const auto& r : result.responses)
      err << fmt::format("  {:<16} {:<22} resultHash {}{}\n", r.nodeId, r.resultCode, r.resultHash,
                         r.ok() ? fmt::format(", {} row(s)", r.rowsAffected) : ": " + r.errorMessage);
    err << "hint: stop writing and compare the affected tables on each node's database; a node that differs must "
           "be rebuilt from one that is right\n";
    return exitcode::Divergence;
  }
  if (result.timedOut) {
    std::string missing;
    for (const auto& n : result.missingNodes) missing += (missing.empty() ? "" : ", ") + n;
    std::string answered;
    for (const auto& r : result.responses) answered += (answered.empty() ? "" : ", ") + r.nodeId;
    err << fmt::format("timeout after {}: {} response(s) (from: {}){}\n", settings.timeoutText, result.responses.size(),
                       answered.empty() ? "none" : answered, missing.empty() ? "" : "; no answer from: " + missing);
    if (!missing.empty())
      err << "hint: those nodes are members but did not answer: are they stopped, slow or stuck? (see their logs); "
             "--wait quorum needs only a majority\n";
    else if (result.responses.empty())
      err << "hint: is a node running? (klusterctl node run), and is --cluster right?\n";
    return exitcode::Timeout;
  }
  for (const auto& r : result.responses)
    if (r.resultCode == code::Duplicate && settings.duplicateOk) {
      err << fmt::format("note: request {} was applied before ({}): not applied again\n", result.requestId,
                         r.errorMessage);
      break;
    }
  for (const auto& r : result.responses)
    if (!r.ok() && !(r.resultCode == code::Duplicate && settings.duplicateOk)) {
      err << fmt::format("error {} from {}: {}\n", r.resultCode, r.nodeId, r.errorMessage);
      if (!r.hint.empty()) err << "hint: " << r.hint << "\n";
      return exitcode::SqlError;
    }
  return exitcode::Ok;
}

} // namespace kluster::commands
