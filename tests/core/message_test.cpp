#include "core/errors.hpp"
#include "core/message.hpp"

#include <catch2/catch.hpp>

using namespace kluster;

TEST_CASE("a valid request parses with its statements, params and offsets") {
  auto p = parseRequest(
      R"({"version":1,"messageId":"m1","clientId":"c1","sqlString":"SELECT $1","params":[5],"minAllOffset":7})");
  REQUIRE(p.ok());
  CHECK(p.request.messageId == "m1");
  CHECK(p.request.statements == std::vector<std::string>{"SELECT $1"});
  CHECK(p.request.params.size() == 1);
  CHECK(*p.request.minAllOffset == 7);
  auto again = parseRequest(p.request.toJson());
  REQUIRE(again.ok());
  CHECK(again.request.params == p.request.params);
}

TEST_CASE("bad requests get stable codes, with the request id when it can be read") {
  struct Case {
    std::string payload;
    std::string_view code;
    bool hasId;
  };
  const std::vector<Case> cases = {
      {"not json", code::BadRequest, false},
      {R"([1,2])", code::BadRequest, false},
      {R"({"clientId":"c","sqlString":"SELECT 1"})", code::BadRequest, false},
      {R"({"messageId":"m","sqlString":"SELECT 1"})", code::BadRequest, true},
      {R"({"messageId":"m","clientId":"c"})", code::BadRequest, true},
      {R"({"messageId":"m","clientId":"c","sqlString":42})", code::BadRequest, true},
      {R"({"messageId":"m","clientId":"c","sqlString":"  ;  "})", code::EmptySql, true},
      {R"({"version":2,"messageId":"m","clientId":"c","sqlString":"SELECT 1"})", code::UnsupportedVersion, true},
      {R"({"messageId":"m","clientId":"c","sqlString":"SELECT 1","params":[{"a":1}]})", code::ParamMismatch, true},
      {R"({"messageId":"m","clientId":"c","sqlString":"SELECT 1","params":"x"})", code::BadRequest, true},
      {"{\"messageId\":\"m\",\"clientId\":\"c\",\"sqlString\":\"SELECT '\xff'\"}", code::InvalidUtf8, true},
      {R"({"messageId":"m","clientId":"c","sqlString":"SELECT 1","statements":["SELECT 2"]})", code::BadRequest, true},
      {R"({"messageId":"m","clientId":"c","sqlString":"SELECT 1","minAllOffset":-3})", code::BadRequest, true},
  };
  for (const auto& c : cases) {
    INFO(c.payload);
    auto p = parseRequest(c.payload);
    CHECK(p.errorCode == c.code);
    CHECK(p.hasRequestId() == c.hasId);
    CHECK_FALSE(p.errorMessage.empty());
  }
}

TEST_CASE("a request over the size limit is refused as TOO_LARGE") {
  std::string big = R"({"messageId":"m","clientId":"c","sqlString":")" + std::string(2000, 'x') + "\"}";
  auto p = parseRequest(big, 1000);
  CHECK(p.errorCode == code::TooLarge);
  CHECK(p.request.messageId == "m");
}

TEST_CASE("responses round-trip through JSON and hash their outcome, not their node") {
  Response a;
  a.nodeId = "node1";
  a.requestId = "r";
  a.requestTopic = "ALL";
  a.result = ojson::parse(R"([{"b":1,"a":2}])");
  a.rowsAffected = 1;
  a.allOffset = 12;
  Response b = a;
  b.nodeId = "node2";
  CHECK(outcomeHash(a) == outcomeHash(b));
  b.result = ojson::parse(R"([{"b":1,"a":3}])");
  CHECK(outcomeHash(a) != outcomeHash(b));

  auto back = Response::fromJson(a.toJson());
  CHECK(back.nodeId == "node1");
  CHECK(*back.allOffset == 12);
  CHECK(back.result.dump() == R"([{"b":1,"a":2}])"); // column order kept
}

TEST_CASE("a response's JSON text is what the JSON library writes, for results and errors alike") {
  Response ok;
  ok.messageId = "node1.1";
  ok.nodeId = "node1";
  ok.requestId = "r \"quoted\" \\ back\tslash\n\x01 é";
  ok.clientId = "c1";
  ok.requestTopic = "ALL";
  ok.result = ojson::parse(R"([{"id":"a","n":1.5,"note":null,"ok":true}])");
  ok.columns = ojson::parse(R"([{"name":"id","type":"text"}])");
  ok.rowsAffected = 1;
  ok.allOffset = 42;
  ok.resultHash = "abc";
  ok.timestamp = 1764140400123;
  ok.durationMs = 7;
  CHECK(ok.toJson() == ok.toOrderedJson().dump());
  CHECK(Response::fromJson(ok.toJson()).requestId == ok.requestId);

  Response err = ok;
  err.resultCode = "CONSTRAINT_VIOLATION";
  err.errorMessage = "duplicate key value violates unique constraint \"t_pkey\"";
  err.sqlState = "23505";
  err.hint = "";
  err.clientId = "";
  err.allOffset.reset();
  err.appliedAllOffset = 9;
  CHECK(err.toJson() == err.toOrderedJson().dump());
}

TEST_CASE("a traced request asks for the nodes' times, and a traced response carries them") {
  auto parsed = parseRequest(R"({"version":1,"messageId":"m","clientId":"c","sqlString":"SELECT 1","trace":true})");
  REQUIRE(parsed.ok());
  CHECK(parsed.request.trace);
  CHECK(parseRequest(parsed.request.toJson()).request.trace);
  CHECK_FALSE(parseRequest(R"({"messageId":"m","clientId":"c","sqlString":"SELECT 1"})").request.trace);
  auto bad = parseRequest(R"({"messageId":"m","clientId":"c","sqlString":"SELECT 1","trace":"yes"})");
  CHECK(bad.errorCode == "BAD_REQUEST");
  CHECK(bad.request.messageId == "m"); // still answered

  Response r;
  r.messageId = "node1.1";
  r.nodeId = "node1";
  r.requestId = "m";
  r.requestTopic = "ALL";
  r.result = ojson::parse(R"({"rowsAffected":1})");
  CHECK(r.toJson().find("trace") == std::string::npos); // only when asked for
  r.trace = Trace{1000001, 1000002, 1000303, 1000304};
  CHECK(r.toJson() == r.toOrderedJson().dump());
  auto back = Response::fromJson(r.toJson());
  REQUIRE(back.trace);
  CHECK(back.trace->fetchedUs == 1000001);
  CHECK(back.trace->startedUs == 1000002);
  CHECK(back.trace->committedUs == 1000303);
  CHECK(back.trace->producedUs == 1000304);
  Response plain = r;
  plain.trace.reset();
  CHECK(outcomeHash(back) == outcomeHash(plain)); // the times are not part of the outcome
}

TEST_CASE("a describe request carries one statement and the declared parameter types, and round-trips") {
  auto p = parseRequest(
      R"({"version":1,"messageId":"m","clientId":"c","kind":"describe","sqlString":"SELECT $1, $2","paramTypes":[23,0],"minAllOffset":4})");
  REQUIRE(p.ok());
  CHECK(p.request.describe);
  CHECK(p.request.statements == std::vector<std::string>{"SELECT $1, $2"});
  CHECK(p.request.paramTypes == std::vector<std::uint32_t>{23, 0});
  CHECK(*p.request.minAllOffset == 4);
  const auto json = nlohmann::json::parse(p.request.toJson());
  CHECK(json.at("kind") == "describe");
  CHECK(json.at("paramTypes") == nlohmann::json::array({23, 0}));
  auto again = parseRequest(p.request.toJson());
  REQUIRE(again.ok());
  CHECK(again.request.describe);
  CHECK(again.request.paramTypes == p.request.paramTypes);
  // No declared types: none written, none read.
  auto bare = parseRequest(R"({"messageId":"m","clientId":"c","kind":"describe","sqlString":"SELECT 1"})");
  REQUIRE(bare.ok());
  CHECK(bare.request.paramTypes.empty());
  CHECK(bare.request.toJson().find("paramTypes") == std::string::npos);
  // An ordinary request says nothing of describing.
  CHECK(parseRequest(R"({"messageId":"m","clientId":"c","sqlString":"SELECT 1"})").request.toJson().find("kind") ==
        std::string::npos);
}

TEST_CASE("malformed describe requests are refused as BAD_REQUEST (or EMPTY_SQL), with their id") {
  const std::string head = R"({"messageId":"m","clientId":"c","kind":"describe",)";
  const std::vector<std::pair<std::string, std::string_view>> cases = {
      {R"("statements":["SELECT 1","SELECT 2"]})", code::BadRequest},
      {R"("sqlString":"SELECT $1","params":[1]})", code::BadRequest},
      {R"("sqlString":"SELECT $1","paramTypes":"int4"})", code::BadRequest},
      {R"("sqlString":"SELECT $1","paramTypes":[-1]})", code::BadRequest},
      {R"("sqlString":"SELECT $1","paramTypes":[4294967296]})", code::BadRequest},
      {R"("sqlString":"SELECT $1","paramTypes":["23"]})", code::BadRequest},
      {R"("sqlString":"SELECT $1","paramTypes":[1.5]})", code::BadRequest},
      {R"("sqlString":" ; "})", code::EmptySql},
  };
  for (const auto& [tail, expected] : cases) {
    INFO(tail.substr(0, 80));
    auto p = parseRequest(head + tail, 1 << 20);
    CHECK(p.errorCode == expected);
    CHECK(p.request.messageId == "m");
  }
  std::string many = head + R"("sqlString":"SELECT 1","paramTypes":[0)";
  for (std::size_t i = 0; i < kMaxParams; ++i) many += ",0";
  many += "]}";
  CHECK(parseRequest(many, 1 << 20).errorCode == code::BadRequest); // one more than a statement may take
  CHECK(parseRequest(R"({"messageId":"m","clientId":"c","kind":"explain","sqlString":"SELECT 1"})").errorCode ==
        code::BadRequest);
}

TEST_CASE("a statement description round-trips through a response's result; malformed ones throw") {
  StatementDescription d;
  d.paramTypes = {23, 25, 1700};
  d.columns = {{"id", 23}, {"name", 25}, {"id", 20}};
  const auto json = d.toJson();
  CHECK(
      json.dump() ==
      R"({"paramTypes":[23,25,1700],"columns":[{"name":"id","typeOid":23},{"name":"name","typeOid":25},{"name":"id","typeOid":20}]})");
  Response r;
  r.nodeId = "node1";
  r.requestId = "m";
  r.requestTopic = "ONE";
  r.result = json;
  CHECK(StatementDescription::fromJson(Response::fromJson(r.toJson()).result) == d);
  CHECK(StatementDescription::fromJson(ojson::parse(R"({"paramTypes":[],"columns":[]})")) == StatementDescription{});
  for (const char* bad : {R"([])", R"({"paramTypes":[23]})", R"({"paramTypes":[23],"columns":{}})",
                          R"({"paramTypes":[-23],"columns":[]})", R"({"paramTypes":[],"columns":[{"name":"x"}]})",
                          R"({"paramTypes":[],"columns":[{"name":1,"typeOid":23}]})",
                          R"({"paramTypes":[],"columns":[{"name":"x","typeOid":"int4"}]})", R"({"rowsAffected":1})"}) {
    INFO(bad);
    CHECK_THROWS_AS(StatementDescription::fromJson(ojson::parse(bad)), std::invalid_argument);
  }
}
