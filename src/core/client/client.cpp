#include "core/client/client.hpp"

#include "core/auth.hpp"
#include "core/errors.hpp"
#include "core/kafka/admin.hpp"
#include "core/log.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace kluster::client {

using clock = std::chrono::steady_clock;

WaitPolicy WaitPolicy::parse(const std::string& text) {
  WaitPolicy w;
  if (text == "first")
    w.kind = Kind::First;
  else if (text == "all")
    w.kind = Kind::All;
  else if (text == "quorum")
    w.kind = Kind::Quorum;
  else if (text == "none")
    w.kind = Kind::None;
  else {
    try {
      std::size_t used = 0;
      w.count = std::stoi(text, &used);
      if (used != text.size() || w.count < 1) throw std::invalid_argument(text);
      w.kind = Kind::Count;
    } catch (const std::exception&) {
      throw UsageError(fmt::format("invalid --wait '{}': use first, all, quorum, none or a number", text));
    }
  }
  return w;
}

bool Result::allOk() const {
  if (responses.empty() || timedOut || diverged) return false;
  return std::all_of(responses.begin(), responses.end(), [](const Response& r) { return r.ok(); });
}

std::optional<std::int64_t> Result::allOffset() const {
  std::optional<std::int64_t> best;
  for (const auto& r : responses)
    if (r.allOffset && (!best || *r.allOffset > *best)) best = r.allOffset;
  return best;
}

bool responsesDiverge(const std::vector<Response>& responses) {
  // The result code is compared on its own too: an error's hash covers code and SQLSTATE and so differs
  // from an OK hash already, but a response without a hash (an older node) must not hide a disagreement.
  std::set<std::string> codes, hashes;
  for (const auto& r : responses) {
    codes.insert(r.resultCode);
    if (!r.resultHash.empty()) hashes.insert(r.resultHash);
  }
  return codes.size() > 1 || hashes.size() > 1;
}

std::vector<std::string> membersFromGroups(const Topics& topics,
                                           const std::vector<std::pair<std::string, bool>>& groups) {
  std::vector<std::string> nodes;
  const auto prefix = topics.nodeGroupPrefix();
  for (const auto& [group, active] : groups)
    if (active && group.rfind(prefix, 0) == 0 && group.size() > prefix.size())
      nodes.push_back(group.substr(prefix.size()));
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

namespace {

struct Pending {
  Result result;
  WaitPolicy wait;
  std::size_t needed = 1; // responses needed to complete
  std::set<std::string> answered;
  bool traced = false;
  clock::time_point started;
  std::multimap<clock::time_point, std::string>::iterator deadline; // its entry in Impl::deadlines_
  Client::Callback done;
};

// Results ready to be handed to their callbacks once the client's lock is released.
using Finished = std::vector<std::pair<Client::Callback, Result>>;

void deliver(Finished& finished) {
  for (auto& [done, result] : finished) done(std::move(result));
  finished.clear();
}

} // namespace

class Client::Impl {
public:
  explicit Impl(ClientOptions options) : options_(std::move(options)), topics_{options_.cluster} {
    if (options_.clientId.empty())
      options_.clientId = fmt::format("klusterctl-{}-{}", ::getpid(), util::uuid4().substr(0, 8));
    const auto base = kafka::clientProperties(options_.brokers, options_.kafka);
    std::optional<int> partitions;
    std::int64_t start = 0;
    try {
      // Both calls are bounded by connectTimeout: librdkafka itself would retry an unreachable broker forever.
      admin_ = std::make_unique<kafka::Admin>(base, options_.connectTimeout);
      partitions = admin_->partitionCount(topics_.responses());
      if (partitions) {
        partition_ = util::responsePartition(options_.clientId, *partitions);
        // Position the reader at the partition's end before anything is sent, so no response can be missed.
        start = admin_->watermarks(topics_.responses(), partition_).high;
      }
    } catch (const KlusterError& e) {
      throw KlusterError(code::NodeError,
                         fmt::format("cannot reach Kafka at {} within {} ms: {}", options_.brokers,
                                     options_.connectTimeout.count(), e.what()),
                         "check --brokers (or cluster.brokers in the config) and that the brokers are running");
    }
    if (!partitions)
      throw KlusterError(
          code::NodeError, fmt::format("topic {} does not exist", topics_.responses()),
          fmt::format("is the cluster name right? create it with: klusterctl init --cluster {}", options_.cluster));
    auto consumerProps = base;
    consumerProps["group.id"] = "kluster-client"; // never joined: partitions are assigned directly
    consumerProps["enable.auto.commit"] = "false";
    consumerProps["enable.partition.eof"] = "false";
    consumerProps["fetch.wait.max.ms"] = "20";
    // librdkafka prefetches up to 64 MB per partition by default; responses are handled as they come, so a
    // small buffer keeps a client with thousands of requests in flight lean without slowing it.
    consumerProps.emplace("queued.max.messages.kbytes", "8192");
    consumer_ = kafka::makeConsumer(consumerProps);
    std::vector<RdKafka::TopicPartition*> assignment{
        RdKafka::TopicPartition::create(topics_.responses(), partition_, start)};
    kafka::check(consumer_->assign(assignment), "assign " + topics_.responses());
    RdKafka::TopicPartition::destroy(assignment);
    auto producerProps = base;
    producerProps.emplace("linger.ms", std::to_string(options_.lingerMs));
    producer_ =
        std::make_unique<kafka::Producer>(producerProps, true, [this](const RdKafka::Message& m) { delivered(m); });
    producer_->warmUp({topics_.all(), topics_.one()}, std::chrono::seconds(5));
    batchProps_ = base;
    if (options_.readerThread) {
      reader_ = std::thread([this] { readLoop(); });
    } else {
      int fds[2];
      if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        throw KlusterError(code::NodeError, fmt::format("pipe: {}", std::strerror(errno)));
      wakeRead_ = fds[0];
      wakeWrite_ = fds[1];
      // The consumer's queue (fetched messages land there: the partition is assigned, not subscribed).
      queue_ = rd_kafka_queue_get_consumer(consumer_->c_ptr());
      rd_kafka_queue_io_event_enable(queue_, wakeWrite_, "1", 1);
      // librdkafka writes only when its queue goes from empty to not empty: what it already holds is
      // taken now, or no byte would ever come.
      while (!readResponses(1024)) {
      }
    }
    // Delivery reports are served as they come (not every time the reader's consume() returns), so a
    // delivery failure is seen at once and a traced request's broker acknowledgement is timed right.
    poller_ = std::thread([this] {
      while (!stop_.load()) producer_->poll(50);
    });
  }

  ~Impl() {
    stop_.store(true);
    {
      std::lock_guard lock(membersMutex_); // a refresher between its check and its wait sees stop_ or the wake-up
    }
    refresh_.notify_all();
    if (refresher_.joinable()) refresher_.join();
    if (reader_.joinable()) reader_.join();
    if (poller_.joinable()) poller_.join();
    if (batchPoller_.joinable()) batchPoller_.join();
    if (queue_) {
      rd_kafka_queue_io_event_enable(queue_, -1, nullptr, 0);
      rd_kafka_queue_destroy(queue_);
    }
    consumer_->close();
    for (int fd : {wakeRead_, wakeWrite_})
      if (fd >= 0) ::close(fd);
    batchProducer_.reset();
    producer_.reset(); // flushes; its delivery reports come to delivered(), which needs the members below
    Finished finished;
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
      for (auto& [id, p] : pending_) {
        p->result.timedOut = true; // the client went away before the wait policy was met
        finished.push_back(finish(p));
      }
      pending_.clear();
    }
    deliver(finished);
  }

  void send(Request request, Target target, WaitPolicy wait, std::chrono::milliseconds timeout, Callback done,
            Dispatch dispatch = Dispatch::Auto) {
    request.clientId = options_.clientId;
    if (request.messageId.empty()) request.messageId = options_.clientId + "." + util::uuid4();
    if (!request.timeoutMs) {
      // A node waits for ALL up to minAllOffset until the request's timeout; asking it to stop a little
      // before this client does lets NOT_CAUGHT_UP arrive instead of a bare client-side timeout.
      const auto margin = request.minAllOffset
                              ? std::min<std::chrono::milliseconds>(timeout / 5, std::chrono::seconds(1))
                              : std::chrono::milliseconds(0);
      request.timeoutMs = (timeout - margin).count();
    }
    auto p = std::make_unique<Pending>();
    p->result.requestId = request.messageId;
    p->result.target = target;
    p->wait = wait;
    p->started = clock::now();
    if (target == Target::All && (wait.kind == WaitPolicy::Kind::All || wait.kind == WaitPolicy::Kind::Quorum)) {
      p->result.expectedNodes = members();
      const auto n = p->result.expectedNodes.size();
      p->needed = wait.kind == WaitPolicy::Kind::All ? std::max<std::size_t>(n, 1) : n / 2 + 1;
    } else if (wait.kind == WaitPolicy::Kind::Count) {
      p->needed = static_cast<std::size_t>(wait.count);
    }
    p->done = std::move(done);
    if (!options_.key.empty()) auth::sign(request, options_.key, util::nowMillis());
    const auto payload = request.toJson();
    const auto& topic = target == Target::All ? topics_.all() : topics_.one();
    const int partition = target == Target::All ? 0 : -1;
    const auto& key = target == Target::One && !request.routingKey.empty() ? request.routingKey : request.messageId;
    if (wait.kind == WaitPolicy::Kind::None) {
      p->result.sentUs = util::nowMicros();
      producer_->produce(topic, partition, key, payload);
      p->result.timedOut = !producer_->flush(timeout); // not even delivered to Kafka in time
      p->result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - p->started);
      p->done(std::move(p->result));
      return;
    }
    bool others = false; // other requests of this client in flight (Dispatch::Auto)
    {
      std::unique_lock lock(mutex_);
      if (closing_) {
        lock.unlock();
        p->result.timedOut = true;
        p->done(std::move(p->result));
        return;
      }
      if (pending_.count(request.messageId))
        throw UsageError(fmt::format("request id {} is already in flight from this client", request.messageId));
      p->deadline = deadlines_.emplace(p->started + timeout, request.messageId);
      p->result.sentUs = util::nowMicros();
      p->traced = request.trace;
      if (p->traced) traced_.fetch_add(1);
      pending_.emplace(request.messageId, std::move(p));
      others = pending_.size() > 1;
    }
    if (dispatch == Dispatch::Now || options_.batchLinger.count() == 0) {
      producer_->produce(topic, partition, key, payload);
      return;
    }
    std::lock_guard lock(dispatchMutex_);
    auto& batching = batchProducer();
    if (dispatch == Dispatch::Auto) {
      // Batched while others are in flight. A switch waits until the other producer has nothing unacknowledged,
      // so that requests reach the topic in the order they were sent.
      auto* want = others ? &batching : producer_.get();
      auto* other = others ? producer_.get() : &batching;
      if (other->handle().outq_len() > 0) want = other;
      want->produce(topic, partition, key, payload);
      if (want == &batching) batchedSends_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    batching.produce(topic, partition, key, payload);
    batchedSends_.fetch_add(1, std::memory_order_relaxed);
  }

  // The producer of Dispatch::Batched, made when first needed (most clients never batch); dispatchMutex_ held.
  kafka::Producer& batchProducer() {
    if (!batchProducer_) {
      auto props = batchProps_;
      props["linger.ms"] = std::to_string(options_.batchLinger.count());
      batchProducer_ =
          std::make_unique<kafka::Producer>(props, true, [this](const RdKafka::Message& m) { delivered(m); });
      batchProducer_->warmUp({topics_.all(), topics_.one()}, std::chrono::seconds(5));
      batchPoller_ = std::thread([this] {
        while (!stop_.load()) batchProducer_->poll(50);
      });
    }
    return *batchProducer_;
  }

  // The live nodes, for --wait all and quorum. Listing the groups is a broker round trip (a slow one on a busy
  // broker), so it is never done on the sender's path after the first time: a stale list (older than a
  // second) is returned as it is while the refresher thread lists the groups again.
  std::vector<std::string> members() {
    std::unique_lock lock(membersMutex_);
    if (membersAt_ == clock::time_point{}) {
      lock.unlock();
      auto nodes = listMembers(); // the first time: nothing to answer with yet, so the caller waits
      lock.lock();
      members_ = std::move(nodes);
      membersAt_ = clock::now();
      return members_;
    }
    if (clock::now() - membersAt_ > std::chrono::seconds(1) && !refreshWanted_) {
      refreshWanted_ = true;
      if (!refresher_.joinable()) refresher_ = std::thread([this] { refreshLoop(); });
      refresh_.notify_one();
    }
    return members_;
  }

  const std::string& clientId() const { return options_.clientId; }
  std::uint64_t batchedSends() const { return batchedSends_.load(); }
  std::size_t inFlight() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }

  int readFd() const {
    if (wakeRead_ < 0) throw std::logic_error("Client::readFd: the client reads with a thread of its own");
    return wakeRead_;
  }

  bool readResponses(std::size_t max) {
    if (wakeRead_ < 0) throw std::logic_error("Client::readResponses: the client reads with a thread of its own");
    char bytes[256];
    while (::read(wakeRead_, bytes, sizeof bytes) > 0) {
    }
    bool drained = false;
    for (std::size_t i = 0; i < max && !drained; ++i) drained = !consumeOne(0);
    expire();
    return drained;
  }

private:
  std::vector<std::string> listMembers() {
    std::vector<std::pair<std::string, bool>> groups;
    for (const auto& g : admin_->listGroups()) groups.emplace_back(g.groupId, g.active());
    return membersFromGroups(topics_, groups);
  }

  void refreshLoop() {
    std::unique_lock lock(membersMutex_);
    for (;;) {
      refresh_.wait(lock, [&] { return refreshWanted_ || stop_.load(); });
      if (stop_.load()) return;
      lock.unlock();
      std::optional<std::vector<std::string>> nodes;
      try {
        nodes = listMembers();
      } catch (const std::exception& e) {
        KLOG(Warn, "client", "listing the cluster's nodes: {} (using the list from before)", e.what());
      }
      lock.lock();
      if (nodes) members_ = std::move(*nodes);
      membersAt_ = clock::now(); // a failure too: tried again a second later, not at every request
      refreshWanted_ = false;
    }
  }

  void readLoop() {
    while (!stop_.load()) {
      consumeOne(20);
      expire();
    }
  }

  // Takes one message from RESPONSES (waiting up to timeoutMs) and handles it; false when none came in time.
  bool consumeOne(int timeoutMs) {
    std::unique_ptr<RdKafka::Message> msg(consumer_->consume(timeoutMs));
    if (msg->err() == RdKafka::ERR__TIMED_OUT) return false;
    if (msg->err() == RdKafka::ERR_NO_ERROR)
      handle(*msg);
    else if (msg->err() != RdKafka::ERR__PARTITION_EOF)
      KLOG(Warn, "client", "reading {}: {}", topics_.responses(), msg->errstr());
    return true;
  }

  // A delivery report of one of this client's requests: the broker acknowledged it (traced requests note when).
  void delivered(const RdKafka::Message& msg) {
    if (traced_.load() == 0 || msg.err() != RdKafka::ERR_NO_ERROR || !msg.key()) return;
    const auto now = util::nowMicros();
    std::lock_guard lock(mutex_);
    if (auto it = pending_.find(*msg.key()); it != pending_.end() && !it->second->result.ackedUs)
      it->second->result.ackedUs = now;
  }

  void handle(const RdKafka::Message& msg) {
    // Only this client's responses matter; others sharing the partition are skipped by key.
    if (!msg.key() || *msg.key() != options_.clientId) return;
    Response r;
    const auto receivedUs = util::nowMicros();
    try {
      r.raw.assign(static_cast<const char*>(msg.payload()), msg.len());
      auto raw = std::move(r.raw);
      r = Response::fromJson(raw);
      r.raw = std::move(raw);
    } catch (const std::exception& e) {
      KLOG(Warn, "client", "unreadable response at offset {}: {}", msg.offset(), e.what());
      return;
    }
    r.receivedUs = receivedUs;
    Finished finished;
    {
      std::lock_guard lock(mutex_);
      auto it = pending_.find(r.requestId);
      if (it == pending_.end()) return; // late, duplicate or not ours
      Pending& p = *it->second;
      if (!p.answered.insert(r.nodeId).second) return; // the same node answered twice (redelivery)
      p.result.responses.push_back(std::move(r));
      if (p.result.responses.size() >= p.needed && coversExpected(p)) {
        deadlines_.erase(p.deadline);
        finished.push_back(finish(it->second));
        pending_.erase(it);
      }
    }
    deliver(finished);
  }

  static bool coversExpected(const Pending& p) {
    if (p.wait.kind != WaitPolicy::Kind::All) return true;
    for (const auto& n : p.result.expectedNodes)
      if (!p.answered.count(n)) return false;
    return true;
  }

  // Deadlines are kept in order, so this touches only the requests that are due, however many are in flight.
  void expire() {
    const auto now = clock::now();
    Finished finished;
    {
      std::lock_guard lock(mutex_);
      while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
        auto it = pending_.find(deadlines_.begin()->second);
        deadlines_.erase(deadlines_.begin());
        if (it == pending_.end()) continue;
        it->second->result.timedOut = true;
        finished.push_back(finish(it->second));
        pending_.erase(it);
      }
    }
    deliver(finished);
  }

  // Completes a request's result; the caller hands it to the callback once the lock is released.
  std::pair<Callback, Result> finish(std::unique_ptr<Pending>& p) {
    Result& r = p->result;
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - p->started);
    for (const auto& n : r.expectedNodes)
      if (!p->answered.count(n)) r.missingNodes.push_back(n);
    if (r.target == Target::All) r.diverged = responsesDiverge(r.responses);
    if (p->traced) traced_.fetch_sub(1);
    return {std::move(p->done), std::move(r)};
  }

  ClientOptions options_;
  Topics topics_;
  int partition_ = 0;
  std::unique_ptr<kafka::Admin> admin_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<kafka::Producer> producer_;
  kafka::Properties batchProps_;                   // the batching producer's, but for linger.ms
  std::mutex dispatchMutex_;                       // which producer a request goes through, and making it
  std::unique_ptr<kafka::Producer> batchProducer_; // Dispatch::Batched, with linger.ms = batchLinger
  std::thread reader_;
  std::thread poller_;
  std::thread batchPoller_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> batchedSends_{0};
  std::atomic<int> traced_{0}; // traced requests in flight (delivery reports matter only then)
  mutable std::mutex mutex_;
  bool closing_ = false;
  std::unordered_map<std::string, std::unique_ptr<Pending>> pending_;
  std::multimap<clock::time_point, std::string> deadlines_; // the pending requests' deadlines, soonest first
  std::mutex membersMutex_;
  std::condition_variable refresh_;
  bool refreshWanted_ = false;
  std::thread refresher_; // started by the first stale members()
  std::vector<std::string> members_;
  clock::time_point membersAt_{};
  // Without a reader thread: the pipe librdkafka writes to when responses arrive, and its consumer queue.
  int wakeRead_ = -1, wakeWrite_ = -1;
  rd_kafka_queue_t* queue_ = nullptr;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;
std::future<Result> Client::send(Request request, Target target, WaitPolicy wait, std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result>>();
  auto future = promise->get_future();
  impl_->send(std::move(request), target, wait, timeout, [promise](Result r) { promise->set_value(std::move(r)); });
  return future;
}
void Client::sendAsync(Request request, Target target, WaitPolicy wait, std::chrono::milliseconds timeout,
                       Callback done, Dispatch dispatch) {
  impl_->send(std::move(request), target, wait, timeout, std::move(done), dispatch);
}
std::vector<std::string> Client::liveNodes() { return impl_->members(); }
const std::string& Client::clientId() const { return impl_->clientId(); }
std::size_t Client::inFlight() const { return impl_->inFlight(); }
std::uint64_t Client::batchedSends() const { return impl_->batchedSends(); }
int Client::readFd() const { return impl_->readFd(); }
bool Client::readResponses(std::size_t max) { return impl_->readResponses(max); }

} // namespace kluster::client
