// Statements the proxy answers itself: SET/RESET/SHOW of session settings. Transaction blocks are in
// session_transaction.cpp.
#include "core/proxy/outcome.hpp"
#include "core/proxy/session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <regex>

namespace kluster::proxy {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Tokens of a SET/RESET/SHOW statement: words, quoted strings (unquoted), numbers, '=' and ','.
std::vector<std::string> tokens(std::string_view sql) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (sql.compare(i, 2, "--") == 0) {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) break;
    } else if (c == '\'' || c == '"') {
      std::string t;
      ++i;
      while (i < sql.size()) {
        if (sql[i] == c) {
          if (i + 1 < sql.size() && sql[i + 1] == c) {
            t += c;
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        t += sql[i++];
      }
      out.push_back(c == '"' ? "\"" + t + "\"" : t);
    } else if (c == '=' || c == ',' || c == ';') {
      out.emplace_back(1, c);
      ++i;
    } else {
      std::string t;
      while (i < sql.size() && !std::isspace(static_cast<unsigned char>(sql[i])) && sql[i] != '=' && sql[i] != ',' &&
             sql[i] != ';')
        t += sql[i++];
      out.push_back(t);
    }
  }
  return out;
}

// The name PostgreSQL reports a setting by (ParameterStatus, SHOW).
std::string canonical(const std::string& name) {
  const auto n = lower(name);
  if (n == "datestyle") return "DateStyle";
  if (n == "timezone") return "TimeZone";
  if (n == "intervalstyle") return "IntervalStyle";
  return n;
}

// What every node's connection runs with (the node's adapter sets these): a session may keep or set
// these values, and no other, since its requests run under the nodes' settings.
const std::map<std::string, std::vector<std::string>>& pinned() {
  static const std::map<std::string, std::vector<std::string>> m = {
      {"TimeZone", {"utc", "etc/utc", "z", "zulu", "utc0", "gmt", "etc/gmt", "+00", "0"}},
      {"DateStyle", {"iso, mdy", "iso", "iso,mdy", "mdy, iso", "mdy,iso"}},
      {"IntervalStyle", {"postgres"}},
      {"client_encoding", {"utf8", "utf-8", "unicode"}},
      {"standard_conforming_strings", {"on", "true"}},
      {"bytea_output", {"hex"}},
      {"search_path", {"\"$user\", public", "public", "\"$user\",public", "$user, public"}},
  };
  return m;
}

// Settings that change nothing the nodes compute: kept per session, shown back.
bool harmless(const std::string& n) {
  static const std::vector<std::string> names = {
      "application_name",
      "extra_float_digits",
      "statement_timeout",
      "lock_timeout",
      "idle_in_transaction_session_timeout",
      "idle_session_timeout",
      "client_min_messages",
      "jit",
      "synchronous_commit",
      "geqo",
      "work_mem",
      "enable_seqscan",
      "plan_cache_mode",
      "lc_messages",
      "intervalstyle",
      "default_transaction_read_only",
      "default_transaction_isolation",
      "default_transaction_deferrable",
      "transaction_isolation",
      "transaction_read_only",
      "transaction_deferrable",
  };
  return std::find(names.begin(), names.end(), n) != names.end();
}

// Settings pg_dump's plain output sets that change nothing a restore through the proxy needs.
bool skippedForDumps(const std::string& n) {
  return n == "check_function_bodies" || n == "xmloption" || n == "row_security" || n == "default_tablespace" ||
         n == "default_table_access_method";
}

std::string defaultOf(const std::string& name) {
  static const std::map<std::string, std::string> d = {
      {"TimeZone", "UTC"},
      {"DateStyle", "ISO, MDY"},
      {"IntervalStyle", "postgres"},
      {"client_encoding", "UTF8"},
      {"server_encoding", "UTF8"},
      {"standard_conforming_strings", "on"},
      {"integer_datetimes", "on"},
      {"bytea_output", "hex"},
      {"search_path", "\"$user\", public"},
      {"extra_float_digits", "1"},
      {"statement_timeout", "0"},
      {"lock_timeout", "0"},
      {"idle_in_transaction_session_timeout", "0"},
      {"client_min_messages", "notice"},
      {"transaction_isolation", "serializable"},
      {"default_transaction_isolation", "serializable"},
      {"transaction_read_only", "off"},
      {"default_transaction_read_only", "off"},
      {"max_identifier_length", "63"},
      {"is_superuser", "off"},
      {"jit", "off"},
      {"synchronous_commit", "on"},
      {"lc_messages", "C"},
  };
  auto it = d.find(name);
  return it == d.end() ? std::string() : it->second;
}

bool reported(const std::string& name) {
  return name == "application_name" || name == "TimeZone" || name == "DateStyle" || name == "IntervalStyle" ||
         name == "client_encoding" || name == "standard_conforming_strings";
}

} // namespace

std::optional<std::string> Session::setting(const std::string& name) const {
  if (auto it = settings_.find(name); it != settings_.end()) return it->second;
  if (name == "server_version") return options_.serverVersion;
  if (name == "server_version_num") return std::string("150000");
  if (name == "session_authorization" || name == "session_user") {
    auto it = startupParams_.find("user");
    return it == startupParams_.end() ? std::string() : it->second;
  }
  auto d = defaultOf(name);
  if (d.empty()) return std::nullopt;
  return d;
}

void Session::localResult(Mode mode, const std::string& tag,
                          const std::optional<std::pair<std::string, std::string>>& row) {
  if (mode == Mode::Describe) {
    if (row) {
      wire::Writer::Field f;
      f.name = row->first;
      out_.rowDescription({f});
    } else {
      out_.noData();
    }
    return;
  }
  if (row) {
    if (mode == Mode::Simple) {
      wire::Writer::Field f;
      f.name = row->first;
      out_.rowDescription({f});
    }
    out_.dataRow({row->second});
  }
  out_.commandComplete(tag);
  if (mode == Mode::Simple) ready();
}

bool Session::answerLocally(const sql::Statement& st, Mode mode) {
  const auto sent = sent_, errors = errors_;
  if (!local(st, mode)) return false;
  if (mode != Mode::Describe && sent_ == sent) // its Execute counts a described statement
    options_.metrics->answeredLocally(errors_ == errors ? Outcome::Ok : Outcome::Error);
  return true;
}

bool Session::refuseLocally(const wire::Writer::Notice& n, Mode mode) {
  if (mode == Mode::Describe) return out_.noData(), true; // the error comes when it runs; described, it returns nothing
  error(n);
  tx_.fail();
  if (mode == Mode::Simple)
    ready();
  else
    skipToSync_ = true;
  return true;
}

bool Session::local(const sql::Statement& st, Mode mode) {
  if (st.kind == "CopyStmt" && !st.copyFrom) return copyOut(st, mode); // session_copy_out.cpp
  if (st.kind == "CopyStmt") {                                         // COPY ... FROM STDIN (session_copy.cpp)
    const auto& copy = *st.copyFrom;
    if (tx_.active() && !tx_.open()) return transactionBlock(st, mode); // aborted: 25P02
    if (tx_.readOnly())
      return refuseLocally(errorNotice("25006", "cannot execute COPY FROM in a read-only transaction"), mode);
    if (mode == Mode::Simple && !copy.binary && copy.unsupported.empty()) {
      startCopy(copy);
      return true;
    }
    const std::string why = copy.binary ? "COPY in binary format is not supported by the proxy"
                            : mode != Mode::Simple
                                ? "COPY through the extended query protocol is not supported by "
                                  "the proxy"
                                : "COPY option " + copy.unsupported + " is not supported by the proxy";
    return refuseLocally(errorNotice("0A000", why,
                                     "COPY FROM STDIN in text or CSV format, as a simple query (psql's \\copy "
                                     "does so)"),
                         mode);
  }
  if (st.kind == "VacuumStmt") {
    const auto t = tokens(st.sql);
    if (!t.empty() && lower(t.front()) == "vacuum") {
      // VACUUM changes no data, and cannot run inside the transaction each node applies a request in (pgbench -i
      // sends it): answered here with a notice. ANALYZE alone goes to the nodes like any statement.
      if (tx_.active() && mode != Mode::Describe)
        return refuseLocally(errorNotice("25001", "VACUUM cannot run inside a transaction block"), mode);
      if (mode != Mode::Describe) {
        wire::Writer::Notice n =
            errorNotice("00000",
                        "VACUUM is not sent to the nodes: it changes no data, and each node's autovacuum "
                        "vacuums and analyzes its own database",
                        "to vacuum now, run VACUUM on each node's database directly");
        n.severity = "NOTICE";
        out_.notice(n);
      }
      localResult(mode, "VACUUM", std::nullopt);
      return true;
    }
  }
  if (auto answer = dumpPreamble(st, mode)) return *answer;
  if (st.kind == "DeallocateStmt") {
    // A driver's named statements are the proxy's (Parse, Close): DEALLOCATE drops them here, as PostgreSQL would
    // drop its own (psycopg sends DEALLOCATE ALL when it clears its prepared statements).
    if (mode == Mode::Describe) return out_.noData(), true;
    auto t = tokens(st.sql);
    std::size_t i = 1;
    if (i < t.size() && lower(t[i]) == "prepare") ++i;
    std::string name = i < t.size() ? t[i] : "";
    if (!name.empty() && name.front() == '"') name.erase(0, 1); // tokens() marks quoted names
    if (lower(name) == "all") {
      statements_.clear();
      localResult(mode, "DEALLOCATE ALL", std::nullopt);
    } else if (statements_.erase(name) || statements_.erase(lower(name))) {
      localResult(mode, "DEALLOCATE", std::nullopt);
    } else {
      return refuseLocally(errorNotice("26000", fmt::format("prepared statement \"{}\" does not exist", name)), mode);
    }
    return true;
  }
  if (st.transaction || tx_.active()) return transactionBlock(st, mode);
  return sessionSetting(st, mode);
}

std::optional<bool> Session::dumpPreamble(const sql::Statement& st, Mode mode) {
  // pg_dump's plain output: `SELECT pg_catalog.set_config('search_path', '', false)` (every name it writes after it
  // is schema-qualified, so the nodes' search_path serves) and `ALTER ... OWNER TO role` (the nodes' roles are
  // theirs): both skipped with a notice, so a dump loads through the proxy.
  static const std::regex searchPath(
      R"(^\s*SELECT\s+(pg_catalog\s*\.\s*)?set_config\s*\(\s*'search_path'\s*,\s*''\s*,\s*false\s*\)\s*$)",
      std::regex::icase);
  static const std::regex owner(R"(^\s*ALTER\s+[^;]*\sOWNER\s+TO\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)\s*$)",
                                std::regex::icase);
  const bool setsPath = st.kind == "SelectStmt" && std::regex_match(st.sql, searchPath);
  const bool ownerTo = (st.kind == "AlterTableStmt" || st.kind == "AlterOwnerStmt") && std::regex_match(st.sql, owner);
  if (!setsPath && !ownerTo) return std::nullopt;
  if (mode == Mode::Describe) {
    localResult(mode, "",
                setsPath ? std::make_optional(std::pair<std::string, std::string>{"set_config", ""}) : std::nullopt);
    return true;
  }
  wire::Writer::Notice n = errorNotice(
      "00000", setsPath ? "set_config('search_path', '', false) is skipped by the proxy: the nodes keep their "
                          "search_path, and a dump names every object with its schema"
                        : "OWNER TO is skipped by the proxy: what Kluster creates belongs to each node's own role");
  n.severity = "NOTICE";
  out_.notice(n);
  if (setsPath)
    localResult(mode, "SELECT 1", std::pair<std::string, std::string>{"set_config", ""});
  else
    localResult(mode, commandTag(st, 0), std::nullopt);
  return true;
}

bool Session::sessionSetting(const sql::Statement& st, Mode mode) {
  auto fail = [&](const wire::Writer::Notice& n) { return refuseLocally(n, mode); };
  if (st.kind == "VariableShowStmt") {
    auto t = tokens(st.sql);
    std::string name = t.size() >= 2 ? t[1] : "";
    if (lower(name) == "time" && t.size() >= 3 && lower(t[2]) == "zone") name = "TimeZone";
    if (lower(name) == "transaction" && t.size() >= 3 && lower(t[2]) == "isolation") name = "transaction_isolation";
    name = canonical(name);
    auto value = setting(name);
    if (!value) return fail(errorNotice("42704", fmt::format("unrecognized configuration parameter \"{}\"", name)));
    localResult(mode, "SHOW", std::make_pair(lower(name), *value));
    return true;
  }
  if (st.kind != "VariableSetStmt") return false;
  auto t = tokens(st.sql);
  // SET [SESSION | LOCAL] name {TO | =} value[, ...] | SET TIME ZONE value | RESET name | RESET ALL
  const bool reset = !t.empty() && lower(t[0]) == "reset";
  std::size_t i = 1;
  if (!reset && i < t.size() && (lower(t[i]) == "session" || lower(t[i]) == "local")) ++i;
  if (i >= t.size()) return fail(errorNotice("42601", "syntax error in SET"));
  std::string name = t[i++];
  if (lower(name) == "time" && i < t.size() && lower(t[i]) == "zone") name = "TimeZone", ++i;
  if (lower(name) == "names") name = "client_encoding";
  if (lower(name) == "session" && i < t.size() && lower(t[i]) == "authorization")
    return fail(errorNotice("0A000", "SET SESSION AUTHORIZATION is not supported by the proxy"));
  name = canonical(name);
  std::optional<std::string> value;
  if (!reset) {
    if (i < t.size() && (t[i] == "=" || lower(t[i]) == "to")) ++i;
    std::string v;
    for (; i < t.size() && t[i] != ";"; ++i)
      v += (v.empty() || t[i] == "," ? "" : (v.back() == ',' ? " " : " ")) + t[i];
    if (lower(v) != "default") value = v;
  }
  if (reset && name == "all") {
    for (auto it = settings_.begin(); it != settings_.end();)
      it = it->first == "application_name" ? std::next(it) : settings_.erase(it);
    localResult(mode, "RESET", std::nullopt);
    return true;
  }
  if (auto p = pinned().find(name); p != pinned().end()) {
    if (value && std::find(p->second.begin(), p->second.end(), lower(*value)) == p->second.end())
      return fail(errorNotice("0A000",
                              fmt::format("the proxy cannot set {} to {}: every node runs requests with {} = {}", name,
                                          *value, name, defaultOf(name)),
                              "format or convert values in the query instead (e.g. AT TIME ZONE, to_char)"));
    value.reset(); // the node's value, shown as such
  } else if (skippedForDumps(name)) {
    // What pg_dump's output sets for its own restore: the nodes' settings serve as well (README "Moving a database
    // in"). Not applied, said so, and the load goes on.
    if (mode == Mode::Describe) return localResult(mode, "", std::nullopt), true;
    wire::Writer::Notice n =
        errorNotice("00000", fmt::format("SET {} is skipped by the proxy: the nodes keep their own "
                                         "setting",
                                         name));
    n.severity = "NOTICE";
    out_.notice(n);
    localResult(mode, "SET", std::nullopt);
    return true;
  } else if (!harmless(name)) {
    return fail(errorNotice(
        "0A000", fmt::format("SET {} is not supported by the proxy: the nodes would not run requests under it", name),
        "settings that change results must be the same on every node; set them in the nodes' databases "
        "(ALTER DATABASE ... SET) instead"));
  }
  if (mode == Mode::Describe) return localResult(mode, "", std::nullopt), true;
  if (value)
    settings_[name] = *value;
  else
    settings_.erase(name);
  if (reported(name)) out_.parameterStatus(name, setting(name).value_or(""));
  localResult(mode, reset ? "RESET" : "SET", std::nullopt);
  return true;
}

} // namespace kluster::proxy
