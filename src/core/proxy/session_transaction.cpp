// Interactive transactions (BEGIN ... COMMIT) of one session: transaction control, the speculation of each
// statement on ONE and the commit on ALL (see transaction.hpp, README "Transactions").
#include "core/errors.hpp"
#include "core/proxy/outcome.hpp"
#include "core/proxy/session.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <cctype>

namespace kluster::proxy {
namespace {

// A result the proxy decides itself, given to the same continuation as a node's answer.
client::Result refused(std::string_view code, std::string message, std::string sqlState, std::string hint = {}) {
  client::Result r;
  Response resp;
  resp.resultCode = std::string(code);
  resp.errorMessage = std::move(message);
  resp.sqlState = std::move(sqlState);
  resp.hint = std::move(hint);
  r.responses.push_back(std::move(resp));
  return r;
}

} // namespace

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
        tx_.begin(util::nowMillis(), fmt::format("tx/{}", util::uuid4()),
                  tc->readOnly || (readOnly && (*readOnly == "on" || *readOnly == "true")));
        for (auto b = sequenceBlocks_.begin(); b != sequenceBlocks_.end();)
          if (b->second.next > b->second.last) {
            b = sequenceBlocks_.erase(b); // used up: the next transaction that draws reserves another
          } else {
            tx_.reserve(b->first, b->second.next);
            ++b;
          }
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
  Request req = tx_.commit();
  const bool schema = tx_.changesSchema();
  auto drawn = tx_.drawn();
  tx_.end();
  if (mode == Mode::Simple) simpleInFlight_ = true;
  send(std::move(req), client::Target::All, [this, mode, schema, done, drawn](const client::Result& r) {
    simpleInFlight_ = false;
    if (schema) options_.describeCache->invalidate(r.allOffset()); // even after an error: a timed-out DDL may apply
    if (auto n = failure(r, options_.timeoutText)) {
      error(*n);
      if (mode == Mode::Execute) skipToSync_ = true;
      if (mode == Mode::Simple) ready();
      return;
    }
    for (const auto& [name, last] : drawn) // the committed values are used: the next transaction draws after them
      if (auto b = sequenceBlocks_.find(name); b != sequenceBlocks_.end()) b->second.next = last + 1;
    done("COMMIT");
  });
}

void Session::speculate(std::vector<sql::Statement> statements, nlohmann::json params,
                        std::function<void(const client::Result&)> then) {
  if (tx_.readOnly())
    for (const auto& st : statements)
      if (!st.readOnly)
        return then(refused(code::ReadOnly,
                            fmt::format("cannot execute {} in a read-only transaction",
                                        commandTag(st, 0).substr(0, commandTag(st, 0).find(' '))),
                            "25006"));
  if (auto why = tx_.refusal(statements, params, options_.transactionLimits))
    return then(refused(code::TooLarge, *why, "54000", "commit smaller transactions"));
  Request req = tx_.speculation(statements, params);
  if (seenAll_) req.minAllOffset = seenAll_; // the session's own earlier writes are seen
  send(std::move(req), client::Target::One,
       [this, statements = std::move(statements), params = std::move(params),
        then = std::move(then)](const client::Result& r) {
         if (r.diverged || r.responses.empty() || !r.responses.front().ok()) return then(r);
         const auto& drawn = r.responses.front().drawn;
         std::vector<std::string> unreserved;
         for (const auto& [name, last] : drawn)
           if (!tx_.reserved(name)) unreserved.push_back(name);
         if (!unreserved.empty()) // drawn from the sequence's own state: reserve a block, then run it again with it
           return reserveSequences(std::move(unreserved), [this, statements, params, then](const client::Result* bad) {
             if (bad) return then(*bad);
             speculate(statements, params, then);
           });
         for (const auto& [name, last] : drawn)
           if (auto b = sequenceBlocks_.find(name); b != sequenceBlocks_.end() && last > b->second.last) {
             sequenceBlocks_.erase(b); // the retry reserves a larger one
             blockSizes_[name] *= 2;
             return then(refused(code::SerializationFailure,
                                 fmt::format("the transaction drew more values of sequence {} than its connection had "
                                             "reserved",
                                             name),
                                 "40001", "retry the transaction: a larger block of values is reserved for it"));
           }
         tx_.setDrawn(drawn);
         tx_.record(statements, params, r.responses.front().digests);
         // The answer holds the transaction's earlier statements' results first: the caller wants its own.
         client::Result mine = r;
         auto& resp = mine.responses.front();
         if (resp.results.is_array() && !resp.results.empty()) {
           const std::size_t n = std::min(statements.size(), resp.results.size());
           ojson tail = ojson::array();
           for (std::size_t i = resp.results.size() - n; i < resp.results.size(); ++i) tail.push_back(resp.results[i]);
           resp.result = tail.back();
           resp.results = n > 1 ? std::move(tail) : ojson();
         }
         then(mine);
       });
}

void Session::reserveSequences(std::vector<std::string> names, std::function<void(const client::Result*)> then) {
  constexpr std::int64_t kFirstBlock = 100;
  Request req;
  std::vector<std::int64_t> sizes;
  for (const auto& name : names) {
    sizes.push_back(blockSizes_.emplace(name, kFirstBlock).first->second);
    std::string literal = "'";
    for (char c : name) literal += c == '\'' ? std::string("''") : std::string(1, c);
    literal += "'";
    // Every node advances the sequence past the block, at one position of ALL: nobody else draws these values.
    req.statements.push_back(fmt::format("SELECT setval({0}, nextval({0}) + {1})", literal, sizes.back() - 1));
  }
  send(std::move(req), client::Target::All, [this, names, sizes, then](const client::Result& r) {
    if (failure(r, options_.timeoutText)) return then(&r);
    const auto& resp = r.responses.front();
    try {
      for (std::size_t i = 0; i < names.size(); ++i) {
        const ojson& rows = names.size() > 1 && resp.results.is_array() ? resp.results.at(i) : resp.result;
        const auto last = rows.at(0).at("setval").get<std::int64_t>();
        sequenceBlocks_[names[i]] = {last - sizes[i] + 1, last};
        tx_.reserve(names[i], last - sizes[i] + 1);
      }
    } catch (const std::exception& e) { // never: the nodes answer setval()'s value
      const auto bad = refused(code::SqlError, std::string("reserving sequence values: ") + e.what(), "XX000");
      return then(&bad);
    }
    then(nullptr);
  });
}

} // namespace kluster::proxy
