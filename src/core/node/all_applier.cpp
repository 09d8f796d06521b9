// The ALL apply loop: read in order, prepare, apply a batch in one transaction together with the new
// position, answer after the commit. The position in the database is the truth; the Kafka committed
// offset follows it for tooling.
#include "core/log.hpp"
#include "core/node/parts.hpp"
#include "core/util.hpp"

#include <set>

namespace kluster::node {

Node::AllApplier::AllApplier(Node& node, const kafka::Properties& base, Responder& responder)
    : node_(node), responder_(responder), retrier_(responder, node.stop_, node.options_.maxRetry),
      preparer_(nullptr, node.options_.maxRequestBytes) {
  openDatabase();
  kafka::Properties props = base;
  props["group.id"] = node_.topics_.nodeGroup(node_.options_.nodeId);
  props["enable.auto.commit"] = "false";
  props["auto.offset.reset"] = "earliest";
  props["enable.partition.eof"] = "false";
  props.emplace("fetch.wait.max.ms", "100");
  props.emplace("client.id", "kluster-" + node_.options_.nodeId + "-all");
  consumer_ = kafka::makeConsumer(props, this);
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
        auto position = db_->loadPosition(node_.options_.cluster);
        node_.applied_.set(position.offset);
        KLOG(Info, "node", "database {} {} ({}, {}); applied ALL up to offset {}", info.product, info.version,
             info.encoding, info.collation, position.offset);
      },
      [&] { db_.reset(); });
  preparer_.setConnection(db_.get());
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
