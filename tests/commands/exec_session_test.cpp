// exec's routing rule (--to auto) and its read-your-writes session file (--session).
#include "commands/exec_session.hpp"
#include "core/errors.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace kluster;
using client::Target;
using commands::chooseTarget;
using commands::SessionFile;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("kluster-session-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST_CASE("--to auto sends provable reads to ONE and everything else to ALL") {
  CHECK(chooseTarget("auto", {"SELECT 1"}) == Target::One);
  CHECK(chooseTarget("auto", {"WITH x AS (SELECT 1 AS a) SELECT a FROM x"}) == Target::One);
  CHECK(chooseTarget("auto", {"EXPLAIN SELECT * FROM t"}) == Target::One);
  CHECK(chooseTarget("auto", {"SHOW search_path"}) == Target::One);
  CHECK(chooseTarget("auto", {"SELECT * FROM t FOR UPDATE"}) == Target::All);
  CHECK(chooseTarget("auto", {"SELECT * FROM t FOR SHARE"}) == Target::All);
  CHECK(chooseTarget("auto", {"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"}) == Target::All);
  CHECK(chooseTarget("auto", {"SELECT * INTO copy FROM t"}) == Target::All);
  CHECK(chooseTarget("auto", {"EXPLAIN ANALYZE INSERT INTO t VALUES (1)"}) == Target::All);
  CHECK(chooseTarget("auto", {"INSERT INTO t VALUES (1)"}) == Target::All);
  CHECK(chooseTarget("auto", {"CREATE TABLE t (id int)"}) == Target::All);
  CHECK(chooseTarget("auto", {"SELECT 1; UPDATE t SET n = 1"}) == Target::All);
  CHECK(chooseTarget("auto", {"SELEC garbage"}) == Target::All);           // every node answers the same SYNTAX_ERROR
  CHECK(chooseTarget("ONE", {"INSERT INTO t VALUES (1)"}) == Target::One); // explicit: the node refuses it
  CHECK(chooseTarget("all", {"SELECT 1"}) == Target::All);
  CHECK_THROWS_AS(chooseTarget("some", {"SELECT 1"}), UsageError);
}

TEST_CASE("a session file is created when missing and keeps the highest ALL offset per cluster") {
  TempDir dir;
  const auto path = (dir.path / "s.json").string();
  {
    SessionFile s(path, "c1");
    CHECK_FALSE(s.allOffset());
    REQUIRE(fs::exists(path)); // created at once
    s.record(41);
    s.record(17); // lower: kept at 41
    CHECK(s.allOffset() == 41);
  }
  auto j = nlohmann::json::parse(slurp(path));
  CHECK(j["version"] == 1);
  CHECK(j["allOffsets"]["c1"] == 41);
  SessionFile again(path, "c1");
  CHECK(again.allOffset() == 41);
  SessionFile other(path, "c2"); // another cluster's offsets are unrelated
  CHECK_FALSE(other.allOffset());
  other.record(3);
  CHECK(SessionFile(path, "c1").allOffset() == 41);
  CHECK(SessionFile(path, "c2").allOffset() == 3);
  // Nothing is left beside it by the atomic rename.
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);
}

TEST_CASE("a higher offset written by another process meanwhile is kept") {
  TempDir dir;
  const auto path = (dir.path / "s.json").string();
  SessionFile mine(path, "c");
  mine.record(5);
  SessionFile(path, "c").record(50); // another invocation of the same script
  mine.record(10);
  CHECK(mine.allOffset() == 50);
  CHECK(SessionFile(path, "c").allOffset() == 50);
}

TEST_CASE("an empty file is an empty session, and a foreign file is refused") {
  TempDir dir;
  const auto empty = (dir.path / "empty").string();
  std::ofstream(empty).close(); // as from mktemp
  SessionFile s(empty, "c");
  CHECK_FALSE(s.allOffset());
  s.record(2);
  CHECK(SessionFile(empty, "c").allOffset() == 2);

  const auto foreign = (dir.path / "notes.txt").string();
  std::ofstream(foreign) << "my notes\n";
  CHECK_THROWS_AS(SessionFile(foreign, "c"), UsageError);
  CHECK(slurp(foreign) == "my notes\n"); // left alone

  CHECK_THROWS_AS(SessionFile((dir.path / "no" / "such" / "dir").string(), "c"), UsageError);
}
