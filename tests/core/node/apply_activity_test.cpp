// ApplyActivity (node.hpp): how a speculation waits for the apply loop to run out of work (node.speculation_yield).
#include "core/node/node.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace kluster::node;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST_CASE("a speculation does not wait for an apply loop that has had nothing to apply") {
  ApplyActivity activity;
  CHECK_FALSE(activity.waitIdle(Clock::now() + 5s)); // nothing applied yet
  activity.set(true);
  activity.set(false);
  std::this_thread::sleep_for(ApplyActivity::kQuiet * 2);
  const auto started = Clock::now();
  CHECK_FALSE(activity.waitIdle(started + 5s));
  CHECK(Clock::now() - started < 1s);
}

TEST_CASE("a speculation waits while the apply loop has work, until it runs out or the yield ends") {
  ApplyActivity activity;
  activity.set(true);
  // The yield ends first: the speculation runs anyway.
  auto started = Clock::now();
  CHECK(activity.waitIdle(started + 50ms));
  CHECK(Clock::now() - started >= 50ms);

  // The apply loop runs out of work first: the speculation goes once the loop has been quiet for kQuiet.
  std::atomic<bool> released{false};
  std::thread applier([&] {
    std::this_thread::sleep_for(100ms);
    released.store(true);
    activity.set(false);
  });
  started = Clock::now();
  CHECK(activity.waitIdle(started + 30s));
  const auto waited = Clock::now() - started;
  CHECK(released.load());
  CHECK(waited >= 100ms + ApplyActivity::kQuiet);
  CHECK(waited < 10s); // not the yield's end
  applier.join();

  // Work again within kQuiet of the last batch: not a lull, the speculation keeps waiting.
  activity.set(true);
  activity.set(false);
  activity.set(true);
  started = Clock::now();
  CHECK(activity.waitIdle(started + 50ms));
  CHECK(Clock::now() - started >= 50ms);
}
