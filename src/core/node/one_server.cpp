// ONE: the shared consumer group spreads reads over the nodes; each node answers its share on a pool of
// read-only connections. Offsets are stored only below the oldest request still in flight, so a crash
// re-answers (reads are idempotent) rather than drops a request.
#include "core/log.hpp"
#include "core/node/parts.hpp"
#include "core/util.hpp"

#include <thread>

namespace kluster::node {
namespace {
constexpr std::int64_t kDefaultOneTimeoutMs = 30'000;
// How often a speculation set aside for the budget looks again whether writes still flow (when they stop, the
// budget no longer holds it back).
constexpr std::chrono::milliseconds kBudgetRecheck{20};
constexpr std::size_t kMaxDeferred = 4096;
} // namespace

Node::OneServer::OneServer(Node& node, const kafka::Properties& base, Responder& responder)
    : node_(node), responder_(responder), props_(base) {
  props_["group.id"] = node_.topics_.oneGroup();
  props_["enable.auto.commit"] = "true";
  props_["enable.auto.offset.store"] = "false";
  props_["auto.offset.reset"] = "earliest";
  props_.emplace("fetch.wait.max.ms", "100");
  // A static member, like the ALL consumer: a node started again after a crash gets its ONE partitions back
  // at once, and the group does not rebalance (stopping every node's reads) for each instance that died.
  props_["group.instance.id"] = node_.options_.nodeId;
  props_.emplace("session.timeout.ms", "10000");
  props_.emplace("heartbeat.interval.ms", "1000");
  props_.emplace("client.id", "kluster-" + node_.options_.nodeId + "-one");
}

Node::OneServer::~OneServer() { stop(); }

Node::OneServer::Clock::time_point Node::OneServer::budgetAdmits(Clock::time_point now) {
  if (!node_.speculationBudget_.limited() || !node_.allWork_.flowing(now)) return now;
  return node_.speculationBudget_.admitAt(now);
}

void Node::OneServer::budgetWaited(const Fetched& fetched) {
  node_.metrics_.speculationBudgetWaited(Clock::now() - fetched.waitingSince);
}

void Node::OneServer::start() {
  consumer_ = kafka::makeConsumer(props_);
  kafka::check(consumer_->subscribe({node_.topics_.one()}), "subscribe to " + node_.topics_.one());
  for (int i = 0; i < node_.options_.oneWorkers; ++i) threads_.emplace_back([this] { workerLoop(); });
  threads_.emplace_back([this] { dispatchLoop(); });
}

void Node::OneServer::stop() {
  stopping_.store(true);
  queued_.notify_all();
  room_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  kafka::leaveAndDestroy(std::move(consumer_)); // the other nodes take this node's partitions at once
}

void Node::OneServer::dispatchLoop() {
  const std::size_t maxQueued = static_cast<std::size_t>(node_.options_.oneWorkers) * 4;
  while (!stopping_.load()) {
    // Store the offsets the workers finished with, below the oldest still in flight per partition.
    std::vector<RdKafka::TopicPartition*> store;
    {
      std::lock_guard lock(mutex_);
      for (auto [partition, offset] : done_) {
        auto& set = inFlight_[partition];
        set.erase(offset);
        std::int64_t next = set.empty() ? highest_[partition] + 1 : *set.begin();
        store.push_back(RdKafka::TopicPartition::create(node_.topics_.one(), partition, next));
      }
      done_.clear();
    }
    if (!store.empty()) {
      consumer_->offsets_store(store);
      RdKafka::TopicPartition::destroy(store);
    }
    {
      std::unique_lock lock(mutex_);
      // Set-aside speculations wait for the budget without a worker; their number is bounded too (reading stops).
      const auto room = [&] { return queue_.size() < maxQueued && deferred_.size() < kMaxDeferred; };
      room_.wait_for(lock, std::chrono::milliseconds(100), [&] { return room() || stopping_.load(); });
      if (!room()) continue;
    }
    MessagePtr msg(consumer_->consume(50));
    const auto fetchedUs = util::nowMicros();
    if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (msg->err() == RdKafka::ERR__FATAL) {
      std::string reason;
      if (consumer_->fatal_error(reason) == RdKafka::ERR_FENCED_INSTANCE_ID && !node_.replacedByAnother()) {
        // Fenced by its own rejoin when the group's coordinator moved: join again (reads in flight are answered;
        // what was not stored is read again, and a read answered twice is dropped by its client).
        KLOG(Warn, "node",
             "reading {}: {}; no other process holds node {}'s place (the group's coordinator "
             "moved): joining again",
             node_.topics_.one(), reason, node_.options_.nodeId);
        kafka::leaveAndDestroy(std::move(consumer_));
        consumer_ = kafka::makeConsumer(props_);
        kafka::check(consumer_->subscribe({node_.topics_.one()}), "subscribe to " + node_.topics_.one());
        continue;
      }
      KLOG(Error, "node", "reading {}: {}; the node stops", node_.topics_.one(), reason); // another process
      node_.oneFailed_.store(true);
      node_.stop_.store(true);
      return;
    }
    if (msg->err() != RdKafka::ERR_NO_ERROR) {
      KLOG(Warn, "node", "reading {}: {}", node_.topics_.one(), msg->errstr());
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      inFlight_[msg->partition()].insert(msg->offset());
      highest_[msg->partition()] = std::max(highest_[msg->partition()], msg->offset());
      queue_.push_back({std::move(msg), fetchedUs});
    }
    queued_.notify_one();
  }
}

void Node::OneServer::workerLoop() {
  std::unique_ptr<db::Connection> owned;
  db::Connection* conn = nullptr;
  for (;;) {
    Fetched fetched;
    {
      std::unique_lock lock(mutex_);
      for (;;) {
        // A speculation set aside whose time has come first, then the queue's next request.
        if (!deferred_.empty() && deferred_.begin()->first <= Clock::now()) {
          fetched = std::move(deferred_.begin()->second);
          deferred_.erase(deferred_.begin());
          break;
        }
        if (!queue_.empty()) {
          fetched = std::move(queue_.front());
          queue_.pop_front();
          room_.notify_one();
          break;
        }
        if (stopping_.load()) return; // what is set aside is read again by the node that gets its partition
        if (deferred_.empty())
          queued_.wait(lock);
        else
          queued_.wait_until(lock, deferred_.begin()->first);
      }
    }
    const auto partition = fetched.msg->partition();
    const auto offset = fetched.msg->offset();
    std::optional<Clock::time_point> later;
    if (fetched.speculation && !fetched.admitted) {
      // Set aside for the budget: still not admitted, it goes back without being read again.
      const auto now = Clock::now();
      if (now >= fetched.deadline) {
        budgetWaited(fetched); // its client stopped waiting: dropped, not run
      } else if (const auto at = budgetAdmits(now); at > now) {
        later = std::min({at, now + kBudgetRecheck, fetched.deadline});
      } else {
        fetched.admitted = true;
        budgetWaited(fetched);
      }
    }
    if (!later && (!fetched.speculation || fetched.admitted)) {
      try {
        later = serve(fetched, conn, owned);
      } catch (const std::exception& e) {
        KLOG(Error, "node", "ONE request at {}[{}]@{} failed: {}", node_.topics_.one(), partition, offset, e.what());
      }
    }
    std::lock_guard lock(mutex_);
    if (later) {
      deferred_.emplace(*later, std::move(fetched));
      queued_.notify_one();
    } else {
      done_.emplace_back(partition, offset);
    }
  }
}

std::optional<Node::OneServer::Clock::time_point> Node::OneServer::serve(Fetched& fetched, db::Connection*& conn,
                                                                         std::unique_ptr<db::Connection>& owned) {
  const auto& msg = *fetched.msg;
  const auto startedUs = util::nowMicros();
  const auto started = startedUs / 1000;
  Preparer preparer(db::adapter(node_.options_.databaseType), node_.options_.maxRequestBytes, &node_.analyses_);
  preparer.setClients(&node_.clients_, {});
  auto prepared = preparer.forOne(std::string_view(static_cast<const char*>(msg.payload()), msg.len()));
  if (!prepared.parsed.hasRequestId()) {
    responder_.reportError({responder_.nodeId(),
                            prepared.parsed.errorCode,
                            "unreadable request on ONE: " + prepared.parsed.errorMessage,
                            {},
                            "ONE",
                            msg.offset(),
                            {},
                            "warning",
                            0});
    return std::nullopt;
  }
  const auto& req = prepared.parsed.request;
  const auto published = msg.timestamp().timestamp > 0 ? msg.timestamp().timestamp : started;
  const auto timeoutMs = req.timeoutMs.value_or(kDefaultOneTimeoutMs);
  if (started > published + timeoutMs) {
    KLOG(Debug, "node", "skipping ONE request {}: its client stopped waiting", req.messageId);
    return std::nullopt;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(published + timeoutMs - started);
  db::Outcome outcome;
  if (prepared.refusal) {
    outcome = *prepared.refusal;
  } else if (req.minAllOffset && !node_.applied_.waitFor(*req.minAllOffset, deadline, node_.stop_)) {
    outcome = db::Outcome::error(
        code::NotCaughtUp,
        fmt::format("this node has applied ALL up to offset {}, not yet {}", node_.applied_.get(), *req.minAllOffset),
        "", "retry, or read from ALL");
  } else {
    if (prepared.speculate) {
      // Writes first (docs/transactions.md): a speculation waits for node.speculation_budget while writes flow, set
      // aside so that it holds no worker (the reads behind it go on), ...
      if (!fetched.admitted) {
        const auto now = Clock::now();
        if (const auto at = budgetAdmits(now); at > now) {
          fetched.speculation = true;
          fetched.deadline = deadline;
          fetched.waitingSince = now;
          node_.metrics_.speculationSetAside();
          return std::min({at, now + kBudgetRecheck, deadline});
        }
        fetched.admitted = true;
      }
      // ... then gives way to the apply loop for up to node.speculation_yield: on a node whose CPU is the limit,
      // interactive transactions take what the writes leave.
      if (node_.options_.speculationYield.count() > 0) {
        const auto yieldStarted = Clock::now();
        if (node_.allWork_.waitIdle(std::min(deadline, yieldStarted + node_.options_.speculationYield)))
          node_.metrics_.speculationYielded(Clock::now() - yieldStarted);
      }
      if (Clock::now() >= deadline) {
        // It gave way until its client stopped waiting: running it now would cost the writes for nobody.
        KLOG(Debug, "node", "skipping speculation {}: its client stopped waiting while it gave way to the writes",
             req.messageId);
        return std::nullopt;
      }
    }
    for (;;) {
      try {
        if (!conn) {
          owned = db::connect(node_.options_.databaseType, node_.options_.databaseUrl);
          conn = owned.get();
        }
        const db::ReadFloor floor{node_.options_.cluster, req.minAllOffset.value_or(-1)};
        const auto* atLeast = req.minAllOffset ? &floor : nullptr;
        const auto began = std::chrono::steady_clock::now();
        outcome = prepared.describe    ? conn->describe(req.statements.front(), req.paramTypes, atLeast)
                  : prepared.speculate ? conn->speculate(prepared.work, atLeast)
                                       : conn->query(prepared.work, atLeast);
        if (prepared.speculate) {
          const auto now = std::chrono::steady_clock::now();
          node_.metrics_.speculationRan(now - began);
          if (node_.allWork_.flowing(now)) node_.speculationBudget_.charge(now - began, now);
        }
        // The node's memory said caught up, its database did not (it lost commits, and the node has not
        // noticed yet): wait for the apply loop to bring it back, within the request's deadline.
        if (outcome.resultCode == code::NotCaughtUp) node_.positionDoubted_.store(true);
        if (outcome.resultCode == code::NotCaughtUp &&
            std::chrono::steady_clock::now() + std::chrono::milliseconds(50) < deadline && !node_.stop_.load()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
        break;
      } catch (const db::DbError& e) {
        owned.reset();
        conn = nullptr;
        if (std::chrono::steady_clock::now() + std::chrono::milliseconds(200) >= deadline || node_.stop_.load()) {
          outcome = db::Outcome::error(code::NodeError, std::string("this node could not run the query: ") + e.what(),
                                       e.sqlState(), "retry: another node may answer");
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  }
  Response r = responder_.build(prepared.parsed, "ONE", std::move(outcome), started);
  r.appliedAllOffset = node_.applied_.get();
  if (req.trace) r.trace = Trace{fetched.fetchedUs, startedUs, util::nowMicros(), 0};
  responder_.send(r);
  return std::nullopt;
}

} // namespace kluster::node
