// Every request and response producer is idempotent with acks=all (issue 11); settings that would weaken
// that are refused. Creating a producer connects to nothing, so no broker is needed.
#include "core/errors.hpp"
#include "core/kafka/kafka.hpp"

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>

using namespace kluster;

namespace {
std::string liveSetting(kafka::Producer& p, const char* name) {
  char buf[64];
  size_t size = sizeof buf;
  REQUIRE(rd_kafka_conf_get(rd_kafka_conf(p.handle().c_ptr()), name, buf, &size) == RD_KAFKA_CONF_OK);
  return buf;
}
} // namespace

TEST_CASE("an idempotent producer runs with enable.idempotence=true and acks=all", "[kafka][producer]") {
  kafka::Producer p(kafka::clientProperties("127.0.0.1:1", {{"linger.ms", "5"}}), true);
  CHECK(liveSetting(p, "enable.idempotence") == "true");
  CHECK(liveSetting(p, "acks") == "-1"); // librdkafka's spelling of all
  CHECK(liveSetting(p, "linger.ms") == "5");
}

TEST_CASE("user properties cannot turn idempotence or acks=all off", "[kafka][producer]") {
  CHECK_THROWS_AS(kafka::Producer(kafka::clientProperties("127.0.0.1:1", {{"enable.idempotence", "false"}}), true),
                  UsageError);
  CHECK_THROWS_AS(kafka::Producer(kafka::clientProperties("127.0.0.1:1", {{"acks", "1"}}), true), UsageError);
  kafka::Producer explicitAll(kafka::clientProperties("127.0.0.1:1", {{"acks", "all"}, {"enable.idempotence", "true"}}),
                              true);
  CHECK(liveSetting(explicitAll, "acks") == "-1");
}
