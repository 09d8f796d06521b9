#pragma once
// The node's side of continuous verification (core/checks.hpp): a thread with a database connection of its
// own that checksums the tables in a snapshot the apply loop takes right after a checkpoint's commit, while
// the apply loop goes on; it publishes the sums, reads the other nodes' sums, and reports this node on ERRORS
// (DIVERGED) when its sums are outside the majority's. It also publishes a tick on ALL when ALL has been
// quiet for a check period, so that an idle cluster is checked too.
//
// Checks are incremental: a table is summed again only when the requests applied since this node's previous check
// may have written it, or at a full checkpoint (checks::Schedule, node.check_full_every); every other table's sums
// are those of the previous check, reused. What may have been written comes from the log (each request's write
// targets, the functions it calls, whether it changes the schema: writesOf()) read against the snapshot's catalog
// (db::Connection::snapshotWritten: a trigger, rule, view, inheritance, cascading foreign key or volatile
// user-defined function makes every table count as written). So every table whose rows Kluster changed since a
// node's previous check is summed again on that node, and a node publishes, for every table, the sums of the
// table as the checkpoint's snapshot holds it: the nodes compare the same things even when one of them skipped a
// check (its "since" is longer) or just started (it has nothing to reuse and sums everything). What an
// incremental check cannot see is a row changed outside Kluster in a table no request wrote since: the next full
// checkpoint sums it again.
#include "core/checks.hpp"
#include "core/kafka/kafka.hpp"
#include "core/node/metrics.hpp"
#include "core/node/prepare.hpp"
#include "core/node/responder.hpp"
#include "core/topics.hpp"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace kluster::node {

class Checker {
public:
  struct Options {
    std::string cluster;
    std::string nodeId;
    std::string databaseType;
    std::string databaseUrl;
    std::chrono::milliseconds interval{0};
    int responsePartitions = 1;
  };
  Checker(Options options, const kafka::Properties& base, Responder& responder, NodeMetrics& metrics);
  ~Checker();

  /// What a request applied from ALL may have written (from the request alone: the same on every node).
  static db::Writes writesOf(const Prepared& p);
  /// The apply loop, before it applies a batch: what its requests may write.
  void wrote(const db::Writes& writes) { since_.merge(writes); }
  /// The apply loop, right after committing the batch that ends with the checkpoint at `offset` (and after
  /// wrote()): takes the snapshot (one round trip) and hands it to the thread, with what was written since the
  /// previous snapshot; `full`: every table is summed again. Skipped, with a log line, while the previous check
  /// still runs or when the database cannot be reached: the other nodes' sums for it go unmatched.
  void checkpoint(std::int64_t offset, bool full);
  /// The reader: an ALL message with this Kafka timestamp was read (ALL is not quiet).
  void seen(std::int64_t timestampMs) { lastSeenMs_.store(timestampMs, std::memory_order_relaxed); }

private:
  void loop();
  void read(); ///< the other nodes' sums, from RESPONSES
  struct Job {
    std::int64_t offset = -1;
    bool full = false;
    db::Writes writes; ///< since the previous snapshot
  };
  void compute(Job job);
  void judge(std::int64_t offset);
  void tickIfQuiet();

  Options options_;
  Topics topics_;
  Responder& responder_;
  NodeMetrics& metrics_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<db::Connection> db_; ///< the snapshot's connection: the apply loop's while it takes one
  checks::Rounds rounds_{32};
  std::map<std::int64_t, std::int64_t> own_; ///< offsets this node computed -> when (steady ms)
  std::set<std::int64_t> judged_;
  std::atomic<std::int64_t> lastSeenMs_{0};
  std::int64_t lastTickMs_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<Job> pending_; ///< a snapshot taken and not yet checksummed
  db::Writes since_;           ///< the apply loop's: written since the last snapshot taken
  /// The checker thread's: each table's sums at this node's previous check (nullopt: none to reuse).
  std::optional<std::map<std::string, db::TableChecksum>> previous_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace kluster::node
