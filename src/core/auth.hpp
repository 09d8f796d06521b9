#pragma once
// Signed requests and per-client permissions (docs/security.md, SECURITY.md). A client with a key signs each
// request: HMAC-SHA256, keyed by its secret, over a canonical form of every field that affects what the
// request does, plus the time it was signed. The nodes hold a clients file (keys and permissions per client id)
// that takes effect at one ALL position on every node: the position of a `security` request that carries the
// file's digest (`klusterctl security publish`).
#include "core/message.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kluster::auth {

/// The bytes a signature covers: version, messageId, clientId, the signing time, the kind, the statements,
/// params, paramTypes, minAllOffset, timeoutMs, trace and the security digest, one per line (JSON values
/// dumped by nlohmann, so the client and every node produce the same text from the same request).
std::string canonical(const Request& r, std::int64_t signedAtMs);
/// Lower-case hex HMAC-SHA256 of canonical(r, signedAtMs), keyed by `key`.
std::string signature(const std::string& key, const Request& r, std::int64_t signedAtMs);
/// Sets r.auth: signed now with `key`.
void sign(Request& r, const std::string& key, std::int64_t nowMs);

/// What a client may do.
struct Rule {
  enum class Access { Read, Write, Admin };
  std::vector<std::string> keys; ///< one or two (rotation): any of them signs
  Access access = Access::Write;
  bool ddl = true;      ///< statements other than DML (CREATE, ALTER, DROP, TRUNCATE, ...)
  bool truncate = true; ///< TRUNCATE (when ddl is allowed)
};

/// A refusal: a stable result code (UNAUTHENTICATED or FORBIDDEN) and why.
struct Denial {
  std::string code;
  std::string message;
  std::string hint;
};

/// The clients file: `[clients.<id>]` tables with `keys` (strings of at least 32 characters), `access`
/// ("read", "write" or "admin") and optional `ddl` and `truncate` booleans.
class Clients {
public:
  /// Reads and checks the file; refuses one that others than its owner may read (mode & 077). Throws UsageError.
  static Clients load(const std::filesystem::path& file);
  static Clients parse(std::string_view toml, const std::string& name);

  /// A digest of every client's id, permissions and keys (the keys themselves hashed first): equal files give
  /// equal digests, whatever their order, comments or spacing.
  const std::string& digest() const { return digest_; }
  const Rule* find(const std::string& clientId) const;
  std::size_t size() const { return rules_.size(); }

  /// Checks a request's signature and time. `referenceMs`: the time its signing time is compared with (ALL:
  /// its Kafka timestamp, the same on every node; ONE: the node's clock); `windowMs`: how far apart they may be.
  std::optional<Denial> authenticate(const Request& r, std::int64_t referenceMs, std::int64_t windowMs) const;

private:
  std::map<std::string, Rule> rules_;
  std::string digest_;
};

/// Where a node keeps a copy of a clients file it put in effect: `<file>.<first 16 digits of its digest>`. A
/// node that was stopped while a new file was published catches up with this copy of the old one until it
/// reaches the publication, then takes the new one.
std::filesystem::path copyPath(const std::filesystem::path& file, const std::string& digest);
/// Writes that copy (mode 600) when it is missing; false (and nothing written) when the directory does not allow it.
bool keepCopy(const std::filesystem::path& file, const std::string& digest);

/// The statement kinds of a request (parse-tree node names) that `rule` does not allow, as a denial. `writes`:
/// the request is not read-only.
std::optional<Denial> authorize(const std::string& clientId, const Rule& rule, bool writes,
                                const std::vector<std::string>& statementKinds);

/// How far a request's signing time may be from its reference time (docs/security.md).
inline constexpr std::int64_t kWindowMs = 5 * 60 * 1000;

} // namespace kluster::auth
