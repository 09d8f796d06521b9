#pragma once
// What a client sends, as bytes, for the proxy's unit tests, and a session whose requests a test answers itself.
#include "core/proxy/session.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kluster::proxy::test {

/// A big-endian int32, as the protocol's lengths and codes are written.
inline std::string be32(std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  return {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8), static_cast<char>(u)};
}

/// A message of `type` with `body` (a Query's body ends with its NUL).
inline std::string frontendMessage(char type, const std::string& body) {
  return std::string(1, type) + be32(static_cast<std::int32_t>(body.size() + 4)) + body;
}

/// The backend messages in `bytes`, each as its type and body.
inline std::vector<std::pair<char, std::string>> backendMessages(const std::string& bytes) {
  std::vector<std::pair<char, std::string>> out;
  for (std::size_t at = 0; at + 5 <= bytes.size();) {
    std::uint32_t len = 0;
    for (std::size_t i = 1; i <= 4; ++i) len = len << 8 | static_cast<unsigned char>(bytes[at + i]);
    out.emplace_back(bytes[at], bytes.substr(at + 5, len - 4));
    at += 1 + len;
  }
  return out;
}

/// A session of user "app" past its startup, whose requests are kept for the test to answer (`done`).
struct SessionFixture {
  struct Sent {
    Request request;
    client::Target target;
    Session::Done done;
  };
  std::vector<Sent> sent;
  Session session{
      SessionOptions{},
      [this](Request req, client::Target target, client::WaitPolicy, std::chrono::milliseconds, Session::Done done) {
        sent.push_back({std::move(req), target, std::move(done)});
      },
      1, 2, true};
  SessionFixture() {
    const std::string body = be32(wire::kProtocol3) + "user" + '\0' + "app" + '\0' + '\0';
    session.received(be32(static_cast<std::int32_t>(body.size() + 4)) + body);
    session.takeOutput();
  }
  /// Sends `sql` as a simple Query.
  void query(const std::string& sql) { session.received(frontendMessage('Q', sql + '\0')); }
};

} // namespace kluster::proxy::test
