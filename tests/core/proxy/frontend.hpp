#pragma once
// What a client sends, as bytes, for the proxy's unit tests.
#include <cstdint>
#include <string>

namespace kluster::proxy::test {

/// A big-endian int32, as the protocol's lengths and codes are written.
inline std::string be32(std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  return {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8), static_cast<char>(u)};
}

} // namespace kluster::proxy::test
