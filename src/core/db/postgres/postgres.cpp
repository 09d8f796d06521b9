#include "core/db/postgres/postgres.hpp"

#include "core/log.hpp"

#include <fmt/format.h>
#include <poll.h>

#include <cstring>
#include <memory>
#include <utility>

namespace kluster::db {
namespace {

// Prepared statements kept per connection; past this many (texts with literals spliced in) they are
// dropped and prepared again as needed.
constexpr std::size_t kMaxStatements = 1000;

std::string field(const PGresult* res, int code) {
  const char* v = PQresultErrorField(res, code);
  return v ? v : "";
}

// Parameter values as libpq takes them: C strings, null for SQL NULL (they point into `params`).
std::vector<const char*> cValues(const std::vector<std::optional<std::string>>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return values;
}

template <typename Range, typename Get> std::string intArray(const Range& items, Get get) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += std::to_string(get(item));
  }
  out += '}';
  return out;
}

} // namespace

struct PgConnection::Sent {
  std::size_t item;
  bool hidden;                           // bookkeeping statements whose results are not the request's
  const std::string* prepares = nullptr; // a Prepare of this SQL text
  bool control = false;                  // BEGIN: its failure is the node's, never the request's
  Frame::Step* step = nullptr;           // one of the frame's statements
};

PgConnection::PgConnection(const std::string& url) : url_(url) {
  const char* keys[] = {"dbname", "options", "application_name", "client_encoding", "connect_timeout", nullptr};
  const char* values[] = {url.c_str(), sessionOptions(), "kluster", "UTF8", "10", nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn_);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    PQfinish(conn_);
    conn_ = nullptr;
    throw DbError(ErrorKind::Transient, code::NodeError, "cannot connect to the database: " + msg, "08006");
  }
  try {
    pinSession(conn_);
  } catch (...) {
    PQfinish(conn_);
    conn_ = nullptr;
    throw;
  }
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

void PgConnection::throwConnectionLost(const std::string& what) {
  std::string msg = conn_ ? PQerrorMessage(conn_) : "no connection";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  throw DbError(ErrorKind::Transient, code::NodeError, what + ": " + msg, "08006");
}

void PgConnection::throwFromResult(const PGresult* res, const std::string& what) {
  std::string state = field(res, PG_DIAG_SQLSTATE);
  if (state.empty() || PQstatus(conn_) != CONNECTION_OK) throwConnectionLost(what);
  auto kind = classifySqlState(state);
  throw DbError(kind, kind == ErrorKind::Request ? resultCodeForSqlState(state) : code::NodeError,
                what + ": " + field(res, PG_DIAG_MESSAGE_PRIMARY), state);
}

void PgConnection::exec(const std::string& sql) {
  ResultGuard g{PQexec(conn_, sql.c_str())};
  auto st = PQresultStatus(g.res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throwFromResult(g.res, sql.substr(0, 40));
}

PGresult* PgConnection::execParams(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
  const auto values = cValues(params);
  PGresult* res =
      PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0);
  auto st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    ResultGuard g{res};
    throwFromResult(res, "query");
  }
  return res;
}

ServerInfo PgConnection::serverInfo() {
  ServerInfo info;
  info.product = "PostgreSQL";
  ResultGuard g{execParams("SELECT current_setting('server_version'), current_setting('server_version_num')::int, "
                           "pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
                           "WHERE datname = current_database()",
                           {})};
  info.version = PQgetvalue(g.res, 0, 0);
  info.majorVersion = std::atoi(PQgetvalue(g.res, 0, 1)) / 10000;
  info.encoding = PQgetvalue(g.res, 0, 2);
  info.collation = PQgetvalue(g.res, 0, 3);
  info.ctype = PQgetvalue(g.res, 0, 4);
  return info;
}

Position PgConnection::loadPosition(const std::string& cluster) {
  ResultGuard g{execParams("SELECT all_offset, message_id FROM _kluster.position WHERE cluster = $1", {cluster})};
  Position p;
  positionStored_ = PQntuples(g.res) == 1;
  if (PQntuples(g.res) == 1) {
    p.offset = std::atoll(PQgetvalue(g.res, 0, 0));
    p.messageId = PQgetvalue(g.res, 0, 1);
  }
  return p;
}

std::optional<std::string> PgConnection::loadFingerprint(const std::string& cluster) {
  ResultGuard g{execParams("SELECT fingerprint::text FROM _kluster.cluster_info WHERE cluster = $1", {cluster})};
  if (PQntuples(g.res) != 1) return std::nullopt;
  return std::string(PQgetvalue(g.res, 0, 0));
}

std::optional<SecurityRecord> PgConnection::loadSecurity(const std::string& cluster) {
  ResultGuard g{execParams("SELECT digest, all_offset FROM _kluster.security WHERE cluster = $1", {cluster})};
  if (PQntuples(g.res) != 1) return std::nullopt;
  return SecurityRecord{PQgetvalue(g.res, 0, 0), std::atoll(PQgetvalue(g.res, 0, 1))};
}

void PgConnection::claimProcess(const std::string& cluster, const std::string& token) {
  ResultGuard g{execParams("INSERT INTO _kluster.node_process (cluster, token) VALUES ($1, $2) "
                           "ON CONFLICT (cluster) DO UPDATE SET token = EXCLUDED.token, started_at = now()",
                           {cluster, token})};
}

std::string PgConnection::processClaim(const std::string& cluster) {
  ResultGuard g{execParams("SELECT token FROM _kluster.node_process WHERE cluster = $1", {cluster})};
  return PQntuples(g.res) == 1 ? PQgetvalue(g.res, 0, 0) : "";
}

std::map<std::string, AppliedRecord> PgConnection::findApplied(const std::vector<std::string>& ids) {
  std::map<std::string, AppliedRecord> found;
  if (ids.empty()) return found;
  ResultGuard g{
      execParams("SELECT message_id, all_offset, result_code, result_hash, rows_affected FROM _kluster.applied "
                 "WHERE message_id = ANY($1::text[])",
                 {textArray(ids, [](const std::string& id) -> const std::string& { return id; })})};
  for (int r = 0; r < PQntuples(g.res); ++r)
    found[PQgetvalue(g.res, r, 0)] = {std::atoll(PQgetvalue(g.res, r, 1)), PQgetvalue(g.res, r, 2),
                                      PQgetvalue(g.res, r, 3), std::atoll(PQgetvalue(g.res, r, 4))};
  return found;
}

void PgConnection::begin() {
  if (!sequencesRestored_) { // a new connection: a crash or a lost batch may have left sequences ahead
    restoreSequences();
    sequencesRestored_ = true;
  }
  writing_ = true;
  unreusableInBatch_ = false;
  if (forget_ || statements_.size() > kMaxStatements) {
    exec("DEALLOCATE ALL");
    statements_.clear();
    forget_ = false;
  }
  // Not a round trip of its own: BEGIN goes out in the batch's pipeline (or with the commit).
  beginPending_ = true;
}

void PgConnection::sendPendingBegin(std::vector<Sent>* pipeline, std::size_t item) {
  if (!beginPending_) return;
  beginPending_ = false;
  if (!pipeline) return exec("BEGIN");
  send("BEGIN", {});
  pipeline->push_back({item, true, nullptr, true});
}

void PgConnection::rollback() noexcept {
  beginPending_ = false;
  const bool wrote = std::exchange(writing_, false);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) return;
  if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF) {
    while (PGresult* r = PQgetResult(conn_)) PQclear(r);
    PQexitPipelineMode(conn_);
  }
  PQsetnonblocking(conn_, 0);
  PQclear(PQexec(conn_, "ROLLBACK"));
  if (!wrote) return;
  try {
    restoreSequences();
  } catch (const std::exception& e) { // put back before the next batch instead
    sequencesRestored_ = false;
    KLOG(Warn, "db", "{}; trying again before the next batch", e.what());
  }
}

namespace {

// Parameter types for libpq: inferred by the server (0), except parameters the SQL does not use, which
// it cannot infer; those are text. Empty (no types at all) when every parameter is used.
std::vector<Oid> paramTypes(const std::vector<bool>& unused, std::size_t count) {
  std::vector<Oid> types;
  for (std::size_t i = 0; i < unused.size() && i < count; ++i)
    if (unused[i]) {
      types.assign(count, 0);
      break;
    }
  for (std::size_t i = 0; i < types.size() && i < unused.size(); ++i)
    if (unused[i]) types[i] = 25; // TEXTOID
  return types;
}

} // namespace

void PgConnection::send(const std::string& sql, const std::vector<std::optional<std::string>>& params,
                        const std::vector<bool>& unused) {
  const auto values = cValues(params);
  const auto types = paramTypes(unused, params.size());
  if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), types.empty() ? nullptr : types.data(),
                         values.data(), nullptr, nullptr, 0))
    throwConnectionLost("send");
  pump();
}

void PgConnection::pump() {
  // libpq sends by itself once 8 KiB are buffered; every so many statements, also push what is buffered
  // without blocking and read results meanwhile, so the server never stalls on a full socket. Flushing
  // after every statement would cost the node and the server a system call per statement each.
  if (++unpumped_ < 32) return;
  unpumped_ = 0;
  if (PQflush(conn_) < 0) throwConnectionLost("send");
  if (PQconsumeInput(conn_) == 0) throwConnectionLost("send");
}

bool PgConnection::worthPreparing(const std::string& sql) {
  if (statements_.count(sql) != 0 || preparing_.count(sql) != 0) return true;
  // (A hash that collides prepares a text on its first run: harmless.)
  if (seenOnce_.size() >= kMaxStatements * 4) seenOnce_.clear();
  return !seenOnce_.insert(std::hash<std::string>{}(sql)).second;
}

const std::string* PgConnection::sendReusable(const Statement& st) {
  const std::string* name = nullptr;
  const std::string* prepares = nullptr;
  if (auto it = statements_.find(st.sql); it != statements_.end()) {
    name = &it->second;
  } else if (auto p = preparing_.find(st.sql); p != preparing_.end()) {
    name = &p->second;
  } else {
    name = &preparing_.emplace(st.sql, fmt::format("kluster_{}", ++statementCount_)).first->second;
    const auto types = paramTypes(st.unusedParams, st.params.size());
    if (!PQsendPrepare(conn_, name->c_str(), st.sql.c_str(), static_cast<int>(st.params.size()),
                       types.empty() ? nullptr : types.data()))
      throwConnectionLost("send");
    prepares = &st.sql;
  }
  const auto values = cValues(st.params);
  if (!PQsendQueryPrepared(conn_, name->c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0))
    throwConnectionLost("send");
  pump();
  return prepares;
}

void PgConnection::flushAndWait() {
  for (;;) {
    int rc = PQflush(conn_);
    if (rc == 0) return;
    if (rc < 0) throwConnectionLost("flush");
    pollfd pfd{PQsocket(conn_), POLLIN | POLLOUT, 0};
    if (::poll(&pfd, 1, 1000) < 0 && errno != EINTR) throwConnectionLost("poll");
    if ((pfd.revents & POLLIN) && PQconsumeInput(conn_) == 0) throwConnectionLost("read");
  }
}

PGresult* PgConnection::nextResult() {
  while (PQisBusy(conn_)) {
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    if (::poll(&pfd, 1, 1000) < 0 && errno != EINTR) throwConnectionLost("poll");
    if (PQconsumeInput(conn_) == 0) throwConnectionLost("read");
  }
  return PQgetResult(conn_);
}

std::optional<PgConnection::Failure> PgConnection::runPipeline(const std::vector<const Work*>& work, std::size_t from,
                                                               std::size_t to, std::vector<Outcome>* outcomes,
                                                               Frame* frame) {
  if (from >= to) return std::nullopt;
  if (PQsetnonblocking(conn_, 1) != 0 || !PQenterPipelineMode(conn_)) throwConnectionLost("pipeline");
  preparing_.clear();
  std::vector<Sent> sent;
  sendPendingBegin(&sent, from);
  auto sendSteps = [&](std::vector<Frame::Step>& steps, std::size_t item) {
    for (auto& step : steps) {
      send(step.sql, step.params);
      sent.push_back({item, true, nullptr, false, &step});
    }
  };
  if (frame) sendSteps(frame->before, from);
  for (std::size_t i = from; i < to; ++i) {
    const Work& w = *work[i];
    if (w.randomSeed) {
      send("SELECT setseed($1)", {fmt::format("{:.17g}", *w.randomSeed)});
      sent.push_back({i, true});
    }
    if (w.requestTimeMs) { // local: ends with the batch; the next request that writes sets its own
      send("SELECT set_config('kluster.request_time', $1, true)", {std::to_string(*w.requestTimeMs)});
      sent.push_back({i, true});
    }
    if (w.uuidKey) { // the request's UUIDs count from 1 again (a retry draws the same ones)
      send("SELECT set_config('kluster.uuid_key', $1, true), set_config('kluster.uuid_count', '0', true)",
           {*w.uuidKey});
      sent.push_back({i, true});
    }
    if (!w.sequenceStarts.empty()) { // a transaction's commit draws from the values its client reserved
      send("SELECT _kluster.borrow_sequences($1::jsonb)", {nlohmann::json(w.sequenceStarts).dump()});
      sent.push_back({i, true});
    }
    for (const auto& st : w.statements) {
      if (writing_ && !st.reusable) unreusableInBatch_ = true;
      if (st.reusable && worthPreparing(st.sql)) {
        if (const auto* prepares = sendReusable(st)) sent.push_back({i, true, prepares});
      } else {
        send(st.sql, st.params, st.unusedParams);
      }
      sent.push_back({i, false});
    }
    if (!w.sequenceStarts.empty()) {
      send("SELECT _kluster.return_sequences()", {});
      sent.push_back({i, true});
    }
  }
  if (frame) sendSteps(frame->after, to - 1);
  if (!PQpipelineSync(conn_)) throwConnectionLost("pipeline sync");
  flushAndWait();

  std::optional<Failure> failure;
  std::string controlError;
  std::vector<PGresult*> itemResults;
  auto finishItem = [&](std::size_t item) {
    if (outcomes && !failure && !(frame && frame->error)) {
      Outcome& o = (*outcomes)[item] = toOutcome(itemResults);
      const Work& w = *work[item];
      if (w.digests || !w.expect.empty()) {
        o.digests = resultDigests(o);
        if (const auto bad = firstMismatch(w, o.digests))
          failure = Failure{item, "40001",
                            fmt::format("statement {} of the transaction now gives a different result than the one "
                                        "its client saw: the data it read changed before the transaction committed",
                                        *bad + 1),
                            "retry the whole transaction", true};
      }
    }
    for (auto* r : itemResults) PQclear(r);
    itemResults.clear();
  };
  for (std::size_t k = 0; k < sent.size(); ++k) {
    PGresult* res = nextResult();
    if (!res) throwConnectionLost("pipeline result");
    auto st = PQresultStatus(res);
    if (Frame::Step* step = sent[k].step) {
      step->ran = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
      if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
        step->value = PQgetvalue(res, 0, 0);
      if (st == PGRES_FATAL_ERROR && !frame->error && !failure) {
        frame->error = Failure{sent[k].item, field(res, PG_DIAG_SQLSTATE), field(res, PG_DIAG_MESSAGE_PRIMARY),
                               field(res, PG_DIAG_MESSAGE_HINT)};
        if (frame->error->sqlState.empty()) frame->error->sqlState = "08006";
      }
      PQclear(res);
      while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
      if (k + 1 == sent.size() || sent[k + 1].item != sent[k].item) finishItem(sent[k].item);
      continue;
    }
    if (st == PGRES_FATAL_ERROR && sent[k].control && controlError.empty())
      controlError = field(res, PG_DIAG_MESSAGE_PRIMARY);
    if (st == PGRES_FATAL_ERROR && !failure && controlError.empty()) {
      failure = Failure{sent[k].item, field(res, PG_DIAG_SQLSTATE), field(res, PG_DIAG_MESSAGE_PRIMARY),
                        field(res, PG_DIAG_MESSAGE_HINT)};
      if (failure->sqlState.empty()) failure->sqlState = "08006";
    }
    if (sent[k].prepares && st == PGRES_COMMAND_OK) {
      if (auto p = preparing_.find(*sent[k].prepares); p != preparing_.end()) statements_.insert(preparing_.extract(p));
    }
    if (!sent[k].hidden && !failure && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK))
      itemResults.push_back(res);
    else
      PQclear(res);
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra); // the NULL that ends this query's results
    if (k + 1 == sent.size() || sent[k + 1].item != sent[k].item) finishItem(sent[k].item);
  }
  PGresult* sync = nextResult();
  bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!synced || !PQexitPipelineMode(conn_)) throwConnectionLost("pipeline end");
  PQsetnonblocking(conn_, 0);
  if (!controlError.empty())
    throw DbError(ErrorKind::Transient, code::NodeError, "starting the batch's transaction failed: " + controlError,
                  "08006");
  return failure;
}

std::vector<Outcome> PgConnection::execute(const std::vector<const Work*>& work) {
  std::vector<Outcome> outcomes(work.size());
  auto requestError = [&](const Failure& f) {
    if (f.validation) {
      outcomes[f.item] = Outcome::error(code::SerializationFailure, f.message, f.sqlState, f.hint);
      return;
    }
    // Writes run read-write on ALL: a read-only refusal means this node's database is read-only (a standby,
    // default_transaction_read_only), which the other nodes are not.
    auto kind = f.sqlState == "25006" ? ErrorKind::Node : classifySqlState(f.sqlState);
    // A prepared statement whose table changed shape outside Kluster (by hand on this node): not the
    // request's fault, and the other nodes did not see it. Prepare again and retry.
    if (f.sqlState == "0A000" && f.message.find("cached plan") != std::string::npos) {
      forget_ = true;
      kind = ErrorKind::Transient;
    }
    if (kind != ErrorKind::Request)
      throw DbError(kind, code::NodeError, fmt::format("request failed on this node: {}", f.message), f.sqlState);
    outcomes[f.item] = Outcome::error(resultCodeForSqlState(f.sqlState), f.message, f.sqlState, f.hint);
  };
  // Optimistic pass: the whole batch in one pipeline.
  auto failure = runPipeline(work, 0, work.size(), &outcomes);
  if (!failure) return outcomes;
  requestError(*failure);
  // The transaction is aborted: start again, replay the requests that succeeded, leave the failed one out,
  // and go on one request at a time inside savepoints.
  exec("ROLLBACK");
  if (mayHaveSequences()) restoreSequences(); // the replay must draw the same values as the first try
  exec("BEGIN");
  if (auto again = runPipeline(work, 0, failure->item, nullptr))
    throw DbError(ErrorKind::Transient, code::NodeError, "replaying the batch failed: " + again->message,
                  again->sqlState);
  for (std::size_t i = failure->item + 1; i < work.size(); ++i) {
    // A request that fails leaves the sequences as they were, as it would in the optimistic pass (where
    // it is left out of the replay): saved before its savepoint, put back after.
    const bool sequences = mayHaveSequences();
    if (sequences) saveSequences();
    exec("SAVEPOINT kluster_request");
    if (auto f = runPipeline(work, i, i + 1, &outcomes)) {
      requestError(*f);
      exec("ROLLBACK TO SAVEPOINT kluster_request");
      if (sequences) restoreSequences();
    }
    exec("RELEASE SAVEPOINT kluster_request");
  }
  return outcomes;
}

bool PgConnection::commit(const std::string& cluster, const std::vector<AppliedEntry>& entries,
                          const Position& position) {
  // One statement, columns bound as arrays. A plain INSERT: an id recorded before fails the primary key,
  // which is rare (a client's retry) and cheaper to detect this way than with ON CONFLICT on every row.
  // Prepared once per connection (like a request's reusable statement: kept in statements_, dropped with
  // them): parsing its text took the server about as long as running it, at every batch.
  Statement record;
  record.sql = "WITH position AS (INSERT INTO _kluster.position (cluster, all_offset, message_id, updated_at) "
               "VALUES ($6, $7, $8, now()) ON CONFLICT (cluster) DO UPDATE SET all_offset = EXCLUDED.all_offset, "
               "message_id = EXCLUDED.message_id, updated_at = EXCLUDED.updated_at) "
               "INSERT INTO _kluster.applied (message_id, all_offset, result_code, result_hash, rows_affected) "
               "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[])";
  record.params = {textArray(entries, [](const AppliedEntry& e) -> const std::string& { return e.messageId; }),
                   intArray(entries, [](const AppliedEntry& e) { return e.offset; }),
                   textArray(entries, [](const AppliedEntry& e) -> const std::string& { return e.resultCode; }),
                   textArray(entries, [](const AppliedEntry& e) -> const std::string& { return e.resultHash; }),
                   intArray(entries, [](const AppliedEntry& e) { return e.rowsAffected; }),
                   cluster,
                   std::to_string(position.offset),
                   position.messageId};
  record.reusable = true;
  // The bookkeeping INSERT and COMMIT in one pipeline: one round trip. When the INSERT fails, PostgreSQL
  // skips the COMMIT (the pipeline is aborted up to its sync) and the transaction stays open and failed,
  // for the caller's rollback().
  if (PQsetnonblocking(conn_, 1) != 0 || !PQenterPipelineMode(conn_)) throwConnectionLost("pipeline");
  std::vector<Sent> sent;
  sendPendingBegin(&sent, 0);
  std::size_t next = sent.size(); // the index of the next result: BEGIN (when it was pending) comes first
  const bool firstDurable = !durable_ && !positionStored_; // the first position a database holds is never lost
  if (firstDurable) {
    send("SET LOCAL synchronous_commit = on", {});
    ++next;
  }
  const bool saving = mayHaveSequences();
  const std::size_t saveAt = next;
  if (saving) {
    send(saveSequencesSql(), {});
    ++next;
  }
  preparing_.clear();
  const std::size_t prepareAt = next;
  const std::string* prepares = sendReusable(record); // its first time on this connection: a Parse too
  if (prepares) ++next;
  const std::size_t head = next; // the INSERT's result; the COMMIT's follows
  send("COMMIT", {});
  if (!PQpipelineSync(conn_)) throwConnectionLost("pipeline sync");
  flushAndWait();
  std::vector<std::unique_ptr<PGresult, decltype(&PQclear)>> results;
  for (std::size_t k = 0; k < head + 2; ++k) {
    PGresult* res = nextResult();
    if (!res) throwConnectionLost("commit result");
    results.emplace_back(res, &PQclear);
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  }
  ResultGuard sync{nextResult()};
  if (!sync.res || PQresultStatus(sync.res) != PGRES_PIPELINE_SYNC || !PQexitPipelineMode(conn_))
    throwConnectionLost("pipeline end");
  PQsetnonblocking(conn_, 0);
  for (std::size_t k = 0; k < results.size(); ++k) {
    const PGresult* res = results[k].get();
    const auto st = PQresultStatus(res);
    if (saving && k == saveAt && st == PGRES_TUPLES_OK) hasSequences_ = std::atoi(PQgetvalue(res, 0, 0)) > 0;
    if (prepares && k == prepareAt && st == PGRES_COMMAND_OK) {
      if (auto p = preparing_.find(*prepares); p != preparing_.end()) statements_.insert(preparing_.extract(p));
    }
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_PIPELINE_ABORTED) continue;
    if (k == head && field(res, PG_DIAG_SQLSTATE) == "23505" && field(res, PG_DIAG_CONSTRAINT_NAME) == "applied_pkey")
      return false;
    throwFromResult(res, k < sent.size()              ? "starting the batch"
                         : prepares && k == prepareAt ? "preparing the batch's record"
                         : k < head                   ? "saving the sequences' state"
                         : k == head                  ? "recording the batch"
                                                      : "committing the batch");
  }
  writing_ = false;
  positionStored_ = true;
  return true;
}

void PgConnection::setDurableCommits(bool durable) {
  exec(durable ? "SET synchronous_commit = on" : "SET synchronous_commit = off");
  durable_ = durable;
}

} // namespace kluster::db
