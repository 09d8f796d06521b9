// The ALL apply loop: read in order, prepare, apply a batch in one transaction together with the new
// position, answer after the commit. The position in the database is the truth; the Kafka committed
// offset follows it for tooling.
#include "core/kafka/admin.hpp"
#include "core/log.hpp"
#include "core/node/parts.hpp"
#include "core/util.hpp"

#include <set>

namespace kluster::node {

Node::AllApplier::AllApplier(Node& node, const kafka::Properties& base, Responder& responder)
    : node_(node), responder_(responder), retrier_(responder, node.stop_, node.options_.maxRetry),
      preparer_(nullptr, node.options_.maxRequestBytes) {
  preparer_.setCluster(node_.options_.cluster);
  openDatabase();
  checkFingerprint();
  if (!fingerprintRecorded_) {
    if (auto first = firstFingerprintInLog(base); first && *first != ownFingerprint_)
      refuse(*first);
  }
  kafka::Properties props = base;
  props["group.id"] = node_.topics_.nodeGroup(node_.options_.nodeId);
  props["enable.auto.commit"] = "false";
  props["auto.offset.reset"] = "earliest";
  props["enable.partition.eof"] = "false";
  props.emplace("fetch.wait.max.ms", "100");
  // A crashed node's place in its group is freed after the session timeout; keep it short so a restarted
  // node gets ALL back quickly (a clean stop leaves the group at once).
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
  if (consumer_) consumer_->close(); // leaves the group: the node shows as stopped
}

void Node::AllApplier::openDatabase() {
  retrier_.run(
      "connecting to the database",
      [&] {
        db_ = db::connect(node_.options_.databaseUrl);
        db_->ensureSchema();
        auto info = db_->serverInfo();
        ownFingerprint_ = {{"product", info.product},
                           {"majorVersion", info.majorVersion},
                           {"encoding", info.encoding},
                           {"collation", info.collation},
                           {"ctype", info.ctype}};
        auto position = db_->loadPosition(node_.options_.cluster);
        node_.applied_.set(position.offset);
        KLOG(Info, "node", "database {} {} ({}, {}); applied ALL up to offset {}", info.product, info.version,
             info.encoding, info.collation, position.offset);
      },
      [&] { db_.reset(); });
  preparer_.setConnection(db_.get());
}

void Node::AllApplier::checkFingerprint() {
  auto recorded = retrier_.run("reading the cluster fingerprint", [&] { return db_->loadFingerprint(node_.options_.cluster); },
                               [] {});
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
      throw KlusterError(code::NodeError, fmt::format("could not read {} up to offset {}", node_.topics_.all(), end.high),
                         "check that Kafka is reachable, then start the node again");
    MessagePtr msg(reader->consume(500));
    if (msg->err() != RdKafka::ERR_NO_ERROR) {
      if (msg->err() != RdKafka::ERR__TIMED_OUT) KLOG(Warn, "node", "reading {}: {}", node_.topics_.all(), msg->errstr());
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
  pending_.clear();
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
  const std::size_t batchMax = static_cast<std::size_t>(node_.options_.batchMax);
  try {
    while (!node_.stop_.load()) {
      // Block briefly for the first message, then take whatever else is already here.
      int wait = pending_.empty() ? 200 : 0;
      while (pending_.size() < batchMax) {
        MessagePtr msg(consumer_->consume(wait));
        wait = 0;
        if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) break;
        if (msg->err() != RdKafka::ERR_NO_ERROR) {
          KLOG(Warn, "node", "reading {}: {}", node_.topics_.all(), msg->errstr());
          break;
        }
        if (msg->offset() <= node_.applied_.get()) continue; // already applied (redelivery)
        pending_.push_back(std::move(msg));
      }
      responder_.poll();
      if (pending_.empty()) continue;
      applyBatch();
    }
  } catch (const StopRequested&) {
  }
  const auto applied = node_.applied_.get();
  if (applied >= 0) {
    std::vector<RdKafka::TopicPartition*> offsets{RdKafka::TopicPartition::create(node_.topics_.all(), 0, applied + 1)};
    consumer_->commitSync(offsets);
    RdKafka::TopicPartition::destroy(offsets);
  }
}

void Node::AllApplier::applyBatch() {
  const auto started = util::nowMillis();
  std::vector<Prepared> prepared;
  std::vector<Response> responses;
  retrier_.run(
      "applying ALL batch",
      [&] {
        if (!db_) openDatabase();
        // After a reconnect the database may show that a commit whose answer was lost did happen.
        while (!pending_.empty() && pending_.front()->offset() <= node_.applied_.get()) pending_.pop_front();
        prepared.clear();
        responses.clear();
        // Prepare; a request that is not plain DML ends the batch, so what follows is prepared against
        // the schema it creates.
        for (const auto& msg : pending_) {
          const auto ts = msg->timestamp().timestamp;
          prepared.push_back(preparer_.forAll(std::string_view(static_cast<const char*>(msg->payload()), msg->len()),
                                              msg->offset(), ts > 0 ? ts : 0));
          if (prepared.back().changesSchema && !prepared.back().refusal) break;
        }
        std::vector<std::string> ids;
        for (const auto& p : prepared)
          if (p.parsed.hasRequestId()) ids.push_back(p.parsed.request.messageId);
        auto applied = db_->findApplied(ids);

        std::vector<const db::Work*> work;
        std::vector<int> slot(prepared.size(), -1); // index into `work`, or -1 when not executed
        std::set<std::string> seen;
        std::vector<std::optional<db::AppliedRecord>> duplicateOf(prepared.size());
        for (std::size_t i = 0; i < prepared.size(); ++i) {
          const auto& id = prepared[i].parsed.request.messageId;
          if (prepared[i].parsed.hasRequestId()) {
            if (auto it = applied.find(id); it != applied.end())
              duplicateOf[i] = it->second;
            else if (seen.count(id))
              duplicateOf[i] = db::AppliedRecord{-1, "", "", 0};
            seen.insert(id);
          }
          if (!prepared[i].refusal && !duplicateOf[i]) {
            slot[i] = static_cast<int>(work.size());
            work.push_back(&prepared[i].work);
          }
        }
        if (prepared.empty()) return;
        db_->begin();
        auto outcomes = db_->execute(work);

        std::vector<db::AppliedEntry> entries;
        for (std::size_t i = 0; i < prepared.size(); ++i) {
          const auto offset = pending_[i]->offset();
          const auto& p = prepared[i];
          db::Outcome outcome;
          if (duplicateOf[i]) {
            const auto& d = *duplicateOf[i];
            outcome = db::Outcome::error(
                code::Duplicate,
                d.offset >= 0 ? fmt::format("request already applied at ALL offset {} ({})", d.offset, d.resultCode)
                              : std::string("request already applied in this batch"));
            outcome.rowsAffected = d.rowsAffected;
          } else {
            outcome = p.refusal ? *p.refusal : outcomes[static_cast<std::size_t>(slot[i])];
          }
          if (p.control) {
            entries.push_back({p.parsed.request.messageId, offset, std::string(code::Ok), "", 0});
            continue;
          }
          if (!p.parsed.hasRequestId()) {
            responder_.reportError({responder_.nodeId(),
                                    p.parsed.errorCode,
                                    fmt::format("unreadable request on ALL: {}", p.parsed.errorMessage),
                                    {},
                                    "ALL",
                                    offset,
                                    {},
                                    "warning",
                                    0});
            continue;
          }
          Response r = responder_.build(p.parsed, "ALL", outcome, started);
          r.allOffset = duplicateOf[i] && duplicateOf[i]->offset >= 0 ? duplicateOf[i]->offset : offset;
          if (!duplicateOf[i])
            entries.push_back({p.parsed.request.messageId, offset, r.resultCode, r.resultHash, r.rowsAffected});
          responses.push_back(std::move(r));
        }
        const auto& last = pending_[prepared.size() - 1];
        db_->record(node_.options_.cluster, entries, {last->offset(), prepared.back().parsed.request.messageId});
        db_->commit();
      },
      [&] {
        if (db_) db_->rollback();
        db_.reset(); // reconnect on the next try
      });
  if (prepared.empty()) return;
  const auto lastOffset = pending_[prepared.size() - 1]->offset();
  node_.applied_.set(lastOffset);
  if (prepared.back().control) checkFingerprint(); // a control message always ends its batch
  for (const auto& r : responses) responder_.send(r);
  std::vector<RdKafka::TopicPartition*> offsets{
      RdKafka::TopicPartition::create(node_.topics_.all(), 0, lastOffset + 1)};
  consumer_->commitAsync(offsets);
  RdKafka::TopicPartition::destroy(offsets);
  KLOG(Debug, "node", "applied ALL offsets {}..{} ({} requests)", pending_.front()->offset(), lastOffset,
       prepared.size());
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(prepared.size()));
}

} // namespace kluster::node
