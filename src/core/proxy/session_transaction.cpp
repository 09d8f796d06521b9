// Interactive transactions (BEGIN ... COMMIT) of one session: transaction control, the speculation of each
// statement on ONE and the commit on ALL through client::TransactionDriver (docs/transactions.md).
#include "core/errors.hpp"
#include "core/proxy/outcome.hpp"
#include "core/proxy/session.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <cctype>

namespace kluster::proxy {

bool Session::transactionBlock(const sql::Statement& st, Mode mode) {
  using Action = sql::Statement::TransactionControl::Action;
  auto finish = [&](const std::string& tag) {
    if (mode == Mode::Describe) return out_.noData();
    out_.commandComplete(tag);
    if (mode == Mode::Simple) ready();
  };
  auto fail = [&](const wire::Writer::Notice& n) { return refuseLocally(n, mode); };
  auto warn = [&](const char* sqlState, const char* message) {
    wire::Writer::Notice w = errorNotice(sqlState, message);
    w.severity = "WARNING";
    out_.notice(w);
  };
  const auto* tc = st.transaction ? &*st.transaction : nullptr;
  if (tc && tc->action == Action::Set) {
    // SET TRANSACTION / SESSION CHARACTERISTICS / [default_]transaction_*: every isolation level is accepted, since
    // what a transaction commits is serializable whatever it asks; READ ONLY is kept.
    if (mode == Mode::Describe) return finish(""), true;
    std::string text;
    for (char c : st.sql.substr(0, 40)) text += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool session = text.find("characteristics") != std::string::npos;
    if (text.rfind("set transaction", 0) != 0 && !session) return sessionSetting(st, mode); // SET name = value
    if (tc->readOnly && session) settings_["default_transaction_read_only"] = "on";
    if (tc->readOnly && tx_.open()) tx_.setReadOnly(true);
    return finish("SET"), true;
  }
  if (tc) {
    if (mode == Mode::Describe) return finish(""), true;
    switch (tc->action) {
    case Action::Begin:
      if (tx_.active()) {
        warn("25001", "there is already a transaction in progress");
      } else {
        const auto readOnly = setting("default_transaction_read_only");
        transactions_.begin(tc->readOnly || (readOnly && (*readOnly == "on" || *readOnly == "true")));
      }
      return finish(commandTag(st, 0)), true; // BEGIN or START TRANSACTION
    case Action::Commit:
      if (!tx_.active()) {
        warn("25P01", "there is no transaction in progress");
        return finish("COMMIT"), true;
      }
      if (tc->chain)
        return fail(errorNotice("0A000", "COMMIT AND CHAIN is not supported by the proxy", "COMMIT, then BEGIN"));
      commitTransaction(mode);
      return true;
    case Action::Rollback:
      if (!tx_.active()) warn("25P01", "there is no transaction in progress");
      tx_.end();
      return finish("ROLLBACK"), true;
    case Action::Savepoint:
      if (!tx_.active()) return fail(errorNotice("25P01", "SAVEPOINT can only be used in transaction blocks"));
      if (!tx_.open()) break;
      tx_.savepoint(tc->savepoint);
      return finish("SAVEPOINT"), true;
    case Action::Release:
      if (!tx_.active()) return fail(errorNotice("25P01", "RELEASE SAVEPOINT can only be used in transaction blocks"));
      if (!tx_.open()) break;
      if (!tx_.release(tc->savepoint))
        return fail(errorNotice("3B001", fmt::format("savepoint \"{}\" does not exist", tc->savepoint)));
      return finish("RELEASE"), true;
    case Action::RollbackTo:
      if (!tx_.active())
        return fail(errorNotice("25P01", "ROLLBACK TO SAVEPOINT can only be used in transaction blocks"));
      if (!tx_.rollbackTo(tc->savepoint))
        return fail(errorNotice("3B001", fmt::format("savepoint \"{}\" does not exist", tc->savepoint)));
      return finish("ROLLBACK"), true;
    case Action::Prepared:
      return fail(errorNotice("0A000", "two-phase commit is not supported by the proxy",
                              "Kluster applies a transaction atomically on every node at COMMIT"));
    case Action::Set: break;
    }
  }
  if (!tx_.open())
    return fail(
        errorNotice("25P02", "current transaction is aborted, commands ignored until end of transaction block"));
  if (st.kind == "VariableShowStmt" || st.kind == "VariableSetStmt") return sessionSetting(st, mode);
  return false; // runs in the transaction: run() speculates it
}

void Session::commitTransaction(Mode mode) {
  auto done = [this, mode](const std::string& tag) {
    out_.commandComplete(tag);
    if (mode == Mode::Simple) ready();
  };
  if (!tx_.open() || !tx_.writes()) {
    // A failed transaction ends rolled back; one that only read has nothing to apply: its reads were all of one
    // snapshot (each speculation checked the earlier ones again), which is a position of the log.
    const bool failed = !tx_.open();
    tx_.end();
    return done(failed ? "ROLLBACK" : "COMMIT");
  }
  const bool schema = tx_.changesSchema();
  if (mode == Mode::Simple) simpleInFlight_ = true;
  transactions_.commit([this, mode, schema, done](const client::Result& r) {
    simpleInFlight_ = false;
    if (schema) options_.describeCache->invalidate(r.allOffset()); // even after an error: a timed-out DDL may apply
    if (auto n = failure(r, options_.timeoutText)) {
      error(*n);
      if (mode == Mode::Execute) skipToSync_ = true;
      if (mode == Mode::Simple) ready();
      return;
    }
    done("COMMIT");
  });
}

} // namespace kluster::proxy
