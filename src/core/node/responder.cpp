#include "core/node/responder.hpp"

#include "core/log.hpp"
#include "core/util.hpp"

namespace kluster::node {

Responder::Responder(const Topics& topics, std::string nodeId, const kafka::Properties& props, int responsePartitions)
    : topics_(topics), nodeId_(std::move(nodeId)), producer_(props, true), responsePartitions_(responsePartitions) {
  producer_.warmUp({topics_.responses(), topics_.errors(), topics_.all()}, std::chrono::seconds(5));
}

Response Responder::build(const ParsedRequest& request, const std::string& requestTopic, const db::Outcome& outcome,
                          std::int64_t startedMs) const {
  Response r;
  r.messageId = fmt::format("{}.{}", nodeId_, util::uuid4());
  r.nodeId = nodeId_;
  r.requestId = request.request.messageId;
  r.clientId = request.request.clientId;
  r.requestTopic = requestTopic;
  r.resultCode = outcome.resultCode;
  r.result = outcome.result;
  r.columns = outcome.columns;
  r.results = outcome.results;
  r.rowsAffected = outcome.rowsAffected;
  r.errorMessage = outcome.errorMessage;
  r.sqlState = outcome.sqlState;
  r.hint = outcome.hint;
  r.timestamp = util::nowMillis();
  r.durationMs = startedMs ? r.timestamp - startedMs : 0;
  r.resultHash = outcomeHash(r);
  return r;
}

void Responder::send(const Response& response) {
  const int partition = util::responsePartition(response.clientId, responsePartitions_);
  producer_.produce(topics_.responses(), partition, response.clientId, response.toJson());
}

void Responder::reportError(const NodeErrorReport& report) {
  KLOG(Error, "node", "{}: {}", report.code, report.message);
  try {
    producer_.produce(topics_.errors(), -1, nodeId_, report.toJson());
  } catch (const std::exception& e) {
    KLOG(Error, "node", "cannot report on {}: {}", topics_.errors(), e.what());
  }
}

} // namespace kluster::node
