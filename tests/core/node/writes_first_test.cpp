// Writes first (writes_first.hpp): how a speculation waits for the apply loop to run out of work
// (node.speculation_yield, ApplyActivity) and for its node's speculation budget (node.speculation_budget).
#include "core/node/writes_first.hpp"

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

TEST_CASE("writes flow while the apply loop applies writes other than transactions' commits, and for kFlowing "
          "after") {
  ApplyActivity activity;
  CHECK_FALSE(activity.flowing(Clock::now())); // nothing applied yet
  activity.set(true);
  activity.writes(true);
  CHECK(activity.flowing(Clock::now() + 1h)); // applying writes: flowing however long the batch takes
  activity.set(false);                        // out of work
  auto now = Clock::now();
  CHECK(activity.flowing(now));
  CHECK(activity.flowing(now + ApplyActivity::kFlowing / 2));
  CHECK_FALSE(activity.flowing(now + ApplyActivity::kFlowing + 1ms));

  // Batches of commits only: the writes stop flowing at the first, however busy the apply loop stays.
  activity.set(true);
  activity.writes(true);
  activity.writes(false);
  now = Clock::now();
  CHECK(activity.flowing(now));
  CHECK_FALSE(activity.flowing(now + ApplyActivity::kFlowing + 1ms));
  activity.writes(false);
  CHECK_FALSE(activity.flowing(Clock::now() + ApplyActivity::kFlowing + 1ms));
}

TEST_CASE("no speculation budget: a speculation never waits") {
  SpeculationBudget budget(0ms);
  CHECK_FALSE(budget.limited());
  const auto now = Clock::now();
  budget.charge(10s, now);
  CHECK(budget.admitAt(now) == now);
}

TEST_CASE("a speculation budget admits its time per second, and makes the next speculation wait for the rest") {
  SpeculationBudget budget(100ms); // a tenth of each second
  REQUIRE(budget.limited());
  const auto t0 = Clock::now();
  CHECK(budget.admitAt(t0) == t0); // nothing charged yet

  // A quiet start holds one second's budget, and the time it runs earns more: speculations of 10 ms back to back
  // run without waiting until 100 ms + a tenth of their time is spent, then the next waits for the rest.
  auto t = t0;
  int ran = 0;
  while (budget.admitAt(t) == t && ran < 100) {
    t += 10ms;
    budget.charge(10ms, t);
    ++ran;
  }
  CHECK(ran == 12); // the twelfth found the bucket just empty, and ran into debt
  CHECK(budget.admitAt(t) - t == 90ms);

  // A long speculation (300 ms) is paid for over the next three seconds.
  const auto later = budget.admitAt(t);
  budget.charge(300ms, later + 300ms);
  const auto next = budget.admitAt(later + 300ms);
  CHECK(next - later == 3000ms);

  // A quiet minute earns a second's budget, not a minute's.
  const auto quiet = next + 60s;
  CHECK(budget.admitAt(quiet) == quiet);
  budget.charge(150ms, quiet);
  CHECK(budget.admitAt(quiet) - quiet == 500ms); // 150 ms is 1.5 s of the budget, of which one second was held
}

TEST_CASE("a speculation budget is bounded by a whole second per second") {
  SpeculationBudget budget(5s);
  REQUIRE(budget.limited());
  const auto t0 = Clock::now();
  budget.charge(2s, t0);
  CHECK(budget.admitAt(t0) - t0 == 1s); // 2 s of debt at one second per second, less the second held
}
