#include "core/client/transaction.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>

namespace kluster::client {
namespace {

std::size_t sizeOf(const std::string& sql, const nlohmann::json& params) {
  return sql.size() + (params.empty() ? 0 : params.dump().size());
}

} // namespace

void Transaction::begin(std::int64_t nowMs, const std::string& key, bool readOnly) {
  end();
  state_ = State::Open;
  readOnly_ = readOnly;
  timeMs_ = nowMs;
  key_ = key;
  thread_local std::mt19937_64 random{std::random_device{}()};
  seed_ = std::uniform_real_distribution<double>(-1.0, 1.0)(random);
}

void Transaction::end() {
  state_ = State::Idle;
  readOnly_ = false;
  kept_.clear();
  savepoints_.clear();
  staged_.clear();
  nextPart_ = 0;
  starts_.clear();
  drawn_.clear();
  bytes_ = 0;
}

std::optional<std::string> Transaction::refusal(const std::vector<sql::Statement>& next, const nlohmann::json& params,
                                                const Limits& limits) const {
  if (kept_.size() + next.size() > limits.maxStatements)
    return fmt::format("the transaction would hold more than {} statements (proxy.transaction_max_statements)",
                       limits.maxStatements);
  std::size_t bytes = bytes_;
  for (const auto& st : next) bytes += sizeOf(st.sql, params);
  if (bytes > limits.maxBytes)
    return fmt::format("the transaction's statements would take more than {} bytes, more than one request may carry",
                       limits.maxBytes);
  return std::nullopt;
}

Request Transaction::speculation(const std::vector<sql::Statement>& next, const nlohmann::json& params) const {
  Request req;
  Request::Transaction tx;
  tx.timeMs = timeMs_;
  tx.seed = seed_;
  tx.uuidKey = key_;
  bool anyParams = !params.empty();
  for (const auto& k : kept_) {
    req.statements.push_back(k.sql);
    tx.params.push_back(k.params);
    tx.expect.push_back(k.digest);
    anyParams = anyParams || !k.params.empty();
  }
  for (const auto& st : next) {
    req.statements.push_back(st.sql);
    tx.params.push_back(params);
  }
  if (!anyParams) tx.params.clear();
  tx.sequences = starts_;
  req.transaction = std::move(tx);
  req.routingKey = key_;
  return req;
}

void Transaction::record(const std::vector<sql::Statement>& next, const nlohmann::json& params,
                         const std::vector<std::string>& digests) {
  const std::size_t first = kept_.size();
  for (std::size_t i = 0; i < next.size(); ++i) {
    const auto& st = next[i];
    if (!st.validatable) continue; // answered, not compared at commit
    Kept k;
    k.sql = st.sql;
    k.params = params;
    k.readOnly = st.readOnly;
    k.schema = !sql::isPlainDml(st.kind);
    k.digest = first + i < digests.size() ? digests[first + i] : std::string();
    bytes_ += sizeOf(k.sql, k.params);
    kept_.push_back(std::move(k));
  }
}

Request Transaction::stage(const std::string& sql, const nlohmann::json& params) const {
  Request req;
  Request::Transaction tx;
  tx.timeMs = timeMs_;
  tx.seed = seed_;
  tx.uuidKey = key_;
  tx.params.push_back(params);
  tx.stagePart = nextPart_;
  req.statements.push_back(sql);
  req.transaction = std::move(tx);
  return req;
}

void Transaction::staged() { staged_.push_back({nextPart_++, kept_.size()}); }

bool Transaction::writes() const {
  if (!staged_.empty()) return true;
  return std::any_of(kept_.begin(), kept_.end(), [](const Kept& k) { return !k.readOnly; });
}

bool Transaction::changesSchema() const {
  return std::any_of(kept_.begin(), kept_.end(), [](const Kept& k) { return k.schema; });
}

Request Transaction::commit() const {
  Request req = speculation({}, nlohmann::json::array()); // the same statements, every one with its digest
  req.routingKey.clear();
  req.transaction->staged = staged_; // a speculation does not see the staged rows; the commit runs them
  return req;
}

void Transaction::savepoint(const std::string& name) { savepoints_.push_back({name, kept_.size(), staged_.size()}); }

bool Transaction::rollbackTo(const std::string& name) {
  auto it = std::find_if(savepoints_.rbegin(), savepoints_.rend(), [&](const auto& s) { return s.name == name; });
  if (it == savepoints_.rend()) return false;
  const std::size_t mark = it->kept;
  staged_.resize(it->staged);                      // the nodes keep the parts after it, which the commit does not name
  savepoints_.erase(it.base(), savepoints_.end()); // the savepoint itself stays, as in PostgreSQL
  for (std::size_t i = mark; i < kept_.size(); ++i) bytes_ -= sizeOf(kept_[i].sql, kept_[i].params);
  kept_.resize(mark);
  state_ = State::Open;
  return true;
}

bool Transaction::release(const std::string& name) {
  auto it = std::find_if(savepoints_.rbegin(), savepoints_.rend(), [&](const auto& s) { return s.name == name; });
  if (it == savepoints_.rend()) return false;
  savepoints_.erase(std::next(it).base(), savepoints_.end());
  return true;
}

} // namespace kluster::client
