#include "core/bench/load_sql.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kluster::bench {

Dialect detectDialect(client::Client& c, std::chrono::milliseconds timeout) {
  Request r;
  r.statements = {"SELECT version() AS v"};
  auto result = c.send(std::move(r), client::Target::One, client::WaitPolicy{}, timeout).get();
  for (const auto& resp : result.responses)
    if (resp.ok() && resp.result.is_array() && !resp.result.empty()) {
      const auto v = resp.result[0].value("v", std::string());
      return v.find("MariaDB") != std::string::npos ? Dialect::MariaDB : Dialect::PostgreSQL;
    }
  throw KlusterError(code::NodeError, "bench load: no node answered which database it runs (SELECT version() on ONE)",
                     "check the nodes with klusterctl monitor");
}

std::vector<std::vector<std::string>> setupRequests(Dialect d, const std::string& table, int hotRows) {
  const auto create = fmt::format("CREATE TABLE {} (id uuid PRIMARY KEY, client integer NOT NULL, n integer NOT NULL)",
                                  table),
             createHot = fmt::format("CREATE TABLE {}_hot (id integer PRIMARY KEY, n bigint NOT NULL)", table);
  if (d == Dialect::PostgreSQL)
    return {{create, createHot,
             fmt::format("INSERT INTO {}_hot SELECT g, 0 FROM generate_series(1, {}) g", table, hotRows)}};
  // MariaDB commits around DDL (a request that changes the schema is a batch of its own there): one request
  // each, and the hot rows as VALUES lists (no generate_series), 1,000 rows a request.
  std::vector<std::vector<std::string>> out{{create}, {createHot}};
  for (int from = 1; from <= hotRows; from += 1000) {
    std::string sql = fmt::format("INSERT INTO {}_hot (id, n) VALUES ", table);
    for (int id = from; id < from + 1000 && id <= hotRows; ++id)
      sql += fmt::format("{}({}, 0)", id == from ? "" : ", ", id);
    out.push_back({sql});
  }
  return out;
}

std::string idSumSql() {
  return "cast(sum(cast(conv(substring(sha2(cast(id AS char), 256), 1, 15), 16, 10) AS unsigned)) AS char)";
}

std::string idSum(const std::vector<std::string>& ids) {
  if (ids.empty()) return ""; // SUM over no rows is NULL
  // In two limbs of base 10^18: each term is below 2^60 (about 1.15 * 10^18).
  constexpr std::uint64_t kBase = 1000000000000000000ULL;
  std::uint64_t high = 0, low = 0;
  for (const auto& id : ids) {
    low += std::stoull(util::sha256Hex(id).substr(0, 15), nullptr, 16);
    for (; low >= kBase; low -= kBase) ++high;
  }
  return high ? fmt::format("{}{:018}", high, low) : std::to_string(low);
}

std::string checkQuery(Dialect d, const std::string& table) {
  if (d == Dialect::PostgreSQL)
    return fmt::format("SELECT (SELECT count(*) FROM {0})::text AS rows, (SELECT coalesce(encode(sha256(convert_to("
                       "string_agg(id::text, ',' ORDER BY id::text COLLATE \"C\"), 'UTF8')), 'hex'), '') FROM {0}) AS "
                       "digest, (SELECT coalesce(string_agg(id || ':' || n, ',' ORDER BY id), '') FROM {0}_hot WHERE "
                       "n <> 0) AS hot",
                       table);
  // No string_agg, no || (MariaDB's OR): an order-independent sum over the rows' keys, and the hot rows that
  // changed as rows of the answer (the first also carries the count and the sum).
  return fmt::format("SELECT c.nrows, c.idsum, h.id AS hot_id, h.n AS hot_n FROM (SELECT cast(count(*) AS char) AS "
                     "nrows, {1} AS idsum FROM {0}) c LEFT JOIN {0}_hot h ON h.n <> 0 ORDER BY h.id",
                     table, idSumSql());
}

namespace {
std::string text(const ojson& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}
} // namespace

bool checkAnswer(Dialect d, const ojson& result, const std::vector<std::string>& ids,
                 const std::map<int, std::int64_t>& hotCounts, std::string& rows) {
  std::string hot;
  for (const auto& [row, n] : hotCounts) {
    if (n == 0) continue;
    if (!hot.empty()) hot += ',';
    hot += fmt::format("{}:{}", row, n);
  }
  const auto first = result.is_array() && !result.empty() ? result[0] : ojson::object();
  if (d == Dialect::PostgreSQL) {
    std::string joined;
    for (const auto& id : ids) {
      if (!joined.empty()) joined += ',';
      joined += id;
    }
    const auto digest = ids.empty() ? std::string() : util::sha256Hex(joined);
    rows = first.value("rows", std::string());
    return rows == std::to_string(ids.size()) && first.value("digest", std::string()) == digest &&
           first.value("hot", std::string()) == hot;
  }
  rows = text(first.contains("nrows") ? first["nrows"] : ojson());
  std::string got;
  for (const auto& row : result) {
    if (!row.is_object() || !row.contains("hot_id") || row["hot_id"].is_null()) continue;
    if (!got.empty()) got += ',';
    got += text(row["hot_id"]) + ":" + text(row["hot_n"]);
  }
  return rows == std::to_string(ids.size()) && text(first.contains("idsum") ? first["idsum"] : ojson()) == idSum(ids) &&
         got == hot;
}

} // namespace kluster::bench
