// BEGIN ... COMMIT at exec's prompt and in its scripts: the interactive transactions the proxy runs
// (docs/transactions.md), driven by client::TransactionDriver: each statement a speculation on ONE, COMMIT on ALL.
#include "commands/exec_session.hpp"
#include "core/errors.hpp"
#include "core/sql/analyzer.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <future>

namespace kluster::commands {

char ExecRunner::transactionStatus() const { return transactions_ ? transactions_->tx().status() : 'I'; }

client::Result ExecRunner::await(const std::function<void(client::TransactionDriver::Then)>& step) {
  auto promise = std::make_shared<std::promise<client::Result>>();
  auto result = promise->get_future();
  step([promise](const client::Result& r) { promise->set_value(r); });
  return result.get(); // each request of the step has the timeout of --timeout
}

std::optional<int> ExecRunner::transaction(const Request& request, const ExecSettings& settings, std::ostream& out,
                                           std::ostream& err) {
  const bool active = transactions_ && transactions_->tx().active();
  std::vector<sql::Statement> statements;
  try {
    statements = settings.dialect->analyze(request.statements.size() == 1 ? request.statements.front() : "").statements;
  } catch (const std::exception&) {
    if (!active) return std::nullopt; // the nodes answer SYNTAX_ERROR
    err << "ERROR: the statement does not parse; the transaction is aborted\n";
    transactions_->tx().fail();
    return exitcode::SqlError;
  }
  const auto* control =
      statements.size() == 1 && statements.front().transaction ? &*statements.front().transaction : nullptr;
  if (!active && (!control || control->action == sql::Statement::TransactionControl::Action::Set)) return std::nullopt;
  if (!transactions_)
    transactions_ = std::make_unique<client::TransactionDriver>(
        [this](Request req, client::Target target, client::TransactionDriver::Then then) {
          const bool all = target == client::Target::All;
          client_.sendAsync(std::move(req), target, all ? settings_->wait : client::WaitPolicy{}, settings_->timeout,
                            [this, all, then = std::move(then)](client::Result r) {
                              if (const auto offset = r.allOffset(); all && offset) {
                                seenAll_ = std::max(seenAll_.value_or(-1), *offset);
                                if (session_) session_->record(*offset);
                              }
                              then(r);
                            });
        });
  settings_ = &settings;
  auto& tx = transactions_->tx();
  // The command's tag, as psql prints it; the data formats (json, jsonl, csv) carry only results.
  auto tag = [&](const char* text) {
    if (settings.format == Format::Table) out << text << "\n";
    return exitcode::Ok;
  };
  auto fails = [&](const std::string& message) {
    err << "ERROR: " << message << "\n";
    tx.fail();
    return exitcode::SqlError;
  };
  using Action = sql::Statement::TransactionControl::Action;
  if (control) {
    switch (control->action) {
    case Action::Begin:
      if (active)
        err << "WARNING: there is already a transaction in progress\n";
      else
        transactions_->begin(control->readOnly);
      return tag("BEGIN");
    case Action::Rollback:
      if (!active) err << "WARNING: there is no transaction in progress\n";
      tx.end();
      return tag("ROLLBACK");
    case Action::Commit: {
      if (!active) {
        err << "WARNING: there is no transaction in progress\n";
        return tag("COMMIT");
      }
      if (control->chain) return fails("COMMIT AND CHAIN is not supported: COMMIT, then BEGIN");
      if (!tx.open() || !tx.writes()) { // rolled back, or nothing to apply: its reads were of one snapshot
        const bool failed = !tx.open();
        tx.end();
        return tag(failed ? "ROLLBACK" : "COMMIT");
      }
      const auto result = await([&](auto then) { transactions_->commit(std::move(then)); });
      if (!client::TransactionDriver::succeeded(result)) return report(result, settings, out, err);
      return tag("COMMIT");
    }
    case Action::Savepoint:
      if (!tx.open()) break;
      tx.savepoint(control->savepoint);
      return tag("SAVEPOINT");
    case Action::Release:
      if (!tx.open()) break;
      if (!tx.release(control->savepoint))
        return fails(fmt::format("savepoint \"{}\" does not exist", control->savepoint));
      return tag("RELEASE");
    case Action::RollbackTo:
      if (!tx.rollbackTo(control->savepoint))
        return fails(fmt::format("savepoint \"{}\" does not exist", control->savepoint));
      return tag("ROLLBACK");
    case Action::Prepared: return fails("two-phase commit is not supported: a transaction applies at COMMIT");
    case Action::Set:
      if (control->readOnly && tx.open()) tx.setReadOnly(true);
      return tag("SET");
    }
  }
  if (!tx.open()) {
    err << "ERROR: current transaction is aborted, commands ignored until end of transaction block\n";
    return exitcode::SqlError;
  }
  nlohmann::json params = request.params;
  const auto result = await([&](auto then) {
    transactions_->execute(std::move(statements), std::move(params), client::Transaction::Limits{}, seenAll_,
                           std::move(then));
  });
  if (!client::TransactionDriver::succeeded(result)) tx.fail();
  return report(result, settings, out, err);
}

} // namespace kluster::commands
