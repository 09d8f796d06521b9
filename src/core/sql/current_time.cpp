// pinCurrentTime(): replaces the current-time expressions found by the tree walk with literals
// of one instant, at the byte positions of the PostgreSQL scanner's tokens.
#include "core/sql/analyzer.hpp"

#include "core/sql/current_time.hpp"
#include "core/sql/parse_tree.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace kluster::sql {

namespace detail {

namespace {

// ---------------------------------------------------------------------------------------------
// Instants.

struct CivilTime {
  std::int64_t year = 1970; // astronomical (0 = 1 BC)
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millis = 0;
};

std::int64_t floorDiv(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian calendar).
std::int64_t daysFromCivil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = floorDiv(y, 400);
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilTime civilFromMillis(std::int64_t epochMillis) {
  constexpr std::int64_t kDay = 86'400'000;
  const std::int64_t days = floorDiv(epochMillis, kDay);
  std::int64_t ms = epochMillis - days * kDay;
  const std::int64_t z = days + 719468;
  const std::int64_t era = floorDiv(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  CivilTime t;
  t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  t.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  t.year = yoe + era * 400 + (t.month <= 2);
  t.hour = static_cast<int>(ms / 3'600'000);
  ms %= 3'600'000;
  t.minute = static_cast<int>(ms / 60'000);
  ms %= 60'000;
  t.second = static_cast<int>(ms / 1000);
  t.millis = static_cast<int>(ms % 1000);
  return t;
}

void checkInstantRange(std::int64_t epochMillis) {
  // PostgreSQL timestamps: 4714-11-24 BC 00:00 (Julian day 0) up to 294276-12-31 24:00 AD.
  constexpr std::int64_t kDay = 86'400'000;
  static const std::int64_t kMin = daysFromCivil(-4713, 11, 24) * kDay;
  static const std::int64_t kEnd = daysFromCivil(294277, 1, 1) * kDay;
  if (epochMillis < kMin || epochMillis >= kEnd) {
    throw std::out_of_range(fmt::format("instant {} ms is outside PostgreSQL's timestamp range", epochMillis));
  }
}

std::string dateText(const CivilTime& t) {
  const bool bc = t.year <= 0;
  return fmt::format("{:04d}-{:02d}-{:02d}{}", bc ? 1 - t.year : t.year, t.month, t.day, bc ? " BC" : "");
}

std::string timeText(const CivilTime& t) {
  return fmt::format("{:02d}:{:02d}:{:02d}.{:03d}", t.hour, t.minute, t.second, t.millis);
}

// The literal text (without quotes) of `t` for a value of type `type`, in UTC.
std::string literalText(const CivilTime& t, TimeType type) {
  const bool bc = t.year <= 0;
  const std::string date = fmt::format("{:04d}-{:02d}-{:02d}", bc ? 1 - t.year : t.year, t.month, t.day);
  switch (type) {
  case TimeType::Timestamptz: return fmt::format("{} {}+00{}", date, timeText(t), bc ? " BC" : "");
  case TimeType::Timestamp: return fmt::format("{} {}{}", date, timeText(t), bc ? " BC" : "");
  case TimeType::Date: return dateText(t);
  case TimeType::Timetz: return timeText(t) + "+00";
  case TimeType::Time: return timeText(t);
  }
  return {};
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Token helpers for rewriting (current_time.hpp).

static bool isComment(const Token& t) { return t.kind == kSqlComment || t.kind == kCComment; }

std::size_t tokenAt(const std::vector<Token>& tokens, int location) {
  const auto it =
      std::lower_bound(tokens.begin(), tokens.end(), location, [](const Token& t, int loc) { return t.start < loc; });
  if (it == tokens.end() || it->start != location) {
    throw std::logic_error(fmt::format("kluster::sql: no token at byte {}", location));
  }
  return static_cast<std::size_t>(it - tokens.begin());
}

std::size_t nextToken(const std::vector<Token>& tokens, std::size_t i) {
  for (++i; i < tokens.size() && isComment(tokens[i]); ++i) {
  }
  return i;
}

// Index of the ')' matching the '(' at `open`.
std::size_t matchingParen(const std::vector<Token>& tokens, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < tokens.size(); ++i) {
    if (tokens[i].kind == kLParen)
      ++depth;
    else if (tokens[i].kind == kRParen && --depth == 0)
      return i;
  }
  throw std::logic_error("kluster::sql: unbalanced parentheses in scanner output");
}

// Byte offset just after the expression that starts at token `first` in a select list or
// RETURNING list: the expression ends before a ',' / ';' / unmatched ')' or the keyword that
// starts the next clause, at parenthesis depth 0.
static std::size_t expressionEnd(const std::vector<Token>& tokens, std::size_t first) {
  int depth = 0;
  std::size_t last = first;
  std::size_t previous = first;
  for (std::size_t i = first; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (isComment(t)) continue;
    if (t.kind == kLParen || t.kind == kLBracket) {
      ++depth;
    } else if (t.kind == kRParen || t.kind == kRBracket) {
      if (depth == 0) break;
      --depth;
    } else if (depth == 0 && i != first) {
      bool stop = t.kind == kComma || t.kind == kSemicolon;
      switch (t.kind) {
      case kInto:
      case kWhere:
      case kHaving:
      case kWindow:
      case kOrder:
      case kLimit:
      case kOffset:
      case kFetch:
      case kFor:
      case kUnion:
      case kIntersect:
      case kExcept:
      case kOn:
      case kReturning: stop = true; break;
      case kFrom: // but not IS [NOT] DISTINCT FROM
        stop = tokens[previous].kind != kDistinct;
        break;
      case kGroup: // but not WITHIN GROUP
        stop = tokens[previous].kind != kWithin;
        break;
      case kWith: { // but not WITH TIME ZONE
        const std::size_t next = nextToken(tokens, i);
        stop = next >= tokens.size() || (tokens[next].kind != kTime && tokens[next].kind != kOrdinality);
        break;
      }
      default: break;
      }
      if (stop) break;
    }
    last = i;
    previous = i;
  }
  return static_cast<std::size_t>(tokens[last].end);
}

static std::string quoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (const char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

static bool joinsWithNeighbour(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '_' || c == '$' || c == '\'' || c == '"' || u >= 0x80;
}

std::string applyEdits(std::string_view sql, std::vector<Edit>& edits) {
  std::stable_sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(sql.size() + edits.size() * 48);
  std::size_t pos = 0;
  for (std::size_t i = 0; i < edits.size(); ++i) {
    const Edit& e = edits[i];
    if (e.begin < pos) throw std::logic_error("kluster::sql: overlapping rewrites");
    out.append(sql.substr(pos, e.begin - pos));
    // Keep tokens apart: "now()FROM" must not become "...::timestamptzFROM".
    if (!out.empty() && !e.text.empty() && joinsWithNeighbour(out.back()) && joinsWithNeighbour(e.text.front())) {
      out += ' ';
    }
    out += e.text;
    const bool nextEditHere = i + 1 < edits.size() && edits[i + 1].begin == e.end;
    if (!nextEditHere && e.end < sql.size() && !e.text.empty() && joinsWithNeighbour(e.text.back()) &&
        joinsWithNeighbour(sql[e.end])) {
      out += ' ';
    }
    pos = e.end;
  }
  out.append(sql.substr(pos));
  return out;
}

std::string editSites(std::string_view sql, const std::vector<int>& sites,
                      const std::function<std::optional<Edit>(const std::vector<Token>&, std::size_t)>& edit) {
  const std::string sqlz(sql);
  const std::vector<Token> tokens = scanTokens(sqlz);
  std::vector<Edit> edits;
  std::set<int> seen;
  for (const int location : sites) {
    if (!seen.insert(location).second) continue; // a node reachable twice in the tree
    if (auto e = edit(tokens, tokenAt(tokens, location))) edits.push_back(std::move(*e));
  }
  return applyEdits(sql, edits);
}

namespace {

// The expression a current-time site stored in a DEFAULT becomes (see pinDefaultTime()).
std::string requestTimeExpression(const TimeSite& site) {
  const std::string fn(kRequestTimeFunction);
  const std::string precision = site.precision >= 0 ? fmt::format("({})", site.precision) : "";
  if (site.kind == SiteKind::Function) return fn;
  switch (site.type) {
  case TimeType::Timestamptz: return precision.empty() ? fn : fmt::format("CAST({} AS timestamptz{})", fn, precision);
  case TimeType::Timetz: return fmt::format("CAST({} AS timetz{})", fn, precision);
  case TimeType::Date: return fmt::format("CAST(timezone('UTC', {}) AS date)", fn);
  case TimeType::Timestamp: return fmt::format("CAST(timezone('UTC', {}) AS timestamp{})", fn, precision);
  case TimeType::Time: return fmt::format("CAST(timezone('UTC', {}) AS time{})", fn, precision);
  }
  return fn;
}

std::string pinParsed(std::string_view sql, std::int64_t epochMillis, Parsed& parsed, bool castSyntax,
                      bool defaults = false) {
  const Collector& c = parsed.collector;
  std::vector<const TimeSite*> sites;
  std::unordered_set<int> seen;
  std::unordered_set<int> pinnedCalls; // FuncCall/SQLValueFunction locations being replaced
  for (const TimeSite& site : c.sites) {
    const bool inDefault = site.kind != SiteKind::Literal && site.stored && site.storedDefault;
    if (defaults != inDefault) continue;
    if (!defaults && site.kind != SiteKind::Literal && site.stored) continue;
    if (!seen.insert(site.location).second) continue; // a node reachable twice in the tree
    sites.push_back(&site);
    if (site.kind != SiteKind::Literal) pinnedCalls.insert(site.location);
  }
  if (sites.empty()) return std::string(sql);

  if (defaults) { // no select-list names to keep: a DEFAULT is not a query
    const std::string sqlz(sql);
    const std::vector<Token> tokens = scanTokens(sqlz);
    std::vector<Edit> edits;
    for (const TimeSite* site : sites) {
      const std::size_t first = tokenAt(tokens, site->location);
      std::size_t last = first;
      std::size_t open = site->kind == SiteKind::Function ? first : nextToken(tokens, first);
      if (site->kind == SiteKind::Function) {
        while (open < tokens.size() && tokens[open].kind != kLParen) ++open;
        last = matchingParen(tokens, open);
      } else if (site->precision >= 0) {
        last = matchingParen(tokens, open);
      }
      edits.push_back({static_cast<std::size_t>(tokens[first].start), static_cast<std::size_t>(tokens[last].end),
                       requestTimeExpression(*site)});
    }
    return applyEdits(sql, edits);
  }

  checkInstantRange(epochMillis);
  const CivilTime instant = civilFromMillis(epochMillis);
  const std::string sqlz(sql);
  const std::vector<Token> tokens = scanTokens(sqlz);
  std::vector<Edit> edits;

  for (const TimeSite* site : sites) {
    const std::size_t first = tokenAt(tokens, site->location);
    std::size_t last = first;
    std::string literal;
    if (site->kind == SiteKind::Function) {
      std::size_t open = first;
      while (open < tokens.size() && tokens[open].kind != kLParen) ++open;
      last = matchingParen(tokens, open);
      literal = literalText(instant, TimeType::Timestamptz);
    } else if (site->kind == SiteKind::Keyword) {
      if (site->precision >= 0) {
        const std::size_t open = nextToken(tokens, first);
        if (open >= tokens.size() || tokens[open].kind != kLParen) {
          throw std::logic_error("kluster::sql: expected '(' after a current-time keyword");
        }
        last = matchingParen(tokens, open);
      }
      literal = literalText(instant, site->type);
    } else {
      if (tokens[first].kind != kSconst && tokens[first].kind != kUSconst) {
        throw std::logic_error("kluster::sql: expected a string constant");
      }
      if (tokens[first].kind == kUSconst) { // U&'...' UESCAPE '!'
        const std::size_t next = nextToken(tokens, first);
        if (next < tokens.size() && tokens[next].kind == kUescape) last = nextToken(tokens, next);
      }
      if (last >= tokens.size()) throw std::logic_error("kluster::sql: truncated UESCAPE clause");
      if (site->wholeInstant) {
        literal = literalText(instant, TimeType::Timestamptz);
      } else {
        constexpr std::int64_t kDay = 86'400'000;
        const std::int64_t midnight = (floorDiv(epochMillis, kDay) + site->dayOffset) * kDay;
        checkInstantRange(midnight);
        literal = literalText(civilFromMillis(midnight), TimeType::Timestamptz);
        literal.replace(literal.find('.'), 4, ""); // midnight: no milliseconds
      }
      edits.push_back({static_cast<std::size_t>(tokens[first].start), static_cast<std::size_t>(tokens[last].end),
                       fmt::format("'{}'", literal)});
      continue;
    }

    std::string type(site->kind == SiteKind::Function ? "timestamptz" : typeName(site->type));
    if (site->precision >= 0) type += fmt::format("({})", site->precision);
    const bool inFrom = site->rangeFunction != nullptr;
    std::string text =
        inFrom || castSyntax ? fmt::format("CAST('{}' AS {})", literal, type) : fmt::format("'{}'::{}", literal, type);
    std::size_t end = static_cast<std::size_t>(tokens[last].end);
    edits.push_back({static_cast<std::size_t>(tokens[first].start), end, std::move(text)});

    // A FROM item keeps its name (and so its column name) through an alias.
    if (inFrom && !site->rangeFunction->contains("alias") && !boolField(*site->rangeFunction, "is_rowsfrom")) {
      if (boolField(*site->rangeFunction, "ordinality")) { // ... WITH ORDINALITY AS "now"
        const std::size_t with = nextToken(tokens, last);
        const std::size_t ord = with < tokens.size() ? nextToken(tokens, with) : tokens.size();
        if (ord < tokens.size() && (tokens[with].kind == kWith || tokens[with].kind == kWithLa) &&
            tokens[ord].kind == kOrdinality) {
          end = static_cast<std::size_t>(tokens[ord].end);
        }
      }
      edits.push_back({end, end, " AS " + quoteIdentifier(site->fromName)});
    }
  }

  // Select-list / RETURNING entries whose figured column name would change get an alias.
  for (const UnnamedTarget& target : c.targets) {
    const FiguredName before = figureColname(*target.val, nullptr);
    const FiguredName after = figureColname(*target.val, &pinnedCalls);
    const std::string beforeName = before.strength > 0 ? before.name : "?column?";
    const std::string afterName = after.strength > 0 ? after.name : "?column?";
    if (beforeName == afterName) continue;
    const std::size_t end = expressionEnd(tokens, tokenAt(tokens, target.location));
    edits.push_back({end, end, " AS " + quoteIdentifier(beforeName)});
  }

  return applyEdits(sql, edits);
}

} // namespace

} // namespace detail

std::string pinCurrentTime(std::string_view sql, std::int64_t epochMillis) {
  return detail::onParserStack(sql.size(), [&] {
    detail::Parsed parsed = detail::parseAndCollect(sql);
    std::string pinned = detail::pinParsed(sql, epochMillis, parsed, false);
    if (pinned.size() == sql.size() && pinned == sql) return pinned;
    // Check that the rewrite parses. Every site was replaced (or an exception thrown), and the
    // edits never add or remove statements, so parsing is the check that is left. The "::" form
    // is not valid where the grammar wants a plain c_expr (e.g. FETCH FIRST n ROWS); CAST(...)
    // is valid wherever a function call is, so retry with it.
    if (detail::parses(pinned)) return pinned;
    pinned = detail::pinParsed(sql, epochMillis, parsed, true);
    if (detail::parses(pinned)) return pinned;
    throw std::logic_error(fmt::format("kluster::sql: could not pin the current time in: {}", sql));
  });
}

std::string pinDefaultTime(std::string_view sql) {
  return detail::onParserStack(sql.size(), [&] {
    detail::Parsed parsed = detail::parseAndCollect(sql);
    std::string pinned = detail::pinParsed(sql, 0, parsed, false, true);
    if (pinned.size() == sql.size() && pinned == sql) return pinned;
    if (detail::parses(pinned)) return pinned;
    throw std::logic_error(fmt::format("kluster::sql: could not pin the current time of a DEFAULT in: {}", sql));
  });
}

} // namespace kluster::sql
