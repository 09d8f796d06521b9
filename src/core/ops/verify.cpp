#include "core/ops/verify.hpp"

#include "core/client/client.hpp"
#include "core/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <set>

namespace kluster::ops::verify {
namespace {

constexpr std::size_t kTablesPerRequest = 50;

std::string sumKey(const Sum& s) { return fmt::format("{}:{}", s.rows, s.checksum); }

std::int64_t intOf(const ojson& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) return std::stoll(v.get<std::string>());
  return 0;
}

std::string textOf(const ojson& v) { return v.is_string() ? v.get<std::string>() : (v.is_null() ? "" : v.dump()); }

ojson sumsJson(const std::map<std::string, Sum>& sums) {
  ojson out = ojson::object();
  for (const auto& [node, s] : sums) out[node] = {{"rows", s.rows}, {"checksum", s.checksum}};
  return out;
}

ojson keyJson(const std::vector<std::string>& key) { return key.empty() ? ojson() : ojson(key); }

void addUnique(std::vector<std::string>& into, const std::vector<std::string>& more) {
  for (const auto& m : more)
    if (std::find(into.begin(), into.end(), m) == into.end()) into.push_back(m);
  std::sort(into.begin(), into.end());
}

class Verifier {
public:
  Verifier(const AskFn& ask, const db::VerifyQueries& queries, const Options& options, Report& report)
      : ask_(ask), q_(queries), o_(options), report_(report) {}

  void run() {
    auto catalog = askAll(q_.catalog());
    if (catalog.rows.empty() && !catalog.errors.empty())
      throw KlusterError(code::SqlError, "every node refused verify's catalog query: " + catalog.errors.begin()->second,
                         "check that the cluster's database type is the one klusterctl assumed ([database] type in "
                         "--config, or KLUSTER_DATABASE_TYPE; postgresql when neither is set); otherwise this is a bug "
                         "in klusterctl verify: please report it with the message above");
    for (const auto& [node, rows] : catalog.rows) {
      report_.nodes.push_back(node);
      for (auto& t : parseCatalog(rows)) tablesByNode_[node][t.qualified()] = std::move(t);
    }
    for (const auto& [node, error] : catalog.errors) failed_[node] = error;
    std::set<std::string> names;
    for (const auto& [node, tables] : tablesByNode_)
      for (const auto& [name, t] : tables)
        if (wanted(t)) names.insert(name);
    std::vector<TableInfo> common;
    for (const auto& name : names) {
      report_.tables.push_back(describeTable(name));
      if (report_.tables.back().status != "missing") common.push_back(report_.tables.back().table);
    }
    for (std::size_t i = 0; i < common.size(); i += kTablesPerRequest) {
      std::vector<TableInfo> chunk(common.begin() + static_cast<std::ptrdiff_t>(i),
                                   common.begin() +
                                       static_cast<std::ptrdiff_t>(std::min(common.size(), i + kTablesPerRequest)));
      checksum(chunk);
    }
    for (auto& t : report_.tables) {
      if (t.status == "missing" || t.status == "error") continue;
      std::map<std::string, std::string> values;
      for (const auto& [node, s] : t.nodes) values[node] = sumKey(s);
      auto a = agree(report_.nodes, values);
      if (a.identical()) continue;
      t.status = "differs";
      addUnique(t.differing, a.differing);
      if (t.notes.empty()) narrow(t); // with other columns every row differs: nothing to narrow
    }
  }

private:
  Answers askAll(const std::string& sql) {
    auto a = ask_(sql);
    addUnique(report_.missing, a.missing);
    return a;
  }

  bool wanted(const TableInfo& t) const {
    if (o_.tables.empty()) return true;
    for (const auto& w : o_.tables)
      if (w == t.qualified() || (t.schema == "public" && w == t.name)) return true;
    return false;
  }

  // Presence and column definitions of one table across the nodes.
  TableReport describeTable(const std::string& name) {
    TableReport tr;
    std::map<std::string, std::string> presence, definitions;
    for (const auto& node : report_.nodes) {
      auto it = tablesByNode_[node].find(name);
      if (it == tablesByNode_[node].end()) continue;
      presence[node] = "present";
      definitions[node] = it->second.definition;
    }
    auto defs = agree(report_.nodes, definitions);
    // The reference is a node that has the table: when most nodes lack it (a table made by hand on one
    // node), the agreeing majority is the nodes without it.
    std::string reference = presence.begin()->first;
    for (const auto& node : defs.agreeing)
      if (presence.count(node)) {
        reference = node;
        break;
      }
    tr.table = tablesByNode_[reference].at(name);
    auto present = agree(report_.nodes, presence);
    for (const auto& node : report_.nodes)
      if (!presence.count(node)) tr.notes[node] = "table missing";
    if (presence.size() != report_.nodes.size()) {
      tr.status = "missing";
      tr.differing = present.differing.empty() ? report_.nodes : present.differing;
    } else if (!defs.identical()) {
      tr.status = "differs";
      for (const auto& node : defs.differing) tr.notes[node] = "columns differ";
      addUnique(tr.differing, defs.differing);
    }
    for (const auto& [node, error] : failed_) {
      tr.notes[node] = error;
      tr.status = "error";
      addUnique(tr.differing, {node});
    }
    return tr;
  }

  TableReport* find(const std::string& schema, const std::string& name) {
    for (auto& t : report_.tables)
      if (t.table.schema == schema && t.table.name == name) return &t;
    return nullptr;
  }

  void checksum(const std::vector<TableInfo>& tables) {
    auto a = askAll(q_.checksums(tables));
    if (report_.allOffset < 0) report_.allOffset = a.allOffset;
    for (const auto& [node, rows] : a.rows)
      for (const auto& row : rows)
        if (auto* t = find(textOf(row.value("schema", ojson())), textOf(row.value("name", ojson()))))
          t->nodes[node] = {intOf(row.value("rows", ojson())), textOf(row.value("checksum", ojson()))};
    for (const auto& [node, error] : a.errors)
      for (const auto& info : tables)
        if (auto* t = find(info.schema, info.name)) {
          t->notes[node] = error;
          t->status = "error";
          addUnique(t->differing, {node});
        }
  }

  // Splits the table's differing key ranges level by level, then lists the differing rows of small ranges.
  void narrow(TableReport& t) {
    std::vector<std::string> nodes;
    for (const auto& [node, s] : t.nodes) nodes.push_back(node);
    std::vector<RangeReport> current{{0, {}, "all rows", t.nodes, t.differing}};
    for (int level = 1; level <= o_.maxLevels; ++level) {
      std::vector<RangeReport> next;
      bool split_any = false;
      for (std::size_t i = 0; i < current.size() && i < static_cast<std::size_t>(o_.maxRangesPerLevel); ++i) {
        const auto& r = current[i];
        if (maxRows(r) <= o_.rowListLimit) {
          next.push_back(r);
          continue;
        }
        auto parts = splitRange(t, r, nodes, level);
        if (!parts) {
          next.push_back(r);
          continue;
        }
        split_any = true;
        next.insert(next.end(), parts->begin(), parts->end());
      }
      current = std::move(next);
      if (!split_any) break;
    }
    for (const auto& r : current) {
      if (r.level > 0) t.ranges.push_back(r);
      if (maxRows(r) <= o_.rowListLimit) listRows(t, r, nodes);
    }
  }

  static std::int64_t maxRows(const RangeReport& r) {
    std::int64_t most = 0;
    for (const auto& [node, s] : r.nodes) most = std::max(most, s.rows);
    return most;
  }

  // The differing parts of `r` (nullopt when it cannot be split further).
  std::optional<std::vector<RangeReport>> splitRange(const TableReport& t, const RangeReport& r,
                                                     const std::vector<std::string>& nodes, int level) {
    // Any node's boundaries serve, as long as every node then uses the same ones: take the node with the most
    // rows in the range, so extra rows on one node are cut finely too.
    std::string source = nodes.front();
    for (const auto& [node, s] : r.nodes)
      if (s.rows > r.nodes.at(source).rows) source = node;
    auto b = askAll(q_.boundaries(t.table, r.range, o_.buckets));
    if (!b.rows.count(source)) return std::nullopt;
    const auto bounds = parseKeys(b.rows[source], t.table.key.size());
    const auto parts = split(r.range, bounds);
    if (parts.size() <= 1) return std::nullopt;
    auto c = askAll(q_.rangeChecksums(t.table, r.range, bounds));
    std::vector<std::map<std::string, Sum>> sums(parts.size());
    for (auto& s : sums)
      for (const auto& node : nodes) s[node] = {0, ""};
    for (const auto& [node, rows] : c.rows)
      for (const auto& row : rows) {
        auto part = static_cast<std::size_t>(intOf(row.value("part", ojson())));
        if (part < parts.size() && sums[part].count(node))
          sums[part][node] = {intOf(row.value("rows", ojson())), textOf(row.value("checksum", ojson()))};
      }
    std::vector<RangeReport> differing;
    for (std::size_t p = 0; p < parts.size(); ++p) {
      std::map<std::string, std::string> values;
      for (const auto& [node, s] : sums[p])
        if (c.rows.count(node)) values[node] = sumKey(s);
      auto a = agree(nodes, values);
      if (!a.identical())
        differing.push_back({level, parts[p], describeRange(t.table, parts[p]), sums[p], a.differing});
    }
    return differing;
  }

  void listRows(TableReport& t, const RangeReport& r, const std::vector<std::string>& nodes) {
    auto a = askAll(q_.rows(t.table, r.range, o_.rowListLimit * 4));
    std::map<std::vector<std::string>, std::map<std::string, std::string>> byKey;
    for (const auto& [node, rows] : a.rows) {
      const auto keys = parseKeys(rows, t.table.key.size());
      for (std::size_t i = 0; i < keys.size(); ++i) byKey[keys[i]][node] = textOf(rows[i].value("h", ojson()));
    }
    for (const auto& [key, hashes] : byKey) {
      auto agreement = agree(nodes, hashes);
      if (!agreement.identical()) t.rows.push_back({key, hashes, agreement.differing});
    }
  }

  const AskFn& ask_;
  const db::VerifyQueries& q_;
  const Options& o_;
  Report& report_;
  std::map<std::string, std::map<std::string, TableInfo>> tablesByNode_;
  std::map<std::string, std::string> failed_;
};

} // namespace

bool Report::identical() const {
  if (nodes.empty()) return false;
  return std::all_of(tables.begin(), tables.end(), [](const TableReport& t) { return t.identical(); });
}

int Report::exitCode() const {
  for (const auto& t : tables)
    if (!t.identical()) return exitcode::Divergence;
  if (!missing.empty() || nodes.empty()) return exitcode::Timeout;
  return exitcode::Ok;
}

ojson Report::toJson() const {
  ojson tablesJson = ojson::array();
  for (const auto& t : tables) {
    ojson key;
    if (t.table.hasPrimaryKey)
      for (const auto& k : t.table.key) key.push_back(k.name);
    ojson ranges = ojson::array();
    for (const auto& r : t.ranges)
      ranges.push_back({{"level", r.level},
                        {"where", r.where},
                        {"from", keyJson(r.range.lo)},
                        {"to", keyJson(r.range.hi)},
                        {"differingNodes", r.differing},
                        {"nodes", sumsJson(r.nodes)}});
    ojson rows = ojson::array();
    for (const auto& r : t.rows) {
      ojson keyValues = ojson::object();
      for (std::size_t i = 0; i < r.key.size() && i < t.table.key.size(); ++i)
        keyValues[t.table.key[i].name.empty() ? "row" : t.table.key[i].name] = r.key[i];
      ojson perNode = ojson::object();
      for (const auto& node : nodes) {
        auto it = r.hashes.find(node);
        perNode[node] = it == r.hashes.end() ? ojson() : ojson(it->second);
      }
      rows.push_back({{"key", keyValues}, {"differingNodes", r.differing}, {"nodes", perNode}});
    }
    tablesJson.push_back({{"table", t.table.qualified()},
                          {"status", t.status},
                          {"primaryKey", key},
                          {"differingNodes", t.differing},
                          {"nodes", sumsJson(t.nodes)},
                          {"notes", t.notes},
                          {"ranges", ranges},
                          {"rows", rows}});
  }
  return {{"cluster", cluster},      {"identical", identical()}, {"allOffset", allOffset}, {"nodes", nodes},
          {"missingNodes", missing}, {"buckets", buckets},       {"tables", tablesJson}};
}

Report run(const AskFn& ask, const db::VerifyQueries& queries, const Options& options) {
  if (options.buckets < 2) throw UsageError("--buckets must be at least 2");
  Report report;
  report.buckets = options.buckets;
  Verifier(ask, queries, options, report).run();
  return report;
}

AskFn clientAsk(client::Client& client, std::chrono::milliseconds timeout) {
  // Once a node has not answered, later questions wait only for as many answers as came the first time, so
  // one stopped node costs one timeout, not one per question.
  auto expected = std::make_shared<std::optional<int>>();
  return [&client, timeout, expected](const std::string& sql) {
    Request request;
    request.statements = {sql};
    client::WaitPolicy wait;
    wait.kind = client::WaitPolicy::Kind::All;
    if (*expected) {
      wait.kind = client::WaitPolicy::Kind::Count;
      wait.count = **expected;
    }
    auto result = client.send(std::move(request), client::Target::All, wait, timeout).get();
    Answers a;
    a.missing = result.missingNodes;
    for (const auto& r : result.responses) {
      if (r.allOffset) a.allOffset = *r.allOffset;
      if (r.ok())
        a.rows[r.nodeId] = r.result;
      else
        a.errors[r.nodeId] = r.resultCode + ": " + r.errorMessage;
    }
    if (!a.missing.empty() && !*expected && !result.responses.empty())
      *expected = static_cast<int>(result.responses.size());
    return a;
  };
}

} // namespace kluster::ops::verify
