// Values in PostgreSQL's binary format (the wire protocol's format code 1): to and from the text forms a
// node's response carries and PostgreSQL accepts.
#include "core/proxy/pg_types.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace kluster::proxy {
namespace {

// --- binary helpers ----------------------------------------------------------------------------

void put(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get(std::string_view b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]);
  return v;
}

template <class T> std::optional<T> parseInt(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civilFromDays(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

constexpr std::int64_t kPgEpochDays = 10957; // 2000-01-01 in days since 1970-01-01
constexpr std::int64_t kMicrosPerDay = 86400000000LL;

// "YYYY-MM-DD" at the front of `s`; advances `pos`.
std::optional<std::int64_t> parseDate(std::string_view s, std::size_t& pos) {
  int y = 0;
  unsigned mo = 0, d = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  auto yy = parseInt<int>(s.substr(0, 4));
  auto mm = parseInt<unsigned>(s.substr(5, 2));
  auto dd = parseInt<unsigned>(s.substr(8, 2));
  if (!yy || !mm || !dd) return std::nullopt;
  y = *yy, mo = *mm, d = *dd;
  pos = 10;
  return daysFromCivil(y, mo, d) - kPgEpochDays;
}

// "HH:MM:SS[.ffffff]" at s[pos]; microseconds of the day.
std::optional<std::int64_t> parseTime(std::string_view s, std::size_t& pos) {
  if (s.size() < pos + 8 || s[pos + 2] != ':' || s[pos + 5] != ':') return std::nullopt;
  auto h = parseInt<int>(s.substr(pos, 2)), mi = parseInt<int>(s.substr(pos + 3, 2)),
       se = parseInt<int>(s.substr(pos + 6, 2));
  if (!h || !mi || !se) return std::nullopt;
  std::int64_t us = ((*h * 60LL + *mi) * 60 + *se) * 1000000;
  pos += 8;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::int64_t frac = 0;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) frac = frac * 10 + (s[pos] - '0'), ++digits;
      ++pos;
    }
    while (digits < 6) frac *= 10, ++digits;
    us += frac;
  }
  return us;
}

// "+HH[:MM[:SS]]" or "-..." at s[pos]: seconds east of UTC.
std::optional<std::int64_t> parseOffset(std::string_view s, std::size_t& pos) {
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return std::nullopt;
  const int sign = s[pos] == '-' ? -1 : 1;
  ++pos;
  std::int64_t secs = 0;
  int parts = 0;
  while (parts < 3 && pos + 2 <= s.size()) {
    auto v = parseInt<int>(s.substr(pos, 2));
    if (!v) break;
    secs = secs * 60 + *v;
    ++parts;
    pos += 2;
    if (pos < s.size() && s[pos] == ':')
      ++pos;
    else
      break;
  }
  for (int i = parts; i < 3; ++i) secs *= 60;
  return sign * secs;
}

std::string formatDate(std::int64_t pgDays) {
  std::int64_t y;
  unsigned m, d;
  civilFromDays(pgDays + kPgEpochDays, y, m, d);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

std::string formatTimestamp(std::int64_t us, bool withZone) {
  if (us == std::numeric_limits<std::int64_t>::max()) return "infinity";
  if (us == std::numeric_limits<std::int64_t>::min()) return "-infinity";
  std::int64_t days = us / kMicrosPerDay, rest = us % kMicrosPerDay;
  if (rest < 0) rest += kMicrosPerDay, --days;
  const std::int64_t secs = rest / 1000000, frac = rest % 1000000;
  std::string s = fmt::format("{} {:02}:{:02}:{:02}", formatDate(days), secs / 3600, secs / 60 % 60, secs % 60);
  if (frac) {
    auto f = fmt::format("{:06}", frac);
    while (f.back() == '0') f.pop_back();
    s += "." + f;
  }
  if (withZone) s += "+00";
  return s;
}

// numeric: base-10000 digits, as PostgreSQL's numeric_send/numeric_recv.
std::optional<std::string> numericToBinary(const std::string& text) {
  std::string_view s = text;
  std::string out;
  if (s == "NaN") {
    put(out, 0, 2), put(out, 0, 2), put(out, 0xC000, 2), put(out, 0, 2);
    return out;
  }
  if (s == "Infinity" || s == "-Infinity") {
    put(out, 0, 2), put(out, 0, 2), put(out, s[0] == '-' ? 0xF000 : 0xD000, 2), put(out, 0, 2);
    return out;
  }
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) neg = s[0] == '-', s.remove_prefix(1);
  const auto dot = s.find('.');
  std::string intPart(s.substr(0, dot)), fracPart(dot == std::string_view::npos ? "" : s.substr(dot + 1));
  if (intPart.empty() && fracPart.empty()) return std::nullopt;
  for (char c : intPart + fracPart)
    if (c < '0' || c > '9') return std::nullopt; // exponents are not what the server writes
  const auto dscale = static_cast<std::uint16_t>(fracPart.size());
  while (intPart.size() > 1 && intPart[0] == '0') intPart.erase(0, 1);
  if (intPart == "0") intPart.clear();
  // Pad to whole groups of four around the point.
  intPart.insert(0, (4 - intPart.size() % 4) % 4, '0');
  fracPart.append((4 - fracPart.size() % 4) % 4, '0');
  std::vector<std::uint16_t> digits;
  for (std::size_t i = 0; i < intPart.size(); i += 4)
    digits.push_back(static_cast<std::uint16_t>(std::stoi(intPart.substr(i, 4))));
  for (std::size_t i = 0; i < fracPart.size(); i += 4)
    digits.push_back(static_cast<std::uint16_t>(std::stoi(fracPart.substr(i, 4))));
  int weight = static_cast<int>(intPart.size() / 4) - 1;
  // Strip leading and trailing zero groups.
  std::size_t lead = 0;
  while (lead < digits.size() && digits[lead] == 0) ++lead, --weight;
  digits.erase(digits.begin(), digits.begin() + static_cast<std::ptrdiff_t>(lead));
  while (!digits.empty() && digits.back() == 0) digits.pop_back();
  if (digits.empty()) weight = 0, neg = false;
  put(out, digits.size(), 2);
  put(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(weight)), 2);
  put(out, neg ? 0x4000 : 0, 2);
  put(out, dscale, 2);
  for (auto d : digits) put(out, d, 2);
  return out;
}

std::optional<std::string> numericFromBinary(std::string_view b) {
  if (b.size() < 8) return std::nullopt;
  const auto ndigits = static_cast<std::size_t>(get(b, 0, 2));
  const auto weight = static_cast<std::int16_t>(get(b, 2, 2));
  const auto sign = get(b, 4, 2);
  const auto dscale = static_cast<int>(get(b, 6, 2));
  if (b.size() != 8 + 2 * ndigits) return std::nullopt;
  if (sign == 0xC000) return "NaN";
  if (sign == 0xD000) return "Infinity";
  if (sign == 0xF000) return "-Infinity";
  std::vector<int> digits;
  for (std::size_t i = 0; i < ndigits; ++i) digits.push_back(static_cast<int>(get(b, 8 + 2 * i, 2)));
  std::string intPart, fracPart;
  for (int w = weight, i = 0; w >= 0; --w, ++i) {
    const int d = i < static_cast<int>(digits.size()) ? digits[static_cast<std::size_t>(i)] : 0;
    intPart += intPart.empty() ? std::to_string(d) : fmt::format("{:04}", d);
  }
  if (intPart.empty()) intPart = "0";
  for (int i = weight + 1; static_cast<int>(fracPart.size()) < dscale; ++i) {
    const int d = i >= 0 && i < static_cast<int>(digits.size()) ? digits[static_cast<std::size_t>(i)] : 0;
    fracPart += fmt::format("{:04}", d);
  }
  fracPart.resize(static_cast<std::size_t>(dscale));
  return (sign == 0x4000 ? "-" : "") + intPart + (dscale ? "." + fracPart : "");
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) s += digits[c >> 4], s += digits[c & 15];
  return s;
}

std::optional<std::string> unhex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = hexDigit(s[i]), lo = hexDigit(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string floatText(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, p);
}

} // namespace

bool binarySupported(std::uint32_t o) {
  switch (o) {
  case oid::Bool:
  case oid::Int2:
  case oid::Int4:
  case oid::Oid:
  case oid::Int8:
  case oid::Float4:
  case oid::Float8:
  case oid::Numeric:
  case oid::Text:
  case oid::Varchar:
  case oid::Bpchar:
  case oid::Name:
  case oid::Json:
  case oid::Jsonb:
  case oid::Char:
  case oid::Uuid:
  case oid::Bytea:
  case oid::Date:
  case oid::Timestamp:
  case oid::Timestamptz:
  case oid::Time: return true;
  default: return false;
  }
}

std::optional<std::string> binaryFromText(std::uint32_t o, const std::string& t) {
  std::string out;
  switch (o) {
  case oid::Bool:
    if (t != "t" && t != "f" && t != "true" && t != "false") return std::nullopt;
    out.push_back(t[0] == 't' ? 1 : 0);
    return out;
  case oid::Int2:
    if (auto v = parseInt<std::int16_t>(t)) return put(out, static_cast<std::uint16_t>(*v), 2), out;
    return std::nullopt;
  case oid::Int4:
  case oid::Oid:
    if (auto v = parseInt<std::int64_t>(t)) return put(out, static_cast<std::uint32_t>(*v), 4), out;
    return std::nullopt;
  case oid::Int8:
    if (auto v = parseInt<std::int64_t>(t)) return put(out, static_cast<std::uint64_t>(*v), 8), out;
    return std::nullopt;
  case oid::Float4:
  case oid::Float8: {
    double d = 0;
    if (t == "NaN")
      d = std::numeric_limits<double>::quiet_NaN();
    else if (t == "Infinity")
      d = std::numeric_limits<double>::infinity();
    else if (t == "-Infinity")
      d = -std::numeric_limits<double>::infinity();
    else {
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
      if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
    }
    if (o == oid::Float4) {
      const float f = static_cast<float>(d);
      std::uint32_t u;
      std::memcpy(&u, &f, 4);
      put(out, u, 4);
    } else {
      std::uint64_t u;
      std::memcpy(&u, &d, 8);
      put(out, u, 8);
    }
    return out;
  }
  case oid::Numeric: return numericToBinary(t);
  case oid::Text:
  case oid::Varchar:
  case oid::Bpchar:
  case oid::Name:
  case oid::Json:
  case oid::Char: return t;
  case oid::Jsonb: return std::string(1, '\1') + t;
  case oid::Uuid: {
    std::string h;
    for (char c : t)
      if (c != '-') h += c;
    if (h.size() != 32) return std::nullopt;
    return unhex(h);
  }
  case oid::Bytea:
    if (t.rfind("\\x", 0) == 0) return unhex(std::string_view(t).substr(2));
    return std::nullopt;
  case oid::Date: {
    if (t == "infinity") return put(out, 0x7fffffff, 4), out;
    if (t == "-infinity") return put(out, 0x80000000, 4), out;
    std::size_t pos = 0;
    auto d = parseDate(t, pos);
    if (!d || pos != t.size()) return std::nullopt;
    put(out, static_cast<std::uint32_t>(static_cast<std::int32_t>(*d)), 4);
    return out;
  }
  case oid::Timestamp:
  case oid::Timestamptz: {
    if (t == "infinity") return put(out, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), 8), out;
    if (t == "-infinity") return put(out, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::min()), 8), out;
    std::size_t pos = 0;
    auto d = parseDate(t, pos);
    if (!d || pos >= t.size() || t[pos] != ' ') return std::nullopt;
    ++pos;
    auto us = parseTime(t, pos);
    if (!us) return std::nullopt;
    std::int64_t total = *d * kMicrosPerDay + *us;
    if (o == oid::Timestamptz) {
      auto off = parseOffset(t, pos);
      if (!off) return std::nullopt;
      total -= *off * 1000000;
    }
    if (pos != t.size()) return std::nullopt;
    put(out, static_cast<std::uint64_t>(total), 8);
    return out;
  }
  case oid::Time: {
    std::size_t pos = 0;
    auto us = parseTime(t, pos);
    if (!us || pos != t.size()) return std::nullopt;
    put(out, static_cast<std::uint64_t>(*us), 8);
    return out;
  }
  default: return std::nullopt;
  }
}

std::optional<std::string> textFromBinary(std::uint32_t o, std::string_view b) {
  switch (o) {
  case oid::Bool:
    if (b.size() != 1) return std::nullopt;
    return std::string(b[0] ? "true" : "false");
  case oid::Int2:
    if (b.size() != 2) return std::nullopt;
    return std::to_string(static_cast<std::int16_t>(get(b, 0, 2)));
  case oid::Int4:
    if (b.size() != 4) return std::nullopt;
    return std::to_string(static_cast<std::int32_t>(get(b, 0, 4)));
  case oid::Oid:
    if (b.size() != 4) return std::nullopt;
    return std::to_string(static_cast<std::uint32_t>(get(b, 0, 4)));
  case oid::Int8:
    if (b.size() != 8) return std::nullopt;
    return std::to_string(static_cast<std::int64_t>(get(b, 0, 8)));
  case oid::Float4: {
    if (b.size() != 4) return std::nullopt;
    const auto u = static_cast<std::uint32_t>(get(b, 0, 4));
    float f;
    std::memcpy(&f, &u, 4);
    if (std::isnan(f) || std::isinf(f)) return floatText(f);
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, f);
    return std::string(buf, p);
  }
  case oid::Float8: {
    if (b.size() != 8) return std::nullopt;
    const auto u = get(b, 0, 8);
    double d;
    std::memcpy(&d, &u, 8);
    return floatText(d);
  }
  case oid::Numeric: return numericFromBinary(b);
  case oid::Text:
  case oid::Varchar:
  case oid::Bpchar:
  case oid::Name:
  case oid::Json:
  case oid::Char:
  case oid::Unknown: return std::string(b);
  case oid::Jsonb:
    if (b.empty() || b[0] != 1) return std::nullopt;
    return std::string(b.substr(1));
  case oid::Uuid: {
    if (b.size() != 16) return std::nullopt;
    const auto h = hex(b);
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
  }
  case oid::Bytea: return "\\x" + hex(b);
  case oid::Date: {
    if (b.size() != 4) return std::nullopt;
    const auto d = static_cast<std::int32_t>(get(b, 0, 4));
    if (d == std::numeric_limits<std::int32_t>::max()) return std::string("infinity");
    if (d == std::numeric_limits<std::int32_t>::min()) return std::string("-infinity");
    return formatDate(d);
  }
  case oid::Timestamp:
  case oid::Timestamptz:
    if (b.size() != 8) return std::nullopt;
    return formatTimestamp(static_cast<std::int64_t>(get(b, 0, 8)), o == oid::Timestamptz);
  case oid::Time: {
    if (b.size() != 8) return std::nullopt;
    const auto full = formatTimestamp(static_cast<std::int64_t>(get(b, 0, 8)), false);
    return full.substr(full.find(' ') + 1);
  }
  default: return std::nullopt;
  }
}

} // namespace kluster::proxy
