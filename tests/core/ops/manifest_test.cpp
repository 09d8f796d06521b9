#include "core/ops/manifest.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

using namespace kluster;
using namespace kluster::ops;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system's temp dir, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / fmt::format("kluster-manifest-{}-{}", ::getpid(), std::random_device{}());
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void writeFile(const fs::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

Manifest sample() {
  Manifest m;
  m.cluster = "prod";
  m.node = "node1";
  m.allOffset = 41;
  m.messageId = "c1.42";
  m.timeMs = 1790000000123;
  m.durationMs = 1500;
  m.serverVersion = "15.18";
  m.serverMajor = 15;
  m.database = "kluster";
  m.encoding = "UTF8";
  m.collation = "C.UTF-8";
  m.ctype = "C.UTF-8";
  m.databaseBytes = 7654321;
  m.toolVersion = "pg_dump (PostgreSQL) 15.18";
  m.klusterctlVersion = "0.1.0";
  m.files.push_back({kDumpFile, 3, "abc"});
  return m;
}

} // namespace

TEST_CASE("SHA-256 fed in pieces equals the digest of the whole") {
  CHECK(Sha256().finish() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>(i * 7);
  Sha256 sha;
  for (std::size_t at = 0; at < data.size(); at += 4093)
    sha.update(data.data() + at, std::min<std::size_t>(4093, data.size() - at));
  CHECK(sha.finish() == util::sha256Hex(data));
}

TEST_CASE("hashFile reports a file's size and SHA-256") {
  TempDir dir;
  std::string content(3 * 1024 * 1024 + 17, 'x'); // more than one read chunk
  writeFile(dir.path / "f", content);
  auto e = hashFile(dir.path / "f");
  CHECK(e.name == "f");
  CHECK(e.bytes == content.size());
  CHECK(e.sha256 == util::sha256Hex(content));
  CHECK_THROWS_AS(hashFile(dir.path / "missing"), UsageError);
}

TEST_CASE("a manifest survives JSON and says where replay resumes") {
  const auto m = sample();
  const auto j = m.toJson();
  CHECK(j["allOffset"] == 41);
  CHECK(j["replayFrom"] == 42);
  CHECK(j["time"] == "2026-09-21T14:13:20.123Z");
  CHECK(j["server"]["version"] == "15.18");
  CHECK(j["files"][0]["sha256"] == "abc");
  CHECK(j["totalBytes"] == 3);
  const auto back = Manifest::fromJson(j);
  CHECK(back.toJson() == j);
  CHECK(back.replayFrom() == 42);
}

TEST_CASE("a manifest this version cannot trust is refused") {
  auto j = sample().toJson();
  SECTION("newer format") {
    j["formatVersion"] = kManifestVersion + 1;
    CHECK_THROWS_WITH(Manifest::fromJson(j), Catch::Contains("newer"));
  }
  SECTION("a file outside the backup directory") {
    j["files"][0]["name"] = "../etc/passwd";
    CHECK_THROWS_AS(Manifest::fromJson(j), UsageError);
  }
  SECTION("a missing field") {
    j.erase("allOffset");
    CHECK_THROWS_WITH(Manifest::fromJson(j), Catch::Contains("malformed"));
  }
  SECTION("not a Kluster manifest") {
    j["kind"] = "something-else";
    CHECK_THROWS_AS(Manifest::fromJson(j), UsageError);
  }
  SECTION("no files") {
    j["files"] = ojson::array();
    CHECK_THROWS_AS(Manifest::fromJson(j), UsageError);
  }
}

TEST_CASE("manifests are written whole and read back") {
  TempDir dir;
  auto m = sample();
  writeManifest(dir.path, m);
  CHECK(fs::exists(dir.path / kManifestFile));
  CHECK_FALSE(fs::exists(dir.path / (std::string(kManifestFile) + ".tmp")));
  CHECK(readManifest(dir.path).toJson() == m.toJson());

  TempDir empty;
  CHECK_THROWS_WITH(readManifest(empty.path), Catch::Contains("not a complete backup"));
  writeFile(empty.path / kManifestFile, "{ not json");
  CHECK_THROWS_WITH(readManifest(empty.path), Catch::Contains("not valid JSON"));
}

TEST_CASE("verifyFiles finds missing, truncated and altered files") {
  TempDir dir;
  writeFile(dir.path / kDumpFile, "the dump contents");
  auto m = sample();
  m.files = {hashFile(dir.path / kDumpFile)};
  CHECK(verifyFiles(dir.path, m).empty());

  SECTION("one byte changed, same size") {
    writeFile(dir.path / kDumpFile, "the dump cOntents");
    auto problems = verifyFiles(dir.path, m);
    REQUIRE(problems.size() == 1);
    CHECK_THAT(problems[0], Catch::Contains("SHA-256") && Catch::Contains(kDumpFile));
  }
  SECTION("truncated") {
    writeFile(dir.path / kDumpFile, "the dump");
    auto problems = verifyFiles(dir.path, m);
    REQUIRE(problems.size() == 1);
    CHECK_THAT(problems[0], Catch::Contains("8 bytes"));
  }
  SECTION("deleted") {
    fs::remove(dir.path / kDumpFile);
    auto problems = verifyFiles(dir.path, m);
    REQUIRE(problems.size() == 1);
    CHECK_THAT(problems[0], Catch::Contains("missing"));
  }
}
