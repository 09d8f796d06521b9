#include "core/db/postgres/postgres.hpp"

#include <catch2/catch.hpp>

#include <cstring>

using namespace kluster;

namespace {
ojson value(unsigned oid, const char* text) {
  return db::pgValueToJson(oid, text, static_cast<int>(std::strlen(text)));
}
} // namespace

TEST_CASE("PostgreSQL values become JSON numbers only when they fit exactly") {
  CHECK(value(23, "42") == 42);
  CHECK(value(20, "-9007199254740992") == -9007199254740992LL);
  CHECK(value(20, "9223372036854775807") == "9223372036854775807"); // past 2^53: kept as text
  CHECK(value(701, "1.5") == 1.5);
  CHECK(value(701, "NaN") == "NaN");
  CHECK(value(1700, "12.25") == 12.25);
  CHECK(value(1700, "123456789012345678.5") == "123456789012345678.5");
  CHECK(value(16, "t") == true);
  CHECK(value(16, "f") == false);
  CHECK(value(3802, R"({"a": [1, 2]})") == ojson::parse(R"({"a":[1,2]})"));
  CHECK(value(2950, "0a6c5b6e-6c1b-4f55-9d4c-3f0e9b7f0d11") == "0a6c5b6e-6c1b-4f55-9d4c-3f0e9b7f0d11");
  CHECK(value(1184, "2026-11-26 07:00:00+00") == "2026-11-26 07:00:00+00");
}
