#include "core/proxy/batcher.hpp"

#include <catch2/catch.hpp>

using kluster::proxy::RequestBatcher;
using namespace std::chrono_literals;

TEST_CASE("request batching: a request waits for others only while other clients are active", "[proxy]") {
  const auto t0 = RequestBatcher::Clock::now();
  RequestBatcher b(1000us);

  SECTION("a single client never waits") {
    CHECK_FALSE(b.batch(1, t0, 0));
    b.answered(1, t0 + 2ms);
    CHECK_FALSE(b.batch(1, t0 + 2ms + 300us, 0)); // its own answer does not count
  }
  SECTION("others in flight: it waits for theirs") { CHECK(b.batch(1, t0, 3)); }
  SECTION("clients answered together: each waits for the others until the last has replied") {
    for (int id : {1, 2, 3}) b.answered(id, t0);
    CHECK(b.expected(t0) == 3);
    CHECK(b.batch(2, t0 + 100us, 0));
    CHECK(b.batch(3, t0 + 200us, 0));
    CHECK(b.expected(t0 + 200us) == 1);
    CHECK(b.batch(1, t0 + 300us, 1)); // the last, with the others' requests in flight
    CHECK(b.expected(t0 + 300us) == 0);
    CHECK_FALSE(b.batch(1, t0 + 5ms, 0));
  }
  SECTION("a client that does not reply within the window is not waited for") {
    b.answered(7, t0);
    CHECK(b.batch(1, t0 + 999us, 0));
    CHECK_FALSE(b.batch(1, t0 + 1000us, 0));
    CHECK(b.expected(t0 + 1000us) == 0);
  }
  SECTION("a client answered again before it replied is expected until the window after its last answer") {
    b.answered(7, t0);
    b.answered(7, t0 + 800us);
    CHECK(b.expected(t0 + 1000us) == 1);
    CHECK(b.batch(1, t0 + 1700us, 0));
    CHECK(b.expected(t0 + 1800us) == 0);
  }
  SECTION("many connections answered over time: only those within the window count") {
    for (int id = 0; id < 1000; ++id) b.answered(id, t0 + std::chrono::microseconds(id * 10));
    CHECK(b.expected(t0 + 9990us) == 100); // answered at 9,000 us and later
    CHECK(b.expected(t0 + 11000us) == 0);
  }
  SECTION("a closed connection is not waited for") {
    b.answered(7, t0);
    b.forget(7);
    CHECK_FALSE(b.batch(1, t0 + 10us, 0));
  }
}

TEST_CASE("request batching off (proxy.batch_window 0): every request goes at once", "[proxy]") {
  const auto t0 = RequestBatcher::Clock::now();
  RequestBatcher b(0us);
  b.answered(1, t0);
  CHECK(b.expected(t0) == 0);
  CHECK_FALSE(b.batch(2, t0, 0));
  CHECK_FALSE(b.batch(2, t0, 15));
}
