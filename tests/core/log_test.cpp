#include "core/errors.hpp"
#include "core/log.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace kluster;

TEST_CASE("log lines are text by default and one JSON object a line with --log-format json") {
  CHECK(log::formatLine(log::Format::Text, "2026-12-02T03:50:03.123Z", log::Level::Warn, "node", "slow broker") ==
        "2026-12-02T03:50:03.123Z WARN  [node] slow broker\n");
  const auto line = log::formatLine(log::Format::Json, "2026-12-02T03:50:03.123Z", log::Level::Error, "node",
                                    "bad \"quote\"\nsecond line \xff");
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1); // one line, whatever the message holds
  const auto j = nlohmann::json::parse(line);
  CHECK(j["time"] == "2026-12-02T03:50:03.123Z");
  CHECK(j["level"] == "error");
  CHECK(j["module"] == "node");
  CHECK(j["message"] == "bad \"quote\"\nsecond line \xef\xbf\xbd"); // invalid UTF-8 replaced, not dropped
  CHECK(line.rfind("{\"time\":", 0) == 0);                          // fields in a stable order
  CHECK(log::parseFormat("json") == log::Format::Json);
  CHECK(log::parseFormat("text") == log::Format::Text);
  CHECK_THROWS_AS(log::parseFormat("xml"), UsageError);
}
