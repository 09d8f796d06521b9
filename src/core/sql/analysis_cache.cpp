#include "core/sql/analysis_cache.hpp"

namespace kluster::sql {

std::shared_ptr<const Analysis> AnalysisCache::get(const std::string& sql) {
  if (sql.size() > maxTextBytes_) return std::make_shared<const Analysis>(dialect_->analyze(sql));
  {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(sql); it != entries_.end()) {
      ++hits_;
      return it->second;
    }
  }
  // Analyze outside the lock: two threads may analyze the same new text once each, which is harmless.
  auto analysis = std::make_shared<const Analysis>(dialect_->analyze(sql));
  std::lock_guard lock(mutex_);
  // A workload with more distinct texts than the capacity (literals spliced into the SQL) starts over
  // rather than paying for recency bookkeeping on every hit.
  if (entries_.size() >= capacity_) entries_.clear();
  entries_.emplace(sql, analysis);
  return analysis;
}

std::size_t AnalysisCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::size_t AnalysisCache::hits() const {
  std::lock_guard lock(mutex_);
  return hits_;
}

} // namespace kluster::sql
