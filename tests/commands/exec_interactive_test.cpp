// The interactive prompt's meta-commands (its line assembly: tests/core/sql/statement_buffer_test.cpp; the prompt
// itself runs in client_test).
#include "commands/exec_interactive.hpp"

#include <catch2/catch.hpp>

using namespace kluster;
using commands::applyMeta;
using commands::PromptState;
using Strings = std::vector<std::string>;

TEST_CASE("meta-commands change how the next statements are sent") {
  PromptState s;
  CHECK(applyMeta("\\to ONE", s).message == "Statements go to ONE.");
  CHECK(s.settings.to == "ONE");
  CHECK(applyMeta("\\to bogus", s).error);
  CHECK(s.settings.to == "ONE");
  CHECK_FALSE(applyMeta("\\wait quorum", s).error);
  CHECK(s.settings.wait.kind == client::WaitPolicy::Kind::Quorum);
  CHECK_FALSE(applyMeta("\\wait 2", s).error);
  CHECK(s.settings.wait.kind == client::WaitPolicy::Kind::Count);
  CHECK(s.settings.wait.count == 2);
  CHECK(applyMeta("\\wait 0", s).error);
  CHECK_FALSE(applyMeta("\\o csv", s).error);
  CHECK(s.settings.format == commands::Format::Csv);
  CHECK(applyMeta("\\o xml", s).error);
  CHECK(s.settings.format == commands::Format::Csv);
  CHECK(applyMeta("\\o", s).message == "Output format is csv.");
  CHECK_FALSE(applyMeta("\\timeout 1500ms", s).error);
  CHECK(s.settings.timeout == std::chrono::milliseconds(1500));
  CHECK(applyMeta("\\timeout 0s", s).error);
  CHECK(applyMeta("\\timing", s).message == "Timing is on.");
  CHECK(s.timing);
  CHECK(applyMeta("\\timing", s).message == "Timing is off.");
  CHECK(applyMeta("\\timing on", s).message == "Timing is on.");
  CHECK(applyMeta("\\q", s).quit);
  CHECK(applyMeta("\\r", s).reset);
  CHECK(applyMeta("\\?", s).message.find("\\wait first|all|quorum|N") != std::string::npos);
  auto unknown = applyMeta("\\dt", s);
  CHECK(unknown.error);
  CHECK(unknown.message.find("\\?") != std::string::npos);
  CHECK(applyMeta("\\to ONE ALL", s).error);
}
