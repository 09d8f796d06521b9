#pragma once
// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, server side, for the proxy's password
// authentication: salted verifiers (never passwords) in a users file, and one exchange per connection.
// Crypto from OpenSSL (PBKDF2, HMAC, SHA-256, random bytes); no channel binding (SCRAM-SHA-256-PLUS).
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kluster::proxy::scram {

std::string base64(std::string_view raw);
/// nullopt when `text` is not valid base64.
std::optional<std::string> unbase64(std::string_view text);

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
  /// `verifier` nullopt: an unknown user, for whom the exchange runs with a made-up verifier and fails at the
  /// end, so that a client cannot tell unknown users from wrong passwords. `serverNonce` is for tests.
  explicit Exchange(std::optional<Verifier> verifier, std::string serverNonce = {});
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

/// The proxy's users file: `user:SCRAM-SHA-256$...` lines, `#` comments. load() refuses a file others may read.
class Users {
public:
  static Users load(const std::filesystem::path& file);
  static Users parse(std::string_view text, const std::string& name);
  const Verifier* find(const std::string& user) const;
  std::size_t size() const { return users_.size(); }
  /// Sets (adds or replaces) a user's verifier in `file`, written whole to a temporary file and renamed
  /// (mode 600); creates the file when missing.
  static void set(const std::filesystem::path& file, const std::string& user, const Verifier& verifier);

private:
  std::map<std::string, Verifier> users_;
};

} // namespace kluster::proxy::scram
