#pragma once
// Runs one session's interactive transactions (docs/transactions.md) over a function that sends a request and
// calls back with its result: each statement's speculation on ONE, the blocks of sequence values the session
// reserves through ALL, and the commit on ALL. The proxy drives it from its sessions' wire protocol, `klusterctl
// exec` from its prompt; the client library's users can drive it the same way.
#include "core/client/client.hpp"
#include "core/client/transaction.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kluster::client {

class TransactionDriver {
public:
  using Then = std::function<void(const Result&)>;
  /// Sends `request` to `target` and calls `then` with its result (once, possibly on another thread; `then` may
  /// send again).
  using Send = std::function<void(Request request, Target target, Then then)>;

  explicit TransactionDriver(Send send) : send_(std::move(send)) {}

  Transaction& tx() { return tx_; }
  const Transaction& tx() const { return tx_; }

  /// BEGIN: the transaction draws from the blocks of sequence values the session still holds.
  void begin(bool readOnly);
  /// Runs `statements` (each with `params`) in the open transaction: its speculation on ONE, which sees every
  /// statement so far (and the session's writes up to ALL offset `seenAll`). `then` gets their own results; on a
  /// failure the caller fails the transaction (tx().fail()).
  void execute(std::vector<sql::Statement> statements, nlohmann::json params, const Transaction::Limits& limits,
               std::optional<std::int64_t> seenAll, Then then);
  /// COMMIT of a transaction that wrote (tx().open() && tx().writes()): the request on ALL. The transaction ends
  /// at once; `then` gets the commit's result (SERIALIZATION_FAILURE: retry the whole transaction).
  void commit(Then then);
  /// A result the driver decides itself (a limit, a read-only transaction's write), as a node's would be.
  /// A refusal answered without asking a node; its SQLSTATE is the proxy's for the code (proxy/outcome.cpp).
  static Result refused(std::string_view code, std::string message, std::string hint = {});
  /// Whether a request succeeded: answered, the nodes agreeing, the first answer OK.
  static bool succeeded(const Result& r) { return !r.diverged && !r.responses.empty() && r.responses.front().ok(); }

private:
  void reserveSequences(std::vector<std::string> names, std::function<void(const Result*)> then);

  struct SequenceBlock {
    std::int64_t next = 0, last = 0; ///< the values of a sequence this session reserved and has not committed
  };
  Send send_;
  Transaction tx_;
  std::map<std::string, SequenceBlock> blocks_;
  std::map<std::string, std::int64_t> blockSizes_; ///< by sequence: doubled when a transaction needed more
};

} // namespace kluster::client
