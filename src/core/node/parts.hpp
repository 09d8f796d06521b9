#pragma once
// The node's two halves (private to src/core/node).
#include "core/checks.hpp"
#include "core/db/adapter.hpp"
#include "core/node/batch.hpp"
#include "core/node/node.hpp"
#include "core/node/prepare.hpp"
#include "core/node/responder.hpp"
#include "core/node/retry.hpp"

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <vector>

namespace kluster::node {

/// Reads ALL in the node's own consumer group and applies it in order, in batches, exactly once.
class Node::AllApplier : public RdKafka::RebalanceCb {
public:
  AllApplier(Node& node, const kafka::Properties& base, Responder& responder);
  ~AllApplier() override;
  /// Applies ALL until the node stops: a reader thread consumes and prepares requests while this thread
  /// applies the batch before them.
  void run();
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;

private:
  using MessagePtr = std::unique_ptr<RdKafka::Message>;
  struct Item {
    MessagePtr msg;
    Prepared prepared;
    std::int64_t fetchedUs = 0; ///< when the reader got it (for traced requests)
    bool checkpoint = false;    ///< continuous verification checks the state right after it (ends its batch)
    bool fullCheck = false;     ///< that check sums every table again (checks::Schedule::full)
  };
  using Answers = BatchAnswers;
  void openDatabase();
  /// Refuses to go on when this node's server differs from the fingerprint the cluster recorded.
  void checkFingerprint();
  /// Puts the clients file recorded in the database in effect; refuses to go on when this node's differs.
  void loadClients();
  [[noreturn]] void refuse(const nlohmann::json& clusterFingerprint);
  void announceFingerprint();
  /// The first fingerprint in the ALL log, if any (read before applying anything, so that a node whose
  /// server differs refuses before it applies a single request).
  std::optional<nlohmann::json> firstFingerprintInLog(const kafka::Properties& base);
  /// The reader thread: consumes ALL, prepares each request and queues it.
  void readLoop();
  /// The consumer hit a fatal error. Fenced by another process with this node id: throws (the node stops).
  /// Fenced by its own rejoin (a coordinator moved): makes the consumer again and returns. Else throws.
  void onFatalError();
  /// Waits briefly for queued requests and takes the next batch: up to batch_max requests, ending after
  /// one that changes the schema. Empty when nothing came.
  std::vector<Item> takeBatch();
  /// Applies a batch as one transaction, then answers it.
  void applyBatch(std::vector<Item>& batch);
  /// Drops what the reader queued and makes it read ALL again right after the database's position.
  void rewind();
  /// Reads the database's position again (after a ONE read found it behind): rewinds when it went back.
  void recheckPosition();
  /// Takes the ALL offset the database holds as applied (`always`: even when ahead, as on connecting); when it
  /// is behind what the node applied, the database lost commits: marks the applier to read them again.
  void adoptDatabasePosition(std::int64_t held, bool always);
  /// Runs the batch's statements and records it; false when it met requests that an earlier batch had
  /// applied and `careful` was false (the caller rolls back and runs it again carefully).
  bool tryBatch(std::vector<Item>& batch, bool careful, Answers& answers, std::int64_t startedUs);
  /// Commits the applied position to Kafka (for tooling): after a batch at most every 500 ms, else now.
  void commitOffset(bool afterBatch);

  Node& node_;
  Responder& responder_;
  Retrier retrier_;
  std::unique_ptr<db::Connection> db_;
  Preparer preparer_;           ///< reader thread only
  checks::Schedule schedule_;   ///< reader thread only
  FunctionCheck functionCheck_; ///< applying thread only (uses its connection)
  kafka::Properties consumerProps_;
  /// The reader replaces a consumer that its own rejoin fenced (onFatalError); the applier commits through it.
  std::mutex consumerMutex_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  nlohmann::json ownFingerprint_;
  bool fingerprintRecorded_ = false;
  bool claimed_ = false;        ///< this process's token is recorded in the database (db::Connection::claimProcess)
  bool careful_ = false;        ///< look duplicates up before running (after a failure)
  bool rewound_ = false;        ///< a reconnect found the database's position behind the applied offset
  std::int64_t committed_ = -1; ///< the offset last committed to Kafka
  std::chrono::steady_clock::time_point committedAt_{};

  // Reader to applier hand-off: prepared requests in log order.
  std::mutex mutex_;
  std::condition_variable queued_;
  std::condition_variable room_;
  std::deque<Item> queue_;
  std::size_t queuedBytes_ = 0; ///< payload bytes in queue_
  bool readerDone_ = false;
  std::optional<std::int64_t> seekTo_; ///< the reader reads ALL again from here (after a rewind)
  std::exception_ptr readerFailure_;
};

/// Reads ONE in the shared group and answers read-only requests on a pool of connections.
class Node::OneServer {
public:
  OneServer(Node& node, const kafka::Properties& base, Responder& responder);
  ~OneServer();
  void start();
  void stop();

private:
  using MessagePtr = std::unique_ptr<RdKafka::Message>;
  using Clock = std::chrono::steady_clock;
  struct Fetched {
    MessagePtr msg;
    std::int64_t fetchedUs = 0;
    /// A speculation set aside until node.speculation_budget has time for it (deferred_), so that it holds no
    /// worker meanwhile: when its client stops waiting, when it first waited, and whether the budget admitted it.
    bool speculation = false;
    bool admitted = false;
    Clock::time_point deadline{};
    Clock::time_point waitingSince{};
  };
  void dispatchLoop();
  void workerLoop();
  /// Answers the request, or sets a speculation the budget has no time for aside: then it returns when the budget
  /// will have time (its item goes to deferred_).
  std::optional<Clock::time_point> serve(Fetched& fetched, db::Connection*& conn,
                                         std::unique_ptr<db::Connection>& owned);
  /// Writes first (writes_first.hpp): when a speculation may run as far as node.speculation_budget goes (`now`, or
  /// the time it will have been earned back while writes flow).
  Clock::time_point budgetAdmits(Clock::time_point now);
  /// A speculation done waiting for the budget, admitted or dropped, counted in /metrics.
  void budgetWaited(const Fetched& fetched);

  Node& node_;
  Responder& responder_;
  kafka::Properties props_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};

  std::mutex mutex_;
  std::condition_variable queued_;
  std::condition_variable room_;
  std::multimap<Clock::time_point, Fetched> deferred_; ///< speculations waiting for the budget, by when it admits them
  std::deque<Fetched> queue_;
  std::deque<std::pair<int, std::int64_t>> done_; // (partition, offset) answered, not yet stored
  std::map<int, std::set<std::int64_t>> inFlight_;
  std::map<int, std::int64_t> highest_;
};

} // namespace kluster::node
