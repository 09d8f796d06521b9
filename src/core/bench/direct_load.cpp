// `bench load --direct URL`: the insert workload straight to one MariaDB server, without Kluster: the peer that
// bench/compare.sh measures Kluster on MariaDB against (semi-synchronous replication). The same statement as the
// cluster's requests (the INSERT with its $n bound on the client, as the MariaDB adapter binds them), the same
// closed loop of N clients (one connection each, autocommit: every INSERT is a transaction that commits), the same
// histogram and CPU accounting as runLoad; the end check reads every copy (the primary and --direct-replica URLs).
#include "core/bench/load_bench.hpp"
#include "core/bench/load_sql.hpp"
#include "core/db/mariadb/mariadb.hpp"
#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>

namespace kluster::bench {
namespace {

using Clock = std::chrono::steady_clock;
namespace mdb = db::mariadb;

struct Worker {
  Histogram latency;
  std::uint64_t completed = 0, ok = 0, sent = 0;
  std::map<std::string, std::uint64_t> errors;
  std::vector<std::string> ids; ///< rows acknowledged (committed)
};

std::unique_ptr<mdb::Client> connect(const std::string& url) {
  try {
    auto c = std::make_unique<mdb::Client>(mdb::Url::parse(url));
    c->exec(mdb::kSessionSettings);
    return c;
  } catch (const std::invalid_argument& e) {
    throw UsageError(fmt::format("--direct {}: {}", url, e.what()));
  } catch (const mdb::Error& e) {
    throw KlusterError(code::NodeError, fmt::format("bench load --direct: cannot connect to {}: {}", url, e.what()));
  }
}

std::string label(const std::string& url) {
  const auto u = mdb::Url::parse(url);
  return fmt::format("{}:{}", u.host, u.port);
}

} // namespace

LoadResult runDirectLoad(const LoadOptions& o) {
  if (o.directUrl.rfind("mariadb://", 0) != 0)
    throw UsageError("--direct takes a mariadb:// URL (PostgreSQL is driven by pgbench in bench/compare.sh)");
  if (o.workload != Workload::Insert) throw UsageError("--direct runs the insert workload only");
  if (o.rate > 0) throw UsageError("--direct runs a closed loop only (no --rate)");
  const auto table = o.table.empty() ? "kluster_load_" + util::uuid4().substr(0, 8) : o.table;
  auto admin = connect(o.directUrl);
  admin->exec(fmt::format("CREATE TABLE {} (id uuid PRIMARY KEY, client integer NOT NULL, n integer NOT NULL)", table));
  const std::string insert = fmt::format("INSERT INTO {} (id, client, n) VALUES ($1, $2, $3)", table);

  std::vector<std::unique_ptr<mdb::Client>> connections;
  for (int i = 0; i < o.clients; ++i) connections.push_back(connect(o.directUrl));
  std::vector<Worker> workers(static_cast<std::size_t>(o.clients));
  LoadResult result;
  result.table = table;
  result.nodes.push_back(label(o.directUrl));
  for (const auto& r : o.directReplicas) result.nodes.push_back(label(r));

  const auto start = Clock::now();
  const auto measureFrom = start + o.warmup, endAt = measureFrom + o.duration;
  std::thread cpuThread([&] {
    auto targets = o.cpu;
    targets.push_back({"client", static_cast<int>(::getpid()), {}});
    CpuSampler sampler(std::move(targets));
    try {
      std::this_thread::sleep_until(measureFrom);
      sampler.start();
      std::this_thread::sleep_until(endAt);
      sampler.stop();
      result.cpu = sampler.usage();
      result.machineCpuUs = sampler.machineMicros();
    } catch (const std::exception& e) {
      result.cpuError = e.what();
    }
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < o.clients; ++i)
    threads.emplace_back([&, i] {
      auto& w = workers[static_cast<std::size_t>(i)];
      auto& c = *connections[static_cast<std::size_t>(i)];
      std::mt19937_64 rng{std::random_device{}()};
      for (auto t0 = Clock::now(); t0 < endAt; t0 = Clock::now()) {
        const auto id = util::uuid4();
        const auto hot = std::to_string(rng() % static_cast<std::uint64_t>(o.hotRows) + 1);
        std::string code(code::Ok);
        ++w.sent;
        try {
          c.exec(c.bind(insert, {id, std::to_string(i), hot}));
          w.ids.push_back(id);
        } catch (const mdb::Error& e) {
          code = fmt::format("MARIADB_{}", e.number());
          if (e.clientSide()) { // the connection is gone: this client stops, which the errors line shows
            ++w.errors[code];
            return;
          }
        }
        if (t0 < measureFrom) continue;
        ++w.completed;
        w.latency.record(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
        if (code == code::Ok)
          ++w.ok;
        else
          ++w.errors[code];
      }
    });
  for (auto& t : threads) t.join();
  cpuThread.join();

  std::vector<std::string> ids;
  for (auto& w : workers) {
    result.completed += w.completed;
    result.ok += w.ok;
    result.sent += w.sent;
    result.latencyUs.merge(w.latency);
    result.writeUs.merge(w.latency);
    for (const auto& [code, n] : w.errors) result.errors[code] += n;
    ids.insert(ids.end(), w.ids.begin(), w.ids.end());
  }
  result.seconds = std::chrono::duration<double>(o.duration).count();

  // Every copy holds exactly the acknowledged rows: the primary at once, a replica once it has applied what it
  // received (semi-synchronous replication acknowledges a commit when a replica has it in its relay log; a replica
  // applies it later, in one thread by default): how long after the end each copy was complete is reported. A
  // replica is waited for while its row count grows (the count alone, so as not to slow it down), at most 30 s
  // without progress; then the digest is read once.
  const auto ended = Clock::now();
  const auto expectedRows = std::to_string(ids.size()), expectedSum = idSum(ids);
  result.checked = true;
  result.checkPassed = true;
  std::vector<std::string> urls{o.directUrl};
  urls.insert(urls.end(), o.directReplicas.begin(), o.directReplicas.end());
  auto read = [&](mdb::Client& c, const std::string& what) -> std::vector<std::string> {
    try {
      const auto r = c.query(fmt::format("SELECT {} FROM {}", what, table));
      std::vector<std::string> out;
      for (const auto& v : r.back().rows.at(0)) out.push_back(v.value_or(""));
      return out;
    } catch (const mdb::Error& e) {
      return {e.what()}; // the table is not there yet
    }
  };
  for (const auto& url : urls) {
    auto c = connect(url);
    auto deadline = Clock::now() + std::chrono::seconds(30);
    for (std::string last;;) {
      const auto rows = read(*c, "cast(count(*) AS char)").front();
      if (rows == expectedRows || Clock::now() > deadline) break;
      if (rows != last) deadline = Clock::now() + std::chrono::seconds(30);
      last = rows;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    const std::chrono::duration<double> after = Clock::now() - ended;
    auto got = read(*c, "cast(count(*) AS char), " + idSumSql());
    got.resize(2);
    const bool same = got[0] == expectedRows && got[1] == expectedSum;
    result.checkPassed = result.checkPassed && same;
    result.checkLines.push_back(fmt::format(
        "{}: {} rows{}", label(url), got[0],
        same ? fmt::format(", exactly the acknowledged INSERTs' rows ({:.1f} s after the end)", after.count())
             : fmt::format(" ({} expected after {:.0f} s), rows DIFFER", ids.size(), after.count())));
  }
  admin->exec(fmt::format("DROP TABLE {}", table));
  return result;
}

} // namespace kluster::bench
