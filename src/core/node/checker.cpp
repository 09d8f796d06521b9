#include "core/node/checker.hpp"

#include "core/errors.hpp"
#include "core/log.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <pthread.h>

namespace kluster::node {
namespace {

/// The largest check result published with its key ranges (below librdkafka's default message.max.bytes).
constexpr std::size_t kMaxResultBytes = 900'000;

std::int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

} // namespace

Checker::Checker(Options options, const kafka::Properties& base, Responder& responder, NodeMetrics& metrics)
    : options_(std::move(options)), topics_{options_.cluster}, responder_(responder), metrics_(metrics) {
  lastSeenMs_.store(util::nowMillis());
  // The other nodes' sums: the one RESPONSES partition they all go to, from a few check periods back (a node
  // that catches up computes checkpoints the others published sums for already).
  auto props = base;
  props["group.id"] = topics_.cluster + ".checks." + options_.nodeId; // never joined: assigned directly
  props["enable.auto.commit"] = "false";
  props.emplace("fetch.wait.max.ms", "200");
  consumer_ = kafka::makeConsumer(props);
  const int partition = util::responsePartition(checks::kClientId, options_.responsePartitions);
  std::vector<RdKafka::TopicPartition*> start{RdKafka::TopicPartition::create(
      topics_.responses(), partition, util::nowMillis() - 10 * options_.interval.count())};
  if (consumer_->offsetsForTimes(start, 10000) != RdKafka::ERR_NO_ERROR || start[0]->offset() < 0)
    start[0]->set_offset(RdKafka::Topic::OFFSET_END);
  consumer_->assign(start);
  RdKafka::TopicPartition::destroy(start);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "checker");
    loop();
  });
}

Checker::~Checker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (busy_ && db_) db_->closeSnapshot();
  consumer_->close();
}

db::Writes Checker::writesOf(const Prepared& p) {
  db::Writes w;
  if (p.control) return w; // Kluster's own (a fingerprint): its own schema only
  const auto& tx = p.parsed.request.transaction;
  // DDL (and every statement that is not plain DML: TRUNCATE, CALL, DO, SET...), and a commit that runs parts it
  // staged earlier (whose targets came with those parts): any table.
  if (p.changesSchema || p.spliced || (tx && !tx->staged.empty())) {
    w.everything = true;
    return w;
  }
  for (const auto& t : p.targets) w.tables.emplace(t.schema, t.name);
  w.functions.insert(p.functions.begin(), p.functions.end());
  return w;
}

void Checker::checkpoint(std::int64_t offset, bool full) {
  {
    std::lock_guard lock(mutex_);
    if (busy_) {
      KLOG(Info, "node", "check at ALL offset {} skipped: the previous one still runs", offset);
      return;
    }
    busy_ = true; // db_ is this thread's until pending_ is set
  }
  std::optional<Job> taken;
  try {
    if (!db_) db_ = db::connect(options_.databaseType, options_.databaseUrl);
    const auto held = db_->openSnapshot(options_.cluster);
    if (held == offset)
      taken = Job{offset, full, std::exchange(since_, {})}; // what comes after is not in the snapshot
    else
      db_->closeSnapshot(); // someone else wrote the position: not the checkpoint's state
  } catch (const std::exception& e) {
    KLOG(Warn, "node", "check at ALL offset {} skipped: {}", offset, e.what());
    db_.reset();
  }
  const bool handed = taken.has_value();
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(taken);
    busy_ = handed;
  }
  if (handed) wake_.notify_all();
}

void Checker::loop() {
  for (;;) {
    std::optional<Job> job;
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      job = std::exchange(pending_, std::nullopt);
    }
    if (job) {
      compute(std::move(*job));
      std::lock_guard lock(mutex_);
      busy_ = false;
    }
    try {
      read();
      tickIfQuiet();
    } catch (const std::exception& e) {
      KLOG(Warn, "node", "continuous verification: {}", e.what());
    }
    // Checkpoints whose other results are late: judged with what came within a check period.
    const auto now = steadyMs();
    for (const auto& [offset, at] : own_)
      if (!judged_.count(offset) && now - at > options_.interval.count()) judge(offset);
  }
}

void Checker::compute(Job job) {
  const auto offset = job.offset;
  const auto started = steadyMs();
  checks::Result own;
  own.nodeId = options_.nodeId;
  own.allOffset = offset;
  std::size_t summed = 0;
  try {
    const auto tables = db_->snapshotTables();
    // Nothing to reuse (the first check, or after a failed one) is a full check too.
    std::optional<std::set<std::string>> written;
    own.full = job.full || !previous_;
    if (!own.full) {
      written = db_->snapshotWritten(job.writes);
      own.full = !written;
    }
    std::map<std::string, db::TableChecksum> sums;
    for (const auto& table : tables) {
      const db::TableChecksum* kept = nullptr; // unwritten since the previous check: its sums then
      if (!own.full && !written->count(table))
        if (auto it = previous_->find(table); it != previous_->end()) kept = &it->second;
      if (kept) {
        own.tables.push_back(*kept);
      } else {
        own.tables.push_back(db_->snapshotChecksum(table));
        own.tables.back().summedAt = offset;
        ++summed;
      }
      sums[table] = own.tables.back();
    }
    db_->closeSnapshot();
    previous_ = std::move(sums);
  } catch (const std::exception& e) {
    KLOG(Warn, "node", "check at ALL offset {} failed: {}", offset, e.what());
    db_.reset();
    previous_.reset(); // what a next check could reuse is not known: it sums everything
    return;
  }
  own.durationMs = steadyMs() - started;
  own.timestampMs = util::nowMillis();
  auto payload = own.toResponse().toJson();
  if (payload.size() > kMaxResultBytes) {
    // About 350 bytes a table, most of them the buckets: a database of thousands of tables would not fit in one
    // Kafka message (1 MB by default). Without them the tables are still compared, their key ranges not named.
    KLOG(Warn, "node", "check at ALL offset {}: {} bytes of sums for {} tables; publishing them without key ranges",
         offset, payload.size(), own.tables.size());
    for (auto& t : own.tables) {
      t.buckets.clear();
      t.bucketOf.clear();
    }
    payload = own.toResponse().toJson();
  }
  responder_.publish(topics_.responses(), util::responsePartition(checks::kClientId, options_.responsePartitions),
                     checks::kClientId, payload);
  metrics_.countCheck(offset, own.durationMs, summed, own.tables.size() - summed);
  KLOG(Debug, "node", "checked {} tables at ALL offset {} in {} ms ({}, {} summed again): {}", own.tables.size(),
       offset, own.durationMs, own.full ? "full" : "incremental", summed, own.digest());
  rounds_.add(std::move(own));
  own_[offset] = steadyMs();
  while (own_.size() > 32) own_.erase(own_.begin());
  while (judged_.size() > 64) judged_.erase(judged_.begin());
  if (rounds_.complete(offset)) judge(offset);
}

void Checker::read() {
  // Up to ~200 ms, so a pending snapshot and ticks are not kept waiting.
  const auto until = steadyMs() + 200;
  while (steadyMs() < until) {
    std::unique_ptr<RdKafka::Message> msg(consumer_->consume(100));
    if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) return;
    if (msg->err() != RdKafka::ERR_NO_ERROR) {
      KLOG(Debug, "node", "reading check results: {}", msg->errstr());
      return;
    }
    if (!msg->key() || *msg->key() != checks::kClientId) continue;
    try {
      auto result = checks::Result::fromResponse(
          Response::fromJson(std::string_view(static_cast<const char*>(msg->payload()), msg->len())));
      if (!result || result->nodeId == options_.nodeId) continue;
      const auto offset = result->allOffset;
      rounds_.add(std::move(*result));
      if (own_.count(offset) && !judged_.count(offset) && rounds_.complete(offset)) judge(offset);
    } catch (const std::exception&) {
      continue; // not a check result
    }
  }
}

void Checker::judge(std::int64_t offset) {
  judged_.insert(offset);
  const auto results = rounds_.at(offset);
  if (results.size() < 2) return; // no other node checked this offset
  const auto verdict = checks::compare(results);
  if (verdict.identical()) {
    KLOG(Debug, "node", "check at ALL offset {}: identical on {} nodes", offset, results.size());
    return;
  }
  const bool self =
      std::find(verdict.differing.begin(), verdict.differing.end(), options_.nodeId) != verdict.differing.end();
  if (!self) return; // the others report themselves
  metrics_.countDivergence();
  std::string tables;
  for (const auto& t : verdict.tables) tables += (tables.empty() ? "" : " | ") + t;
  KLOG(Warn, "node", "continuous verification: this node's data at ALL offset {} differs: {}", offset, tables);
  NodeErrorReport r;
  r.nodeId = options_.nodeId;
  r.code = std::string(code::Diverged);
  r.message = fmt::format(
      "continuous verification: this node's data at ALL offset {} differs from {} ({}): {}; run `klusterctl verify "
      "--table TABLE` to list the rows, and restore this node from a backup of a good one",
      offset, verdict.majority ? "the majority's" : "the other nodes' (no majority)", fmt::join(verdict.nodes, ", "),
      tables);
  r.requestId = fmt::format("check@{}", offset);
  r.requestTopic = checks::kTopic;
  r.offset = offset;
  r.timestamp = util::nowMillis();
  responder_.reportError(r);
}

void Checker::tickIfQuiet() {
  const auto interval = options_.interval.count();
  const auto now = util::nowMillis();
  // Nodes wait a little differently, so that usually one tick serves them all.
  const auto stagger = static_cast<std::int64_t>(util::fnv1a(options_.nodeId) %
                                                 static_cast<std::uint32_t>(std::max<std::int64_t>(1, interval / 4)));
  if (now - lastSeenMs_.load(std::memory_order_relaxed) < interval + stagger || now - lastTickMs_ < interval) return;
  Request tick;
  tick.messageId = fmt::format("{}.tick.{}", options_.nodeId, util::uuid4());
  tick.clientId = "_kluster";
  tick.tick = true;
  responder_.publish(topics_.all(), 0, tick.messageId, tick.toJson());
  lastTickMs_ = now;
}

} // namespace kluster::node
