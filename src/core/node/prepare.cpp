#include "core/node/prepare.hpp"

#include "core/sql/analyzer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace kluster::node {
namespace {

// Functions that are volatile in pg_proc but safe here: random() is seeded per request, the others do
// the same thing on every node.
const std::set<std::string> kDeterministicHere = {
    "random", "setseed", "set_config", "pg_notify", "now", "transaction_timestamp", "statement_timestamp"};

std::optional<std::string> paramText(const nlohmann::json& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer())
    return v.is_number_unsigned() ? std::to_string(v.get<std::uint64_t>()) : std::to_string(v.get<std::int64_t>());
  return v.dump();
}

} // namespace

double randomSeedFor(std::int64_t offset) {
  // A fixed mapping of the offset into setseed's range [-1, 1].
  auto x = static_cast<std::uint64_t>(offset) * 0x9E3779B97F4A7C15ULL;
  return static_cast<double>(x >> 11) / static_cast<double>(1ULL << 53) * 2.0 - 1.0;
}

Prepared Preparer::forAll(std::string_view payload, std::int64_t offset, std::int64_t timestampMs) {
  Prepared p;
  p.parsed = parseRequest(payload, maxBytes_);
  if (!p.parsed.ok()) {
    p.refusal = db::Outcome::error(p.parsed.errorCode, p.parsed.errorMessage);
    return p;
  }
  if (const auto& fp = p.parsed.request.fingerprint) {
    // The first fingerprint in the log becomes the cluster's record, identically on every node.
    p.control = true;
    p.changesSchema = true; // the node checks its own server against the record right after the commit
    p.work.statements.push_back(
        {"INSERT INTO _kluster.cluster_info (cluster, fingerprint, recorded_at) VALUES ($1, $2::jsonb, $3) "
         "ON CONFLICT (cluster) DO NOTHING",
         {cluster_, fp->dump(), std::to_string(timestampMs)},
         false,
         {}});
    return p;
  }
  analyze(p, true, offset, timestampMs);
  return p;
}

Prepared Preparer::forOne(std::string_view payload) {
  Prepared p;
  p.parsed = parseRequest(payload, maxBytes_);
  if (!p.parsed.ok()) {
    p.refusal = db::Outcome::error(p.parsed.errorCode, p.parsed.errorMessage);
    return p;
  }
  if (p.parsed.request.fingerprint) {
    p.refusal = db::Outcome::error(code::BadRequest, "control messages belong on ALL");
    return p;
  }
  analyze(p, false, 0, 0);
  return p;
}

void FunctionCheck::apply(Prepared& p) {
  if (p.refusal || p.functions.empty()) return;
  std::vector<std::string> unknown;
  for (const auto& f : p.functions)
    if (!kDeterministicHere.count(f) && !volatility_.count(f)) unknown.push_back(f);
  if (!unknown.empty() && conn_) {
    auto found = conn_->functionVolatility(unknown);
    for (const auto& [name, v] : found) volatility_[name] = v; // unknown names are asked again next time
  }
  for (const auto& f : p.functions)
    if (auto it = volatility_.find(f); !kDeterministicHere.count(f) && it != volatility_.end() && it->second == 'v') {
      p.refusal = db::Outcome::error(code::Nondeterministic,
                                     fmt::format("function {}() is volatile: nodes would compute different values", f),
                                     "", "compute the value in the client and pass it as a parameter");
      return;
    }
}

void Preparer::analyze(Prepared& p, bool forAll, std::int64_t offset, std::int64_t timestampMs) {
  const Request& req = p.parsed.request;
  std::vector<std::shared_ptr<const sql::Analysis>> analyses; // keeps `statements` alive
  std::vector<const sql::Statement*> statements;
  bool usesTime = false, storesTime = false, usesRandom = false, txControl = false, nonTx = false, sequence = false;
  std::vector<std::string> functions;
  try {
    for (const auto& text : req.statements) {
      analyses.push_back(cache_ ? cache_->get(text) : std::make_shared<const sql::Analysis>(sql::analyze(text)));
      const sql::Analysis& a = *analyses.back();
      for (const auto& st : a.statements) statements.push_back(&st);
      usesTime |= a.usesCurrentTime;
      storesTime |= a.storesCurrentTime;
      txControl |= a.transactionControl;
      nonTx |= a.nonTransactional;
      sequence |= a.createsSequenceValue;
      functions.insert(functions.end(), a.functions.begin(), a.functions.end());
    }
  } catch (const sql::SyntaxError& e) {
    p.refusal = db::Outcome::error(code::SyntaxError, e.what(), "42601");
    return;
  } catch (const std::length_error& e) {
    p.refusal = db::Outcome::error(code::TooLarge, e.what());
    return;
  } catch (const std::exception& e) {
    // Never let one request stop the node: an SQL text that cannot be analyzed is refused.
    p.refusal = db::Outcome::error(code::BadRequest, std::string("cannot analyze the SQL: ") + e.what());
    return;
  }
  if (statements.empty()) {
    p.refusal = db::Outcome::error(code::EmptySql, "the request has no SQL to run");
    return;
  }
  std::sort(functions.begin(), functions.end());
  functions.erase(std::unique(functions.begin(), functions.end()), functions.end());
  usesRandom = std::binary_search(functions.begin(), functions.end(), "random");

  // Parameters: every statement takes $1..$n of the request's params; the request must give exactly
  // as many as the statements use, so a mismatch is refused here rather than by the driver.
  std::vector<int> statementParams;
  int maxParam = 0;
  for (const auto* st : statements) {
    statementParams.push_back(st->maxParam);
    maxParam = std::max(maxParam, statementParams.back());
  }
  if (static_cast<std::size_t>(maxParam) != req.params.size()) {
    p.refusal = db::Outcome::error(
        code::ParamMismatch,
        fmt::format("the SQL uses {} parameter(s) but the request gives {}", maxParam, req.params.size()), "",
        "pass one value per $n placeholder");
    return;
  }
  if (txControl) {
    p.refusal = db::Outcome::error(
        code::TransactionControl,
        "transaction control statements are not allowed: Kluster runs each request as one transaction", "",
        "send the statements as one request (`statements`) to apply them atomically");
    return;
  }
  if (forAll) {
    if (nonTx) {
      p.refusal = db::Outcome::error(
          code::NotTransactional,
          "this statement cannot run inside a transaction, so Kluster cannot apply it exactly once", "",
          "run it on each node's database directly (e.g. VACUUM) or use the non-concurrent form");
      return;
    }
    if (sequence) {
      p.refusal = db::Outcome::error(
          code::Nondeterministic,
          "sequences (SERIAL, IDENTITY, CREATE SEQUENCE) can hand out different values on different nodes", "",
          "generate keys in the client, e.g. UUIDs");
      return;
    }
    if (storesTime) {
      p.refusal = db::Outcome::error(code::Nondeterministic,
                                     "the current time would be stored in a definition (DEFAULT, view, trigger...) and "
                                     "evaluated later by each node's own clock",
                                     "pass the timestamp explicitly from the client, e.g. as a parameter");
      return;
    }
  }
  static const std::set<std::string> kDml = {"SelectStmt", "InsertStmt",  "UpdateStmt",      "DeleteStmt",
                                             "MergeStmt",  "ExplainStmt", "VariableShowStmt"};
  for (const auto* st : statements)
    if (!kDml.count(st->kind)) p.changesSchema = true;
  p.work.statements.reserve(statements.size());
  for (std::size_t k = 0; k < statements.size(); ++k) {
    const auto& st = *statements[k];
    db::Statement s;
    s.sql = (forAll && usesTime) ? sql::pinCurrentTime(st.sql, timestampMs) : st.sql;
    // Pinned texts differ per request, and DDL must not run against statements prepared before it.
    s.reusable = forAll && !usesTime && !p.changesSchema;
    s.params.reserve(static_cast<std::size_t>(statementParams[k]));
    if (std::find(st.usedParams.begin(), st.usedParams.end(), false) != st.usedParams.end()) {
      s.unusedParams = st.usedParams;
      s.unusedParams.flip();
    }
    for (int i = 0; i < statementParams[k]; ++i) s.params.push_back(paramText(req.params[static_cast<std::size_t>(i)]));
    p.work.statements.push_back(std::move(s));
  }
  if (forAll && usesRandom) p.work.randomSeed = randomSeedFor(offset);
  if (forAll) p.functions = std::move(functions);
}

} // namespace kluster::node
