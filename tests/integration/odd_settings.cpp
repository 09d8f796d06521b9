// Another default for every run-time setting on one node (odd_settings.hpp). The values: for a bool the opposite,
// for an enum another of its enumvals, for a number its minimum when that differs from the server's value, and by
// hand below where the catalog gives no such value or it would be meaningless (strings, timeouts, locales).
#include "odd_settings.hpp"

#include "core/db/postgres/pg_settings.hpp"
#include "core/db/postgres/pg_tools.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

namespace kluster::test {

namespace {

// Values chosen by hand, as SQL after `SET name =`; the first that the server accepts is given (the locales: the
// first this machine has; C and C.UTF-8 are the others' and the pinned values, so POSIX at least differs by name).
const std::map<std::string, std::vector<std::string>>& handPicked() {
  static const std::map<std::string, std::vector<std::string>> values = {
      // Pinned: values that would each change a result if the node did not pin them.
      {"datestyle", {"'SQL, DMY'"}},
      {"intervalstyle", {"'sql_standard'"}},
      {"timezone", {"'Pacific/Chatham'"}},
      {"search_path", {"shadow, public"}}, // the test makes a schema shadow that shadows public's tables
      {"client_min_messages", {"'error'"}},
      {"lc_monetary", {"'de_DE.UTF-8'", "'fr_FR.UTF-8'", "'en_US.UTF-8'", "'POSIX'"}},
      {"lc_numeric", {"'de_DE.UTF-8'", "'fr_FR.UTF-8'", "'en_US.UTF-8'", "'POSIX'"}},
      {"lc_time", {"'de_DE.UTF-8'", "'fr_FR.UTF-8'", "'en_US.UTF-8'", "'POSIX'"}},
      {"lc_messages", {"'de_DE.UTF-8'", "'fr_FR.UTF-8'", "'en_US.UTF-8'", "'POSIX'"}},
      {"timezone_abbreviations", {"'Australia'"}},
      {"default_text_search_config", {"'pg_catalog.german'"}},
      {"backslash_quote", {"off"}},
      {"gin_fuzzy_search_limit", {"7"}},
      {"statement_timeout", {"'1ms'"}},
      {"lock_timeout", {"'1ms'"}},
      {"idle_in_transaction_session_timeout", {"'1ms'"}},
      {"client_encoding", {"'LATIN1'"}},
      // The plan: parallel plans everywhere, cheap random access, one-relation-at-a-time joins.
      {"cpu_tuple_cost", {"1"}},
      {"random_page_cost", {"0.01"}},
      {"geqo_generations", {"3"}},
      {"geqo_pool_size", {"10"}},
      {"geqo_seed", {"0.5"}},
      {"max_parallel_workers_per_gather", {"4"}},
      {"max_parallel_workers", {"4"}},
      {"max_parallel_maintenance_workers", {"4"}},
      // Resources: plausible values an operator could choose, none that stops the node.
      {"backend_flush_after", {"32"}},
      {"commit_delay", {"10"}},
      {"vacuum_cost_delay", {"'1ms'"}},
      {"vacuum_cost_limit", {"10000"}},
      {"temp_file_limit", {"'10GB'"}},
      {"wal_consistency_checking", {"'heap'"}},
      // Storage: a tablespace of the odd node's server only (made in giveOddSettings()).
      {"default_tablespace", {"'kl_odd'"}},
      {"temp_tablespaces", {"'kl_odd'"}},
      // Logging (log_min_messages = panic keeps the debug_print_* trees out of the server log).
      {"application_name", {"'odd node'"}},
      {"backtrace_functions", {"'int4in'"}},
      {"log_min_messages", {"'panic'"}},
      {"log_min_error_statement", {"'panic'"}},
      {"log_min_duration_sample", {"0"}},
      {"log_min_duration_statement", {"0"}},
      {"log_parameter_max_length", {"0"}},
      {"log_temp_files", {"0"}},
      {"log_transaction_sample_rate", {"0.5"}},
      // The connection.
      {"tcp_keepalives_count", {"3"}},
      {"tcp_keepalives_idle", {"60"}},
      {"tcp_keepalives_interval", {"10"}},
      {"tcp_user_timeout", {"60000"}},
      {"client_connection_check_interval", {"1000"}},
      {"idle_session_timeout", {"'30s'"}},
      // Permission and server code.
      {"restrict_nonsystem_relation_kind", {"'view'"}},
      {"dynamic_library_path", {"'/nonexistent:$libdir'"}},
      {"extension_destdir", {"'/nonexistent'"}},
      {"session_preload_libraries", {"'auto_explain'"}},
  };
  return values;
}

// Settings that keep the server's value on the odd node, and why. A setting of pg_settings with neither a value
// (above, or from the catalog) nor a reason here fails the test: a new PostgreSQL release's settings are judged.
const std::map<std::string, std::string>& keptWithReason() {
  static const std::map<std::string, std::string> kept = {
      {"transaction_isolation",
       "set per transaction only: ALTER DATABASE and ALTER ROLE refuse it (\"SET TRANSACTION ISOLATION LEVEL must be "
       "called before any query\"); a session's default is default_transaction_isolation's, given"},
      {"transaction_deferrable", "set per transaction only: ALTER DATABASE and ALTER ROLE refuse it; a session's "
                                 "default is default_transaction_deferrable's, given"},
      {"transaction_read_only",
       "a database's or role's value has no effect: each transaction starts with default_transaction_read_only's"},
      {"default_transaction_read_only",
       "every write fails there with 25006, the node's own error: it retries and reports it on ERRORS and stops past "
       "node.max_retry, never applying another write (integration.correctness, \"an error local to one node is "
       "retried and reported\"); an operator's way to stop a node's writes, so not pinned"},
      {"local_preload_libraries",
       "names libraries in $libdir/plugins, which this server has none of: every connection would fail (FATAL), the "
       "node's and the test's; server code, which the operator keeps the same on every node"},
      {"debug_discard_caches", "0 is its only value unless PostgreSQL is built for it (pg_settings' max_val), and "
                               "any other makes every statement thousands of times slower"},
      {"geqo", "kept on: off would make the geqo_* values given here moot, while geqo_threshold = 2 has the genetic "
               "search order every join"},
      {"log_statement_stats", "PostgreSQL refuses it together with log_parser_stats, log_planner_stats and "
                              "log_executor_stats, which are given on"},
  };
  return kept;
}

// The test's own connections to the odd database keep these (a 1 ms statement timeout would cancel its reads).
constexpr const char* kDirectOptions =
    "-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0 "
    "-c exit_on_error=off -c client_encoding=UTF8";
// Settings whose value the test's own connections override (above, PgSession's client_min_messages, inForce()'s).
const std::set<std::string> kOverriddenByTheTest = {
    "statement_timeout",   "lock_timeout",        "idle_in_transaction_session_timeout",
    "exit_on_error",       "client_encoding",     "client_min_messages",
    "force_parallel_mode", "debug_parallel_query"};

struct Setting {
  std::string name, type, value, min, enumvals;
};

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Another value from the catalog alone, or none.
std::vector<std::string> fromCatalog(const Setting& s) {
  if (s.type == "bool") return {s.value == "on" ? "off" : "on"};
  if (s.type == "enum") {
    // {a,"b c",d}
    std::string body = s.enumvals.substr(1, s.enumvals.size() - 2), item;
    bool inQuotes = false;
    std::vector<std::string> items;
    for (char ch : body + ",") {
      if (ch == '"') {
        inQuotes = !inQuotes;
      } else if (ch == ',' && !inQuotes) {
        items.push_back(item);
        item.clear();
      } else {
        item += ch;
      }
    }
    for (const auto& v : items)
      if (v != s.value) return {quoted(v)};
    return {};
  }
  if ((s.type == "integer" || s.type == "real") && !s.min.empty() && std::stod(s.min) != std::stod(s.value))
    return {s.min};
  return {};
}

std::map<std::string, std::string> inForce(const TestCluster& c, int i) {
  std::map<std::string, std::string> out;
  // Read in the leader: a parallel worker (force_parallel_mode) has no client socket, so its tcp_* are 0.
  for (const auto& row : c.query(i, "SELECT set_config(name, 'off', true) FROM pg_settings WHERE name IN "
                                    "('force_parallel_mode', 'debug_parallel_query'); "
                                    "SELECT lower(name), setting FROM pg_settings"))
    out[*row[0]] = *row[1];
  return out;
}

} // namespace

std::string OddSettings::summary() const {
  std::string out = fmt::format("{} settings given another default", given.size());
  for (const auto& [cls, n] : givenPerClass) out += fmt::format(", {} {}", n, cls);
  out += fmt::format(" ({} to the role in the database); kept: {}", byRole.size(), kept.size());
  for (const auto& [name, why] : kept) out += fmt::format("\n  {}: {}", name, why);
  return out;
}

OddSettings giveOddSettings(TestCluster& c, int i) {
  const auto url = c.databaseUrl(i);
  const auto db = url.substr(url.rfind('/') + 1);
  c.setDirectOptions(i, kDirectOptions);
  {
    db::PgSession server(c.serverUrl(i));
    if (server.query("SELECT 1 FROM pg_tablespace WHERE spcname = 'kl_odd'").empty()) {
      server.exec("SET allow_in_place_tablespaces = on");
      server.exec("CREATE TABLESPACE kl_odd LOCATION ''");
    }
  }
  auto values = handPicked();
  auto kept = keptWithReason();
  const auto otherAm = c.scalar(i, "SELECT min(amname) FROM pg_am WHERE amtype = 't' AND amname <> 'heap'");
  if (otherAm.empty())
    kept["default_table_access_method"] = "heap is this server's only table access method (pg_am)";
  else
    values["default_table_access_method"] = {quoted(otherAm)};

  const auto before = inForce(c, i);
  OddSettings out;
  std::vector<std::string> unjudged, noValue, refused;
  for (const auto& row : c.query(i, "SELECT lower(name), vartype, setting, coalesce(min_val, ''), "
                                    "coalesce(enumvals::text, '') FROM pg_settings WHERE context IN ('user', "
                                    "'superuser') ORDER BY 1")) {
    const Setting s{*row[0], *row[1], *row[2], *row[3], *row[4]};
    const auto cls = db::settingClass(s.name);
    if (!cls) unjudged.push_back(s.name);
    if (kept.count(s.name)) {
      out.kept[s.name] = kept.at(s.name);
      continue;
    }
    const auto hand = values.find(s.name);
    const auto candidates = hand != values.end() ? hand->second : fromCatalog(s);
    if (candidates.empty()) {
      noValue.push_back(s.name);
      continue;
    }
    std::string error;
    for (const char* target : {"DATABASE \"{}\"", "ROLE CURRENT_USER IN DATABASE \"{}\""}) {
      for (const auto& v : candidates) {
        try {
          c.serverExec(i, fmt::format("ALTER {} SET {} = {}", fmt::format(fmt::runtime(target), db), s.name, v));
          out.given[s.name] = v;
          if (target[0] == 'R') out.byRole.push_back(s.name);
          break;
        } catch (const std::exception& e) {
          error = e.what();
        }
      }
      if (out.given.count(s.name)) break;
    }
    if (!out.given.count(s.name))
      refused.push_back(s.name + ": " + error);
    else if (cls)
      ++out.givenPerClass[std::string(db::className(*cls))];
  }
  INFO(out.summary());
  INFO("not judged (db::settingClass): " << fmt::format("{}", fmt::join(unjudged, ", ")));
  INFO("neither a value nor a reason to keep it (odd_settings.cpp): " << fmt::format("{}", fmt::join(noValue, ", ")));
  INFO("refused at both levels: " << fmt::format("{}", fmt::join(refused, "\n")));
  REQUIRE((unjudged.empty() && noValue.empty() && refused.empty()));
  REQUIRE(out.given.size() > 150);
  // By the node's own classification: every setting it pins (when allowed too) that this server has got another
  // value; none of them may be kept.
  std::vector<std::string> pinnedNotGiven;
  for (const auto cls : {db::SettingClass::Pinned, db::SettingClass::PinnedWhenAllowed})
    for (const auto name : db::settingsOf(cls))
      if (before.count(std::string(name)) && !out.given.count(std::string(name))) pinnedNotGiven.emplace_back(name);
  INFO("pinned, yet not given another value: " << fmt::format("{}", fmt::join(pinnedNotGiven, ", ")));
  REQUIRE(pinnedNotGiven.empty());

  // Each one is in force on a new connection (one the server ignored with a warning would be its own value still),
  // but those the test's own connections override, which are stored for the database.
  const auto after = inForce(c, i);
  std::vector<std::string> notInForce;
  for (const auto& [name, value] : out.given)
    if (!kOverriddenByTheTest.count(name) && after.at(name) == before.at(name))
      notInForce.push_back(fmt::format("{} (given {}, still {})", name, value, after.at(name)));
  std::set<std::string> stored;
  for (const auto& row : c.query(i, fmt::format("SELECT lower(split_part(unnest(setconfig), '=', 1)) FROM "
                                                "pg_db_role_setting WHERE setdatabase = (SELECT oid FROM "
                                                "pg_database WHERE datname = '{}')",
                                                db)))
    stored.insert(*row[0]);
  for (const auto& name : kOverriddenByTheTest)
    if (out.given.count(name) && !stored.count(name)) notInForce.push_back(name);
  INFO("not in force: " << fmt::format("{}", fmt::join(notInForce, ", ")));
  REQUIRE(notInForce.empty());
  return out;
}

} // namespace kluster::test
