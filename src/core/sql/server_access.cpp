// Statements that would reach past the database into its server: files, programs, shared libraries,
// roles and the server's own configuration. A node must not be a remote shell on its database server, so
// these are refused on ALL and ONE alike, decided from syntax alone (identical on every node).
// docs/security.md lists them; SECURITY.md explains why.
#include "core/sql/parse_tree.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace kluster::sql::detail {
namespace {

constexpr std::string_view kRunDirectly = "run it on each database server directly, as its administrator";

// Functions that read or write the server's files, signal its processes, change its configuration or
// replication state, or connect elsewhere (contrib's adminpack and dblink included, since they may be
// installed). Session-level advisory locks are here too: they would outlive the request on the node's
// connection.
constexpr std::array<std::string_view, 45> kServerFunctions{
    "dblink",
    "dblink_connect",
    "dblink_connect_u",
    "dblink_exec",
    "dblink_open",
    "dblink_send_query",
    "lo_export",
    "lo_import",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_cancel_backend",
    "pg_create_logical_replication_slot",
    "pg_create_physical_replication_slot",
    "pg_create_restore_point",
    "pg_drop_replication_slot",
    "pg_file_rename",
    "pg_file_sync",
    "pg_file_unlink",
    "pg_file_write",
    "pg_log_backend_memory_contexts",
    "pg_logdir_ls",
    "pg_logical_emit_message",
    "pg_ls_archive_statusdir",
    "pg_ls_dir",
    "pg_ls_logdir",
    "pg_ls_logicalmapdir",
    "pg_ls_logicalsnapdir",
    "pg_ls_replslotdir",
    "pg_ls_tmpdir",
    "pg_ls_waldir",
    "pg_promote",
    "pg_read_binary_file",
    "pg_read_file",
    "pg_reload_conf",
    "pg_replication_origin_create",
    "pg_replication_origin_drop",
    "pg_rotate_logfile",
    "pg_stat_file",
    "pg_stat_reset",
    "pg_switch_wal",
    "pg_terminate_backend",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
};

// Procedural languages whose functions run with the server's operating-system rights (untrusted), and
// the ways of loading compiled code.
constexpr std::array<std::string_view, 9> kUntrustedLanguages{
    "c", "internal", "plperlu", "plpython2u", "plpython3u", "plpythonu", "pltclu", "plsh", "plr"};

// Extensions that give a session the server's files or other servers.
constexpr std::array<std::string_view, 10> kServerExtensions{"adminpack",  "dblink",     "file_fdw",  "plperlu",
                                                             "plpython2u", "plpython3u", "plpythonu", "postgres_fdw",
                                                             "pltclu",     "plsh"};

template <std::size_t N> bool listed(const std::array<std::string_view, N>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// PostgreSQL 15's settings only a superuser may change (pg_settings.context = 'superuser'; temp_file_limit is
// refused by the determinism rules). A node whose role is not a superuser fails SET LOCAL of one with 42501, a
// node error: every such node would retry the request until node.max_retry and stop. Where the role is a
// superuser, they reach the server itself (logging, checksums, WAL, storage) or switch triggers and foreign keys
// off (session_replication_role).
constexpr std::array<std::string_view, 44> kSuperuserSettings{"allow_in_place_tablespaces",
                                                              "allow_system_table_mods",
                                                              "backtrace_functions",
                                                              "commit_delay",
                                                              "compute_query_id",
                                                              "deadlock_timeout",
                                                              "debug_discard_caches",
                                                              "dynamic_library_path",
                                                              "extension_destdir",
                                                              "ignore_checksum_failure",
                                                              "jit_dump_bitcode",
                                                              "lc_messages",
                                                              "lo_compat_privileges",
                                                              "log_duration",
                                                              "log_error_verbosity",
                                                              "log_executor_stats",
                                                              "log_lock_waits",
                                                              "log_min_duration_sample",
                                                              "log_min_duration_statement",
                                                              "log_min_error_statement",
                                                              "log_min_messages",
                                                              "log_parameter_max_length",
                                                              "log_parser_stats",
                                                              "log_planner_stats",
                                                              "log_replication_commands",
                                                              "log_statement",
                                                              "log_statement_sample_rate",
                                                              "log_statement_stats",
                                                              "log_temp_files",
                                                              "log_transaction_sample_rate",
                                                              "max_stack_depth",
                                                              "session_preload_libraries",
                                                              "session_replication_role",
                                                              "track_activities",
                                                              "track_counts",
                                                              "track_functions",
                                                              "track_io_timing",
                                                              "track_wal_io_timing",
                                                              "update_process_title",
                                                              "wal_compression",
                                                              "wal_consistency_checking",
                                                              "wal_init_zero",
                                                              "wal_recycle",
                                                              "zero_damaged_pages"};

Refusal refusal(std::string message, std::string hint = std::string(kRunDirectly)) {
  return {std::move(message), std::move(hint)};
}

// The language a CREATE FUNCTION / DO names (lower case as the parser leaves identifiers; a quoted
// name keeps its case).
std::string languageOf(const json& body, const char* listKey, std::string fallback) {
  const json* def = findOption(body, listKey, "language"); // the DefElem's body
  if (def == nullptr) return fallback;
  const json* arg = field(*def, "arg");
  if (arg == nullptr) return fallback;
  return lowerAscii(stringNode(*arg));
}

// The relation whose definition a statement creates or changes (its RangeVar), or null.
const json* definedRelation(std::string_view type, const json& body) {
  if (type == "CreateStmt" || type == "IndexStmt" || type == "AlterTableStmt" || type == "CreateTrigStmt" ||
      type == "RuleStmt" || type == "RenameStmt")
    return field(body, "relation");
  if (type == "CreateSeqStmt" || type == "AlterSeqStmt") return field(body, "sequence");
  if (type == "ViewStmt") return field(body, "view");
  if (type == "CreateTableAsStmt")
    if (const json* into = field(body, "into")) return field(*into, "rel");
  return nullptr;
}

bool superuserSetting(std::string_view name) { return listed(kSuperuserSettings, lowerAscii(name)); }

Refusal superuserRefusal(std::string_view name) {
  return refusal(fmt::format("{} is a setting only a superuser may change: it belongs to the database server's "
                             "administration, and a node whose role is not a superuser would fail the request",
                             name));
}

} // namespace

std::optional<Refusal> serverAccess(std::string_view type, const json& body) {
  // Found by giving a node another default for every setting (issue 26): with allow_system_table_mods, a superuser
  // setting, one node's server let CREATE TABLE pg_catalog.t run where the others refused it (42501, a node error).
  // Nodes pin it off when they may; the statement is refused alike everywhere, from its syntax.
  if (const json* rel = definedRelation(type, body); rel != nullptr && stringField(*rel, "schemaname") == "pg_catalog")
    return refusal("the system catalogs (schema pg_catalog) belong to the database server: changing their "
                   "structure needs its allow_system_table_mods",
                   "create the object in another schema");
  if (type == "CopyStmt") {
    if (boolField(body, "is_program"))
      return refusal("COPY ... PROGRAM would run a command on every node's database server");
    if (!stringField(body, "filename").empty())
      return refusal("COPY to or from a file would read or write the database server's own files",
                     "send the rows as INSERT requests (or read them with SELECT on ONE)");
    return std::nullopt; // COPY FROM STDIN / TO STDOUT: see copyWithoutData()
  }
  if (type == "LoadStmt") return refusal("LOAD would load a shared library into the database server");
  if (type == "AlterSystemStmt") return refusal("ALTER SYSTEM would change the database server's configuration");
  if (type == "VariableSetStmt") {
    const std::string_view name = stringField(body, "name");
    if (name == "role" || name == "session_authorization")
      return refusal("SET ROLE and SET SESSION AUTHORIZATION would change the role a node runs requests as",
                     "grant the node's database user what the requests need");
    if (superuserSetting(name)) return superuserRefusal(name);
  }
  if (type == "CreateFunctionStmt" || type == "AlterFunctionStmt")
    for (const auto& name : functionSettings(body, type == "CreateFunctionStmt" ? "options" : "actions"))
      if (superuserSetting(name)) return superuserRefusal(name);
  if (type == "CreateRoleStmt" || type == "AlterRoleStmt" || type == "AlterRoleSetStmt" || type == "DropRoleStmt" ||
      type == "GrantRoleStmt" || type == "ReassignOwnedStmt") {
    return refusal("roles belong to the database server, not to the replicated database");
  }
  if (type == "CreateFunctionStmt") {
    const std::string lang = languageOf(body, "options", "sql");
    if (listed(kUntrustedLanguages, lang))
      return refusal("functions in language " + lang + " run with the database server's own rights",
                     "use a trusted language (sql, plpgsql)");
  }
  if (type == "DoStmt") {
    const std::string lang = languageOf(body, "args", "plpgsql");
    if (listed(kUntrustedLanguages, lang))
      return refusal("DO blocks in language " + lang + " run with the database server's own rights",
                     "use a trusted language (plpgsql)");
  }
  if (type == "CreatePLangStmt") return refusal("CREATE LANGUAGE would add code to the database server");
  if (type == "CreateExtensionStmt") {
    const std::string_view name = stringField(body, "extname");
    if (listed(kServerExtensions, name))
      return refusal("the extension " + std::string(name) + " reaches the database server's files or other servers");
  }
  if (type == "CreateFdwStmt" || type == "AlterFdwStmt" || type == "CreateForeignServerStmt" ||
      type == "AlterForeignServerStmt" || type == "CreateUserMappingStmt" || type == "AlterUserMappingStmt" ||
      type == "ImportForeignSchemaStmt" || type == "CreateSubscriptionStmt" || type == "AlterSubscriptionStmt") {
    return refusal("foreign servers and subscriptions would connect each node's server to other servers");
  }
  return std::nullopt;
}

std::optional<Refusal> serverFunction(const std::vector<std::string>& functions) {
  for (const std::string& f : functions)
    if (listed(kServerFunctions, f))
      return refusal(f + "() reaches the database server itself (its files, processes or configuration)");
  return std::nullopt;
}

std::optional<Refusal> copyWithoutData(std::string_view type, const json& body) {
  if (type != "CopyStmt" || boolField(body, "is_program") || !stringField(body, "filename").empty())
    return std::nullopt;
  return Refusal{"COPY FROM STDIN / TO STDOUT needs a data stream that a request does not carry",
                 "send the rows as INSERT requests, or read them with SELECT"};
}

} // namespace kluster::sql::detail
