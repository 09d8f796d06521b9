#include "core/errors.hpp"
#include "core/proxy/scram.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

using namespace kluster::proxy::scram;

TEST_CASE("SCRAM-SHA-256: RFC 7677's example exchange, server side") {
  const auto salt = unbase64("W22ZaJ0SNY7soEsUEjb6gQ==");
  REQUIRE(salt);
  const auto verifier = Verifier::make("pencil", 4096, *salt);
  Exchange exchange(verifier, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  std::string error;
  const auto first = exchange.clientFirst("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", error);
  REQUIRE(first);
  CHECK(*first == "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  const auto final = exchange.clientFinal(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      error);
  INFO(error);
  REQUIRE(final);
  CHECK(*final == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

TEST_CASE("SCRAM-SHA-256: a wrong proof, an unknown user and channel binding fail") {
  const auto salt = unbase64("W22ZaJ0SNY7soEsUEjb6gQ==");
  std::string error;
  Exchange wrong(Verifier::make("not pencil", 4096, *salt), "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  REQUIRE(wrong.clientFirst("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", error));
  CHECK_FALSE(wrong.clientFinal(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      error));
  CHECK(error == "wrong password");

  Exchange unknown(std::nullopt);
  CHECK(unknown.clientFirst("n,,n=,r=abc", error)); // goes on as for a known user, then fails
  Exchange binding(std::nullopt);
  CHECK_FALSE(binding.clientFirst("p=tls-server-end-point,,n=,r=abc", error));
  CHECK(error.find("channel binding") != std::string::npos);
}

TEST_CASE("verifiers in PostgreSQL's format, in a users file of mode 600") {
  const auto v = Verifier::make("s3cret");
  const auto text = v.text();
  CHECK(text.rfind("SCRAM-SHA-256$4096:", 0) == 0);
  const auto back = Verifier::parse(text);
  REQUIRE(back);
  CHECK(back->storedKey == v.storedKey);
  CHECK(back->serverKey == v.serverKey);
  CHECK_FALSE(Verifier::parse("md5abcdef"));
  CHECK_FALSE(Verifier::parse("SCRAM-SHA-256$x:AAAA$AAAA:AAAA"));

  const auto file = std::filesystem::temp_directory_path() / ("kluster-users-" + std::to_string(::getpid()));
  std::filesystem::remove(file);
  Users::set(file, "app", v);
  Users::set(file, "bob", Verifier::make("other"));
  Users::set(file, "app", Verifier::make("changed"));
  const auto users = Users::load(file);
  CHECK(users.size() == 2);
  REQUIRE(users.find("app"));
  CHECK(users.find("app")->storedKey != v.storedKey);
  CHECK(users.find("nobody") == nullptr);
  CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::group_read) ==
        std::filesystem::perms::none);
  std::filesystem::permissions(file, std::filesystem::perms::others_read, std::filesystem::perm_options::add);
  CHECK_THROWS_AS(Users::load(file), kluster::UsageError);
  std::filesystem::remove(file);
  CHECK_THROWS_AS(Users::parse("app:plain-password\n", "bad"), kluster::UsageError);
}
