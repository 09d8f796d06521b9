#include "core/db/operations.hpp"

#include <fmt/format.h>

namespace kluster::db {

std::string describeContents(const std::vector<std::string>& tables, std::int64_t position) {
  std::string out;
  if (!tables.empty()) {
    std::string names;
    for (std::size_t i = 0; i < tables.size() && i < 3; ++i) names += (i ? ", " : "") + tables[i];
    out = fmt::format("{} table{} ({}{})", tables.size(), tables.size() == 1 ? "" : "s", names,
                      tables.size() > 3 ? ", ..." : "");
  }
  if (position >= 0) out += fmt::format("{}Kluster position {}", out.empty() ? "" : " and ", position);
  return out;
}

} // namespace kluster::db
