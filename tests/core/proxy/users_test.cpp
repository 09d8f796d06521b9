#include "core/proxy/users.hpp"

#include "core/errors.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>

using namespace kluster::proxy;

TEST_CASE("a users file of mode 600, written whole by set()") {
  const auto v = scram::Verifier::make("s3cret");

  const auto file = std::filesystem::temp_directory_path() / ("kluster-users-" + std::to_string(::getpid()));
  std::filesystem::remove(file);
  Users::set(file, "app", v);
  Users::set(file, "bob", scram::Verifier::make("other"));
  Users::set(file, "app", scram::Verifier::make("changed"));
  const auto users = Users::load(file);
  CHECK(users.size() == 2);
  REQUIRE(users.find("app"));
  CHECK(users.find("app")->storedKey != v.storedKey);
  CHECK(users.find("nobody") == nullptr);
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::group_read) ==
        std::filesystem::perms::none);
  std::filesystem::permissions(file, std::filesystem::perms::others_read, std::filesystem::perm_options::add);
  CHECK_THROWS_AS(Users::load(file), kluster::UsageError);
  for (const auto& e : std::filesystem::directory_iterator(file.parent_path())) // no temporary file left behind
    CHECK(e.path().filename().string().rfind(file.filename().string() + ".", 0) != 0);
  CHECK_THROWS_AS(Users::set(file, "a:b", v), kluster::UsageError);
  CHECK_THROWS_AS(Users::set(file, "", v), kluster::UsageError);
  std::filesystem::remove(file);
  CHECK_THROWS_AS(Users::parse("app:plain-password\n", "bad"), kluster::UsageError);
}

TEST_CASE("an unknown user's made-up verifier is the same at every attempt and across loads") {
  const auto text = "# comment\napp:" + scram::Verifier::make("pw", 4096).text() +
                    "\nbob:" + scram::Verifier::make("pw2", 8192).text() +
                    "\ncarol:" + scram::Verifier::make("pw3", 8192).text() + "\n";
  const auto users = Users::parse(text, "test");
  const auto again = Users::parse(text, "test");
  CHECK(users.size() == 3);
  const auto m1 = users.mock("mallory"), m2 = users.mock("mallory"), m3 = again.mock("mallory");
  CHECK(m1.salt == m2.salt);
  CHECK(m1.salt == m3.salt); // derived from the file, not from this process
  CHECK(m1.salt.size() == 16);
  CHECK(m1.iterations == 8192); // as most users have
  CHECK(users.mock("eve").salt != m1.salt);
  // Another file (other secret keys) gives other salts.
  const auto other = Users::parse("app:" + scram::Verifier::make("pw", 4096).text() + "\n", "test");
  CHECK(other.mock("mallory").salt != m1.salt);
}
