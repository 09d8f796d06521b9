// The function and setting lists of the determinism rules: which settings every node pins, which volatile
// functions Kluster makes deterministic, and which STABLE built-ins depend only on their arguments and data.
#include "core/sql/determinism.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace kluster::sql {

namespace {

template <std::size_t N> bool contains(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// Settings the PostgreSQL adapter pins on every connection (src/core/db/postgres.cpp) or that
// the cluster fingerprint requires to be equal (encoding, collation).
constexpr std::string_view kPinnedSettings[] = {
    "bytea_output",
    "client_encoding",
    "datestyle",
    "default_text_search_config",
    "extra_float_digits",
    "intervalstyle",
    "lc_collate",
    "lc_ctype",
    "lc_monetary",
    "lc_numeric",
    "lc_time",
    "search_path",
    "server_encoding",
    "standard_conforming_strings",
    "timezone",
    "timezone_abbreviations",
    "transform_null_equals",
    "xmlbinary",
    "xmloption",
    "array_nulls",
    "quote_all_identifiers",
    "check_function_bodies",
    "row_security",
    "backslash_quote",
    "exit_on_error",
    "default_transaction_isolation",
    "session_replication_role",
    "restrict_nonsystem_relation_kind",
};

// Settings that bound a statement by the time it takes or the resources it uses on one server: under SET LOCAL
// in a request on ALL, a node that is slower (or busier) than another fails a statement the other applies.
constexpr std::string_view kTimingSettings[] = {"idle_in_transaction_session_timeout",
                                                "idle_session_timeout",
                                                "lock_timeout",
                                                "statement_timeout",
                                                "temp_file_limit",
                                                "transaction_timeout"};

constexpr std::string_view kPinnedVolatile[] = {"now",     "pg_notify",           "random",
                                                "setseed", "statement_timestamp", "transaction_timestamp"};

// Volatile, yet the same on every node: requests apply one after the other in log order, and the PostgreSQL
// adapter keeps sequences in step with the log (src/core/db/pg_sequences.cpp). Evaluated per row, they are
// subject to the row-order rules.
constexpr std::string_view kLogOrdered[] = {"nextval", "setval"};

// STABLE built-ins (PostgreSQL 15) whose result depends only on their arguments, the database
// contents and pinned settings. current_setting is listed because the analyzer checks its argument.
constexpr std::string_view kStableAllowed[] = {
    "anytextcat",
    "array_to_json",
    "array_to_string",
    "concat",
    "concat_ws",
    "convert",
    "convert_from",
    "convert_to",
    "current_schema",
    "current_schemas",
    "current_setting",
    "date",
    "date_cmp_timestamptz",
    "date_eq_timestamptz",
    "date_ge_timestamptz",
    "date_gt_timestamptz",
    "date_le_timestamptz",
    "date_lt_timestamptz",
    "date_ne_timestamptz",
    "date_part",
    "date_trunc",
    "enum_first",
    "enum_last",
    "enum_range",
    "extract",
    "format",
    "generate_series",
    "get_current_ts_config",
    "in_range",
    "interval_pl_timestamptz",
    "json_agg",
    "json_build_array",
    "json_build_object",
    "json_object_agg",
    "json_populate_record",
    "json_populate_recordset",
    "json_to_record",
    "json_to_recordset",
    "json_to_tsvector",
    "jsonb_agg",
    "jsonb_build_array",
    "jsonb_build_object",
    "jsonb_path_exists_tz",
    "jsonb_path_match_tz",
    "jsonb_path_query_array_tz",
    "jsonb_path_query_first_tz",
    "jsonb_path_query_tz",
    "jsonb_populate_record",
    "jsonb_populate_recordset",
    "jsonb_to_record",
    "jsonb_to_recordset",
    "jsonb_to_tsvector",
    "length",
    "make_timestamptz",
    "money",
    "numeric",
    "overlaps",
    "pg_typeof",
    "phraseto_tsquery",
    "plainto_tsquery",
    "quote_literal",
    "quote_nullable",
    "row_to_json",
    "textanycat",
    "time",
    "timestamp",
    "timestamp_cmp_timestamptz",
    "timestamp_eq_timestamptz",
    "timestamp_ge_timestamptz",
    "timestamp_gt_timestamptz",
    "timestamp_le_timestamptz",
    "timestamp_lt_timestamptz",
    "timestamp_ne_timestamptz",
    "timestamptz",
    "timestamptz_cmp_date",
    "timestamptz_cmp_timestamp",
    "timestamptz_eq_date",
    "timestamptz_eq_timestamp",
    "timestamptz_ge_date",
    "timestamptz_ge_timestamp",
    "timestamptz_gt_date",
    "timestamptz_gt_timestamp",
    "timestamptz_le_date",
    "timestamptz_le_timestamp",
    "timestamptz_lt_date",
    "timestamptz_lt_timestamp",
    "timestamptz_mi_interval",
    "timestamptz_ne_date",
    "timestamptz_ne_timestamp",
    "timestamptz_pl_interval",
    "timetz",
    "timezone",
    "to_char",
    "to_date",
    "to_json",
    "to_jsonb",
    "to_number",
    "to_timestamp",
    "to_tsquery",
    "to_tsvector",
    "ts_headline",
    "ts_match_tq",
    "ts_match_tt",
    "ts_parse",
    "ts_token_type",
    "websearch_to_tsquery",
    "xml",
    "xml_is_well_formed",
};

} // namespace

bool isPinnedSetting(std::string_view name) { return contains(kPinnedSettings, name); }

bool isTimingSetting(std::string_view name) { return contains(kTimingSettings, name); }

bool isPinnedVolatile(std::string_view name) { return contains(kPinnedVolatile, name) || contains(kLogOrdered, name); }

bool isStableAllowed(std::string_view name) { return contains(kStableAllowed, name); }

std::string functionRefusal(const std::string& name, FunctionKind kind) {
  if (isPinnedVolatile(name)) return {};
  if (name == "currval" || name == "lastval")
    return fmt::format("{}() reads the node connection's session, which a node that reconnected no longer has; use "
                       "INSERT ... RETURNING to get the value a request drew",
                       name);
  if (kind.builtin == 'v' || kind.user == 'v')
    return fmt::format("function {}() is volatile: nodes would compute different values", name);
  if (kind.builtin == 's' && !isStableAllowed(name))
    return fmt::format("function {}() reads the node's own backend, server, transaction or statistics: nodes would "
                       "compute different values",
                       name);
  return {};
}

} // namespace kluster::sql
