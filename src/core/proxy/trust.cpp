#include "core/proxy/trust.hpp"

#include "core/errors.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace kluster::proxy {
namespace {

struct Address {
  bool v6 = false;
  std::array<unsigned char, 16> bytes{};
};

std::optional<Address> readAddress(const std::string& text) {
  Address a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) != 1) return std::nullopt;
  a.v6 = true;
  // An IPv4-mapped address (::ffff:a.b.c.d), as a dual-stack socket reports IPv4 peers.
  static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(std::begin(mapped), std::end(mapped), a.bytes.begin())) {
    a.v6 = false;
    std::copy(a.bytes.begin() + 12, a.bytes.end(), a.bytes.begin());
    std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
  }
  return a;
}

// Clears the bits after the first `prefix`.
void mask(std::array<unsigned char, 16>& bytes, unsigned prefix) {
  for (unsigned i = 0; i < bytes.size(); ++i) {
    const unsigned keep = prefix > 8 * i ? std::min(8u, prefix - 8 * i) : 0u;
    bytes[i] &= static_cast<unsigned char>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
}

std::string trimmed(std::string_view s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

} // namespace

TrustList TrustList::parse(std::string_view text) {
  TrustList list;
  if (trimmed(text) == "none") return list;
  std::size_t i = 0;
  while (i <= text.size()) {
    auto comma = text.find(',', i);
    if (comma == std::string_view::npos) comma = text.size();
    const auto entry = trimmed(text.substr(i, comma - i));
    i = comma + 1;
    if (entry.empty()) continue;
    const auto slash = entry.find('/');
    const auto address = readAddress(entry.substr(0, slash));
    const unsigned width = address && address->v6 ? 128 : 32;
    unsigned prefix = width;
    bool ok = address.has_value();
    if (ok && slash != std::string::npos) {
      const auto digits = entry.substr(slash + 1);
      ok = !digits.empty() && digits.size() <= 3 && digits.find_first_not_of("0123456789") == std::string::npos;
      if (ok) prefix = static_cast<unsigned>(std::stoul(digits));
      ok = ok && prefix <= width;
    }
    if (!ok)
      throw UsageError(fmt::format("proxy.trust: '{}' is not an address or a network (e.g. 10.0.0.0/8, ::1/128); "
                                   "use \"\" to trust nobody",
                                   entry));
    Network n;
    n.v6 = address->v6;
    n.bytes = address->bytes;
    n.prefix = prefix;
    mask(n.bytes, prefix);
    list.networks_.push_back(n);
  }
  return list;
}

bool TrustList::contains(const std::string& address) const {
  const auto a = readAddress(address);
  if (!a) return false;
  for (const auto& n : networks_) {
    if (n.v6 != a->v6) continue;
    auto bytes = a->bytes;
    mask(bytes, n.prefix);
    if (bytes == n.bytes) return true;
  }
  return false;
}

std::string TrustList::text() const {
  std::string out;
  for (const auto& n : networks_) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(n.v6 ? AF_INET6 : AF_INET, n.bytes.data(), buf, sizeof buf);
    out += fmt::format("{}{}/{}", out.empty() ? "" : ",", buf, n.prefix);
  }
  return out;
}

} // namespace kluster::proxy
