#include "core/errors.hpp"
#include "core/util.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace kluster;

TEST_CASE("durations parse with units") {
  CHECK(util::parseDuration("250ms").count() == 250);
  CHECK(util::parseDuration("10s").count() == 10000);
  CHECK(util::parseDuration("2m").count() == 120000);
  CHECK(util::parseDuration("3").count() == 3000);
  CHECK(util::parseDuration("1.5s").count() == 1500);
  CHECK_THROWS_AS(util::parseDuration("soon"), UsageError);
  CHECK_THROWS_AS(util::parseDuration("5 parsecs"), UsageError);
}

TEST_CASE("uuids are unique and well-formed") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto u = util::uuid4();
    REQUIRE(u.size() == 36);
    CHECK(u[14] == '4');
    seen.insert(u);
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("the response partition of a client is stable and documented") {
  CHECK(util::fnv1a("") == 2166136261u);
  CHECK(util::responsePartition("client-a", 6) == static_cast<int>(util::fnv1a("client-a") % 6));
  CHECK(util::responsePartition("anything", 1) == 0);
}

TEST_CASE("UTF-8 validation rejects malformed sequences") {
  CHECK(util::validUtf8("plain"));
  CHECK(util::validUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(util::validUtf8("\xff"));
  CHECK_FALSE(util::validUtf8("\xc3"));
  CHECK_FALSE(util::validUtf8("\xc0\xaf"));     // overlong
  CHECK_FALSE(util::validUtf8("\xed\xa0\x80")); // surrogate
}

TEST_CASE("sha256 matches the standard test vector") {
  CHECK(util::sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
