#include "core/node/responder.hpp"

#include "core/errors.hpp"
#include "core/log.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>

namespace kluster::node {
namespace {

// librdkafka waits 5 ms by default for more messages before it sends a batch: 5 ms added to every answer.
// The ALL responses are sent at once anyway (sendLoop flushes); the ONE workers' answers wait at most half a
// millisecond. A `linger.ms` in the node's [kafka] table wins.
kafka::Properties withLinger(kafka::Properties props) {
  props.emplace("linger.ms", "0.5");
  return props;
}

// The largest response one Kafka message carries: the producer's message.max.bytes (librdkafka's default, 1,000,000,
// is below the broker's), less room for the record's key and headers.
std::size_t maxResponseBytes(const kafka::Properties& props) {
  std::size_t limit = 1000000;
  if (auto it = props.find("message.max.bytes"); it != props.end()) limit = std::stoul(it->second);
  return limit > 4096 ? limit - 4096 : limit;
}

} // namespace

Responder::Responder(const Topics& topics, std::string nodeId, const kafka::Properties& props, int responsePartitions)
    : topics_(topics), nodeId_(std::move(nodeId)), producer_(withLinger(props), true),
      responsePartitions_(responsePartitions), maxResponseBytes_(maxResponseBytes(props)) {
  producer_.warmUp({topics_.responses(), topics_.errors(), topics_.all()}, std::chrono::seconds(5));
  sender_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "responder");
    sendLoop();
  });
}

Responder::~Responder() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  sender_.join();
}

void Responder::sendLater(std::vector<Response> responses) {
  if (responses.empty()) return;
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return outbox_.size() < 4; });
  outbox_.push_back(std::move(responses));
  changed_.notify_all();
}

void Responder::sendLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return !outbox_.empty() || closing_; });
    if (outbox_.empty()) return; // closing, and everything is sent
    // Every batch queued meanwhile goes out together: while the last ones were being sent, the applier
    // committed more, and their responses share one produce request instead of one each.
    auto batches = std::move(outbox_);
    outbox_.clear();
    sending_ = true;
    changed_.notify_all();
    lock.unlock();
    for (auto& batch : batches)
      for (auto& r : batch) {
        try {
          send(r);
        } catch (const std::exception& e) {
          // The request is applied; its client will time out and may retry, and then gets DUPLICATE.
          KLOG(Error, "node", "cannot answer request {}: {}", r.requestId, e.what());
        }
      }
    // Sent now rather than after linger.ms: librdkafka sends at once while a flush() runs. Bounded to a
    // millisecond, which is enough to wake its broker thread; the acknowledgement is not waited for, so the
    // batches committed meanwhile are not held back behind it.
    producer_.flush(std::chrono::milliseconds(1));
    lock.lock();
    sending_ = false;
    changed_.notify_all();
  }
}

bool Responder::flush(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_until(lock, deadline, [&] { return outbox_.empty() && !sending_; })) return false;
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return producer_.flush(std::max(left, std::chrono::milliseconds(0)));
}

Response Responder::build(const ParsedRequest& request, const std::string& requestTopic, db::Outcome outcome,
                          std::int64_t startedMs) const {
  return buildResponse(nodeId_, request, requestTopic, std::move(outcome), startedMs);
}

Response buildResponse(const std::string& nodeId, const ParsedRequest& request, const std::string& requestTopic,
                       db::Outcome outcome, std::int64_t startedMs) {
  Response r;
  r.messageId = fmt::format("{}.{}", nodeId, util::uuid4());
  r.nodeId = nodeId;
  r.requestId = request.request.messageId;
  r.clientId = request.request.clientId;
  r.requestTopic = requestTopic;
  r.resultCode = std::move(outcome.resultCode);
  r.result = std::move(outcome.result);
  r.columns = std::move(outcome.columns);
  r.results = std::move(outcome.results);
  r.rowsAffected = outcome.rowsAffected;
  r.errorMessage = std::move(outcome.errorMessage);
  r.sqlState = std::move(outcome.sqlState);
  r.hint = std::move(outcome.hint);
  r.digests = std::move(outcome.digests);
  r.drawn = std::move(outcome.drawn);
  r.timestamp = util::nowMillis();
  r.durationMs = startedMs ? r.timestamp - startedMs : 0;
  r.resultHash = outcomeHash(r);
  return r;
}

void Responder::send(Response& response) {
  if (response.trace) response.trace->producedUs = util::nowMicros();
  const int partition = util::responsePartition(response.clientId, responsePartitions_);
  auto payload = response.toJson();
  if (payload.size() > maxResponseBytes_) {
    // Kafka would refuse it, and the client would wait for an answer until its timeout. What was applied stays
    // applied (the result hash is the outcome's): only the rows do not travel.
    KLOG(Warn, "node", "the response to request {} takes {} bytes, more than one Kafka message carries ({})",
         response.requestId, payload.size(), maxResponseBytes_);
    Response tooLarge = response;
    tooLarge.resultCode = std::string(code::TooLarge);
    tooLarge.errorMessage = fmt::format("the result takes {} bytes, more than one response may carry ({} bytes)",
                                        payload.size(), maxResponseBytes_);
    tooLarge.hint = "select fewer rows or columns at a time (e.g. in ranges of a key), or raise the Kafka topics' "
                    "and clients' message.max.bytes";
    tooLarge.sqlState.clear();
    tooLarge.result = nullptr;
    tooLarge.results = ojson();
    tooLarge.columns = ojson();
    tooLarge.digests.clear();
    payload = tooLarge.toJson();
  }
  producer_.produce(topics_.responses(), partition, response.clientId, payload);
  if (metrics_) metrics_->countRequest(response.requestTopic, response.resultCode);
}

void Responder::reportError(const NodeErrorReport& report) {
  if (metrics_) metrics_->countNodeError(report.code);
  KLOG(Error, "node", "{}: {}", report.code, report.message);
  try {
    producer_.produce(topics_.errors(), -1, nodeId_, report.toJson());
  } catch (const std::exception& e) {
    KLOG(Error, "node", "cannot report on {}: {}", topics_.errors(), e.what());
  }
}

} // namespace kluster::node
