#pragma once
// The fault suite's workload and checker (issue 11). Several clients, each with its own client::Client,
// run for as long as a fault schedule lasts:
//   - transfers between accounts, one request of three statements, identified by a client-made UUID
//     (the total balance is constant; every account's balance follows from the transfers applied);
//   - appends to an append-only table, each row's id recorded once acknowledged;
//   - reads on ONE with minAllOffset = the offset of the client's own last acknowledged write, which
//     must see that write (a read that does not is a stale read).
// A request that times out is re-sent with the same messageId until it is acknowledged (OK, or
// DUPLICATE: applied before), as a real client would. The tables have no unique constraint, so a write
// applied twice shows up as two rows instead of being hidden by a key.
// The checker then proves against every node's database: every acknowledged write present exactly
// once, nothing (acknowledged or not) twice, the total constant, balances consistent with the transfers,
// all nodes identical (checksums and `klusterctl verify`), and no stale read.
#include "support/cluster.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kluster::test::faults {

struct WorkloadOptions {
  int clients = 4;
  int accounts = 10;
  std::int64_t initialBalance = 1000;
  std::chrono::milliseconds attemptTimeout{20000}; ///< one attempt of a request; then it is re-sent
  std::chrono::milliseconds readTimeout{8000};     ///< a ONE read (one behind a dead node waits for a rebalance)
  std::chrono::milliseconds pause{20};             ///< between a client's operations (keeps the load modest)
};

/// What the clients saw, shared with the checker.
struct Ledger {
  std::mutex mutex;
  std::set<std::string> ackedAppends, ackedTransfers;     ///< ids acknowledged (OK or DUPLICATE)
  std::set<std::string> unknownAppends, unknownTransfers; ///< sent, never acknowledged: at most once
  std::int64_t reads = 0, staleReads = 0, badTotals = 0, readsNotCaughtUp = 0, readsUnanswered = 0;
  std::int64_t retries = 0, rejected = 0;
  std::vector<std::string> anomalies; ///< human-readable descriptions (first few of each kind)
  std::vector<std::string> recent;    ///< the last few notes, for a failure's report
  void note(const std::string& what);
};

class Workload {
public:
  Workload(TestCluster& cluster, WorkloadOptions options = {});
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  /// Creates the tables (on ALL, every node answering) and starts the clients.
  void start();
  /// Asks the clients to stop, lets each finish (re-send) its request in flight for up to `drain`, joins.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(180));
  /// Acknowledged writes so far (appends + transfers).
  std::int64_t acked();
  /// Waits until at least `more` further writes were acknowledged (proves the cluster makes progress).
  bool waitForProgress(std::int64_t more, std::chrono::milliseconds timeout);
  /// What a failed wait reports: the clients' latest notes and the tail of every node's log.
  std::string diagnostics();
  /// Records an append made outside the workload (e.g. by a killed and re-run `klusterctl exec`).
  void recordAppend(const std::string& id, bool acknowledged);
  Ledger& ledger() { return ledger_; }
  const WorkloadOptions& options() const { return options_; }
  TestCluster& cluster() { return cluster_; }

private:
  void runClient(int index);
  TestCluster& cluster_;
  WorkloadOptions options_;
  Ledger ledger_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> drainUntilMs_{0};
  std::vector<std::thread> threads_;
};

struct CheckResult {
  std::int64_t acked = 0, applied = 0, unknown = 0, lost = 0, doubled = 0, diverged = 0, staleReads = 0, badTotals = 0,
               rejected = 0, reads = 0, retries = 0;
  std::vector<std::string> anomalies;
  bool ok() const {
    return lost == 0 && doubled == 0 && diverged == 0 && staleReads == 0 && badTotals == 0 && rejected == 0;
  }
  /// `acked=…, applied=…, lost=0, doubled=0, diverged=0, stale_reads=0` plus the other counters.
  std::string summary() const;
};

/// Waits until every node is running and has applied everything (a write on ALL that every node answers),
/// then checks every node's database and `klusterctl verify`. Prints the summary line on stdout.
CheckResult check(Workload& workload, const std::string& scenario,
                  std::chrono::milliseconds settle = std::chrono::seconds(180));

} // namespace kluster::test::faults
