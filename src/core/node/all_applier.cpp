// The ALL apply loop: read in order, prepare, apply a batch in one transaction together with the new
// position, answer after the commit. The position in the database is the truth; the Kafka committed
// offset follows it for tooling.
#include "core/kafka/admin.hpp"
#include "core/log.hpp"
#include "core/node/checker.hpp"
#include "core/node/parts.hpp"
#include "core/util.hpp"

#include <pthread.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

namespace kluster::node {

Node::AllApplier::AllApplier(Node& node, const kafka::Properties& base, Responder& responder)
    : node_(node), responder_(responder), retrier_(responder, node.stop_, node.options_.maxRetry),
      preparer_(db::adapter(node.options_.databaseType), node.options_.maxRequestBytes, &node.analyses_),
      schedule_(node.options_.checkInterval, node.options_.checkFullEvery),
      functionCheck_(db::adapter(node.options_.databaseType), nullptr) {
  preparer_.setCluster(node_.options_.cluster);
  preparer_.setClients(&node_.clients_, node_.options_.clientsFile, node_.options_.skipPublication);
  openDatabase();
  checkFingerprint();
  loadClients();
  if (!fingerprintRecorded_) {
    if (auto first = firstFingerprintInLog(base); first && *first != ownFingerprint_) refuse(*first);
  }
  auto& props = consumerProps_;
  props = base;
  props["group.id"] = node_.topics_.nodeGroup(node_.options_.nodeId);
  props["enable.auto.commit"] = "false";
  props["auto.offset.reset"] = "earliest";
  props["enable.partition.eof"] = "false";
  props.emplace("fetch.wait.max.ms", "100");
  // A static member (ARCHITECTURE.md, "The apply loop"): an instance started again after a crash takes the
  // place of the one before at once, without a rebalance. A crashed node that does not come back stays a
  // member until its session times out, so keep that short: it still counts as live (exec --wait all, monitor)
  // until then. A clean stop leaves the group at once (leaveAndDestroy).
  props["group.instance.id"] = node_.options_.nodeId;
  props.emplace("session.timeout.ms", "10000");
  props.emplace("heartbeat.interval.ms", "1000");
  props.emplace("client.id", "kluster-" + node_.options_.nodeId + "-all");
  consumer_ = kafka::makeConsumer(props, this);
  // The fingerprint is in the log before this node becomes a member, so every request a client sends
  // to the members comes after it, and a node started later finds it before applying anything.
  if (!fingerprintRecorded_) announceFingerprint();
  kafka::check(consumer_->subscribe({node_.topics_.all()}), "subscribe to " + node_.topics_.all());
}

Node::AllApplier::~AllApplier() {
  kafka::leaveAndDestroy(std::move(consumer_)); // the node shows as stopped at once
}

void Node::AllApplier::openDatabase() {
  retrier_.run(
      "connecting to the database",
      [&] {
        db_ = db::connect(node_.options_.databaseType, node_.options_.databaseUrl);
        db_->ensureSchema();
        if (!node_.options_.durableCommits) db_->setDurableCommits(false);
        auto info = db_->serverInfo();
        ownFingerprint_ = {{"product", info.product},
                           {"majorVersion", info.majorVersion},
                           {"encoding", info.encoding},
                           {"collation", info.collation},
                           {"ctype", info.ctype}};
        node_.metrics_.setDatabaseConnected(true);
        if (!claimed_) { // once: a process that reconnects must not take the node back from a later one
          db_->claimProcess(node_.options_.cluster, node_.processToken_);
          claimed_ = true;
        }
        auto position = db_->loadPosition(node_.options_.cluster);
        adoptDatabasePosition(position.offset, true);
        KLOG(Info, "node", "database {} {} ({}, {}); applied ALL up to offset {}", info.product, info.version,
             info.encoding, info.collation, position.offset);
      },
      [&] {
        node_.metrics_.setDatabaseConnected(false);
        db_.reset();
      });
  functionCheck_.setConnection(db_.get());
}

void Node::AllApplier::loadClients() {
  const auto record = retrier_.run(
      "reading the clients file in effect", [&] { return db_->loadSecurity(node_.options_.cluster); }, [] {});
  const auto& file = node_.options_.clientsFile;
  if (!record) {
    if (!file.empty())
      KLOG(Warn, "node",
           "clients file {} is not in effect yet: every request is accepted until `klusterctl security publish` puts "
           "it in effect on every node at once",
           file.string());
    return;
  }
  if (file.empty())
    throw KlusterError(code::NodeError,
                       fmt::format("the cluster checks signed requests since ALL offset {} (clients file digest {}), "
                                   "and this node has no clients file",
                                   record->offset, record->digest),
                       "set security.clients_file to the file the other nodes have");
  auto clients = std::make_shared<const auth::Clients>(auth::Clients::load(file));
  if (clients->digest() != record->digest) {
    // A new file deployed while this node was stopped: catch up with the copy of the one in effect here, until
    // the security request that publishes the new one.
    const auto copy = auth::copyPath(file, record->digest);
    std::shared_ptr<const auth::Clients> previous;
    if (std::filesystem::exists(copy)) previous = std::make_shared<const auth::Clients>(auth::Clients::load(copy));
    if (!previous || previous->digest() != record->digest)
      throw KlusterError(code::NodeError,
                         fmt::format("this node's clients file {} has digest {}, and the one in effect here since ALL "
                                     "offset {} is {} (no copy of it at {})",
                                     file.string(), clients->digest(), record->offset, record->digest, copy.string()),
                         "deploy the file in effect to this node, or put it at the copy's path while the node "
                         "catches up to the publication of the new one");
    KLOG(Info, "node",
         "catching up with the clients file in effect since ALL offset {} ({}); {} waits for its "
         "publication",
         record->offset, copy.string(), file.string());
    clients = std::move(previous);
  } else if (!auth::keepCopy(file, record->digest)) {
    KLOG(Warn, "node",
         "cannot keep a copy of the clients file at {}: if this node is stopped while a new file is "
         "published, it will need the old one there to catch up",
         auth::copyPath(file, record->digest).string());
  }
  node_.clients_.set(std::move(clients));
  KLOG(Info, "node", "checking signed requests and permissions of {} client(s) (clients file {}, digest {})",
       node_.clients_.get()->size(), file.string(), record->digest.substr(0, 12));
}

void Node::AllApplier::checkFingerprint() {
  auto recorded = retrier_.run(
      "reading the cluster fingerprint", [&] { return db_->loadFingerprint(node_.options_.cluster); }, [] {});
  if (!recorded) return;
  fingerprintRecorded_ = true;
  auto cluster = nlohmann::json::parse(*recorded);
  if (cluster != ownFingerprint_) refuse(cluster);
}

void Node::AllApplier::refuse(const nlohmann::json& cluster) {
  const auto message = fmt::format("this node's database server ({}) differs from the cluster's ({}): the nodes could "
                                   "compute different results",
                                   ownFingerprint_.dump(), cluster.dump());
  responder_.reportError({responder_.nodeId(), std::string(code::NodeError), message, {}, "ALL", {}, {}, "fatal", 0});
  throw KlusterError(code::NodeError, message,
                     "use a server of the same major version with the same encoding and collation as the other nodes");
}

std::optional<nlohmann::json> Node::AllApplier::firstFingerprintInLog(const kafka::Properties& base) {
  kafka::Admin admin(base);
  const auto end = admin.watermarks(node_.topics_.all(), 0);
  if (end.high <= end.low) return std::nullopt;
  auto props = base;
  props["group.id"] = node_.topics_.cluster + ".fingerprint-reader"; // never joined: assigned directly
  props["enable.auto.commit"] = "false";
  auto reader = kafka::makeConsumer(props);
  std::vector<RdKafka::TopicPartition*> start{RdKafka::TopicPartition::create(node_.topics_.all(), 0, end.low)};
  reader->assign(start);
  RdKafka::TopicPartition::destroy(start);
  std::optional<nlohmann::json> found;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  for (std::int64_t next = end.low; next < end.high && !found && !node_.stop_.load();) {
    if (std::chrono::steady_clock::now() > deadline)
      throw KlusterError(code::NodeError,
                         fmt::format("could not read {} up to offset {}", node_.topics_.all(), end.high),
                         "check that Kafka is reachable, then start the node again");
    MessagePtr msg(reader->consume(500));
    if (msg->err() != RdKafka::ERR_NO_ERROR) {
      if (msg->err() != RdKafka::ERR__TIMED_OUT)
        KLOG(Warn, "node", "reading {}: {}", node_.topics_.all(), msg->errstr());
      continue;
    }
    next = msg->offset() + 1;
    std::string_view payload(static_cast<const char*>(msg->payload()), msg->len());
    if (payload.find("\"fingerprint\"") == std::string_view::npos) continue; // cheap filter before parsing
    auto parsed = parseRequest(payload);
    if (parsed.ok() && parsed.request.fingerprint) found = *parsed.request.fingerprint;
  }
  reader->close();
  KLOG(Info, "node", "scanned {} offsets {}..{} for the cluster's fingerprint: {}", node_.topics_.all(), end.low,
       end.high - 1, found ? found->dump() : std::string("none yet"));
  return found;
}

void Node::AllApplier::announceFingerprint() {
  Request r;
  r.messageId = fmt::format("{}.fingerprint.{}", node_.options_.nodeId, util::uuid4());
  r.clientId = "_kluster";
  r.fingerprint = ownFingerprint_;
  responder_.publish(node_.topics_.all(), 0, r.messageId, r.toJson());
  if (!responder_.flush(std::chrono::seconds(30)))
    throw KlusterError(code::NodeError, "could not publish this node's fingerprint on " + node_.topics_.all(),
                       "check that Kafka is reachable");
  KLOG(Info, "node", "announced its database fingerprint {} on {}", ownFingerprint_.dump(), node_.topics_.all());
}

void Node::AllApplier::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                    std::vector<RdKafka::TopicPartition*>& partitions) {
  // Runs on the reader thread (inside consume()). What is queued will be read again; a batch being
  // applied meanwhile moves the position, and what it covers is skipped when read again.
  {
    std::lock_guard lock(mutex_);
    queue_.clear();
    queuedBytes_ = 0;
  }
  room_.notify_all();
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    // Resume right after the position stored in the database, whatever Kafka's committed offset says.
    const auto applied = node_.applied_.get();
    for (auto* tp : partitions) tp->set_offset(applied >= 0 ? applied + 1 : RdKafka::Topic::OFFSET_STORED);
    consumer->assign(partitions);
    KLOG(Info, "node", "reading {} from offset {}", node_.topics_.all(),
         applied >= 0 ? std::to_string(applied + 1) : std::string("the committed offset (or the beginning)"));
  } else {
    consumer->unassign();
  }
}

void Node::AllApplier::run() {
  std::thread reader([this] {
    pthread_setname_np(pthread_self(), "all-reader"); // shows in top -H and perf
    readLoop();
  });
  auto stopReader = [&] {
    {
      std::lock_guard lock(mutex_);
      readerDone_ = true;
    }
    room_.notify_all();
    reader.join();
  };
  try {
    while (!node_.stop_.load()) {
      responder_.poll();
      auto batch = takeBatch();
      if (!batch.empty())
        applyBatch(batch);
      else if (node_.positionDoubted_.exchange(false))
        recheckPosition();
      else
        commitOffset(false); // idle: let tooling see the latest position
    }
  } catch (const StopRequested&) {
  } catch (...) {
    stopReader();
    throw;
  }
  stopReader();
  const auto applied = node_.applied_.get();
  if (applied >= 0) {
    std::vector<RdKafka::TopicPartition*> offsets{RdKafka::TopicPartition::create(node_.topics_.all(), 0, applied + 1)};
    consumer_->commitSync(offsets);
    RdKafka::TopicPartition::destroy(offsets);
  }
}

void Node::AllApplier::readLoop() {
  // Enough prepared requests for the next two batches: the applier never waits for the reader while
  // the reader keeps memory bounded (in requests, and in bytes for large requests).
  const std::size_t queueMax = 2 * static_cast<std::size_t>(node_.options_.batchMax);
  constexpr std::size_t kMaxQueuedBytes = std::size_t{64} << 20;
  auto done = [&] { return readerDone_ || node_.stop_.load(); };
  try {
    for (;;) {
      std::optional<std::int64_t> seek;
      {
        std::lock_guard lock(mutex_);
        if (done()) break;
        seek = std::exchange(seekTo_, std::nullopt);
      }
      if (seek) {
        std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(node_.topics_.all(), 0, *seek));
        if (auto err = consumer_->seek(*tp, 10000); err != RdKafka::ERR_NO_ERROR) {
          KLOG(Warn, "node", "seeking {} to offset {}: {}; retrying", node_.topics_.all(), *seek,
               RdKafka::err2str(err));
          std::lock_guard lock(mutex_);
          if (!seekTo_) seekTo_ = seek;
          continue;
        }
        KLOG(Info, "node", "reading {} from offset {}", node_.topics_.all(), *seek);
        schedule_.forget(); // the message before the next one is not known
      }
      MessagePtr msg(consumer_->consume(100));
      if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) continue;
      if (msg->err() == RdKafka::ERR__FATAL) {
        onFatalError();
        continue;
      }
      if (msg->err() != RdKafka::ERR_NO_ERROR) {
        KLOG(Warn, "node", "reading {}: {}", node_.topics_.all(), msg->errstr());
        continue;
      }
      if (msg->offset() <= node_.applied_.get()) continue; // already applied (redelivery)
      const auto fetchedUs = util::nowMicros();
      const auto ts = msg->timestamp().timestamp;
      Item item{nullptr,
                preparer_.forAll(std::string_view(static_cast<const char*>(msg->payload()), msg->len()), msg->offset(),
                                 ts > 0 ? ts : 0),
                fetchedUs};
      item.msg = std::move(msg);
      item.checkpoint = schedule_.at(ts > 0 ? ts : 0);
      item.fullCheck = item.checkpoint && schedule_.full();
      if (node_.checker_) node_.checker_->seen(ts);
      const auto bytes = item.msg->len();
      std::unique_lock lock(mutex_);
      // Wait while full, waking now and then to see a stop. (A wait longer than max.poll.interval.ms, while
      // the applier retries a failing database, makes the consumer leave its group; it rejoins and resumes
      // from the database position when it polls again.)
      while ((queue_.size() >= queueMax || (queuedBytes_ >= kMaxQueuedBytes && !queue_.empty())) && !done())
        room_.wait_for(lock, std::chrono::milliseconds(100));
      if (done()) break;
      if (seekTo_) continue; // read before a rewind: it comes again after the seek
      queuedBytes_ += bytes;
      queue_.push_back(std::move(item));
      queued_.notify_one();
    }
  } catch (...) {
    std::lock_guard lock(mutex_);
    readerFailure_ = std::current_exception();
    queued_.notify_one();
  }
}

void Node::AllApplier::onFatalError() {
  std::string reason;
  const auto err = consumer_->fatal_error(reason);
  const auto group = node_.topics_.nodeGroup(node_.options_.nodeId);
  if (err == RdKafka::ERR_FENCED_INSTANCE_ID) {
    if (node_.replacedByAnother())
      throw KlusterError(code::NodeError,
                         fmt::format("another process joined {} as node {}: this one stops ({})", group,
                                     node_.options_.nodeId, reason),
                         "run each node id once; a node started again while the old process still ran replaces it");
    KLOG(Warn, "node",
         "reading {}: {}; no other process holds node {}'s place (the group's coordinator moved): "
         "joining again",
         node_.topics_.all(), reason, node_.options_.nodeId);
    std::unique_ptr<RdKafka::KafkaConsumer> fenced;
    {
      std::lock_guard lock(consumerMutex_);
      fenced = std::move(consumer_);
    }
    kafka::leaveAndDestroy(std::move(fenced)); // a fenced consumer is closed without leaving
    auto fresh = kafka::makeConsumer(consumerProps_, this);
    kafka::check(fresh->subscribe({node_.topics_.all()}), "subscribe to " + node_.topics_.all());
    std::lock_guard lock(consumerMutex_);
    consumer_ = std::move(fresh); // reading resumes after the database's position (rebalance_cb)
    return;
  }
  throw KlusterError(code::NodeError, fmt::format("reading {}: {}", node_.topics_.all(), reason),
                     "check the node's [kafka] settings and the brokers' logs, then start the node again");
}

std::vector<Node::AllApplier::Item> Node::AllApplier::takeBatch() {
  const std::size_t batchMax = static_cast<std::size_t>(node_.options_.batchMax);
  std::vector<Item> batch;
  std::unique_lock lock(mutex_);
  if (queue_.empty()) node_.allWork_.set(false); // nothing to apply: speculations waiting for that may run
  queued_.wait_for(lock, std::chrono::milliseconds(200), [&] { return !queue_.empty() || readerFailure_; });
  if (readerFailure_) std::rethrow_exception(readerFailure_);
  if (!queue_.empty()) node_.allWork_.set(true);
  const auto applied = node_.applied_.get();
  while (!queue_.empty() && batch.size() < batchMax) {
    if (queue_.front().prepared.fatal && queue_.front().msg->offset() > applied) {
      // A request this node cannot go past: apply what comes before it, then stop at it.
      if (!batch.empty()) break;
      throw KlusterError(code::NodeError, *queue_.front().prepared.fatal);
    }
    if (!batch.empty() && queue_.front().prepared.changesSchema && !queue_.front().prepared.refusal &&
        !db::adapter(node_.options_.databaseType).transactionalDdl())
      break; // DDL that commits by itself (MariaDB) starts a batch of its own
    if (!batch.empty() && queue_.front().prepared.parsed.request.transaction &&
        !queue_.front().prepared.parsed.request.transaction->staged.empty())
      break; // a commit reads its staged parts from the database: those of this batch would not be there yet
    Item item = std::move(queue_.front());
    queue_.pop_front();
    queuedBytes_ -= item.msg->len();
    if (item.msg->offset() <= applied) continue; // read again after a rebalance
    // A request that is not plain DML ends the batch, so the requests after it are checked against the
    // functions it may define.
    const bool ends = (item.prepared.changesSchema && !item.prepared.refusal) || item.checkpoint;
    batch.push_back(std::move(item));
    if (ends) break;
  }
  lock.unlock();
  room_.notify_one();
  node_.allWork_.writes(std::any_of(batch.begin(), batch.end(), [](const Item& item) {
    return !item.prepared.parsed.request.transaction; // not an interactive transaction's commit (or part)
  }));
  return batch;
}

void Node::AllApplier::rewind() {
  rewound_ = false;
  {
    std::lock_guard lock(mutex_);
    queue_.clear();
    queuedBytes_ = 0;
    seekTo_ = node_.applied_.get() + 1;
  }
  room_.notify_all();
}

void Node::AllApplier::adoptDatabasePosition(std::int64_t held, bool always) {
  const auto before = node_.applied_.get();
  if (always || held < before) node_.applied_.set(held);
  if (held < before) {
    // The server lost commits it had acknowledged (synchronous_commit=off and a crash, a failover to a lagging
    // standby): the database wins, so what it lost is applied again from the log.
    rewound_ = true;
    KLOG(Warn, "node",
         "the database's position ({}) is behind what this node applied ({}): it lost commits; reading ALL again "
         "from offset {}",
         held, before, held + 1);
  }
}

void Node::AllApplier::recheckPosition() {
  retrier_.run(
      "checking the database's position",
      [&] {
        if (!db_) openDatabase(); // a lost connection: reconnecting compares the positions
        adoptDatabasePosition(db_->loadPosition(node_.options_.cluster).offset, false);
        if (rewound_) rewind();
      },
      [&] {
        node_.metrics_.setDatabaseConnected(false);
        db_.reset();
      });
}

void Node::AllApplier::applyBatch(std::vector<Item>& batch) {
  const auto startedUs = util::nowMicros();
  const auto startedAt = std::chrono::steady_clock::now();
  // What the batch may write, for continuous verification's next check: before it runs, as a retry after a lost
  // connection drops the requests whose commit did happen from `batch`.
  if (node_.checker_)
    for (const auto& item : batch) node_.checker_->wrote(Checker::writesOf(item.prepared));
  Answers answers;
  retrier_.run(
      "applying ALL batch",
      [&] {
        if (!db_) openDatabase();
        if (rewound_) { // this batch starts after requests the database lost: read them again first
          rewind();
          batch.clear();
          return;
        }
        // After a reconnect the database may show that a commit whose answer was lost did happen.
        const auto applied = node_.applied_.get();
        batch.erase(
            std::remove_if(batch.begin(), batch.end(), [&](const Item& i) { return i.msg->offset() <= applied; }),
            batch.end());
        if (batch.empty()) return;
        // Optimistic first: an earlier batch's request seen again is rare (a client's retry), and
        // commit() notices it, so only then is the batch run again after looking its ids up.
        if (!tryBatch(batch, careful_, answers, startedUs)) {
          db_->rollback();
          careful_ = true;
          tryBatch(batch, true, answers, startedUs);
        }
      },
      [&] {
        careful_ = true;
        if (db_) db_->rollback();
        db_.reset(); // reconnect on the next try
        node_.metrics_.setDatabaseConnected(false);
      });
  careful_ = false;
  if (batch.empty()) return;
  const auto committedUs = util::nowMicros();
  for (auto& r : answers.responses)
    if (r.trace) r.trace->committedUs = committedUs;
  const auto lastOffset = batch.back().msg->offset();
  node_.metrics_.batchApplied(batch.size(), startedAt, batch.back().msg->timestamp().timestamp);
  node_.applied_.set(lastOffset);
  if (batch.back().prepared.changesSchema) {
    functionCheck_.invalidate();
    if (db_) db_->forgetStatements();
  }
  if (batch.back().prepared.parsed.request.fingerprint) checkFingerprint(); // a fingerprint always ends its batch
  // Before the next batch can commit: the snapshot holds exactly what the log holds up to the checkpoint.
  if (batch.back().checkpoint && node_.checker_) node_.checker_->checkpoint(lastOffset, batch.back().fullCheck);
  responder_.sendLater(std::move(answers.responses));
  for (const auto& r : answers.reports) responder_.reportError(r);
  commitOffset(true);
  KLOG(Debug, "node", "applied ALL offsets {}..{} ({} requests)", batch.front().msg->offset(), lastOffset,
       batch.size());
}

void Node::AllApplier::commitOffset(bool afterBatch) {
  // The position in the database is what the node resumes from; Kafka's committed offset is only for tooling
  // (monitor, offsets show). Committing it after every batch cost the broker an OffsetCommit per batch and
  // node, so it is committed at most every 500 ms while batches come, and at once when the node is idle.
  constexpr auto kEvery = std::chrono::milliseconds(500);
  const auto applied = node_.applied_.get();
  if (applied < 0 || applied + 1 == committed_) return;
  const auto now = std::chrono::steady_clock::now();
  if (afterBatch && now - committedAt_ < kEvery) return;
  std::vector<RdKafka::TopicPartition*> offsets{RdKafka::TopicPartition::create(node_.topics_.all(), 0, applied + 1)};
  {
    std::lock_guard lock(consumerMutex_); // the reader may be replacing a fenced consumer
    if (consumer_) consumer_->commitAsync(offsets);
  }
  RdKafka::TopicPartition::destroy(offsets);
  committed_ = applied + 1;
  committedAt_ = now;
}

bool Node::AllApplier::tryBatch(std::vector<Item>& batch, bool careful, Answers& answers, std::int64_t startedUs) {
  std::vector<BatchRequest> requests;
  requests.reserve(batch.size());
  for (auto& item : batch) requests.push_back({item.msg->offset(), &item.prepared, item.fetchedUs});
  const BatchContext context{&db::adapter(node_.options_.databaseType), node_.options_.cluster, responder_.nodeId()};
  return runBatch(context, *db_, functionCheck_, requests, careful, answers, startedUs);
}

} // namespace kluster::node
