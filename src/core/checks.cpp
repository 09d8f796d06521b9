#include "core/checks.hpp"

#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace kluster::checks {

bool Schedule::at(std::int64_t timestampMs) {
  if (interval_ <= 0) return false;
  const auto period = timestampMs / interval_;
  if (!period_) {
    period_ = period;
    return false;
  }
  if (period <= *period_) return false; // timestamps of different producers may go back: only forward counts
  full_ = period / fullEvery_ != *period_ / fullEvery_;
  period_ = period;
  return true;
}

std::string Result::digest() const {
  std::string material;
  for (const auto& t : tables) material += fmt::format("{}\n{}\n{}\n", t.table, t.rows, t.checksum);
  return util::sha256Hex(material).substr(0, 32);
}

Response Result::toResponse() const {
  Response r;
  r.messageId = fmt::format("{}.check.{}", nodeId, allOffset);
  r.nodeId = nodeId;
  r.requestId = fmt::format("check@{}", allOffset);
  r.clientId = kClientId;
  r.requestTopic = kTopic;
  ojson list = ojson::array();
  for (const auto& t : tables) {
    ojson table = {{"table", t.table}, {"rows", t.rows}, {"checksum", t.checksum}};
    if (!t.buckets.empty()) {
      table["buckets"] = t.buckets;
      table["bucketOf"] = t.bucketOf;
    }
    if (t.summedAt >= 0) table["summedAt"] = t.summedAt;
    list.push_back(std::move(table));
  }
  r.result = {{"tables", std::move(list)}, {"full", full}};
  r.allOffset = allOffset;
  r.resultHash = digest();
  r.durationMs = durationMs;
  r.timestamp = timestampMs;
  return r;
}

std::optional<Result> Result::fromResponse(const Response& r) {
  if (r.requestTopic != kTopic || r.clientId != kClientId || !r.allOffset || r.nodeId.empty()) return std::nullopt;
  Result out;
  out.nodeId = r.nodeId;
  out.allOffset = *r.allOffset;
  out.durationMs = r.durationMs;
  out.timestampMs = r.timestamp;
  if (!r.result.is_object() || !r.result.contains("tables") || !r.result["tables"].is_array()) return std::nullopt;
  for (const auto& t : r.result["tables"]) {
    if (!t.is_object()) return std::nullopt;
    out.tables.push_back({t.value("table", ""), t.value("rows", std::int64_t{0}), t.value("checksum", ""),
                          t.value("buckets", ""), t.value("bucketOf", ""), t.value("summedAt", std::int64_t{-1})});
  }
  out.full = r.result.value("full", true); // results of older nodes: every check was full
  return out;
}

namespace {

// Groups nodes by a value, largest group first (ties keep the value order).
std::vector<std::pair<std::string, std::vector<std::string>>>
groupBy(const std::map<std::string, std::string>& byNode) {
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (const auto& [node, value] : byNode) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == value; });
    if (it == groups.end()) it = groups.insert(groups.end(), {value, {}});
    it->second.push_back(node);
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  return groups;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

} // namespace

BucketDifference differingBuckets(const std::vector<std::string>& buckets) {
  BucketDifference d;
  constexpr std::size_t kWidth = 8;
  const std::size_t size = static_cast<std::size_t>(kBuckets) * kWidth;
  if (buckets.size() < 2) return d;
  for (const auto& b : buckets)
    if (b.size() != size) return d;
  for (std::size_t i = 0; i < static_cast<std::size_t>(kBuckets); ++i) {
    const auto first = std::string_view(buckets[0]).substr(i * kWidth, kWidth);
    const bool same = std::all_of(buckets.begin() + 1, buckets.end(), [&](const std::string& b) {
      return std::string_view(b).substr(i * kWidth, kWidth) == first;
    });
    if (same) continue;
    if (d.first < 0) d.first = static_cast<int>(i);
    ++d.count;
  }
  return d;
}

Verdict compare(const std::vector<Result>& results) {
  Verdict v;
  std::map<std::string, std::string> digests;
  std::set<std::string> tableNames;
  for (const auto& r : results) {
    v.allOffset = r.allOffset;
    digests[r.nodeId] = r.digest();
    for (const auto& t : r.tables) tableNames.insert(t.table);
  }
  for (const auto& [node, _] : digests) v.nodes.push_back(node);
  const auto groups = groupBy(digests);
  v.majority = groups.size() <= 1 || groups[0].second.size() > groups[1].second.size();
  for (std::size_t i = v.majority ? 1 : 0; i < groups.size(); ++i)
    v.differing.insert(v.differing.end(), groups[i].second.begin(), groups[i].second.end());
  std::sort(v.differing.begin(), v.differing.end());
  if (v.identical()) return v;
  // Which tables differ, and how.
  for (const auto& name : tableNames) {
    std::map<std::string, std::string> sums; // node -> "N rows (checksum)" or "no table"
    std::vector<std::string> buckets;        // of the nodes that have the table
    std::string bucketOf;
    for (const auto& r : results) {
      auto it = std::find_if(r.tables.begin(), r.tables.end(), [&](const auto& t) { return t.table == name; });
      sums[r.nodeId] = it == r.tables.end() ? std::string("no such table")
                                            : fmt::format("{} rows ({})", it->rows, it->checksum.substr(0, 8));
      if (it == r.tables.end()) continue;
      buckets.push_back(it->buckets);
      if (bucketOf.empty()) bucketOf = it->bucketOf;
    }
    const auto byValue = groupBy(sums);
    if (byValue.size() <= 1) continue;
    std::string line = name + ":";
    for (std::size_t i = 0; i < byValue.size(); ++i)
      line += fmt::format("{} {} {}", i ? ";" : "", joined(byValue[i].second), byValue[i].first);
    const auto differ = differingBuckets(buckets);
    if (differ.first >= 0)
      line += fmt::format("; first differing key range: bucket {} of {} ({} = {}), {} of {} buckets differ",
                          differ.first, kBuckets, bucketOf, differ.first, differ.count, kBuckets);
    v.tables.push_back(std::move(line));
    v.tableNames.push_back(name);
    v.firstBuckets.push_back(differ.first);
  }
  return v;
}

void Rounds::add(Result r) {
  const auto offset = r.allOffset;
  auto& round = rounds_[offset];
  round[r.nodeId] = std::move(r);
  while (rounds_.size() > keep_) rounds_.erase(rounds_.begin());
  // Over the rounds kept: a node that left the cluster stops counting after `keep` checkpoints.
  most_ = 0;
  for (const auto& [_, results] : rounds_) most_ = std::max(most_, results.size());
}

std::vector<Result> Rounds::at(std::int64_t offset) const {
  std::vector<Result> out;
  if (auto it = rounds_.find(offset); it != rounds_.end())
    for (const auto& [_, r] : it->second) out.push_back(r);
  return out;
}

bool Rounds::complete(std::int64_t offset) const {
  auto it = rounds_.find(offset);
  return it != rounds_.end() && it->second.size() >= most_;
}

std::optional<Verdict> Rounds::latest() const {
  for (auto it = rounds_.rbegin(); it != rounds_.rend(); ++it)
    if (it->second.size() >= 2 && it->second.size() >= most_) return compare(at(it->first));
  return std::nullopt;
}

} // namespace kluster::checks
