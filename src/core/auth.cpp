#include "core/auth.hpp"

#include "core/errors.hpp"
#include "core/sql/analyzer.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>

namespace kluster::auth {
namespace {

std::string hex(const unsigned char* data, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string accessName(Rule::Access a) {
  switch (a) {
  case Rule::Access::Read: return "read";
  case Rule::Access::Write: return "write";
  case Rule::Access::Admin: return "admin";
  }
  return "?";
}

} // namespace

std::string canonical(const Request& r, std::int64_t signedAtMs) {
  const char* kind = r.fingerprint      ? "fingerprint"
                     : r.tick           ? "tick"
                     : r.describe       ? "describe"
                     : r.securityDigest ? "security"
                                        : "sql";
  nlohmann::json statements = r.statements;
  return fmt::format("kluster-request-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n", r.version, r.messageId,
                     r.clientId, signedAtMs, kind, statements.dump(), r.params.dump(),
                     nlohmann::json(r.paramTypes).dump(), r.minAllOffset ? std::to_string(*r.minAllOffset) : "-",
                     r.timeoutMs ? std::to_string(*r.timeoutMs) : "-", r.trace ? "trace" : "-",
                     r.securityDigest.value_or("-"));
}

std::string signature(const std::string& key, const Request& r, std::int64_t signedAtMs) {
  const auto text = canonical(r, signedAtMs);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
            text.size(), mac, &len))
    throw KlusterError(code::NodeError, "HMAC-SHA256 failed");
  return hex(mac, len);
}

void sign(Request& r, const std::string& key, std::int64_t nowMs) {
  r.auth = Request::Auth{nowMs, signature(key, r, nowMs)};
}

Clients Clients::load(const std::filesystem::path& file) {
  return parse(util::readSecretFile(file.string(), "clients file"), file.string());
}

Clients Clients::parse(std::string_view text, const std::string& name) {
  toml::table table;
  try {
    table = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw UsageError(
        fmt::format("cannot read clients file {}: {} (line {})", name, e.description(), e.source().begin.line));
  }
  Clients c;
  for (const auto& [top, node] : table)
    if (top.str() != "clients") throw UsageError(fmt::format("clients file {}: unknown table '{}'", name, top.str()));
  const auto* clients = table["clients"].as_table();
  if (!clients || clients->empty()) throw UsageError(fmt::format("clients file {}: no [clients.<id>] table", name));
  std::string material = "kluster-clients-v1\n";
  for (const auto& [id, node] : *clients) {
    const auto* t = node.as_table();
    const std::string who(id.str());
    if (!t) throw UsageError(fmt::format("clients file {}: clients.{} must be a table", name, who));
    Rule rule;
    for (const auto& [key, value] : *t) {
      const std::string k(key.str());
      if (k == "keys") {
        const auto* keys = value.as_array();
        if (!keys) throw UsageError(fmt::format("clients file {}: clients.{}.keys must be an array", name, who));
        for (const auto& v : *keys) {
          const auto* s = v.as_string();
          if (!s || s->get().size() < 32)
            throw UsageError(fmt::format("clients file {}: clients.{}: every key must be a string of at least 32 "
                                         "characters (make one with: openssl rand -hex 32)",
                                         name, who));
          rule.keys.push_back(s->get());
        }
      } else if (k == "access") {
        const auto* s = value.as_string();
        const std::string a = s ? s->get() : "";
        if (a == "read")
          rule.access = Rule::Access::Read;
        else if (a == "write")
          rule.access = Rule::Access::Write;
        else if (a == "admin")
          rule.access = Rule::Access::Admin;
        else
          throw UsageError(fmt::format("clients file {}: clients.{}.access must be read, write or admin", name, who));
      } else if (k == "ddl" || k == "truncate") {
        const auto* b = value.as_boolean();
        if (!b) throw UsageError(fmt::format("clients file {}: clients.{}.{} must be true or false", name, who, k));
        (k == "ddl" ? rule.ddl : rule.truncate) = b->get();
      } else {
        throw UsageError(fmt::format("clients file {}: unknown key clients.{}.{}", name, who, k));
      }
    }
    if (rule.keys.empty() || rule.keys.size() > 2)
      throw UsageError(fmt::format("clients file {}: clients.{} needs one key, or two while rotating", name, who));
    material += fmt::format("{}\n{}\n{}\n{}\n", who, accessName(rule.access), rule.ddl, rule.truncate);
    for (const auto& key : rule.keys) material += util::sha256Hex(key) + "\n";
    c.rules_.emplace(who, std::move(rule));
  }
  c.digest_ = util::sha256Hex(material);
  return c;
}

std::filesystem::path copyPath(const std::filesystem::path& file, const std::string& digest) {
  return file.string() + "." + digest.substr(0, 16);
}

bool keepCopy(const std::filesystem::path& file, const std::string& digest) {
  const auto copy = copyPath(file, digest);
  std::error_code ec;
  if (std::filesystem::exists(copy, ec)) return true;
  const auto tmp = copy.string() + ".tmp";
  std::filesystem::copy_file(file, tmp, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return false;
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  if (!ec) std::filesystem::rename(tmp, copy, ec);
  if (ec) std::filesystem::remove(tmp, ec);
  return !ec;
}

const Rule* Clients::find(const std::string& clientId) const {
  auto it = rules_.find(clientId);
  return it == rules_.end() ? nullptr : &it->second;
}

std::optional<Denial> Clients::authenticate(const Request& r, std::int64_t referenceMs, std::int64_t windowMs) const {
  const std::string hint = "sign requests with the client's key: set security.client_id and security.client_key "
                           "(or KLUSTER_CLIENT_KEY); see docs/security.md";
  const auto* rule = find(r.clientId);
  if (!r.auth) return Denial{std::string(code::Unauthenticated), "the request is not signed", hint};
  if (!rule) return Denial{std::string(code::Unauthenticated), fmt::format("unknown client id '{}'", r.clientId), hint};
  bool good = false;
  for (const auto& key : rule->keys) {
    const auto expected = signature(key, r, r.auth->signedAtMs);
    if (expected.size() == r.auth->hmac.size() &&
        CRYPTO_memcmp(expected.data(), r.auth->hmac.data(), expected.size()) == 0)
      good = true;
  }
  if (!good)
    return Denial{std::string(code::Unauthenticated),
                  fmt::format("the signature does not match any key of client '{}'", r.clientId), hint};
  if (std::llabs(r.auth->signedAtMs - referenceMs) > windowMs)
    return Denial{std::string(code::Unauthenticated),
                  fmt::format("the request was signed {} s away from when it was published, more than the {} s "
                              "allowed (a replay, or a clock out of step)",
                              (referenceMs - r.auth->signedAtMs) / 1000, windowMs / 1000),
                  "keep the clients' clocks in sync (NTP), and sign each request as it is sent"};
  return std::nullopt;
}

std::optional<Denial> authorize(const std::string& clientId, const Rule& rule, bool writes,
                                const std::vector<std::string>& statementKinds) {
  if (rule.access == Rule::Access::Read && writes)
    return Denial{std::string(code::Forbidden), fmt::format("client '{}' may only read", clientId),
                  "send reads to ONE, or give the client access = \"write\" in the clients file"};
  for (const auto& kind : statementKinds) {
    if (sql::isPlainDml(kind)) continue;
    if (!rule.ddl)
      return Denial{std::string(code::Forbidden),
                    fmt::format("client '{}' may not change the schema ({})", clientId, kind),
                    "only DML (SELECT, INSERT, UPDATE, DELETE, MERGE) is allowed to it (ddl = false)"};
    if (kind == "TruncateStmt" && !rule.truncate)
      return Denial{std::string(code::Forbidden), fmt::format("client '{}' may not TRUNCATE", clientId),
                    "truncate = false in the clients file"};
  }
  return std::nullopt;
}

} // namespace kluster::auth
