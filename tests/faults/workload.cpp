#include "faults/workload.hpp"

#include "core/client/client.hpp"
#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <iostream>
#include <random>
#include <stdexcept>

namespace kluster::test::faults {
namespace {

using clock = std::chrono::steady_clock;

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now().time_since_epoch()).count();
}

std::int64_t asInt(const ojson& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) return std::stoll(v.get<std::string>());
  return -1; // null: no rows
}

} // namespace

void Ledger::note(const std::string& what) {
  // Called with the mutex held. Keeps the report readable when one fault causes many anomalies.
  if (anomalies.size() < 40) anomalies.push_back(what);
  recent.push_back(what);
  if (recent.size() > 12) recent.erase(recent.begin());
}

std::string Workload::diagnostics() {
  std::string out = "the clients' latest notes:";
  {
    std::lock_guard lock(ledger_.mutex);
    for (const auto& n : ledger_.recent) out += "\n  " + n;
  }
  for (int i = 1; i <= cluster_.size(); ++i) {
    const auto log = cluster_.nodeLog(i);
    // The last 15 lines of the node's log.
    auto from = log.size();
    for (int lines = 0; from > 0 && lines < 16; --from)
      if (log[from - 1] == '\n') ++lines;
    out += fmt::format("\nnode{} log, last lines:\n{}", i, log.substr(from));
  }
  return out;
}

Workload::Workload(TestCluster& cluster, WorkloadOptions options) : cluster_(cluster), options_(options) {}

Workload::~Workload() {
  stopping_.store(true);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void Workload::start() {
  const std::vector<std::string> schema = {
      "CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL)",
      fmt::format("INSERT INTO accounts SELECT g, {} FROM generate_series(1, {}) g", options_.initialBalance,
                  options_.accounts),
      // No unique constraints: a write applied twice must show as two rows, not be hidden by a key.
      "CREATE TABLE transfers (id text NOT NULL, src int NOT NULL, dst int NOT NULL, amount int NOT NULL)",
      "CREATE TABLE appends (id text NOT NULL, client int NOT NULL)",
  };
  for (const auto& sql : schema) {
    auto r = cluster_.exec({"--to", "ALL", "--wait", "all", "--timeout", "60s", "-o", "json", sql},
                           std::chrono::seconds(90));
    if (r.exitCode != 0) throw std::runtime_error("workload schema: " + sql + ": " + r.err + r.out);
  }
  for (int i = 0; i < options_.clients; ++i) threads_.emplace_back([this, i] { runClient(i); });
}

void Workload::stop(std::chrono::milliseconds drain) {
  drainUntilMs_.store(nowMs() + drain.count());
  stopping_.store(true);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

std::int64_t Workload::acked() {
  std::lock_guard lock(ledger_.mutex);
  return static_cast<std::int64_t>(ledger_.ackedAppends.size() + ledger_.ackedTransfers.size());
}

bool Workload::waitForProgress(std::int64_t more, std::chrono::milliseconds timeout) {
  const auto target = acked() + more;
  return waitUntil([&] { return acked() >= target; }, timeout, std::chrono::milliseconds(100));
}

void Workload::recordAppend(const std::string& id, bool acknowledged) {
  std::lock_guard lock(ledger_.mutex);
  if (acknowledged) {
    ledger_.unknownAppends.erase(id);
    ledger_.ackedAppends.insert(id);
  } else if (!ledger_.ackedAppends.count(id)) {
    ledger_.unknownAppends.insert(id);
  }
}

void Workload::runClient(int index) {
  std::optional<client::Client> client;
  try {
    client::ClientOptions o;
    o.brokers = cluster_.brokers();
    o.cluster = cluster_.name();
    o.lingerMs = 1;
    client.emplace(o);
  } catch (const std::exception& e) {
    std::lock_guard lock(ledger_.mutex);
    ++ledger_.rejected;
    ledger_.note(fmt::format("client {} could not start: {}", index, e.what()));
    return;
  }
  std::mt19937_64 rng(std::random_device{}());
  const auto stopNow = [&] { return stopping_.load() && nowMs() > drainUntilMs_.load(); };

  // Sends a write until it is acknowledged; returns its ALL offset, or nullopt when it never was.
  const auto write = [&](Request request) -> std::optional<std::int64_t> {
    for (int attempt = 0;; ++attempt) {
      if (attempt > 0) {
        std::lock_guard lock(ledger_.mutex);
        ++ledger_.retries;
      }
      client::Result r;
      try {
        r = client->send(request, client::Target::All, client::WaitPolicy::parse("first"), options_.attemptTimeout)
                .get();
      } catch (const std::exception& e) {
        {
          std::lock_guard lock(ledger_.mutex);
          ledger_.note(fmt::format("client {}: send {}: {}", index, request.messageId, e.what()));
        }
        if (stopNow()) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(200)); // back off before re-sending
        continue;
      }
      if (!r.responses.empty()) {
        const auto& first = r.responses.front();
        if (first.resultCode == code::Ok || first.resultCode == code::Duplicate) return r.allOffset().value_or(-1);
        std::lock_guard lock(ledger_.mutex);
        ++ledger_.rejected; // the workload's requests are all valid: an error answer is an anomaly
        ledger_.note(fmt::format("request {} answered {} by {}: {}", request.messageId, first.resultCode, first.nodeId,
                                 first.errorMessage));
        return std::nullopt;
      }
      if (stopNow()) return std::nullopt;
    }
  };

  // Reads on ONE, at least as new as `offset`, whether the write `id` in `table` is visible exactly once.
  const auto readBack = [&](const std::string& table, const std::string& id, std::int64_t offset) {
    Request q;
    q.statements = {fmt::format("SELECT (SELECT count(*) FROM {} WHERE id = $1) AS n, "
                                "(SELECT sum(balance)::bigint FROM accounts) AS total",
                                table)};
    q.params = nlohmann::json::array({id});
    q.minAllOffset = offset;
    client::Result r;
    try {
      r = client->send(q, client::Target::One, client::WaitPolicy::parse("first"), options_.readTimeout).get();
    } catch (const std::exception& e) {
      std::lock_guard lock(ledger_.mutex);
      ledger_.note(fmt::format("client {}: read: {}", index, e.what()));
      return;
    }
    std::lock_guard lock(ledger_.mutex);
    ++ledger_.reads;
    if (r.responses.empty()) {
      ++ledger_.readsUnanswered;
      return;
    }
    const auto& resp = r.responses.front();
    if (resp.resultCode == code::NotCaughtUp) {
      ++ledger_.readsNotCaughtUp; // honest: the node says it cannot answer that fresh yet
      return;
    }
    if (!resp.ok() || !resp.result.is_array() || resp.result.empty()) {
      ++ledger_.readsUnanswered;
      ledger_.note(fmt::format("read of {} answered {}: {}", id, resp.resultCode, resp.errorMessage));
      return;
    }
    const auto n = asInt(resp.result[0]["n"]);
    const auto total = asInt(resp.result[0]["total"]);
    if (n != 1) {
      ++ledger_.staleReads;
      ledger_.note(fmt::format("stale read: {} {} seen {} time(s) by {} (minAllOffset {}, node at {})", table, id, n,
                               resp.nodeId, offset, resp.appliedAllOffset.value_or(-1)));
    }
    if (total != options_.accounts * options_.initialBalance) {
      ++ledger_.badTotals;
      ledger_.note(fmt::format("read on {} saw a total of {}", resp.nodeId, total));
    }
  };

  for (int seq = 0; !stopping_.load(); ++seq) {
    Request request;
    std::string table, id;
    if (rng() % 2 == 0) {
      table = "transfers";
      id = util::uuid4();
      const auto src = 1 + static_cast<int>(rng() % static_cast<unsigned>(options_.accounts));
      auto dst = 1 + static_cast<int>(rng() % static_cast<unsigned>(options_.accounts - 1));
      if (dst >= src) ++dst;
      const auto amount = 1 + static_cast<int>(rng() % 50);
      request.messageId = "xfer-" + id;
      request.statements = {
          fmt::format("UPDATE accounts SET balance = balance - {} WHERE id = {}", amount, src),
          fmt::format("UPDATE accounts SET balance = balance + {} WHERE id = {}", amount, dst),
          fmt::format("INSERT INTO transfers VALUES ('{}', {}, {}, {})", id, src, dst, amount),
      };
    } else {
      table = "appends";
      id = fmt::format("c{}-{}-{}", index, client->clientId().substr(0, 8), seq);
      request.messageId = "app-" + id;
      request.statements = {fmt::format("INSERT INTO appends VALUES ('{}', {})", id, index)};
    }
    auto& unknownIds = table == "appends" ? ledger_.unknownAppends : ledger_.unknownTransfers;
    auto& ackedIds = table == "appends" ? ledger_.ackedAppends : ledger_.ackedTransfers;
    {
      std::lock_guard lock(ledger_.mutex);
      unknownIds.insert(id); // sent, outcome unknown until acknowledged
    }
    auto offset = write(request);
    if (!offset) continue;
    {
      std::lock_guard lock(ledger_.mutex);
      unknownIds.erase(id);
      ackedIds.insert(id);
    }
    if (seq % 3 == 0 && *offset >= 0) readBack(table, id, *offset);
    std::this_thread::sleep_for(options_.pause);
  }
}

std::string CheckResult::summary() const {
  return fmt::format("acked={}, applied={}, lost={}, doubled={}, diverged={}, stale_reads={}, unknown={}, "
                     "bad_totals={}, rejected={}, reads={}, retries={}",
                     acked, applied, lost, doubled, diverged, staleReads, unknown, badTotals, rejected, reads, retries);
}

namespace {

/// id -> number of rows with it, on node i.
std::map<std::string, std::int64_t> rowCounts(TestCluster& cluster, int node, const std::string& table) {
  std::map<std::string, std::int64_t> out;
  for (const auto& row : cluster.query(node, fmt::format("SELECT id, count(*) FROM {} GROUP BY id", table)))
    out[*row[0]] = std::stoll(*row[1]);
  return out;
}

void checkTable(CheckResult& res, TestCluster& cluster, int node, const std::string& table,
                const std::set<std::string>& acked, const std::set<std::string>& unknown) {
  const auto counts = rowCounts(cluster, node, table);
  for (const auto& id : acked) {
    auto it = counts.find(id);
    if (it == counts.end()) {
      ++res.lost;
      if (res.anomalies.size() < 40)
        res.anomalies.push_back(fmt::format("node{}: acked {} {} is missing", node, table, id));
    }
  }
  for (const auto& [id, n] : counts) {
    if (n > 1) {
      ++res.doubled;
      if (res.anomalies.size() < 40)
        res.anomalies.push_back(fmt::format("node{}: {} {} applied {} times", node, table, id, n));
    }
    if (!acked.count(id) && !unknown.count(id)) {
      ++res.doubled; // a row no client ever sent
      res.anomalies.push_back(fmt::format("node{}: {} {} was never sent", node, table, id));
    }
  }
}

} // namespace

CheckResult check(Workload& workload, const std::string& scenario, std::chrono::milliseconds settle) {
  auto& cluster = workload.cluster();
  auto& ledger = workload.ledger();
  CheckResult res;
  const auto deadline = clock::now() + settle;
  const auto left = [&] {
    return std::max(std::chrono::milliseconds(1000),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
  };

  // Every node running and a member; then a write every node answers: each has applied all before it.
  for (int i = 1; i <= cluster.size(); ++i)
    if (!cluster.nodeRunning(i)) cluster.startNode(i);
  if (!cluster.waitForMembers(cluster.size(), left())) res.anomalies.push_back("not every node rejoined in time");
  bool settled = false;
  while (!settled && clock::now() < deadline) {
    auto r = cluster.exec({"--to", "ALL", "--wait", "all", "--timeout", "30s", "-o", "json",
                           "UPDATE accounts SET balance = balance WHERE id = 1"},
                          std::chrono::seconds(60));
    settled = r.exitCode == 0;
  }
  if (!settled) {
    ++res.diverged;
    res.anomalies.push_back("the nodes did not all apply a final write in time");
  }

  std::set<std::string> ackedA, ackedT, unknownA, unknownT;
  {
    std::lock_guard lock(ledger.mutex);
    ackedA = ledger.ackedAppends;
    ackedT = ledger.ackedTransfers;
    unknownA = ledger.unknownAppends;
    unknownT = ledger.unknownTransfers;
    res.staleReads = ledger.staleReads;
    res.badTotals = ledger.badTotals;
    res.rejected = ledger.rejected;
    res.reads = ledger.reads;
    res.retries = ledger.retries;
    res.anomalies.insert(res.anomalies.end(), ledger.anomalies.begin(), ledger.anomalies.end());
  }
  res.acked = static_cast<std::int64_t>(ackedA.size() + ackedT.size());
  res.unknown = static_cast<std::int64_t>(unknownA.size() + unknownT.size());
  const auto& o = workload.options();
  const auto total = std::to_string(o.accounts * o.initialBalance);
  std::map<std::string, std::string> reference;
  for (int i = 1; i <= cluster.size(); ++i) {
    checkTable(res, cluster, i, "appends", ackedA, unknownA);
    checkTable(res, cluster, i, "transfers", ackedT, unknownT);
    if (cluster.scalar(i, "SELECT sum(balance) FROM accounts") != total) {
      ++res.badTotals;
      res.anomalies.push_back(fmt::format("node{}: total balance {} (expected {})", i,
                                          cluster.scalar(i, "SELECT sum(balance) FROM accounts"), total));
    }
    // Each transfer's three statements applied together: balances follow from the transfers recorded.
    const auto torn =
        cluster.scalar(i, fmt::format("SELECT count(*) FROM accounts a WHERE a.balance <> {} "
                                      "- coalesce((SELECT sum(amount) FROM transfers WHERE src = a.id), 0) "
                                      "+ coalesce((SELECT sum(amount) FROM transfers WHERE dst = a.id), 0)",
                                      o.initialBalance));
    if (torn != "0") {
      ++res.badTotals;
      res.anomalies.push_back(fmt::format("node{}: {} account(s) disagree with the transfers", i, torn));
    }
    for (const auto& [table, order] :
         std::vector<std::pair<std::string, std::string>>{{"accounts", "id"}, {"transfers", "id"}, {"appends", "id"}}) {
      const auto sum = cluster.tableChecksum(i, table, order);
      if (i == 1) {
        reference[table] = sum;
      } else if (sum != reference[table]) {
        ++res.diverged;
        res.anomalies.push_back(
            fmt::format("node{}: {} differs from node1 ({} vs {})", i, table, sum, reference[table]));
      }
    }
    if (i == 1)
      res.applied =
          std::stoll(cluster.scalar(1, "SELECT (SELECT count(*) FROM appends) + (SELECT count(*) FROM transfers)"));
  }
  auto verify = TestCluster::klusterctl(
      {"verify", "--brokers", cluster.brokers(), "--cluster", cluster.name(), "--timeout", "60s", "-o", "json"},
      std::chrono::seconds(180));
  if (verify.exitCode != 0) {
    ++res.diverged;
    res.anomalies.push_back(fmt::format("klusterctl verify exited {}: {} {}", verify.exitCode, verify.out, verify.err));
  }
  std::cout << "[faults] " << scenario << ": " << res.summary() << std::endl;
  for (const auto& a : res.anomalies) std::cout << "[faults]   " << a << "\n";
  return res;
}

} // namespace kluster::test::faults
