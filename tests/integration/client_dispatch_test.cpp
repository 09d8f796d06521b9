// The client library's dispatch (core/client/client.hpp Dispatch): Batched requests wait up to batchLinger for
// each other and reach ALL together; Auto batches only while other requests are in flight, and keeps the order sent.
#include "core/client/client.hpp"
#include "core/util.hpp"
#include "support/cluster.hpp"
#include "support/helpers.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace kluster;
using namespace kluster::test;
using namespace std::chrono_literals;

TEST_CASE("Dispatch::Batched: requests wait up to batchLinger for each other and reach ALL together", "[client]") {
  TestCluster cluster;
  client::ClientOptions o;
  o.brokers = cluster.brokers();
  o.cluster = cluster.name();
  o.batchLinger = 200ms; // long enough that the requests sent at once all wait, whatever this machine's load
  client::Client client(o);
  Request create;
  create.statements = {"CREATE TABLE marks (id int PRIMARY KEY, how text NOT NULL)"};
  REQUIRE(client.send(create, client::Target::All, client::WaitPolicy::parse("all"), 60s).get().allOk());
  std::vector<std::future<client::Result>> batched, now;
  std::vector<std::promise<client::Result>> promises(40);
  for (int i = 0; i < 40; ++i) {
    const auto dispatch = i % 2 ? client::Dispatch::Batched : client::Dispatch::Now;
    Request r;
    r.statements = {fmt::format("INSERT INTO marks VALUES ({}, '{}')", i, i % 2 ? "batched" : "now")};
    (i % 2 ? batched : now).push_back(promises[i].get_future());
    client.sendAsync(
        r, client::Target::All, client::WaitPolicy::parse("all"), 60s,
        [&promises, i](client::Result res) { promises[i].set_value(std::move(res)); }, dispatch);
  }
  std::set<std::int64_t> batchedAt, nowAt;
  for (auto& f : batched) {
    auto r = f.get();
    CHECK(r.allOk());
    if (r.allOffset()) batchedAt.insert(*r.allOffset());
  }
  for (auto& f : now) {
    auto r = f.get();
    CHECK(r.allOk());
    if (r.allOffset()) nowAt.insert(*r.allOffset());
  }
  REQUIRE(batchedAt.size() == 20);
  REQUIRE(nowAt.size() == 20);
  // The batched ones were held while the others went at once, then appended together: after every one
  // of the others, one after another (requests sent in different ways are not ordered as they were sent).
  CHECK(*batchedAt.begin() > *nowAt.rbegin());
  CHECK(*batchedAt.rbegin() - *batchedAt.begin() == 19);
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(cluster.scalar(i, "SELECT count(*) || ' ' || count(*) FILTER (WHERE how = 'batched') FROM marks") == "40 20");
}

TEST_CASE("Dispatch::Auto: a lone caller never batches, concurrent ones do, and the order sent is kept", "[client]") {
  TestCluster cluster;
  client::ClientOptions o;
  o.brokers = cluster.brokers();
  o.cluster = cluster.name();
  o.batchLinger = 5ms;
  client::Client client(o);
  Request create;
  create.statements = {"CREATE TABLE seq (n int PRIMARY KEY, who text NOT NULL)"};
  REQUIRE(client.send(create, client::Target::All, client::WaitPolicy::parse("all"), 60s).get().allOk());
  // One request at a time: nothing else is in flight, so each goes at once.
  for (int i = 0; i < 5; ++i) {
    Request r;
    r.statements = {fmt::format("INSERT INTO seq VALUES ({}, 'lone')", i)};
    REQUIRE(client.send(r, client::Target::All, client::WaitPolicy::parse("first"), 60s).get().allOk());
  }
  CHECK(client.batchedSends() == 0);

  // Eight closed-loop callers (each sends its next request from the callback of its last): while the others
  // are in flight their requests go through the batching producer. Each caller's requests must reach ALL in the
  // order it sent them, whichever producer took them.
  constexpr int kCallers = 8, kEach = 25;
  std::mutex mutex;
  std::condition_variable finished;
  int done = 0, failed = 0;
  std::map<int, std::vector<std::int64_t>> offsets; // by caller, in the order sent
  std::function<void(int, int)> next = [&](int caller, int k) {
    if (k == kEach) {
      std::lock_guard lock(mutex);
      ++done;
      finished.notify_all();
      return;
    }
    Request r;
    r.statements = {fmt::format("INSERT INTO seq VALUES ({}, 'caller {}')", 1000 + caller * kEach + k, caller)};
    client.sendAsync(r, client::Target::All, client::WaitPolicy::parse("first"), 60s,
                     [&, caller, k](client::Result res) {
                       {
                         std::lock_guard lock(mutex);
                         if (!res.allOk() || !res.allOffset())
                           ++failed;
                         else
                           offsets[caller].push_back(*res.allOffset());
                       }
                       next(caller, k + 1);
                     });
  };
  for (int c = 0; c < kCallers; ++c) next(c, 0);
  {
    std::unique_lock lock(mutex);
    REQUIRE(finished.wait_for(lock, 120s, [&] { return done == kCallers; }));
  }
  CHECK(failed == 0);
  CHECK(client.batchedSends() > 0);
  for (const auto& [caller, list] : offsets) {
    INFO("caller " << caller);
    CHECK(std::is_sorted(list.begin(), list.end()));
  }
  // A burst from one thread, none waiting for the last: the order sent is the order applied.
  std::vector<std::promise<client::Result>> promises(40);
  for (int i = 0; i < 40; ++i) {
    Request r;
    r.statements = {fmt::format("INSERT INTO seq VALUES ({}, 'burst')", 5000 + i)};
    client.sendAsync(r, client::Target::All, client::WaitPolicy::parse("first"), 60s,
                     [&promises, i](client::Result res) { promises[i].set_value(std::move(res)); });
  }
  std::vector<std::int64_t> burst;
  for (auto& p : promises) {
    auto res = p.get_future().get();
    REQUIRE(res.allOk());
    burst.push_back(res.allOffset().value_or(-1));
  }
  CHECK(std::is_sorted(burst.begin(), burst.end()));
  // Answered by the first node: every node gets there, each request applied once.
  for (int i = 1; i <= cluster.size(); ++i)
    CHECK(waitUntil(
        [&] { return cluster.scalar(i, "SELECT count(*) FROM seq") == std::to_string(5 + kCallers * kEach + 40); }, 30s,
        100ms));
}

// Read-your-writes, made deterministic: node 3 is made to lag by a lock a direct connection holds on a
// table `blocker` in node 3's database only. An ALL write to `blocker` stalls node 3's apply loop (and,
// as ALL applies in order, everything after it), while its ONE server keeps answering reads of `t`, which
// the lock does not touch. So a write to `t` after it is applied on nodes 1 and 2 but not on node 3, and
// a read of `t` that lands on node 3 is stale unless it waits for the write's ALL offset.
