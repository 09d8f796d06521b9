#pragma once
// A cache of one dialect's analyses by SQL text, and by shape (shape.hpp). Applications send the same few statement
// texts again and again with different parameters, and analyzing a text (parsing it with libpg_query and walking the
// tree) costs more than the rest of preparing a request, so each distinct text is analyzed once. SQL with the values
// spliced in sends a new text per row: those of one shape whose analysis read no constant's value share it (a text
// is still parsed, which is a fraction of the analysis), and such texts are not kept by text, where they would push
// out the texts that come again.
// The analysis a text gets never depends on what is cached: a shape's entry is only one that any text of that shape
// would get (analyze() records whether a rule read a constant). Thread-safe: the ALL applier and the ONE workers
// share one cache.
#include "core/sql/dialect.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace kluster::sql {

class AnalysisCache {
public:
  /// Keeps up to `capacity` texts of up to `maxTextBytes` each, analyzed in `dialect`, and up to `capacity` shapes
  /// (PostgreSQL's dialect); longer texts are analyzed every time.
  explicit AnalysisCache(const Dialect& dialect = postgresDialect(), std::size_t capacity = 4096,
                         std::size_t maxTextBytes = 16 * 1024)
      : dialect_(&dialect), capacity_(capacity), maxTextBytes_(maxTextBytes) {}

  const Dialect& dialect() const { return *dialect_; }

  /// The analysis of `sql`, computed on first use. Throws what analyze() throws; failures are not
  /// cached (they are rare, and the error message stays exact).
  std::shared_ptr<const Analysis> get(const std::string& sql);

  std::size_t size() const;
  /// How many get() calls found their text analyzed already (for tests and logs).
  std::size_t hits() const;
  /// How many get() calls found another text of their shape analyzed (and reusable) already.
  std::size_t shapeHits() const;
  /// Shapes known: those whose analysis holds for every text of the shape, and those it does not (read a constant).
  std::size_t shapes() const;

private:
  const Dialect* dialect_;
  const std::size_t capacity_;
  const std::size_t maxTextBytes_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const Analysis>> entries_;
  /// Shape key -> its analysis, or null: that shape's analysis read a constant (each text is analyzed).
  std::unordered_map<std::string, std::shared_ptr<const Analysis>> shapes_;
  std::size_t hits_ = 0;
  std::size_t shapeHits_ = 0;
};

} // namespace kluster::sql
