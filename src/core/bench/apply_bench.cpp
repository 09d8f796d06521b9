#include "core/bench/apply_bench.hpp"

#include "core/bench/child.hpp"
#include "core/config.hpp"
#include "core/db/operations.hpp"
#include "core/errors.hpp"
#include "core/kafka/admin.hpp"
#include "core/message.hpp"
#include "core/topics.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <thread>

namespace kluster::bench {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void say(const ApplyBenchOptions& o, const std::string& text) {
  if (o.progress) o.progress(text);
}

/// Publishes requests to ALL in order, as a client with its own id.
class AllPublisher {
public:
  AllPublisher(const Settings& settings, Topics topics)
      : topics_(std::move(topics)),
        clientId_(fmt::format("kluster-bench-{}-{}", ::getpid(), util::uuid4().substr(0, 8))) {
    auto props = kafka::clientProperties(settings.get("cluster.brokers"), settings.kafka());
    props.emplace("linger.ms", "10"); // throughput, not latency: let librdkafka batch
    producer_ = std::make_unique<kafka::Producer>(props, true);
  }

  void publish(const std::string& sql, nlohmann::json params = nlohmann::json::array()) {
    Request r;
    r.messageId = util::uuid4();
    r.clientId = clientId_;
    r.statements = {sql};
    r.params = std::move(params);
    producer_->produce(topics_.all(), 0, r.messageId, r.toJson());
  }

  void flush() {
    if (!producer_->flush(std::chrono::minutes(2)) || producer_->failedDeliveries() > 0)
      throw KlusterError(code::NodeError,
                         fmt::format("publishing to {} failed: {}", topics_.all(), producer_->lastDeliveryError()),
                         "check that the brokers are up");
  }

private:
  Topics topics_;
  std::string clientId_;
  std::unique_ptr<kafka::Producer> producer_;
};

/// The node's applied position, read from its database.
std::int64_t position(db::Connection& db, const std::string& cluster) { return db.loadPosition(cluster).offset; }

/// Polls the node's position until it reaches `offset`; fails when the node exits or the deadline passes.
/// `onAdvance` sees each new position first observed.
void waitForPosition(db::Connection& db, const std::string& cluster, std::int64_t offset, BackgroundChild& node,
                     const ApplyBenchOptions& o, Clock::time_point deadline,
                     const std::function<void(std::int64_t)>& onAdvance) {
  std::int64_t last = position(db, cluster);
  while (last < offset) {
    if (auto status = node.exited())
      throw KlusterError(code::NodeError,
                         fmt::format("the node exited with status {} at position {}; the end of its log:\n{}", *status,
                                     last, util::tailFile(o.nodeLog, 15)),
                         "see " + o.nodeLog);
    if (Clock::now() > deadline)
      throw KlusterError(code::NodeError,
                         fmt::format("the node reached ALL offset {} of {} in {} s", last, offset,
                                     std::chrono::duration_cast<std::chrono::seconds>(o.timeout).count()),
                         "give it more time with --timeout, or see " + o.nodeLog);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto now = position(db, cluster);
    if (now != last && onAdvance) onAdvance(now);
    last = now;
  }
}

void checkNodeStopped(kafka::Admin& admin, const Topics& topics, const std::string& nodeId) {
  if (!admin.partitionCount(topics.all()))
    throw UsageError(fmt::format("topic {} does not exist; create the cluster first: klusterctl init --cluster {}",
                                 topics.all(), topics.cluster));
  for (const auto& g : admin.listGroups())
    if (g.groupId == topics.nodeGroup(nodeId) && g.active())
      throw UsageError(fmt::format("node {} is running (its group {} is {}): stop it first, since bench apply "
                                   "measures how fast it catches up on a backlog",
                                   nodeId, g.groupId, g.state));
}

/// Writes out dirty buffers before a measured phase, so that neither phase pays for the other's writes
/// (a checkpoint during the baseline made it vary by a third). Without the privilege it needs the phases simply
/// run as they are.
void checkpoint(const db::Operations& ops, const std::string& url, const ApplyBenchOptions& o) {
  if (auto why = ops.flushBuffers(url); !why.empty())
    say(o, fmt::format("note: no CHECKPOINT before the phase ({})", why));
}

} // namespace

ApplyBenchResult runApplyBench(const ApplyBenchOptions& o) {
  if (o.rows < 1 || o.txSize < 1) throw UsageError("--rows and --tx-size must be at least 1");
  const auto settings = Settings::load(o.nodeConfig);
  ApplyBenchResult r;
  r.cluster = settings.get("cluster.name");
  r.nodeId = settings.get("node.id");
  r.batchMax = settings.getInt("node.batch_max");
  r.rows = o.rows;
  r.table = "kluster_bench_apply_" + util::uuid4().substr(0, 8);
  const auto url = settings.get("database.url");
  if (r.nodeId.empty() || url.empty())
    throw UsageError(fmt::format("{} must set [node] id and [database] url (or KLUSTER_NODE_ID, KLUSTER_DATABASE_URL)",
                                 o.nodeConfig));
  const Topics topics{r.cluster};
  kafka::Admin admin(kafka::clientProperties(settings.get("cluster.brokers"), settings.kafka()));
  checkNodeStopped(admin, topics, r.nodeId);

  const db::Adapter& adapter = db::adapter(settings.get("database.type"));
  auto db = adapter.connect(url);
  db->ensureSchema(); // what the node does first anyway; lets the position be read before it ran
  const auto before = position(*db, r.cluster);
  const auto high = admin.watermarks(topics.all(), 0).high;
  if (before >= 0 && before < high - 1)
    say(o, fmt::format("note: the node is {} requests behind already; they count in its catch-up", high - 1 - before));

  say(o, fmt::format("publishing CREATE TABLE {} and {} INSERT requests to {}", r.table, o.rows, topics.all()));
  AllPublisher publisher(settings, topics);
  const auto produceStart = Clock::now();
  // SQL that PostgreSQL and MariaDB (10.7 and later: its UUID type) both accept, and both analyses: the node's
  // requests on a MariaDB cluster are still read by PostgreSQL's parser (docs/mariadb.md). Each adapter's
  // baseline (db::Operations::timeInserts) creates the same table and inserts the same rows.
  publisher.publish(
      fmt::format("CREATE TABLE {} (id uuid PRIMARY KEY, n integer NOT NULL, note text NOT NULL)", r.table));
  const std::string insert = fmt::format("INSERT INTO {} (id, n, note) VALUES ($1, $2, $3)", r.table);
  for (int i = 0; i < o.rows; ++i) publisher.publish(insert, {util::uuid4(), i, fmt::format("row {}", i)});
  publisher.flush();
  r.produceSeconds = secondsSince(produceStart);
  r.lastOffset = admin.watermarks(topics.all(), 0).high - 1;
  r.firstOffset = r.lastOffset - o.rows;

  checkpoint(adapter.operations(), url, o);
  say(o, fmt::format("starting node {} (log: {})", r.nodeId, o.nodeLog));
  BackgroundChild node({o.klusterctl, "node", "run", "--config", o.nodeConfig}, o.nodeLog);
  const auto nodeStart = Clock::now();
  std::optional<Clock::time_point> firstAt;
  std::int64_t firstPosition = before;
  waitForPosition(*db, r.cluster, r.lastOffset, node, o, nodeStart + o.timeout, [&](std::int64_t p) {
    if (firstAt) return;
    firstAt = Clock::now();
    firstPosition = p;
  });
  const auto doneAt = Clock::now();
  if (!firstAt) firstAt = doneAt;
  r.startupSeconds = std::chrono::duration<double>(*firstAt - nodeStart).count();
  if (firstPosition < r.lastOffset) {
    r.nodeRows = r.lastOffset - firstPosition;
    r.nodeSeconds = std::chrono::duration<double>(doneAt - *firstAt).count();
  } else { // all of it in one poll interval: count from the start, startup included
    r.nodeRows = r.lastOffset - std::max(before, r.firstOffset - 1);
    r.nodeSeconds = std::chrono::duration<double>(doneAt - nodeStart).count();
  }
  r.nodeRowsPerSecond = static_cast<double>(r.nodeRows) / r.nodeSeconds;

  say(o, fmt::format("dropping {} through ALL, stopping the node", r.table));
  publisher.publish(fmt::format("DROP TABLE {}", r.table));
  publisher.flush();
  const auto dropOffset = admin.watermarks(topics.all(), 0).high - 1;
  waitForPosition(*db, r.cluster, dropOffset, node, o, Clock::now() + std::chrono::minutes(1), {});
  const int status = node.stop(std::chrono::seconds(30));
  if (status != 0) say(o, fmt::format("note: the node exited with status {} when stopped (see {})", status, o.nodeLog));

  checkpoint(adapter.operations(), url, o);
  say(o, fmt::format("baseline: {} INSERTs on one connection, pipelined, {} per transaction", o.rows, o.txSize));
  r.baselineSeconds = adapter.operations().timeInserts(url, r.table + "_baseline", o.rows, o.txSize);
  r.baselineRowsPerSecond = o.rows / r.baselineSeconds;
  r.ratio = r.nodeRowsPerSecond / r.baselineRowsPerSecond;
  return r;
}

} // namespace kluster::bench
