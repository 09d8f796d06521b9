#include "core/proxy/outcome.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace kluster::proxy {
namespace {

// The statement's leading words in upper case, after comments.
std::vector<std::string> leadingWords(std::string_view sql, std::size_t count) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < sql.size() && words.size() < count) {
    const char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c)) || c == '(') {
      ++i;
    } else if (sql.compare(i, 2, "--") == 0) {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) break;
    } else if (sql.compare(i, 2, "/*") == 0) {
      int depth = 0;
      do {
        if (sql.compare(i, 2, "/*") == 0)
          ++depth, i += 2;
        else if (sql.compare(i, 2, "*/") == 0)
          --depth, i += 2;
        else
          ++i;
      } while (depth > 0 && i < sql.size());
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::string w;
      while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_'))
        w += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
      words.push_back(std::move(w));
    } else {
      break;
    }
  }
  return words;
}

bool isModifier(const std::string& w) {
  static const std::vector<std::string> mods = {
      "OR",      "REPLACE",    "UNIQUE",    "TEMP",    "TEMPORARY",  "UNLOGGED", "GLOBAL", "LOCAL",
      "TRUSTED", "PROCEDURAL", "RECURSIVE", "DEFAULT", "CONSTRAINT", "IF",       "NOT",    "EXISTS"};
  return std::find(mods.begin(), mods.end(), w) != mods.end();
}

// Object kinds named by two or three words in tags: CREATE MATERIALIZED VIEW, DROP FOREIGN TABLE, ...
std::string objectWords(const std::vector<std::string>& w, std::size_t at) {
  if (at >= w.size()) return {};
  const auto& first = w[at];
  auto next = [&](std::size_t k) { return at + k < w.size() ? " " + w[at + k] : std::string(); };
  if (first == "MATERIALIZED" || first == "EVENT" || first == "ACCESS" || (first == "FOREIGN" && next(1) == " TABLE"))
    return first + next(1);
  if (first == "FOREIGN" || first == "TEXT" || (first == "USER" && next(1) == " MAPPING"))
    return first + next(1) + next(2);
  if (first == "OPERATOR" && (next(1) == " CLASS" || next(1) == " FAMILY")) return first + next(1);
  if (first == "USER") return "ROLE"; // CREATE USER is reported as CREATE ROLE
  if (first == "GROUP") return "ROLE";
  return first;
}

} // namespace

namespace {

// The statement's words (upper case) and parentheses at nesting depth 0, skipping strings, quoted
// identifiers, comments and dollar quotes.
std::vector<std::string> topLevelTokens(std::string_view sql) {
  std::vector<std::string> out;
  int depth = 0;
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      const auto end = sql.find(c, i + 1);
      i = end == std::string_view::npos ? sql.size() : end + 1;
    } else if (sql.compare(i, 2, "--") == 0) {
      const auto end = sql.find('\n', i);
      i = end == std::string_view::npos ? sql.size() : end;
    } else if (sql.compare(i, 2, "/*") == 0) {
      const auto end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else if (c == '$' && i + 1 < sql.size() && !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      const auto close = sql.find('$', i + 1);
      if (close == std::string_view::npos) break;
      const auto tag = sql.substr(i, close - i + 1);
      const auto end = sql.find(tag, close + 1);
      i = end == std::string_view::npos ? sql.size() : end + tag.size();
    } else if (c == '(') {
      if (depth == 0) out.emplace_back("(");
      ++depth, ++i;
    } else if (c == ')') {
      --depth, ++i;
    } else if (c == ',' && depth == 0) {
      out.emplace_back(",");
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::string w;
      while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_' || sql[i] == '$'))
        w += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
      if (depth == 0) out.push_back(std::move(w));
    } else {
      ++i;
    }
  }
  return out;
}

} // namespace

bool returnsRows(const sql::Statement& st) {
  if (st.kind != "InsertStmt" && st.kind != "UpdateStmt" && st.kind != "DeleteStmt" && st.kind != "MergeStmt")
    return false;
  const auto t = topLevelTokens(st.sql);
  return std::find(t.begin(), t.end(), "RETURNING") != t.end();
}

bool changesSchema(const sql::Statement& st) { return !sql::isPlainDml(st.kind); } // the node's batch-ending rule

std::int64_t insertedRows(const sql::Statement& st) {
  if (st.kind != "InsertStmt") return -1;
  const auto t = topLevelTokens(st.sql);
  auto values = std::find(t.begin(), t.end(), "VALUES");
  if (values == t.end() || std::find(t.begin(), t.end(), "WITH") != t.end()) return -1;
  std::int64_t rows = 0;
  for (auto it = values + 1; it != t.end(); ++it) {
    if (*it == "(")
      ++rows;
    else if (*it != ",")
      return -1; // ON CONFLICT, RETURNING, ORDER BY, ...
  }
  return rows;
}

std::string commandTag(const sql::Statement& st, std::int64_t rows) {
  const auto& k = st.kind;
  if (k == "InsertStmt") return fmt::format("INSERT 0 {}", rows);
  if (k == "UpdateStmt") return fmt::format("UPDATE {}", rows);
  if (k == "DeleteStmt") return fmt::format("DELETE {}", rows);
  if (k == "MergeStmt") return fmt::format("MERGE {}", rows);
  if (k == "SelectStmt" || k == "CreateTableAsStmt") return fmt::format("SELECT {}", rows);
  if (k == "CopyStmt") return fmt::format("COPY {}", rows);
  if (k == "FetchStmt") return fmt::format("FETCH {}", rows);
  const auto w = leadingWords(st.sql, 8);
  if (w.empty()) return {};
  const auto& verb = w[0];
  if (verb == "CREATE" || verb == "DROP" || verb == "ALTER") {
    std::size_t at = 1;
    while (at < w.size() && isModifier(w[at])) ++at;
    const auto object = objectWords(w, at);
    return object.empty() ? verb : verb + " " + object;
  }
  if (verb == "TRUNCATE") return "TRUNCATE TABLE";
  if (verb == "LOCK") return "LOCK TABLE";
  if (verb == "START") return "START TRANSACTION";
  if (verb == "END") return "COMMIT";
  if (verb == "ABORT") return "ROLLBACK";
  if (verb == "RESET") return "RESET";
  if (verb == "DISCARD" && w.size() > 1) return "DISCARD " + w[1];
  return verb; // SET, SHOW, GRANT, REVOKE, COMMENT, ANALYZE, VACUUM, CALL, DO, EXPLAIN, ...
}

const std::vector<SqlStateMapping>& sqlStateMappings() {
  static const std::vector<SqlStateMapping> table = {
      {code::BadRequest, "08P01", "protocol_violation: the proxy built a request the nodes refused (a bug)"},
      {code::UnsupportedVersion, "08P01", "protocol_violation: the nodes do not speak this message version"},
      {code::EmptySql, "42601", "syntax_error: no statement"},
      {code::TooLarge, "54000", "program_limit_exceeded: larger than node.max_request_bytes"},
      {code::InvalidUtf8, "22021", "character_not_in_repertoire"},
      {code::ParamMismatch, "08P01", "protocol_violation: parameters do not match the placeholders"},
      {code::Nondeterministic, "0A000",
       "feature_not_supported: the result could differ between nodes (random(), clock_timestamp(), ...)"},
      {code::NotTransactional, "25001", "active_sql_transaction: cannot run inside the request's transaction"},
      {code::TransactionControl, "0A000", "feature_not_supported: transaction control inside a request"},
      {code::ReadOnly, "25006", "read_only_sql_transaction: a write sent to ONE"},
      {code::NotCaughtUp, "57P03",
       "cannot_connect_now: no node had applied this connection's earlier writes in time; retry"},
      {code::Duplicate, "23505", "unique_violation: the request id was applied before"},
      {code::Forbidden, "42501",
       "insufficient_privilege: the SQL would reach the database server itself, or the proxy's client id may not "
       "do it"},
      {code::Unauthenticated, "28000",
       "invalid_authorization_specification: the proxy's requests are not signed "
       "as the clients file in effect wants (security.client_id, client_key)"},
      {code::SerializationFailure, "40001",
       "serialization_failure: the transaction saw data that changed before it committed; nothing was applied, retry "
       "it"},
      {code::SyntaxError, "42601", "the node's SQLSTATE (class 42)"},
      {code::UndefinedObject, "42P01", "the node's SQLSTATE (42P01, 42703, 42883, ...)"},
      {code::ConstraintViolation, "23000", "the node's SQLSTATE (23505, 23503, 23502, 23514, ...)"},
      {code::DataException, "22000", "the node's SQLSTATE (class 22)"},
      {code::FeatureNotSupported, "0A000", "the node's SQLSTATE"},
      {code::RaisedException, "P0001", "the node's SQLSTATE (RAISE EXCEPTION)"},
      {code::SqlError, "XX000", "the node's SQLSTATE"},
      {code::NodeError, "58000", "system_error: a node-level failure"},
      {code::Transient, "40001", "serialization_failure: retry"},
      {code::Timeout, "57014", "query_canceled: no answer within proxy.timeout (the write may still apply)"},
      {"DIVERGENCE", "XX001", "data_corrupted: the nodes answered a write differently"},
  };
  return table;
}

std::string sqlStateFor(std::string_view resultCode, std::string_view sqlState) {
  if (!sqlState.empty()) return std::string(sqlState);
  for (const auto& m : sqlStateMappings())
    if (m.code == resultCode) return std::string(m.sqlState);
  return "XX000";
}

std::optional<wire::Writer::Notice> failure(const client::Result& result, std::string_view timeoutText) {
  wire::Writer::Notice n;
  if (result.diverged) {
    n.sqlState = sqlStateFor("DIVERGENCE");
    n.message = fmt::format("DIVERGENCE: the nodes answered request {} differently", result.requestId);
    std::string detail;
    for (const auto& r : result.responses)
      detail += fmt::format("{}{}: {} {}", detail.empty() ? "" : "; ", r.nodeId, r.resultCode, r.resultHash);
    n.detail = detail;
    n.hint = "stop writing and compare the nodes' databases (klusterctl verify)";
    return n;
  }
  if (result.responses.empty()) {
    n.sqlState = sqlStateFor(code::Timeout);
    n.message = fmt::format("no node answered request {} within {}", result.requestId, timeoutText);
    n.hint = result.target == client::Target::All
                 ? "the write was published and may still be applied; is a node running?"
                 : "is a node running?";
    return n;
  }
  const auto& r = result.responses.front();
  if (r.ok()) return std::nullopt;
  n.sqlState = sqlStateFor(r.resultCode, r.sqlState);
  n.message = r.errorMessage.empty() ? r.resultCode : r.errorMessage;
  n.hint = r.hint;
  if (r.sqlState.empty() || r.resultCode == code::Nondeterministic || r.resultCode == code::NotCaughtUp)
    n.detail = fmt::format("Kluster result code {} from node {}", r.resultCode, r.nodeId);
  return n;
}

Outcome outcomeOf(const client::Result& result) {
  if (result.diverged) return Outcome::Diverged;
  if (result.responses.empty()) return Outcome::Timeout;
  const auto& r = result.responses.front();
  if (r.ok()) return Outcome::Ok;
  return r.resultCode == code::Timeout ? Outcome::Timeout : Outcome::Error;
}

} // namespace kluster::proxy
