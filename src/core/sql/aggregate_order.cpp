// pinAggregateOrder(): the order-sensitive aggregates found by the tree walk get an ORDER BY of their own arguments'
// text, inserted before their closing parenthesis, at the byte positions of the PostgreSQL scanner's tokens.
#include "core/sql/analyzer.hpp"

#include "core/sql/current_time.hpp"
#include "core/sql/parse_tree.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace kluster::sql {
namespace {

bool isWord(std::string_view text, std::string_view word) {
  return text.size() == word.size() && std::equal(text.begin(), text.end(), word.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

bool isComment(const detail::Token& t) { return t.kind == detail::kSqlComment || t.kind == detail::kCComment; }

// " ORDER BY (a)::text, (b)::text" for the arguments between the parentheses at tokens `open` and `close`.
std::string orderByArguments(std::string_view sql, const std::vector<detail::Token>& tokens, std::size_t open,
                             std::size_t close) {
  std::vector<std::string> keys;
  std::size_t first = detail::nextToken(tokens, open);
  // sum(ALL x): ALL says what an aggregate does anyway, and is not part of the argument.
  if (first < close && isWord(sql.substr(static_cast<std::size_t>(tokens[first].start),
                                         static_cast<std::size_t>(tokens[first].end - tokens[first].start)),
                              "all"))
    first = detail::nextToken(tokens, first);
  int depth = 0;
  std::size_t begin = first;
  for (std::size_t i = first; i <= close; ++i) {
    const int kind = tokens[i].kind;
    if (kind == detail::kLParen || kind == detail::kLBracket) ++depth;
    if ((kind == detail::kRParen || kind == detail::kRBracket) && i != close) --depth;
    if ((kind == detail::kComma && depth == 0) || i == close) {
      std::size_t last = i; // the argument's last token that is not a comment (one would comment out the cast)
      while (last > begin && isComment(tokens[last - 1])) --last;
      if (begin < last) {
        const auto from = static_cast<std::size_t>(tokens[begin].start);
        const auto to = static_cast<std::size_t>(tokens[last - 1].end);
        keys.push_back(fmt::format("({})::text", sql.substr(from, to - from)));
      }
      begin = i + 1;
    }
  }
  if (keys.empty()) return {};
  std::string text = " ORDER BY ";
  for (std::size_t k = 0; k < keys.size(); ++k) text += (k ? ", " : "") + keys[k];
  return text;
}

} // namespace

std::string pinAggregateOrder(std::string_view sql) {
  return detail::onParserStack(sql.size(), [&] {
    const detail::Parsed parsed = detail::parseAndCollect(sql);
    const auto& sites = parsed.collector.aggregateSites;
    if (sites.empty()) return std::string(sql);
    std::string pinned = detail::editSites(
        sql, sites, [&](const std::vector<detail::Token>& tokens, std::size_t open) -> std::optional<detail::Edit> {
          while (open < tokens.size() && tokens[open].kind != detail::kLParen) ++open;
          if (open == tokens.size()) return std::nullopt;
          const std::size_t close = detail::matchingParen(tokens, open);
          std::string order = orderByArguments(sql, tokens, open, close);
          if (order.empty()) return std::nullopt;
          const auto at = static_cast<std::size_t>(tokens[close].start);
          return detail::Edit{at, at, std::move(order)};
        });
    // What the rewrite cannot express (an argument PostgreSQL takes but a cast to text does not) runs as written.
    return detail::parses(pinned) ? pinned : std::string(sql);
  });
}

} // namespace kluster::sql
