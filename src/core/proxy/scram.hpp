#pragma once
// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, server side, for the proxy's password
// authentication: salted verifiers (never passwords; users.hpp keeps them), and one exchange per connection.
// Crypto from OpenSSL (PBKDF2, HMAC, SHA-256, random bytes); no channel binding (SCRAM-SHA-256-PLUS).
#include <optional>
#include <string>
#include <string_view>

namespace kluster::proxy::scram {

std::string base64(std::string_view raw);
/// nullopt when `text` is not valid base64.
std::optional<std::string> unbase64(std::string_view text);
/// Raw HMAC-SHA-256 and SHA-256.
std::string hmac(std::string_view key, std::string_view data);
std::string sha256(std::string_view data);
/// `n` bytes from OpenSSL's generator; throws KlusterError when it has none.
std::string randomBytes(std::size_t n);

/// What the server keeps of a password: PostgreSQL's format,
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
struct Verifier {
  int iterations = 4096;
  std::string salt;      ///< raw bytes
  std::string storedKey; ///< raw SHA-256 of the ClientKey
  std::string serverKey; ///< raw
  std::string text() const;
  static std::optional<Verifier> parse(std::string_view text);
  /// A verifier for `password` with a fresh random 16-byte salt (or `salt` when given).
  static Verifier make(std::string_view password, int iterations = 4096, std::optional<std::string> salt = {});
};

/// One SCRAM exchange. Feed it the client's two messages; each answer is the server's next message, or nullopt
/// with `error` set (the client is then told only that authentication failed).
class Exchange {
public:
  /// `known` false: an unknown user, for whom the exchange runs to its end with a made-up verifier
  /// (Users::mock) and then fails, so that a client cannot tell unknown users from wrong passwords.
  /// `serverNonce` is for tests.
  Exchange(Verifier verifier, bool known, std::string serverNonce = {});
  /// client-first-message -> server-first-message
  std::optional<std::string> clientFirst(std::string_view message, std::string& error);
  /// client-final-message -> server-final-message (`v=...`) when the proof is right
  std::optional<std::string> clientFinal(std::string_view message, std::string& error);

private:
  Verifier verifier_;
  bool known_;
  std::string serverNonce_;
  std::string clientFirstBare_;
  std::string serverFirst_;
  std::string nonce_;
};

} // namespace kluster::proxy::scram
