#pragma once
// A db::Connection without a server, for unit tests of what the node asks of its database: the catalog answers
// (volatility, unique keys, user functions and triggers, request inputs) are set by the test; batches run against
// scripted outcomes (per SQL text: an outcome, or a DbError of a given kind thrown the first `times` runs);
// commit() records the applied ids and refuses an id recorded before, as a real adapter does. Every call is
// counted, so a test can check what was asked and how often.
#include "core/db/adapter.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace kluster::test {

class FakeConnection final : public db::Connection {
public:
  /// What a statement's SQL text does when it runs.
  struct Script {
    db::Outcome outcome;                 ///< its outcome when it runs (default: OK, no rows)
    std::optional<db::ErrorKind> throws; ///< a DbError of this kind instead...
    int times = 1;                       ///< ...for this many runs, then `outcome`
  };

  // The catalog, as the test sets it.
  std::map<std::string, db::FunctionVolatility> volatility;
  std::map<std::string, std::vector<std::vector<std::string>>> keys;    ///< "schema.table" -> unique keys
  std::map<std::string, std::vector<std::string>> drawn;                ///< "schema.table" -> columns
  std::map<std::string, std::vector<std::string>> immediate;            ///< "schema.table" -> unique-checked columns
  std::map<std::string, std::vector<db::FunctionDefinition>> functions; ///< name -> overloads
  std::map<std::string, std::vector<db::FunctionDefinition>> triggers;  ///< "schema.table" -> functions
  std::map<std::string, std::vector<std::string>> tableCalls; ///< "schema.table" -> functions its definition calls
  std::map<std::string, db::ViewDefinition> views;            ///< "schema.name" -> a view's definition
  std::map<std::string, std::vector<db::FunctionDefinition>> rules; ///< "schema.table" -> its rules
  db::RequestInputs inputs;
  std::map<std::string, Script> scripts; ///< SQL text -> what running it does
  std::string claim;                     ///< the node process that claimed the database last
  std::vector<db::StagedPart> staged;    ///< what loadStaged() answers (every transaction's)

  // What was asked.
  int begins = 0, commits = 0, rollbacks = 0, catalogLookups = 0;
  std::vector<std::string> ran;                     ///< every statement run, in order
  std::map<std::string, db::AppliedRecord> applied; ///< committed ids
  db::Position position;                            ///< committed position

  db::ServerInfo serverInfo() override { return {"Fake", "1.0", 1, "UTF8", "C", "C"}; }
  void ensureSchema() override {}
  db::Position loadPosition(const std::string&) override { return position; }
  std::optional<std::string> loadFingerprint(const std::string&) override { return std::nullopt; }
  std::optional<db::SecurityRecord> loadSecurity(const std::string&) override { return std::nullopt; }
  void claimProcess(const std::string&, const std::string& token) override { claim = token; }
  std::string processClaim(const std::string&) override { return claim; }
  std::vector<db::StagedPart> loadStaged(const std::string&) override {
    ++catalogLookups;
    return staged;
  }
  std::map<std::string, db::AppliedRecord> findApplied(const std::vector<std::string>& ids) override {
    std::map<std::string, db::AppliedRecord> found;
    for (const auto& id : ids)
      if (auto it = applied.find(id); it != applied.end()) found.insert(*it);
    return found;
  }

  void begin() override { ++begins; }
  std::vector<db::Outcome> execute(const std::vector<const db::Work*>& work) override {
    std::vector<db::Outcome> out;
    for (const auto* w : work) {
      db::Outcome o;
      for (const auto& st : w->statements) {
        ran.push_back(st.sql);
        auto it = scripts.find(st.sql);
        if (it == scripts.end()) continue;
        if (it->second.throws && it->second.times > 0) {
          --it->second.times;
          throw db::DbError(*it->second.throws, code::NodeError, "scripted failure of " + st.sql, "");
        }
        o = it->second.outcome;
        if (!o.ok()) break; // a request-level error undoes this item only
      }
      out.push_back(std::move(o));
    }
    return out;
  }
  bool commit(const std::string&, const std::vector<db::AppliedEntry>& entries, const db::Position& at) override {
    for (const auto& e : entries)
      if (applied.count(e.messageId)) return false; // the primary key of the applied ids
    for (const auto& e : entries) applied[e.messageId] = {e.offset, e.resultCode, e.resultHash, e.rowsAffected};
    position = at;
    ++commits;
    return true;
  }
  void rollback() noexcept override { ++rollbacks; }
  void forgetStatements() override {}

  db::Outcome query(const db::Work& work, const db::ReadFloor*) override { return execute({&work}).at(0); }
  db::Outcome describe(const std::string&, const std::vector<std::uint32_t>&, const db::ReadFloor*) override {
    return db::Outcome::error(code::FeatureNotSupported, "the fake connection describes nothing");
  }
  db::Outcome speculate(const db::Work& work, const db::ReadFloor*) override { return execute({&work}).at(0); }
  void setDurableCommits(bool) override {}

  std::map<std::string, db::FunctionVolatility> functionVolatility(const std::vector<std::string>& names) override {
    ++catalogLookups;
    std::map<std::string, db::FunctionVolatility> found;
    for (const auto& n : names)
      if (auto it = volatility.find(n); it != volatility.end()) found.insert(*it);
    return found;
  }
  std::vector<std::vector<std::string>> uniqueKeys(const std::string& schema, const std::string& table) override {
    ++catalogLookups;
    return lookup(keys, schema, table);
  }
  std::vector<std::string> drawnDefaults(const std::string& schema, const std::string& table) override {
    return lookup(drawn, schema, table);
  }
  std::vector<std::string> immediateUniqueColumns(const std::string& schema, const std::string& table) override {
    return lookup(immediate, schema, table);
  }
  std::vector<db::FunctionDefinition> userFunctions(const std::string& name) override {
    auto it = functions.find(name);
    return it == functions.end() ? std::vector<db::FunctionDefinition>{} : it->second;
  }
  std::vector<db::FunctionDefinition> triggerFunctions(const std::string& schema, const std::string& table) override {
    return lookup(triggers, schema, table);
  }
  std::vector<std::string> tableFunctions(const std::string& schema, const std::string& table) override {
    return lookup(tableCalls, schema, table);
  }
  db::ViewDefinition viewDefinition(const std::string& schema, const std::string& name) override {
    return lookup(views, schema, name);
  }
  std::vector<db::FunctionDefinition> ruleDefinitions(const std::string& schema, const std::string& table) override {
    return lookup(rules, schema, table);
  }
  db::RequestInputs requestInputs() override { return inputs; }

  std::int64_t openSnapshot(const std::string&) override { return position.offset; }
  std::vector<std::string> snapshotTables() override { return {}; }
  db::TableChecksum snapshotChecksum(const std::string& table) override { return {table, 0, "", "", "", -1}; }
  void closeSnapshot() noexcept override {}

private:
  template <typename T>
  static T lookup(const std::map<std::string, T>& in, const std::string& schema, const std::string& table) {
    auto it = in.find((schema.empty() ? "public" : schema) + "." + table);
    return it == in.end() ? T{} : it->second;
  }
};

} // namespace kluster::test
