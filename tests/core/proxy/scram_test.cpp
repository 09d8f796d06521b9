#include "core/proxy/scram.hpp"

#include <catch2/catch.hpp>

using namespace kluster::proxy::scram;

TEST_CASE("SCRAM-SHA-256: RFC 7677's example exchange, server side") {
  const auto salt = unbase64("W22ZaJ0SNY7soEsUEjb6gQ==");
  REQUIRE(salt);
  const auto verifier = Verifier::make("pencil", 4096, *salt);
  Exchange exchange(verifier, true, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
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
  Exchange wrong(Verifier::make("not pencil", 4096, *salt), true, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  REQUIRE(wrong.clientFirst("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", error));
  CHECK_FALSE(wrong.clientFinal(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      error));
  CHECK(error == "wrong password");

  // An unknown user: the exchange goes on as for a known one, then fails even with the verifier's own proof.
  Exchange unknown(Verifier::make("pencil", 4096, *salt), false, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  REQUIRE(unknown.clientFirst("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", error));
  CHECK_FALSE(unknown.clientFinal(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      error));
  Exchange binding(Verifier::make("pencil"), true);
  CHECK_FALSE(binding.clientFirst("p=tls-server-end-point,,n=,r=abc", error));
  CHECK(error.find("channel binding") != std::string::npos);
}

TEST_CASE("verifiers in PostgreSQL's format") {
  const auto v = Verifier::make("s3cret");
  const auto text = v.text();
  CHECK(text.rfind("SCRAM-SHA-256$4096:", 0) == 0);
  const auto back = Verifier::parse(text);
  REQUIRE(back);
  CHECK(back->storedKey == v.storedKey);
  CHECK(back->serverKey == v.serverKey);
  CHECK(back->salt == v.salt);
  CHECK_FALSE(Verifier::parse("md5abcdef"));
  CHECK_FALSE(Verifier::parse("SCRAM-SHA-256$x:AAAA$AAAA:AAAA"));
  // RFC 7677's StoredKey and ServerKey for "pencil", as PostgreSQL would store them.
  const auto pencil = Verifier::make("pencil", 4096, *unbase64("W22ZaJ0SNY7soEsUEjb6gQ=="));
  CHECK(pencil.text() == "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                         "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
}
