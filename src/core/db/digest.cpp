// The digests an interactive transaction's validation compares (adapter.hpp): the same text on every node for the
// same data, whatever the DBMS's row order.
#include "core/db/adapter.hpp"
#include "core/util.hpp"

#include <algorithm>

namespace kluster::db {

std::string resultDigest(const ojson& statementResult) {
  std::string material;
  if (statementResult.is_array()) {
    std::vector<std::string> rows;
    rows.reserve(statementResult.size());
    for (const auto& row : statementResult) rows.push_back(row.dump());
    std::sort(rows.begin(), rows.end());
    material = "rows";
    for (const auto& r : rows) (material += '\n') += r;
  } else if (statementResult.is_object()) {
    material = "count " + std::to_string(statementResult.value("rowsAffected", std::int64_t{0}));
  } else {
    material = "none";
  }
  return util::sha256Hex(material).substr(0, 32);
}

std::vector<std::string> resultDigests(const Outcome& outcome) {
  std::vector<std::string> out;
  if (outcome.results.is_array() && !outcome.results.empty()) {
    for (const auto& one : outcome.results) out.push_back(resultDigest(one));
  } else {
    out.push_back(resultDigest(outcome.result));
  }
  return out;
}

std::optional<std::size_t> firstMismatch(const Work& work, const std::vector<std::string>& digests) {
  for (std::size_t i = 0; i < work.expect.size(); ++i)
    if (!work.expect[i].empty() && (i >= digests.size() || digests[i] != work.expect[i])) return i;
  return std::nullopt;
}

} // namespace kluster::db
