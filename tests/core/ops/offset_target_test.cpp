#include "core/errors.hpp"
#include "core/ops/offset_target.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using namespace kluster::ops;

TEST_CASE("ISO-8601 times with a zone parse to epoch milliseconds") {
  CHECK(parseTimestamp("2026-11-26T07:00:00Z") == 1795676400000);
  CHECK(parseTimestamp("2026-11-26 07:00:00Z") == 1795676400000);
  CHECK(parseTimestamp("2026-11-26T07:00Z") == 1795676400000);
  CHECK(parseTimestamp("2026-11-26T07:00:00.250Z") == 1795676400250);
  CHECK(parseTimestamp("2026-11-26T07:00:00.25Z") == 1795676400250);
  CHECK(parseTimestamp("2026-11-26T07:00:00.123456Z") == 1795676400123);
  CHECK(parseTimestamp("2026-11-26T08:00:00+01:00") == 1795676400000);
  CHECK(parseTimestamp("2026-11-26T02:30:00-0430") == 1795676400000);
  CHECK(parseTimestamp("1970-01-01T00:00:00Z") == 0);
  CHECK(parseTimestamp("@1795676400000") == 1795676400000);
}

TEST_CASE("times without a zone or with impossible fields are refused, not guessed") {
  CHECK_THROWS_AS(parseTimestamp("2026-11-26T07:00:00"), UsageError);
  CHECK_THROWS_AS(parseTimestamp("2026-02-30T07:00:00Z"), UsageError);
  CHECK_THROWS_AS(parseTimestamp("2026-13-01T07:00:00Z"), UsageError);
  CHECK_THROWS_AS(parseTimestamp("2026-11-26T24:00:00Z"), UsageError);
  CHECK_THROWS_AS(parseTimestamp("2026-11-26T07:00:00Zjunk"), UsageError);
  CHECK_THROWS_AS(parseTimestamp("yesterday"), UsageError);
  CHECK_THROWS_AS(parseTimestamp("@12ab"), UsageError);
  CHECK_THROWS_AS(parseTimestamp("2026-11-26T07:00:00+25:00"), UsageError);
  try {
    parseTimestamp("2026-11-26T07:00:00");
  } catch (const UsageError& e) {
    CHECK(std::string(e.what()).find("no zone") != std::string::npos);
  }
}

TEST_CASE("offset targets: keywords, offsets, and times in both spellings") {
  CHECK(OffsetTarget::parse("earliest").kind == OffsetTarget::Kind::Earliest);
  CHECK(OffsetTarget::parse("latest").kind == OffsetTarget::Kind::Latest);
  auto offset = OffsetTarget::parse("42");
  CHECK(offset.kind == OffsetTarget::Kind::Offset);
  CHECK(offset.value == 42);
  // 13 digits are epoch milliseconds: no log has 10^12 messages.
  auto epoch = OffsetTarget::parse("1795676400000");
  CHECK(epoch.kind == OffsetTarget::Kind::Timestamp);
  CHECK(epoch.value == 1795676400000);
  CHECK(OffsetTarget::parse("999999999999").kind == OffsetTarget::Kind::Offset);
  auto iso = OffsetTarget::parse("2026-11-26T07:00:00Z");
  CHECK(iso.kind == OffsetTarget::Kind::Timestamp);
  CHECK(iso.value == 1795676400000);
  CHECK(iso.describe() == "the first message at or after 2026-11-26T07:00:00.000Z");
  CHECK(OffsetTarget::parse("@5").value == 5);
  CHECK_THROWS_AS(OffsetTarget::parse("newest"), UsageError);
  CHECK_THROWS_AS(OffsetTarget::parse("-3"), UsageError);
  CHECK_THROWS_AS(OffsetTarget::parse(""), UsageError);
}

TEST_CASE("targets resolve against the partition's watermarks") {
  const kafka::Watermarks w{10, 50};
  int timeLookups = 0;
  auto forTime = [&](std::int64_t ms) {
    ++timeLookups;
    return ms == 1000 ? std::int64_t{20} : std::int64_t{50};
  };
  CHECK(resolveTarget(OffsetTarget::parse("earliest"), w, forTime) == 10);
  CHECK(resolveTarget(OffsetTarget::parse("latest"), w, forTime) == 50);
  CHECK(resolveTarget(OffsetTarget::parse("10"), w, forTime) == 10);
  CHECK(resolveTarget(OffsetTarget::parse("50"), w, forTime) == 50);
  CHECK(resolveTarget(OffsetTarget::parse("@1000"), w, forTime) == 20);
  CHECK(resolveTarget(OffsetTarget::parse("@2000"), w, forTime) == 50);
  CHECK(timeLookups == 2);
  CHECK_THROWS_AS(resolveTarget(OffsetTarget::parse("9"), w, forTime), UsageError);
  CHECK_THROWS_AS(resolveTarget(OffsetTarget::parse("51"), w, forTime), UsageError);
}
