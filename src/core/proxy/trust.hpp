#pragma once
// proxy.trust: the addresses and networks whose clients connect without a password (PostgreSQL's `trust`
// lines of pg_hba.conf, in one setting). Every other client authenticates with SCRAM-SHA-256.
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::proxy {

class TrustList {
public:
  /// Comma-separated addresses and CIDR networks, e.g. "127.0.0.1/32, ::1/128, 10.0.0.0/8"; an address alone is
  /// one host. Empty (or "none") trusts nobody. Throws UsageError naming the entry it cannot read.
  static TrustList parse(std::string_view text);
  /// `address` as text (asio's to_string of the peer). An IPv4 client seen on an IPv6 socket (::ffff:a.b.c.d)
  /// matches IPv4 entries. An unreadable address is not trusted.
  bool contains(const std::string& address) const;
  bool empty() const { return networks_.empty(); }
  /// The list in canonical form ("127.0.0.1/32,::1/128"; empty when it trusts nobody), for logs.
  std::string text() const;

private:
  struct Network {
    bool v6 = false;
    std::array<unsigned char, 16> bytes{}; // the network's address, host bits cleared (v4: the first 4)
    unsigned prefix = 0;
  };
  std::vector<Network> networks_;
};

} // namespace kluster::proxy
