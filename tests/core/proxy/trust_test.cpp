#include "core/proxy/trust.hpp"

#include "core/errors.hpp"

#include <catch2/catch.hpp>

using kluster::proxy::TrustList;

TEST_CASE("proxy.trust: addresses and CIDR networks, IPv4 and IPv6") {
  const auto def = TrustList::parse("127.0.0.1/32,::1/128");
  CHECK(def.contains("127.0.0.1"));
  CHECK(def.contains("::1"));
  CHECK(def.contains("::ffff:127.0.0.1")); // an IPv4 client on a dual-stack socket
  CHECK_FALSE(def.contains("127.0.0.2"));
  CHECK_FALSE(def.contains("10.0.0.1"));
  CHECK_FALSE(def.contains("::2"));
  CHECK_FALSE(def.contains("not an address"));
  CHECK(def.text() == "127.0.0.1/32,::1/128");

  const auto nets = TrustList::parse(" 10.0.0.0/8 , 192.168.1.7, fd00::/8,172.16.5.9/12 ");
  CHECK(nets.contains("10.255.0.3"));
  CHECK_FALSE(nets.contains("11.0.0.1"));
  CHECK(nets.contains("192.168.1.7"));
  CHECK_FALSE(nets.contains("192.168.1.8"));
  CHECK(nets.contains("fd12:3456::1"));
  CHECK_FALSE(nets.contains("fe80::1"));
  CHECK(nets.contains("172.31.0.1")); // host bits of an entry are ignored, as pg_hba.conf does
  CHECK_FALSE(nets.contains("172.32.0.1"));
  CHECK(nets.text() == "10.0.0.0/8,192.168.1.7/32,fd00::/8,172.16.0.0/12");
  CHECK(TrustList::parse("0.0.0.0/0").contains("203.0.113.9"));
  CHECK_FALSE(TrustList::parse("0.0.0.0/0").contains("2001:db8::1"));

  CHECK(TrustList::parse("").empty());
  CHECK(TrustList::parse("none").empty());
  CHECK_FALSE(TrustList::parse("").contains("127.0.0.1"));
}

TEST_CASE("proxy.trust: an entry it cannot read is a usage error") {
  for (const char* bad : {"localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/x", "1.2.3", "10.0.0.0/8/8"})
    CHECK_THROWS_AS(TrustList::parse(bad), kluster::UsageError);
}
