#include "core/db/values.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace kluster::db {
namespace {

constexpr std::int64_t kMaxExactInteger = 9007199254740992LL; // 2^53

bool isPlainDecimal(std::string_view s) {
  int digits = 0;
  bool seenDigit = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if ((c == '-' && i == 0) || c == '.') continue;
    if (c < '0' || c > '9') return false;
    if (c != '0' || seenDigit) {
      seenDigit = true;
      ++digits;
    }
  }
  return digits <= 15 && !s.empty();
}

} // namespace

ojson integerValue(std::string_view v) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc() && p == v.data() + v.size() && n <= kMaxExactInteger && n >= -kMaxExactInteger) return n;
  return std::string(v);
}

ojson floatValue(std::string_view v) {
  const double d = std::strtod(std::string(v).c_str(), nullptr);
  if (std::isfinite(d)) return d;
  return std::string(v);
}

ojson decimalValue(std::string_view v) {
  if (!isPlainDecimal(v)) return std::string(v);
  if (v.find('.') == std::string_view::npos) return std::strtoll(std::string(v).c_str(), nullptr, 10);
  return std::strtod(std::string(v).c_str(), nullptr);
}

} // namespace kluster::db
