#pragma once
// A cache of one dialect's analyses by SQL text. Applications send the same few statement texts again and
// again with different parameters, and analyzing a text (parsing it with libpg_query and walking the
// tree) costs more than the rest of preparing a request, so each distinct text is analyzed once.
// Thread-safe: the ALL applier and the ONE workers share one cache.
#include "core/sql/dialect.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace kluster::sql {

class AnalysisCache {
public:
  /// Keeps up to `capacity` texts of up to `maxTextBytes` each, analyzed in `dialect`; longer texts are analyzed
  /// every time.
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

private:
  const Dialect* dialect_;
  const std::size_t capacity_;
  const std::size_t maxTextBytes_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const Analysis>> entries_;
  std::size_t hits_ = 0;
};

} // namespace kluster::sql
