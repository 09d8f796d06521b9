// Backup and restore logic that needs no services: when ALL can replay, the target directory, the manifest's pieces.
#include "core/ops/backup.hpp"
#include "core/ops/restore.hpp"

#include "core/errors.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

using namespace kluster;
using namespace kluster::ops;
namespace fs = std::filesystem;

TEST_CASE("ALL can replay from a position while Kafka still has it") {
  const LogFacts facts{"-1", "-1", 0, 100};
  CHECK_FALSE(positionRefusal("c.ALL", "b:9092", facts, 0));
  CHECK_FALSE(positionRefusal("c.ALL", "b:9092", facts, 42));
  CHECK_FALSE(positionRefusal("c.ALL", "b:9092", facts, 100)); // caught up: nothing to replay

  SECTION("the log start moved past the position") {
    const LogFacts deleted{"-1", "-1", 50, 100};
    CHECK_FALSE(positionRefusal("c.ALL", "b:9092", deleted, 50));
    auto r = positionRefusal("c.ALL", "b:9092", deleted, 42);
    REQUIRE(r);
    CHECK_THAT(r->message, Catch::Contains("starts at offset 50") && Catch::Contains("42..49"));
    CHECK_THAT(r->hint, Catch::Contains("retention.ms=-1"));
  }
  SECTION("the position is past the log's end: another topic") {
    auto r = positionRefusal("c.ALL", "b:9092", facts, 101);
    REQUIRE(r);
    CHECK_THAT(r->message, Catch::Contains("past the end"));
  }
}

TEST_CASE("limited retention of ALL is refused with the command that fixes it") {
  CHECK_FALSE(retentionRefusal("c.ALL", "b:9092", {"-1", "-1", 0, 0}));
  auto r = retentionRefusal("c.ALL", "b:9092", {"604800000", "-1", 0, 0});
  REQUIRE(r);
  CHECK_THAT(r->message, Catch::Contains("retention.ms=604800000") && !Catch::Contains("retention.bytes"));
  CHECK_THAT(r->hint, Catch::Contains("--entity-name c.ALL") && Catch::Contains("--bootstrap-server b:9092") &&
                          Catch::Contains("retention.ms=-1,retention.bytes=-1"));
  auto bytes = retentionRefusal("c.ALL", "b:9092", {"-1", "1073741824", 0, 0});
  REQUIRE(bytes);
  CHECK_THAT(bytes->message, Catch::Contains("retention.bytes=1073741824"));
}

TEST_CASE("backups go into a new or empty directory only") {
  const auto base = fs::temp_directory_path() / fmt::format("kluster-outdir-{}-{}", ::getpid(), std::random_device{}());
  CHECK_NOTHROW(requireEmptyDirectory(base / "new"));
  fs::create_directories(base / "empty");
  CHECK_NOTHROW(requireEmptyDirectory(base / "empty"));
  std::ofstream(base / "empty" / "x") << "x";
  CHECK_THROWS_WITH(requireEmptyDirectory(base / "empty"), Catch::Contains("not empty"));
  CHECK_THROWS_WITH(requireEmptyDirectory(base / "empty" / "x"), Catch::Contains("not a directory"));
  fs::remove_all(base);
}

TEST_CASE("what a database holds is described briefly") {
  CHECK(describeContents({}, -1).empty());
  CHECK(describeContents({"public.a"}, -1) == "1 table (public.a)");
  CHECK(describeContents({"public.a", "public.b", "public.c", "s.d"}, 7) ==
        "4 tables (public.a, public.b, public.c, ...) and Kluster position 7");
  CHECK(describeContents({}, 0) == "Kluster position 0");
}

TEST_CASE("sizes are shown in binary units") {
  CHECK(formatBytes(512) == "512 B");
  CHECK(formatBytes(1536) == "1.5 KiB");
  CHECK(formatBytes(5ull * 1024 * 1024 * 1024) == "5.0 GiB");
}
