#include "core/proxy/scram.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <vector>

namespace kluster::proxy::scram {
namespace {

// The attributes of a SCRAM message ("a=value,b=value"), in order.
std::vector<std::pair<char, std::string>> attributes(std::string_view message) {
  std::vector<std::pair<char, std::string>> out;
  std::size_t i = 0;
  while (i <= message.size()) {
    auto comma = message.find(',', i);
    if (comma == std::string_view::npos) comma = message.size();
    const auto part = message.substr(i, comma - i);
    if (part.size() >= 2 && part[1] == '=')
      out.emplace_back(part[0], std::string(part.substr(2)));
    else
      out.emplace_back('\0', std::string(part));
    i = comma + 1;
  }
  return out;
}

} // namespace

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string randomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw KlusterError(code::NodeError, "no random bytes from OpenSSL");
  return out;
}

std::string base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --len; // EVP_DecodeBlock counts padding
  out.resize(len);
  return out;
}

std::string Verifier::text() const {
  return fmt::format("SCRAM-SHA-256${}:{}${}:{}", iterations, base64(salt), base64(storedKey), base64(serverKey));
}

std::optional<Verifier> Verifier::parse(std::string_view text) {
  constexpr std::string_view prefix = "SCRAM-SHA-256$";
  if (text.substr(0, prefix.size()) != prefix) return std::nullopt;
  text.remove_prefix(prefix.size());
  const auto colon1 = text.find(':'), dollar = text.find('$'), colon2 = text.rfind(':');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || colon2 <= dollar || colon1 > dollar)
    return std::nullopt;
  Verifier v;
  try {
    v.iterations = std::stoi(std::string(text.substr(0, colon1)));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  auto salt = unbase64(text.substr(colon1 + 1, dollar - colon1 - 1));
  auto stored = unbase64(text.substr(dollar + 1, colon2 - dollar - 1));
  auto server = unbase64(text.substr(colon2 + 1));
  if (v.iterations < 1 || !salt || salt->empty() || !stored || stored->size() != 32 || !server || server->size() != 32)
    return std::nullopt;
  v.salt = *salt;
  v.storedKey = *stored;
  v.serverKey = *server;
  return v;
}

Verifier Verifier::make(std::string_view password, int iterations, std::optional<std::string> salt) {
  Verifier v;
  v.iterations = iterations;
  v.salt = salt ? *salt : randomBytes(16);
  unsigned char salted[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(v.salt.data()), static_cast<int>(v.salt.size()), iterations,
                    EVP_sha256(), sizeof salted, salted);
  const std::string_view saltedPassword(reinterpret_cast<const char*>(salted), sizeof salted);
  v.storedKey = sha256(hmac(saltedPassword, "Client Key"));
  v.serverKey = hmac(saltedPassword, "Server Key");
  return v;
}

Exchange::Exchange(Verifier verifier, bool known, std::string serverNonce)
    : verifier_(std::move(verifier)), known_(known), serverNonce_(std::move(serverNonce)) {
  if (serverNonce_.empty()) serverNonce_ = base64(randomBytes(18));
}

std::optional<std::string> Exchange::clientFirst(std::string_view message, std::string& error) {
  // gs2-header: "n,," (no channel binding) or "y,," (the client could bind but thinks we cannot); "p=" asks
  // for channel binding, which this server does not offer.
  if (message.substr(0, 3) != "n,," && message.substr(0, 3) != "y,,") {
    error = message.substr(0, 2) == "p=" ? "channel binding is not supported: connect with channel_binding=disable"
                                         : "malformed SCRAM client-first-message";
    return std::nullopt;
  }
  clientFirstBare_ = std::string(message.substr(3));
  std::string clientNonce;
  for (const auto& [k, v] : attributes(clientFirstBare_))
    if (k == 'r')
      clientNonce = v;
    else if (k == 'm') {
      error = "SCRAM extensions are not supported";
      return std::nullopt;
    }
  if (clientNonce.empty()) {
    error = "malformed SCRAM client-first-message: no nonce";
    return std::nullopt;
  }
  nonce_ = clientNonce + serverNonce_;
  serverFirst_ = fmt::format("r={},s={},i={}", nonce_, base64(verifier_.salt), verifier_.iterations);
  return serverFirst_;
}

std::optional<std::string> Exchange::clientFinal(std::string_view message, std::string& error) {
  const auto proofAt = message.rfind(",p=");
  if (serverFirst_.empty() || proofAt == std::string_view::npos) {
    error = "malformed SCRAM client-final-message";
    return std::nullopt;
  }
  const auto withoutProof = message.substr(0, proofAt);
  std::string binding, nonce;
  for (const auto& [k, v] : attributes(withoutProof))
    if (k == 'c')
      binding = v;
    else if (k == 'r')
      nonce = v;
  const auto proof = unbase64(message.substr(proofAt + 3));
  if (nonce != nonce_ || (binding != "biws" && binding != "eSws") || !proof || proof->size() != 32) {
    error = "malformed SCRAM client-final-message (nonce, channel binding or proof)";
    return std::nullopt;
  }
  const auto authMessage = clientFirstBare_ + "," + serverFirst_ + "," + std::string(withoutProof);
  const auto clientSignature = hmac(verifier_.storedKey, authMessage);
  std::string clientKey(32, '\0');
  for (std::size_t i = 0; i < 32; ++i) clientKey[i] = static_cast<char>((*proof)[i] ^ clientSignature[i]);
  const auto stored = sha256(clientKey);
  if (!known_ || CRYPTO_memcmp(stored.data(), verifier_.storedKey.data(), 32) != 0) {
    error = "wrong password";
    return std::nullopt;
  }
  return "v=" + base64(hmac(verifier_.serverKey, authMessage));
}

} // namespace kluster::proxy::scram
