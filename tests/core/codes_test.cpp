#include "core/codes.hpp"

#include "core/errors.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

// errors.hpp as text: the constants' names are not reflectable, so the documentation is checked against
// the source that defines them.
std::string errorsHeader() {
  // The source tree from the build (not __FILE__, which ccache's base_dir turns into a relative path).
  const auto path = std::filesystem::path(KLUSTER_SOURCE_DIR) / "src/core/errors.hpp";
  std::ifstream in(path);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string namespaceBody(const std::string& text, const std::string& name) {
  const auto start = text.find("namespace " + name + " {");
  REQUIRE(start != std::string::npos);
  const auto end = text.find("} // namespace " + name, start);
  REQUIRE(end != std::string::npos);
  return text.substr(start, end - start);
}

} // namespace

TEST_CASE("every result code in errors.hpp is documented once, with a meaning") {
  const auto body = namespaceBody(errorsHeader(), "code");
  const std::regex constant(R"re(std::string_view\s+\w+\s*=\s*"([A-Z0-9_]+)")re");
  std::set<std::string> defined;
  for (std::sregex_iterator it(body.begin(), body.end(), constant), end; it != end; ++it) defined.insert((*it)[1]);
  REQUIRE(defined.size() >= 20);
  std::set<std::string> documented;
  for (const auto& c : kluster::resultCodes()) {
    INFO(c.code);
    CHECK(documented.insert(std::string(c.code)).second);
    CHECK(!c.meaning.empty());
  }
  CHECK(documented == defined);
}

TEST_CASE("every exit code in errors.hpp is documented, ascending") {
  const auto body = namespaceBody(errorsHeader(), "exitcode");
  const std::regex constant(R"re(constexpr\s+int\s+\w+\s*=\s*(\d+))re");
  std::set<int> defined;
  for (std::sregex_iterator it(body.begin(), body.end(), constant), end; it != end; ++it)
    defined.insert(std::stoi((*it)[1]));
  std::set<int> documented;
  int previous = -1;
  for (const auto& e : kluster::exitCodes()) {
    CHECK(e.value > previous);
    previous = e.value;
    documented.insert(e.value);
    CHECK(!e.meaning.empty());
  }
  CHECK(documented == defined);
}
