#include "core/auth.hpp"
#include "core/errors.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace kluster;

namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";
const std::string kOldKey = "fedcba9876543210fedcba9876543210";

const char* kFile = R"(
[clients.app]
keys = ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"]
access = "write"
ddl = false

[clients.reports]
keys = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
access = "read"

[clients.ops]
keys = ["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]
access = "admin"
)";

Request request() {
  Request r;
  r.messageId = "app.1";
  r.clientId = "app";
  r.statements = {"INSERT INTO t VALUES ($1, $2)"};
  r.params = nlohmann::json::array({1, "x"});
  r.timeoutMs = 5000;
  return r;
}

} // namespace

TEST_CASE("a signed request survives the trip through JSON and checks out; any change breaks it") {
  const auto clients = auth::Clients::parse(kFile, "clients.toml");
  auto r = request();
  auth::sign(r, kKey, 1'000'000);
  auto parsed = parseRequest(r.toJson());
  REQUIRE(parsed.ok());
  CHECK_FALSE(clients.authenticate(parsed.request, 1'000'000, auth::kWindowMs));

  // The second key (rotation) signs too.
  auto rotated = request();
  auth::sign(rotated, kOldKey, 1'000'000);
  CHECK_FALSE(clients.authenticate(parseRequest(rotated.toJson()).request, 1'000'000, auth::kWindowMs));

  auto tampered = parsed.request;
  tampered.statements = {"DROP TABLE t"};
  auto d = clients.authenticate(tampered, 1'000'000, auth::kWindowMs);
  REQUIRE(d);
  CHECK(d->code == "UNAUTHENTICATED");
  tampered = parsed.request;
  tampered.params[1] = "y";
  CHECK(clients.authenticate(tampered, 1'000'000, auth::kWindowMs));
  tampered = parsed.request;
  tampered.clientId = "ops"; // another client's id with this client's signature
  CHECK(clients.authenticate(tampered, 1'000'000, auth::kWindowMs));

  auto unsigned_ = request();
  CHECK(clients.authenticate(unsigned_, 1'000'000, auth::kWindowMs)->message == "the request is not signed");
  auto unknown = request();
  unknown.clientId = "stranger";
  auth::sign(unknown, kKey, 1'000'000);
  CHECK(clients.authenticate(unknown, 1'000'000, auth::kWindowMs)->message.find("unknown client id") !=
        std::string::npos);
  // Signed long before it was published: a replay.
  auto old = clients.authenticate(parsed.request, 1'000'000 + auth::kWindowMs + 1, auth::kWindowMs);
  REQUIRE(old);
  CHECK(old->message.find("replay") != std::string::npos);
}

TEST_CASE("permissions come from the parse tree's statement kinds") {
  const auto clients = auth::Clients::parse(kFile, "clients.toml");
  const auto* app = clients.find("app");
  const auto* reports = clients.find("reports");
  const auto* ops = clients.find("ops");
  REQUIRE((app && reports && ops));
  CHECK_FALSE(auth::authorize("app", *app, true, {"InsertStmt", "UpdateStmt"}));
  CHECK(auth::authorize("app", *app, true, {"DropStmt"})->code == "FORBIDDEN");
  CHECK(auth::authorize("app", *app, true, {"InsertStmt", "TruncateStmt"})->code == "FORBIDDEN");
  CHECK_FALSE(auth::authorize("reports", *reports, false, {"SelectStmt"}));
  CHECK(auth::authorize("reports", *reports, true, {"InsertStmt"})->message == "client 'reports' may only read");
  CHECK_FALSE(auth::authorize("ops", *ops, true, {"CreateStmt", "TruncateStmt"}));
}

TEST_CASE("a clients file's digest ignores layout, and covers keys and permissions") {
  const auto a = auth::Clients::parse(kFile, "a.toml");
  std::string reordered = std::string("# the same clients, another order\n") +
                          "[clients.ops]\naccess = \"admin\"\nkeys = [\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"]\n" +
                          "[clients.reports]\nkeys = [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]\naccess = \"read\"\n" +
                          "[clients.app]\nddl = false\naccess = \"write\"\nkeys = [\"" + kKey + "\", \"" + kOldKey +
                          "\"]\n";
  CHECK(auth::Clients::parse(reordered, "b.toml").digest() == a.digest());
  std::string moreRights = kFile;
  moreRights.replace(moreRights.find("ddl = false"), 11, "ddl = true");
  CHECK(auth::Clients::parse(moreRights, "c.toml").digest() != a.digest());
  CHECK(a.digest().size() == 64);

  CHECK_THROWS_AS(auth::Clients::parse("[clients.x]\nkeys = [\"short\"]\n", "d.toml"), UsageError);
  CHECK_THROWS_AS(auth::Clients::parse("[clients.x]\nkeys = [\"" + kKey + "\"]\naccess = \"root\"\n", "e.toml"),
                  UsageError);
  CHECK_THROWS_AS(auth::Clients::parse("[clients.x]\nkey = [\"" + kKey + "\"]\n", "f.toml"), UsageError);

  // Keys are secrets: a file others may read is refused.
  const auto path = std::filesystem::temp_directory_path() / ("kluster-clients-" + std::to_string(::getpid()));
  std::ofstream(path) << kFile;
  ::chmod(path.c_str(), 0644);
  CHECK_THROWS_WITH(auth::Clients::load(path), Catch::Contains("chmod 600"));
  ::chmod(path.c_str(), 0600);
  CHECK(auth::Clients::load(path).digest() == a.digest());
  std::filesystem::remove(path);
}
