#include "commands/progress.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

using namespace kluster::commands;

TEST_CASE("progress numbers read as people write them") {
  CHECK(withThousands(0) == "0");
  CHECK(withThousands(999) == "999");
  CHECK(withThousands(40000) == "40,000");
  CHECK(withThousands(1234567) == "1,234,567");
  CHECK(withThousands(-120000) == "-120,000");
  CHECK(shortDuration(3.2) == "3s");
  CHECK(shortDuration(125) == "2m05s");
  CHECK(shortDuration(7260) == "2h01m");
}

TEST_CASE("progress lines are shown only when standard error is a terminal") {
  // ctest runs the tests with stderr on a pipe: nothing may be written there.
  Progress p("test");
  CHECK(p.enabled() == (isatty(STDERR_FILENO) != 0));
  p.count("applied", 10, 100); // a no-op, and no crash
  p.clear();
}
