#pragma once
// One session's interactive transaction (BEGIN ... COMMIT): its state, the values it pins, and the statements it
// ran with the digests of the results its client saw. No I/O: TransactionDriver (transaction_driver.hpp) sends what
// this builds.
//
// How it runs (README "Transactions", ARCHITECTURE "Interactive transactions"): each statement is answered by a
// speculation on ONE, which runs every statement of the transaction so far, in order, on one node in a database
// transaction that node always rolls back, and checks that the earlier ones still give what the client saw. COMMIT
// sends the statements to ALL as one request with every digest: each node applies them at the request's position
// only if each result is still the one the client saw, and answers SERIALIZATION_FAILURE (40001) otherwise, with
// nothing applied anywhere (every node holds the same data there, so every node decides alike).
#include "core/message.hpp"
#include "core/sql/analyzer.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kluster::client {

class Transaction {
public:
  enum class State {
    Idle,  ///< no transaction block
    Open,  ///< BEGIN ... : statements run
    Failed ///< a statement failed: only ROLLBACK (or ROLLBACK TO a savepoint) is accepted
  };
  struct Limits {
    std::size_t maxStatements = 1000; ///< statements in one transaction (proxy.transaction_max_statements)
    std::size_t maxBytes = 1u << 20;  ///< SQL and parameters of one transaction (the nodes' max_request_bytes)
  };

  State state() const { return state_; }
  /// The ReadyForQuery status byte: 'I', 'T' or 'E'.
  char status() const { return state_ == State::Idle ? 'I' : state_ == State::Open ? 'T' : 'E'; }
  bool active() const { return state_ != State::Idle; }
  bool open() const { return state_ == State::Open; }
  bool readOnly() const { return readOnly_; }

  /// BEGIN: fixes the values Kluster pins for the transaction's life (the current time is `nowMs`; random()'s seed
  /// and the UUIDs derive from `key`, unique to this transaction).
  void begin(std::int64_t nowMs, const std::string& key, bool readOnly);
  /// A statement failed (or was cancelled): the transaction only waits for its end.
  void fail() {
    if (state_ == State::Open) state_ = State::Failed;
  }
  /// COMMIT or ROLLBACK: back to no transaction.
  void end();
  void setReadOnly(bool readOnly) { readOnly_ = readOnly; }

  /// Why `next` cannot run in this transaction now (too many statements or bytes), or nullopt.
  std::optional<std::string> refusal(const std::vector<sql::Statement>& next, const nlohmann::json& params,
                                     const Limits& limits) const;
  /// The speculation request of `next` (run with `params` each) after the statements so far.
  Request speculation(const std::vector<sql::Statement>& next, const nlohmann::json& params) const;
  /// Keeps `next`, which the speculation answered with `digests` (one per statement, the transaction's so far
  /// first). Reads whose results differ between nodes (catalogs...) are answered but not kept: the commit
  /// cannot compare them.
  void record(const std::vector<sql::Statement>& next, const nlohmann::json& params,
              const std::vector<std::string>& digests);
  /// Something to apply at COMMIT: a statement that is not a read.
  bool writes() const;
  /// Some statement may change the schema (DDL): the proxy's describe cache is emptied after the commit.
  bool changesSchema() const;
  /// The commit request (ALL): every statement kept, with its digest.
  Request commit() const;
  /// A COPY's rows inside the transaction (`sql` a multi-row INSERT with `params`): the request that stages them
  /// on ALL as the transaction's next part. They are not speculated (the client sees only "COPY n"), so the
  /// transaction's later statements do not see them before COMMIT; every node checks them as it would apply them,
  /// and keeps them until the commit, which runs them where they came among the statements.
  Request stage(const std::string& sql, const nlohmann::json& params) const;
  /// The part stage() built was stored on every node: the commit runs it after the statements so far.
  void staged();
  /// The ONE routing key of its speculations: one node answers all of them while ONE's group is stable.
  const std::string& key() const { return key_; }

  /// Sequences its session reserved a block of: the transaction draws from `sequence` from `first` on (the
  /// speculations and the commit alike), so that concurrent transactions never draw the same values.
  void reserve(const std::string& sequence, std::int64_t first) { starts_.emplace(sequence, first); }
  bool reserved(const std::string& sequence) const { return starts_.count(sequence) > 0; }
  /// The last value drawn from each sequence, as the latest speculation said (it ran every statement).
  const std::map<std::string, std::int64_t>& drawn() const { return drawn_; }
  void setDrawn(std::map<std::string, std::int64_t> drawn) { drawn_ = std::move(drawn); }

  /// SAVEPOINT name: a mark at the statements so far. ROLLBACK TO name: the statements after it are dropped
  /// (and the transaction is open again); false when there is no such savepoint. RELEASE name: the mark and the
  /// later ones go; false when there is none.
  void savepoint(const std::string& name);
  bool rollbackTo(const std::string& name);
  bool release(const std::string& name);

private:
  struct Kept {
    std::string sql;
    nlohmann::json params;
    bool readOnly = true;
    bool schema = false;
    std::string digest;
  };
  State state_ = State::Idle;
  bool readOnly_ = false;
  std::int64_t timeMs_ = 0;
  double seed_ = 0;
  std::string key_;
  std::vector<Kept> kept_;
  std::size_t bytes_ = 0;
  struct Savepoint {
    std::string name;
    std::size_t kept = 0, staged = 0; ///< statements kept and parts staged before it
  };
  std::vector<Savepoint> savepoints_;
  std::vector<Request::Transaction::Staged> staged_; ///< parts staged, each with the statements kept before it
  std::int32_t nextPart_ = 0;
  std::map<std::string, std::int64_t> starts_; ///< reserved sequences: the first value drawn
  std::map<std::string, std::int64_t> drawn_;
};

} // namespace kluster::client
