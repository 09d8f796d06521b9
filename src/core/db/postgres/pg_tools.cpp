#include "core/db/postgres/pg_tools.hpp"

#include "core/errors.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

extern char** environ;

namespace kluster::db {
namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

constexpr std::size_t kKeptLines = 200;

} // namespace

ConnParams ConnParams::parse(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &err);
  if (!options) {
    std::string msg = err ? trimmed(err) : "out of memory";
    PQfreemem(err);
    throw UsageError("cannot read the database URL: " + msg);
  }
  ConnParams p;
  for (auto* o = options; o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    if (std::strcmp(o->keyword, "password") == 0)
      p.password_ = o->val;
    else
      p.values_[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  return p;
}

ConnParams ConnParams::withDatabase(const std::string& dbname) const {
  ConnParams p = *this;
  p.values_["dbname"] = dbname;
  return p;
}

std::string ConnParams::conninfo(bool withPassword) const {
  auto quote = [](const std::string& v) {
    std::string out = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  };
  std::string out;
  for (const auto& [k, v] : values_) out += (out.empty() ? "" : " ") + k + "=" + quote(v);
  if (withPassword && !password_.empty()) out += (out.empty() ? "" : " ") + std::string("password=") + quote(password_);
  return out;
}

std::string ConnParams::database() const {
  if (auto it = values_.find("dbname"); it != values_.end()) return it->second;
  if (auto it = values_.find("user"); it != values_.end()) return it->second;
  return {};
}

std::string quoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) out += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string quoteLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) out += (c == '\'') ? std::string("''") : std::string(1, c);
  return out + "'";
}

PgSession::PgSession(const std::string& conninfo) {
  conn_ = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = trimmed(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw KlusterError(code::NodeError, "cannot connect to the database: " + msg,
                       "check [database] url in the node's config (or KLUSTER_DATABASE_URL) and that the server runs");
  }
  PQclear(PQexec(conn_, "SET client_min_messages = warning"));
}

PgSession::~PgSession() {
  if (conn_) PQfinish(conn_);
}

std::vector<TextRow> PgSession::query(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  // Without parameters, the simple protocol: the text may hold several statements (the last one's rows count).
  PGresult* res = values.empty() ? PQexec(conn_, sql.c_str())
                                 : PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                                values.data(), nullptr, nullptr, 0);
  const auto status = PQresultStatus(res);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    std::string msg = trimmed(PQresultErrorMessage(res));
    PQclear(res);
    if (PQstatus(conn_) != CONNECTION_OK)
      throw KlusterError(code::NodeError, "lost the database connection: " + msg, "check that the server runs");
    throw KlusterError(code::SqlError, msg, "check the database role's privileges");
  }
  std::vector<TextRow> rows;
  for (int r = 0; r < PQntuples(res); ++r) {
    TextRow row;
    for (int c = 0; c < PQnfields(res); ++c)
      row.push_back(PQgetisnull(res, r, c) ? std::nullopt : std::optional<std::string>(PQgetvalue(res, r, c)));
    rows.push_back(std::move(row));
  }
  PQclear(res);
  return rows;
}

std::string PgSession::scalar(const std::string& sql, const std::vector<std::string>& params) {
  auto rows = query(sql, params);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return {};
  return *rows[0][0];
}

void PgSession::exec(const std::string& sql) {
  PGresult* res = PQexec(conn_, sql.c_str());
  const auto status = PQresultStatus(res);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    std::string msg = trimmed(PQresultErrorMessage(res));
    PQclear(res);
    throw KlusterError(code::SqlError, msg, "check the database role's privileges");
  }
  PQclear(res);
}

int PgSession::serverVersionNum() { return PQserverVersion(conn_); }

PgSession openMaintenance(const ConnParams& params) {
  try {
    return PgSession(params.withDatabase("postgres").conninfo(true));
  } catch (const KlusterError&) {
    // Some servers have no `postgres` database; template1 always exists.
    return PgSession(params.withDatabase("template1").conninfo(true));
  }
}

int toolMajorVersion(std::string_view line) {
  auto paren = line.find(')');
  auto pos = line.find_first_of("0123456789", paren == std::string_view::npos ? 0 : paren);
  if (pos == std::string_view::npos) return 0;
  int major = 0;
  while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9') major = major * 10 + (line[pos++] - '0');
  return major;
}

std::filesystem::path findPgTool(const std::string& name, int major, const std::string& bindir) {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (!bindir.empty()) {
    candidates.push_back(fs::path(bindir) / name);
  } else {
    candidates.push_back(fmt::format("/usr/lib/postgresql/{}/bin/{}", major, name));
    candidates.push_back(fmt::format("/usr/pgsql-{}/bin/{}", major, name));
    if (const char* path = std::getenv("PATH")) {
      std::string_view rest(path);
      while (!rest.empty()) {
        auto colon = rest.find(':');
        auto dir = rest.substr(0, colon);
        if (!dir.empty()) candidates.push_back(fs::path(std::string(dir)) / name);
        rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      }
    }
  }
  for (const auto& c : candidates) {
    if (::access(c.c_str(), X_OK) != 0) continue;
    auto version = runTool({c.string(), "--version"}, {});
    const int toolMajor = version.lastLines.empty() ? 0 : toolMajorVersion(version.lastLines.back());
    if (version.exitCode != 0 || toolMajor == 0) continue;
    if (toolMajor < major)
      throw UsageError(fmt::format("{} is version {}, older than the PostgreSQL {} server; it cannot work with it "
                                   "(hint: install the PostgreSQL {} client tools, or point --pg-bindir at them)",
                                   c.string(), toolMajor, major, major));
    return c;
  }
  throw UsageError(fmt::format("{} for PostgreSQL {} not found{} (hint: install the PostgreSQL {} client tools, e.g. "
                               "apt-get install postgresql-client-{}, or point --pg-bindir at them)",
                               name, major, bindir.empty() ? "" : " in " + bindir, major, major));
}

std::string ToolResult::tail(std::size_t lines) const {
  std::string out;
  for (std::size_t i = lastLines.size() > lines ? lastLines.size() - lines : 0; i < lastLines.size(); ++i)
    out += (out.empty() ? "" : "\n") + lastLines[i];
  return out;
}

ToolResult runTool(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extraEnv,
                   const std::function<void(const std::string&)>& onLine, const std::function<void()>& onTick,
                   const std::string& input) {
  // The environment and argv are built before spawning: nothing but exec happens in the child.
  std::vector<std::string> envStrings;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string_view::npos && extraEnv.count(std::string(entry.substr(0, eq)))) continue;
    envStrings.emplace_back(entry);
  }
  for (const auto& [k, v] : extraEnv) envStrings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argStrings = argv;
  for (auto& s : argStrings) args.push_back(s.data());
  args.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, input.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw UsageError(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  }

  ToolResult result;
  std::deque<std::string> kept;
  std::string partial;
  auto addLine = [&](std::string line) {
    if (onLine) onLine(line);
    kept.push_back(std::move(line));
    if (kept.size() > kKeptLines) kept.pop_front();
  };
  char buf[8192];
  for (;;) {
    pollfd pfd{fds[0], POLLIN, 0};
    int ready = ::poll(&pfd, 1, 250);
    if (onTick) onTick();
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<std::size_t>(n));
    for (auto nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n')) {
      addLine(partial.substr(0, nl));
      partial.erase(0, nl + 1);
    }
  }
  if (!partial.empty()) addLine(partial);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.lastLines.assign(kept.begin(), kept.end());
  return result;
}

std::map<std::string, std::string> toolEnvironment(const ConnParams& params) {
  std::map<std::string, std::string> env;
  // The password goes through the environment, never argv, so it stays out of the process list.
  if (!params.password().empty()) env["PGPASSWORD"] = params.password();
  return env;
}

} // namespace kluster::db
