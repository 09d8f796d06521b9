// pinRandomUuid(): gen_random_uuid() calls found by the tree walk call Kluster's deterministic generator
// instead, at the byte positions of the PostgreSQL scanner's tokens.
#include "core/sql/analyzer.hpp"

#include "core/sql/current_time.hpp"
#include "core/sql/parse_tree.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace kluster::sql {

std::string pinRandomUuid(std::string_view sql) {
  return detail::onParserStack(sql.size(), [&] {
    const detail::Parsed parsed = detail::parseAndCollect(sql);
    const auto& sites = parsed.collector.uuidSites;
    if (sites.empty()) return std::string(sql);
    std::string pinned = detail::editSites(sql, sites, [](const std::vector<detail::Token>& tokens, std::size_t first) {
      // The name ([pg_catalog .] gen_random_uuid, maybe quoted) up to its '(' becomes Kluster's function's.
      std::size_t open = first;
      while (open < tokens.size() && tokens[open].kind != detail::kLParen) ++open;
      if (open == tokens.size()) throw std::logic_error("kluster::sql: expected '(' after gen_random_uuid");
      return std::optional<detail::Edit>(detail::Edit{static_cast<std::size_t>(tokens[first].start),
                                                      static_cast<std::size_t>(tokens[open].start),
                                                      std::string(kRandomUuidFunction)});
    });
    if (!detail::parses(pinned))
      throw std::logic_error(fmt::format("kluster::sql: could not pin gen_random_uuid() in: {}", sql));
    return pinned;
  });
}

} // namespace kluster::sql
