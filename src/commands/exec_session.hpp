#pragma once
// What one `klusterctl exec` request goes through, shared by the one-shot command and the interactive
// prompt: routing (--to), read-your-writes (--after, --session), sending, and turning the outcome into
// output and an exit code.
#include "commands/exec_output.hpp"
#include "core/client/client.hpp"
#include "core/client/transaction_driver.hpp"
#include "core/sql/dialect.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace kluster::commands {

/// How requests are sent; the prompt's meta-commands change these between statements.
struct ExecSettings {
  std::string to = "auto"; ///< ALL, ONE or auto (any case)
  client::WaitPolicy wait;
  std::string waitText = "first";
  std::chrono::milliseconds timeout{10000};
  std::string timeoutText = "10s";
  Format format = Format::Table;
  std::optional<std::int64_t> after; ///< --after: the lowest ALL offset a ONE read may see
  bool duplicateOk = false;          ///< a DUPLICATE answer is success (re-running a script with its ids)
  std::function<bool()> interrupted; ///< polled while waiting: true stops waiting (the prompt's Ctrl-C)
  const sql::Dialect* dialect = &sql::postgresDialect(); ///< the cluster's ([database] type): splits and routes
};

/// Where a request goes. `to` is ALL, ONE or auto; auto sends a request to ONE only when every statement
/// provably just reads (SELECT without locking clauses or data-modifying CTEs, EXPLAIN without ANALYZE of
/// a write, SHOW), as the cluster's SQL dialect sees it; everything else goes to ALL. Throws UsageError.
client::Target chooseTarget(const std::string& to, const std::vector<std::string>& statements,
                            const sql::Dialect& dialect = sql::postgresDialect());

/// A read-your-writes session file (--session FILE): the highest ALL offset this session's ALL requests
/// were applied at, per cluster, as JSON `{"version": 1, "allOffsets": {"<cluster>": N}}`. It is created
/// when missing and replaced atomically (write + rename), so a crash never leaves it half written.
class SessionFile {
public:
  /// Reads the file when it exists; throws UsageError when it cannot be read or is not a session file.
  SessionFile(std::string path, std::string cluster);
  /// The recorded offset for this cluster, if any.
  std::optional<std::int64_t> allOffset() const { return offset_; }
  /// Records an ALL offset when it is higher than the recorded one (re-reading the file first, so a
  /// higher offset written meanwhile by another process is kept). Throws KlusterError when it cannot write.
  void record(std::int64_t offset);
  const std::string& path() const { return path_; }

private:
  std::string path_;
  std::string cluster_;
  std::optional<std::int64_t> offset_;
};

/// Sends requests through a client and reports their outcome, applying and updating the session. Reads
/// see the writes sent earlier through the same runner (a script, the prompt): a ONE read carries the
/// highest ALL offset this runner has seen as its minAllOffset.
class ExecRunner {
public:
  ExecRunner(client::Client& client, SessionFile* session) : client_(client), session_(session) {}
  /// Sends one request, waits per `settings`, writes data to `out` and diagnostics to `err`; returns the
  /// exit code (0 OK, 1 error response, 3 timeout, 4 divergence).
  int run(Request request, const ExecSettings& settings, std::ostream& out, std::ostream& err);
  /// The interactive transaction's state, as PostgreSQL's ReadyForQuery says it: 'I' none, 'T' open, 'E' failed.
  char transactionStatus() const;

private:
  /// BEGIN ... COMMIT (exec_transaction.cpp): runs `request` when it controls a transaction or one is open, as the
  /// proxy does (docs/transactions.md), and returns the exit code; nullopt when it is an ordinary request.
  std::optional<int> transaction(const Request& request, const ExecSettings& settings, std::ostream& out,
                                 std::ostream& err);
  /// Starts a transaction step and waits for the result it calls back with.
  client::Result await(const std::function<void(client::TransactionDriver::Then)>& step);

  client::Client& client_;
  SessionFile* session_;
  std::optional<std::int64_t> seenAll_; ///< highest allOffset of this runner's ALL requests
  std::unique_ptr<client::TransactionDriver> transactions_;
  const ExecSettings* settings_ = nullptr; ///< those of the request in progress, for the driver's sends
};

/// Writes a result and its diagnostics (divergence, timeout with the silent nodes, error responses);
/// returns the exit code.
int report(const client::Result& result, const ExecSettings& settings, std::ostream& out, std::ostream& err);

} // namespace kluster::commands
