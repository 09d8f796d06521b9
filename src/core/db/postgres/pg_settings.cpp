// Every run-time setting a database, a role or a session can change (pg_settings' contexts `user` and `superuser`),
// and why it cannot make one node's data differ from another's (issue 26; docs/determinism.md, "Every setting").
// integration.settings_catalog reads the server's own pg_settings and fails on a setting missing here, so a new
// PostgreSQL release's settings are judged before a node runs on it.
#include "core/db/postgres/pg_settings.hpp"

#include <algorithm>
#include <string>

namespace kluster::db {

namespace {

struct Entry {
  SettingClass cls;
  std::string_view names; // space separated, lower case
};

constexpr Entry kSettings[] = {
    {SettingClass::Pinned,
     "datestyle intervalstyle timezone extra_float_digits search_path bytea_output standard_conforming_strings "
     "client_min_messages lc_monetary lc_numeric lc_time timezone_abbreviations default_text_search_config xmloption "
     "xmlbinary transform_null_equals array_nulls gin_fuzzy_search_limit statement_timeout lock_timeout "
     "idle_in_transaction_session_timeout plan_cache_mode quote_all_identifiers check_function_bodies row_security "
     "backslash_quote exit_on_error default_transaction_isolation client_encoding restrict_nonsystem_relation_kind"},
    {SettingClass::PinnedWhenAllowed, "lc_messages session_replication_role max_stack_depth allow_system_table_mods"},
    {SettingClass::Transaction,
     "transaction_isolation transaction_read_only transaction_deferrable default_transaction_read_only "
     "default_transaction_deferrable synchronous_commit"},
    {SettingClass::Planner,
     "constraint_exclusion cpu_index_tuple_cost cpu_operator_cost cpu_tuple_cost cursor_tuple_fraction "
     "default_statistics_target effective_cache_size enable_async_append enable_bitmapscan enable_gathermerge "
     "enable_hashagg enable_hashjoin enable_incremental_sort enable_indexonlyscan enable_indexscan enable_material "
     "enable_memoize enable_mergejoin enable_nestloop enable_parallel_append enable_parallel_hash "
     "enable_partition_pruning enable_partitionwise_aggregate enable_partitionwise_join enable_seqscan enable_sort "
     "enable_tidscan force_parallel_mode debug_parallel_query from_collapse_limit geqo geqo_effort geqo_generations "
     "geqo_pool_size geqo_seed geqo_selection_bias geqo_threshold jit jit_above_cost jit_expressions "
     "jit_inline_above_cost jit_optimize_above_cost jit_tuple_deforming join_collapse_limit "
     "max_parallel_workers_per_gather max_parallel_workers max_parallel_maintenance_workers "
     "min_parallel_index_scan_size min_parallel_table_scan_size parallel_leader_participation parallel_setup_cost "
     "parallel_tuple_cost random_page_cost recursive_worktable_factor seq_page_cost synchronize_seqscans "
     "enable_presorted_aggregate"},
    {SettingClass::Resources,
     "work_mem hash_mem_multiplier maintenance_work_mem temp_buffers logical_decoding_work_mem "
     "effective_io_concurrency maintenance_io_concurrency backend_flush_after commit_delay commit_siblings "
     "deadlock_timeout gin_pending_list_limit vacuum_cost_delay vacuum_cost_limit vacuum_cost_page_dirty "
     "vacuum_cost_page_hit vacuum_cost_page_miss vacuum_failsafe_age vacuum_freeze_min_age vacuum_freeze_table_age "
     "vacuum_multixact_failsafe_age vacuum_multixact_freeze_min_age vacuum_multixact_freeze_table_age "
     "wal_compression wal_init_zero wal_recycle wal_skip_threshold wal_consistency_checking stats_fetch_consistency "
     "track_activities track_counts track_functions track_io_timing track_wal_io_timing compute_query_id "
     "update_process_title temp_file_limit debug_discard_caches ignore_checksum_failure zero_damaged_pages "
     "vacuum_buffer_usage_limit"},
    {SettingClass::Storage,
     "default_tablespace temp_tablespaces default_table_access_method default_toast_compression"},
    {SettingClass::Logging,
     "application_name backtrace_functions debug_pretty_print debug_print_parse debug_print_plan "
     "debug_print_rewritten escape_string_warning jit_dump_bitcode log_duration log_error_verbosity "
     "log_executor_stats log_lock_waits log_min_duration_sample log_min_duration_statement log_min_error_statement "
     "log_min_messages log_parameter_max_length log_parameter_max_length_on_error log_parser_stats "
     "log_planner_stats log_replication_commands log_statement log_statement_sample_rate log_statement_stats "
     "log_temp_files log_transaction_sample_rate trace_notify trace_sort"},
    {SettingClass::Connection, "tcp_keepalives_count tcp_keepalives_idle tcp_keepalives_interval tcp_user_timeout "
                               "client_connection_check_interval idle_session_timeout wal_sender_timeout"},
    {SettingClass::Permission,
     "allow_in_place_tablespaces lo_compat_privileges password_encryption createrole_self_grant"},
    {SettingClass::ServerCode,
     "dynamic_library_path extension_destdir local_preload_libraries session_preload_libraries"},
};

bool listed(std::string_view names, std::string_view name) {
  for (std::size_t at = 0; at < names.size();) {
    const auto end = std::min(names.find(' ', at), names.size());
    if (names.substr(at, end - at) == name) return true;
    at = end + 1;
  }
  return false;
}

} // namespace

std::optional<SettingClass> settingClass(std::string_view setting) {
  std::string name(setting);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& e : kSettings)
    if (listed(e.names, name)) return e.cls;
  return std::nullopt;
}

std::vector<std::string_view> settingsOf(SettingClass cls) {
  std::vector<std::string_view> out;
  for (const auto& e : kSettings) {
    if (e.cls != cls) continue;
    for (std::size_t at = 0; at < e.names.size();) {
      const auto end = std::min(e.names.find(' ', at), e.names.size());
      out.push_back(e.names.substr(at, end - at));
      at = end + 1;
    }
  }
  return out;
}

std::string_view className(SettingClass cls) {
  switch (cls) {
  case SettingClass::Pinned: return "pinned";
  case SettingClass::PinnedWhenAllowed: return "pinned when allowed";
  case SettingClass::Transaction: return "transaction";
  case SettingClass::Planner: return "plan";
  case SettingClass::Resources: return "resources";
  case SettingClass::Storage: return "storage";
  case SettingClass::Logging: return "logging";
  case SettingClass::Connection: return "connection";
  case SettingClass::Permission: return "permission";
  case SettingClass::ServerCode: return "server code";
  }
  return "";
}

std::string_view describe(SettingClass cls) {
  switch (cls) {
  case SettingClass::Pinned: return "pinned on every node connection";
  case SettingClass::PinnedWhenAllowed:
    return "pinned when the node's role may set it (a superuser setting); otherwise the node refuses to run "
           "(session_replication_role) or the server's value stays (messages' language, the stack depth; catalog "
           "changes, "
           "which such a role cannot make anyway)";
  case SettingClass::Transaction:
    return "the apply loop's transactions: read committed (pinned), read-only gives a node error, durability is "
           "node.synchronous_commit's";
  case SettingClass::Planner:
    return "the plan, hence row order only: writes whose effect depends on row order are refused";
  case SettingClass::Resources: return "memory, I/O, vacuum, statistics: speed, not results";
  case SettingClass::Storage: return "where and how rows are stored, not their values";
  case SettingClass::Logging: return "the server's log and notices; read with current_setting() only (refused)";
  case SettingClass::Connection: return "the connection; a closed one is a node error, retried";
  case SettingClass::Permission:
    return "what a statement may do: a node refused gets insufficient_privilege, a node error (retried, reported on "
           "ERRORS), never a different write";
  case SettingClass::ServerCode:
    return "code loaded into one server: server configuration the operator keeps the same on every node";
  }
  return "";
}

} // namespace kluster::db
