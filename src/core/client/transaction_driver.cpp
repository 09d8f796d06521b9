#include "core/client/transaction_driver.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <cctype>

namespace kluster::client {

Result TransactionDriver::refused(std::string_view code, std::string message, std::string hint) {
  Result r;
  Response resp;
  resp.resultCode = std::string(code);
  resp.errorMessage = std::move(message);
  resp.hint = std::move(hint);
  r.responses.push_back(std::move(resp));
  return r;
}

void TransactionDriver::begin(bool readOnly) {
  tx_.begin(util::nowMillis(), fmt::format("tx/{}", util::uuid4()), readOnly);
  for (auto b = blocks_.begin(); b != blocks_.end();)
    if (b->second.next > b->second.last) {
      b = blocks_.erase(b); // used up: the next transaction that draws reserves another
    } else {
      tx_.reserve(b->first, b->second.next);
      ++b;
    }
}

void TransactionDriver::execute(std::vector<sql::Statement> statements, nlohmann::json params,
                                const Transaction::Limits& limits, std::optional<std::int64_t> seenAll, Then then) {
  if (tx_.readOnly())
    for (const auto& st : statements)
      if (!st.readOnly) {
        std::string command; // the statement's first word, as PostgreSQL names it: "cannot execute INSERT in ..."
        for (char c : st.sql.substr(0, st.sql.find_first_of(" \t\n("))) command += static_cast<char>(std::toupper(c));
        return then(
            refused(code::ReadOnly, fmt::format("cannot execute {} in a read-only transaction", command)));
      }
  if (auto why = tx_.refusal(statements, params, limits))
    return then(refused(code::TooLarge, *why, "commit smaller transactions"));
  Request req = tx_.speculation(statements, params);
  if (seenAll) req.minAllOffset = seenAll; // the session's own earlier writes are seen
  send_(std::move(req), Target::One,
        [this, statements = std::move(statements), params = std::move(params), limits, seenAll,
         then = std::move(then)](const Result& r) {
          if (r.diverged || r.responses.empty() || !r.responses.front().ok()) return then(r);
          const auto& drawn = r.responses.front().drawn;
          std::vector<std::string> unreserved;
          for (const auto& [name, last] : drawn)
            if (!tx_.reserved(name)) unreserved.push_back(name);
          if (!unreserved.empty()) // drawn from the sequence's own state: reserve a block, then run it again with it
            return reserveSequences(std::move(unreserved),
                                    [this, statements, params, limits, seenAll, then](const Result* bad) {
                                      if (bad) return then(*bad);
                                      execute(statements, params, limits, seenAll, then);
                                    });
          for (const auto& [name, last] : drawn)
            if (auto b = blocks_.find(name); b != blocks_.end() && last > b->second.last) {
              blocks_.erase(b); // the retry reserves a larger one
              blockSizes_[name] *= 2;
              return then(refused(code::SerializationFailure,
                                  fmt::format("the transaction drew more values of sequence {} than its session had "
                                              "reserved",
                                              name),
                                  "retry the transaction: a larger block of values is reserved for it"));
            }
          tx_.setDrawn(drawn);
          tx_.record(statements, params, r.responses.front().digests);
          // The answer holds the transaction's earlier statements' results first: the caller wants its own.
          Result mine = r;
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

void TransactionDriver::commit(Then then) {
  Request req = tx_.commit();
  auto drawn = tx_.drawn();
  tx_.end();
  send_(std::move(req), Target::All, [this, drawn = std::move(drawn), then = std::move(then)](const Result& r) {
    if (succeeded(r))
      for (const auto& [name, last] : drawn) // the committed values are used: the next transaction draws after them
        if (auto b = blocks_.find(name); b != blocks_.end()) b->second.next = last + 1;
    then(r);
  });
}

void TransactionDriver::reserveSequences(std::vector<std::string> names, std::function<void(const Result*)> then) {
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
  send_(std::move(req), Target::All, [this, names, sizes, then](const Result& r) {
    if (!succeeded(r)) return then(&r);
    const auto& resp = r.responses.front();
    try {
      for (std::size_t i = 0; i < names.size(); ++i) {
        const ojson& rows = names.size() > 1 && resp.results.is_array() ? resp.results.at(i) : resp.result;
        const auto last = rows.at(0).at("setval").get<std::int64_t>();
        blocks_[names[i]] = {last - sizes[i] + 1, last};
        tx_.reserve(names[i], last - sizes[i] + 1);
      }
    } catch (const std::exception& e) { // never: the nodes answer setval()'s value
      const auto bad = refused(code::SqlError, std::string("reserving sequence values: ") + e.what());
      return then(&bad);
    }
    then(nullptr);
  });
}

} // namespace kluster::client
