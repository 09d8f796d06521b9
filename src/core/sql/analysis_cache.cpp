#include "core/sql/analysis_cache.hpp"

#include "core/sql/shape.hpp"

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
  std::shared_ptr<const Analysis> analysis;
  std::optional<Shape> shape;
  if (dialect_ == &postgresDialect()) shape = shapeOf(sql); // (nullopt: analyze() says why it does not parse)
  if (shape) {
    std::shared_ptr<const Analysis> known;
    bool seen = false;
    {
      std::lock_guard lock(mutex_);
      if (auto it = shapes_.find(shape->key); it != shapes_.end()) {
        seen = true;
        known = it->second;
        if (known) ++shapeHits_;
      }
    }
    // A text of a known shape is not kept by text: with values spliced in, it seldom comes again.
    if (known) return std::make_shared<const Analysis>(fromShape(*known, sql, *shape));
    bool readConstant = true;
    analysis = std::make_shared<const Analysis>(analyzeShape(sql, *shape, readConstant));
    if (!seen) {
      std::lock_guard lock(mutex_);
      if (shapes_.size() >= capacity_) shapes_.clear();
      shapes_.emplace(std::move(shape->key),
                      !readConstant && shapeReusable(*analysis, *shape) ? analysis : std::shared_ptr<const Analysis>());
    }
  } else {
    analysis = std::make_shared<const Analysis>(dialect_->analyze(sql));
  }
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

std::size_t AnalysisCache::shapeHits() const {
  std::lock_guard lock(mutex_);
  return shapeHits_;
}

std::size_t AnalysisCache::shapes() const {
  std::lock_guard lock(mutex_);
  return shapes_.size();
}

} // namespace kluster::sql
