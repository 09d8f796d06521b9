#include "core/db/mariadb/mariadb.hpp"

#include "core/log.hpp"

#include <fmt/format.h>

#include <cmath>
#include <utility>

namespace kluster::db::mariadb {

// Pinned on every connection (keep docs/mariadb.md "Determinism" in step). ONLY_FULL_GROUP_BY refuses a GROUP BY
// whose other columns could come from any row of the group; auto_increment_* undo what Galera or an operator set.
const char* const kSessionSettings =
    "SET SESSION time_zone = '+00:00', "
    "sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_CREATE_USER,"
    "ONLY_FULL_GROUP_BY', "
    "div_precision_increment = 4, group_concat_max_len = 1048576, max_sort_length = 1024, lc_time_names = 'en_US', "
    "character_set_client = utf8mb4, character_set_connection = utf8mb4, character_set_results = utf8mb4, "
    "collation_connection = utf8mb4_general_ci, tx_isolation = 'REPEATABLE-READ', autocommit = 1, "
    "max_statement_time = 0, innodb_lock_wait_timeout = 50, auto_increment_increment = 1, "
    "auto_increment_offset = 1, sql_safe_updates = 0, sql_select_limit = 18446744073709551615, "
    "sql_auto_is_null = 0, explicit_defaults_for_timestamp = ON, default_storage_engine = InnoDB, "
    "foreign_key_checks = 1, unique_checks = 1, default_week_format = 0, max_join_size = 18446744073709551615, "
    "sql_big_selects = 1, max_recursive_iterations = 4294967295, sql_if_exists = 0, default_regex_flags = '', "
    "lc_messages = 'en_US', innodb_strict_mode = ON, max_sp_recursion_depth = 0, check_constraint_checks = 1, "
    "updatable_views_with_limit = YES, old_mode = '', timestamp = DEFAULT";

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS _kluster_position (
  cluster     VARCHAR(255) NOT NULL PRIMARY KEY,
  all_offset  BIGINT NOT NULL,
  message_id  VARCHAR(512) NOT NULL,
  updated_at  DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE IF NOT EXISTS _kluster_applied (
  message_id    VARCHAR(512) NOT NULL PRIMARY KEY,
  all_offset    BIGINT NOT NULL,
  result_code   VARCHAR(64) NOT NULL,
  result_hash   VARCHAR(128) NOT NULL,
  rows_affected BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE IF NOT EXISTS _kluster_cluster_info (
  cluster      VARCHAR(255) NOT NULL PRIMARY KEY,
  fingerprint  LONGTEXT NOT NULL,
  recorded_at  BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE IF NOT EXISTS _kluster_security (
  cluster     VARCHAR(255) NOT NULL PRIMARY KEY,
  digest      VARCHAR(255) NOT NULL,
  all_offset  BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
-- Which node process serves the cluster with this database (its token, written when it starts).
CREATE TABLE IF NOT EXISTS _kluster_node_process (
  cluster     VARCHAR(255) NOT NULL PRIMARY KEY,
  token       VARCHAR(255) NOT NULL,
  started_at  DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE IF NOT EXISTS _kluster_autoinc (
  table_name  VARCHAR(64) NOT NULL PRIMARY KEY,
  next_value  BIGINT UNSIGNED NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
)";

// The AUTO_INCREMENT counters as the batch leaves them, recorded with its position: InnoDB does not give values
// back on rollback, so a batch rolled back and applied again would draw new ones on this node only.
constexpr const char* kSaveAutoinc =
    "REPLACE INTO _kluster_autoinc (table_name, next_value) SELECT TABLE_NAME, AUTO_INCREMENT FROM "
    "information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL AND TABLE_NAME NOT LIKE "
    "'\\_kluster\\_%'";

} // namespace

Statement recordSecurityStatement(const std::string& cluster, const std::string& digest, std::int64_t offset) {
  return {"INSERT INTO _kluster_security (cluster, digest, all_offset) VALUES ($1, $2, $3) "
          "ON DUPLICATE KEY UPDATE digest = VALUES(digest), all_offset = VALUES(all_offset)",
          {cluster, digest, std::to_string(offset)},
          false,
          {}};
}

Statement recordFingerprintStatement(const std::string& cluster, const std::string& fingerprint,
                                     std::int64_t timestampMs) {
  return {"INSERT IGNORE INTO _kluster_cluster_info (cluster, fingerprint, recorded_at) VALUES ($1, $2, $3)",
          {cluster, fingerprint, std::to_string(timestampMs)},
          false,
          {}};
}

std::pair<std::uint32_t, std::uint32_t> randSeeds(double seed) {
  // MariaDB's RAND() state is two integers below 0x3FFFFFFF (my_rnd_init); spread the seed's 52 bits over both.
  constexpr std::uint64_t kMax = 0x3FFFFFFF;
  const double unit = std::clamp((seed + 1.0) / 2.0, 0.0, 1.0);
  const auto bits = static_cast<std::uint64_t>(std::ldexp(unit, 52));
  return {static_cast<std::uint32_t>(bits % kMax), static_cast<std::uint32_t>((bits >> 26) % kMax)};
}

MariaDbConnection::MariaDbConnection(const std::string& url) : url_(url) {
  Url parsed;
  try {
    parsed = Url::parse(url);
  } catch (const std::invalid_argument& e) {
    throw UsageError(fmt::format("bad MariaDB URL: {} (use mariadb://user[:password]@host:port/database)", e.what()));
  }
  try {
    client_ = std::make_unique<Client>(parsed);
    client_->exec(kSessionSettings);
  } catch (const Error& e) {
    throw DbError(classifyError(e.number(), e.sqlState()) == ErrorKind::Transient ? ErrorKind::Transient
                                                                                  : ErrorKind::Node,
                  code::NodeError, fmt::format("cannot connect to the database: {}", e.what()), e.sqlState());
  }
}

void MariaDbConnection::throwError(const Error& e, const std::string& what) {
  auto kind = classifyError(e.number(), e.sqlState());
  throw DbError(kind, kind == ErrorKind::Request ? resultCodeForError(e.number(), e.sqlState()) : code::NodeError,
                fmt::format("{}: {} (MariaDB error {})", what, e.what(), e.number()), e.sqlState());
}

std::vector<Result> MariaDbConnection::run(const std::string& sql, const char* what) {
  try {
    return client_->query(sql);
  } catch (const Error& e) {
    throwError(e, what);
  }
}

ServerInfo MariaDbConnection::serverInfo() {
  auto r = run("SELECT VERSION(), @@character_set_database, @@collation_database", "reading the server's version");
  ServerInfo info;
  info.product = "MariaDB";
  const auto& row = r.back().rows.at(0);
  info.version = row[0].value_or("");
  info.version = info.version.substr(0, info.version.find('-')); // 10.11.19-MariaDB-0+deb12u1 -> 10.11.19
  info.majorVersion = std::atoi(info.version.c_str());
  info.encoding = row[1].value_or("");
  info.collation = row[2].value_or("");
  info.ctype = info.collation;
  return info;
}

void MariaDbConnection::ensureSchema() {
  // A restore that did not finish leaves its fence (operations.hpp, kRestoringTable): the data is not a node's.
  auto fence = run("SELECT DATABASE() FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = "
                   "'_kluster_restoring'",
                   "looking for an unfinished restore");
  if (!fence.back().rows.empty())
    throw KlusterError(code::NodeError,
                       fmt::format("database {} holds an unfinished restore (table _kluster_restoring): klusterctl "
                                   "restore stopped before the whole backup was loaded",
                                   fence.back().rows[0][0].value_or("")),
                       "run klusterctl restore again with --force");
  run(kSchema, "creating Kluster's tables");
}

Position MariaDbConnection::loadPosition(const std::string& cluster) {
  auto r = run("SELECT all_offset, message_id FROM _kluster_position WHERE cluster = " + literal(cluster),
               "reading the position");
  Position p;
  if (!r.back().rows.empty()) {
    p.offset = std::atoll(r.back().rows[0][0].value_or("-1").c_str());
    p.messageId = r.back().rows[0][1].value_or("");
  }
  return p;
}

std::optional<std::string> MariaDbConnection::loadFingerprint(const std::string& cluster) {
  auto r = run("SELECT fingerprint FROM _kluster_cluster_info WHERE cluster = " + literal(cluster),
               "reading the cluster fingerprint");
  if (r.back().rows.empty()) return std::nullopt;
  return r.back().rows[0][0];
}

std::optional<SecurityRecord> MariaDbConnection::loadSecurity(const std::string& cluster) {
  auto r = run("SELECT digest, all_offset FROM _kluster_security WHERE cluster = " + literal(cluster),
               "reading the security record");
  if (r.back().rows.empty()) return std::nullopt;
  return SecurityRecord{r.back().rows[0][0].value_or(""), std::atoll(r.back().rows[0][1].value_or("-1").c_str())};
}

void MariaDbConnection::claimProcess(const std::string& cluster, const std::string& token) {
  run(fmt::format("SET timestamp = DEFAULT; INSERT INTO _kluster_node_process (cluster, token, started_at) VALUES ({}, "
                  "{}, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE token = VALUES(token), started_at = "
                  "VALUES(started_at)",
                  literal(cluster), literal(token)),
      "claiming the node");
}

std::string MariaDbConnection::processClaim(const std::string& cluster) {
  auto r =
      run("SELECT token FROM _kluster_node_process WHERE cluster = " + literal(cluster), "reading the node's claim");
  return r.back().rows.empty() ? "" : r.back().rows[0][0].value_or("");
}

std::map<std::string, AppliedRecord> MariaDbConnection::findApplied(const std::vector<std::string>& ids) {
  std::map<std::string, AppliedRecord> found;
  if (ids.empty()) return found;
  std::string in;
  for (const auto& id : ids) in += (in.empty() ? "" : ", ") + literal(id);
  auto r = run("SELECT message_id, all_offset, result_code, result_hash, rows_affected FROM _kluster_applied "
               "WHERE message_id IN (" +
                   in + ")",
               "looking up applied requests");
  for (const auto& row : r.back().rows)
    found[row[0].value_or("")] = {std::atoll(row[1].value_or("-1").c_str()), row[2].value_or(""), row[3].value_or(""),
                                  std::atoll(row[4].value_or("0").c_str())};
  return found;
}

void MariaDbConnection::restoreAutoinc() {
  // The counters recorded with the position, put back where a rolled-back batch (or a crash) left them ahead.
  // ALTER TABLE ... AUTO_INCREMENT commits implicitly: only ever between batches.
  auto r = run("SELECT a.table_name, a.next_value FROM _kluster_autoinc a JOIN information_schema.TABLES t ON "
               "t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME = a.table_name WHERE t.AUTO_INCREMENT <> a.next_value",
               "reading the AUTO_INCREMENT counters");
  for (const auto& row : r.back().rows) {
    run(fmt::format("ALTER TABLE {} AUTO_INCREMENT = {}", ident(row[0].value_or("")), row[1].value_or("1")),
        "putting an AUTO_INCREMENT counter back");
    KLOG(Info, "db", "AUTO_INCREMENT of {} put back to {} (a batch was rolled back)", row[0].value_or(""),
         row[1].value_or(""));
  }
  autoincRestored_ = true;
}

void MariaDbConnection::begin() {
  if (!autoincRestored_) restoreAutoinc(); // a new connection: a crash or a lost batch may have left them ahead
  beginPending_ = true; // START TRANSACTION goes out with the batch's statements: no round trip of its own
  inBatch_ = true;
  oneOff_ = false;
}

void MariaDbConnection::appendWork(const Work& w, std::string* sql, std::vector<bool>* own) {
  // The request's pins: NOW() & co. (and DEFAULT/ON UPDATE CURRENT_TIMESTAMP) read `timestamp`; RAND() without a
  // seed draws from rand_seed1/2. Both are what MariaDB's statement-based replication sets on its replicas.
  std::string pins;
  if (w.requestTimeMs) pins += fmt::format("timestamp = {}.{:03}", *w.requestTimeMs / 1000, *w.requestTimeMs % 1000);
  if (w.randomSeed) {
    const auto [s1, s2] = randSeeds(*w.randomSeed);
    pins += fmt::format("{}rand_seed1 = {}, rand_seed2 = {}", pins.empty() ? "" : ", ", s1, s2);
  }
  if (!pins.empty()) {
    *sql += "SET " + pins + ";\n";
    own->push_back(false);
  }
  for (const auto& st : w.statements) {
    if (!st.reusable) oneOff_ = true;
    *sql += st.params.empty() ? st.sql : client_->bind(st.sql, st.params);
    *sql += ";\n";
    own->push_back(true);
  }
}

Outcome MariaDbConnection::requestOutcome(const Error& e) const {
  return Outcome::error(resultCodeForError(e.number(), e.sqlState()),
                        fmt::format("{} (MariaDB error {})", e.what(), e.number()), e.sqlState());
}

namespace {

Outcome toOutcome(const std::vector<const Result*>& results) {
  Outcome out;
  out.result = nullptr;
  ojson perStatement = ojson::array();
  for (const Result* r : results) {
    ojson columns;
    ojson one = resultToJson(*r, &columns);
    out.rowsAffected += static_cast<std::int64_t>(r->affectedRows);
    out.columns = std::move(columns);
    perStatement.push_back(one);
    out.result = std::move(one);
  }
  if (results.size() > 1) out.results = std::move(perStatement);
  return out;
}

bool unsupportedWork(const Work& w, Outcome* out) {
  if (w.expect.empty() && w.sequenceStarts.empty() && !w.uuidKey && !w.digests) return false;
  *out =
      Outcome::error(code::FeatureNotSupported,
                     "interactive transactions are not supported on a MariaDB cluster yet (docs/mariadb.md)", "0A000");
  return true;
}

} // namespace

std::vector<Outcome> MariaDbConnection::execute(const std::vector<const Work*>& work) {
  std::vector<Outcome> outcomes(work.size());
  std::size_t from = 0;
  while (from < work.size()) {
    // The rest of the batch in one round trip, each request behind the savepoint that undoes it alone.
    std::string sql;
    std::vector<bool> own;
    std::vector<std::size_t> itemOf;
    auto note = [&](std::size_t item) {
      while (itemOf.size() < own.size()) itemOf.push_back(item);
    };
    if (beginPending_) {
      sql += "START TRANSACTION;\n";
      own.push_back(false);
      note(from);
    }
    for (std::size_t i = from; i < work.size(); ++i) {
      if (unsupportedWork(*work[i], &outcomes[i])) continue;
      sql += "SAVEPOINT kluster_request;\n";
      own.push_back(false);
      appendWork(*work[i], &sql, &own);
      note(i);
    }
    if (own.empty()) break;
    Partial p;
    try {
      p = client_->run(sql);
    } catch (const Error& e) {
      throwError(e, "running the batch");
    }
    beginPending_ = false;
    // The results of each request's own statements, up to the one that failed.
    std::map<std::size_t, std::vector<const Result*>> byItem;
    for (std::size_t k = 0; k < p.results.size(); ++k)
      if (own[k]) byItem[itemOf[k]].push_back(&p.results[k]);
    const std::size_t failedAt = p.error ? itemOf[p.results.size()] : work.size();
    for (std::size_t i = from; i < failedAt; ++i)
      if (outcomes[i].ok() && outcomes[i].result.is_null() && outcomes[i].columns.is_null())
        outcomes[i] = toOutcome(byItem[i]);
    if (!p.error) break;
    const Error& e = *p.error;
    if (!own[p.results.size()]) throwError(e, "starting a request (savepoint, pins)");
    auto kind = classifyError(e.number(), e.sqlState());
    // Writes run read-write on ALL: a read-only refusal means this node's server is read-only, not the others.
    if (e.number() == 1792) kind = ErrorKind::Node;
    if (kind != ErrorKind::Request)
      throw DbError(kind, code::NodeError,
                    fmt::format("request failed on this node: {} (MariaDB error {})", e.what(), e.number()),
                    e.sqlState());
    outcomes[failedAt] = requestOutcome(e);
    // Undo the failed request's earlier statements; the requests before it stay. After DDL (which commits by
    // itself) there is no savepoint left to go back to, and nothing to undo: the DDL failed as a whole.
    try {
      client_->exec("ROLLBACK TO SAVEPOINT kluster_request");
    } catch (const Error& again) {
      if (again.number() != 1305) throwError(again, "undoing a failed request"); // 1305: no such savepoint
    }
    from = failedAt + 1;
  }
  return outcomes;
}

bool MariaDbConnection::commit(const std::string& cluster, const std::vector<AppliedEntry>& entries,
                               const Position& position) {
  std::string sql = "SET timestamp = DEFAULT;\n";
  // DDL commits implicitly (MariaDB has no transactional DDL): after it the batch's transaction is gone, and the
  // bookkeeping gets one of its own. docs/mariadb.md says what this means after a crash.
  bool start = beginPending_;
  if (!start && oneOff_) start = run("SELECT @@in_transaction", "checking the transaction").back().rows[0][0] == "0";
  if (start) sql += "START TRANSACTION;\n";
  const std::size_t appliedAt = start ? 2 : 1;
  if (!entries.empty()) {
    sql += "INSERT INTO _kluster_applied (message_id, all_offset, result_code, result_hash, rows_affected) VALUES ";
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      sql += fmt::format("{}({}, {}, {}, {}, {})", i ? ", " : "", literal(e.messageId), e.offset, literal(e.resultCode),
                         literal(e.resultHash), e.rowsAffected);
    }
    sql += ";\n";
  }
  sql += kSaveAutoinc;
  sql += ";\n";
  sql += fmt::format("INSERT INTO _kluster_position (cluster, all_offset, message_id, updated_at) VALUES ({}, {}, {}, "
                     "UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE all_offset = VALUES(all_offset), message_id = "
                     "VALUES(message_id), updated_at = VALUES(updated_at);\nCOMMIT",
                     literal(cluster), position.offset, literal(position.messageId));
  Partial p;
  try {
    p = client_->run(sql);
  } catch (const Error& e) {
    throwError(e, "committing the batch");
  }
  beginPending_ = false;
  if (p.error) {
    // An id recorded by an earlier batch: nothing is committed (the transaction stays open for rollback()).
    if (!entries.empty() && p.results.size() == appliedAt && p.error->number() == 1062) return false;
    throwError(*p.error, "recording the batch");
  }
  inBatch_ = false;
  return true;
}

void MariaDbConnection::rollback() noexcept {
  beginPending_ = false;
  const bool wrote = std::exchange(inBatch_, false);
  try {
    if (client_) client_->exec("ROLLBACK; SET timestamp = DEFAULT");
  } catch (const std::exception& e) {
    KLOG(Debug, "db", "rollback: {}", e.what());
    autoincRestored_ = false; // before the next batch
    return;
  }
  if (!wrote) return;
  try {
    restoreAutoinc();
  } catch (const std::exception& e) {
    autoincRestored_ = false;
    KLOG(Warn, "db", "{}; trying again before the next batch", e.what());
  }
}

std::optional<Outcome> MariaDbConnection::beginRead(const ReadFloor* atLeast) {
  // The snapshot is taken at once (WITH CONSISTENT SNAPSHOT), so the position read is the one the data shows.
  std::string sql = "SET timestamp = DEFAULT; START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";
  if (atLeast)
    sql += "; SELECT coalesce((SELECT all_offset FROM _kluster_position WHERE cluster = " + literal(atLeast->cluster) +
           "), -1)";
  auto r = run(sql, "starting a read");
  if (!atLeast) return std::nullopt;
  const auto held = std::atoll(r.back().rows.at(0).at(0).value_or("-1").c_str());
  if (held >= atLeast->offset) return std::nullopt;
  rollback();
  return notCaughtUp(held, atLeast->offset);
}

Outcome MariaDbConnection::query(const Work& work, const ReadFloor* atLeast) {
  Outcome refused;
  if (unsupportedWork(work, &refused)) return refused;
  if (auto behind = beginRead(atLeast)) return *behind;
  std::string sql;
  std::vector<bool> own;
  Partial p;
  try {
    appendWork(work, &sql, &own);
    p = client_->run(sql + "COMMIT");
  } catch (const Error& e) {
    rollback();
    throwError(e, "running a read");
  }
  if (p.error) {
    rollback();
    const auto kind = classifyError(p.error->number(), p.error->sqlState());
    if (kind != ErrorKind::Request)
      throw DbError(kind, code::NodeError, fmt::format("query failed on this node: {}", p.error->what()),
                    p.error->sqlState());
    Outcome o = requestOutcome(*p.error);
    if (p.error->number() == 1792) o.hint = "send writes to ALL (exec --to ALL)";
    return o;
  }
  std::vector<const Result*> mine;
  for (std::size_t k = 0; k < own.size(); ++k)
    if (own[k]) mine.push_back(&p.results[k]);
  return toOutcome(mine);
}

Outcome MariaDbConnection::speculate(const Work&, const ReadFloor*) {
  return Outcome::error(code::FeatureNotSupported,
                        "interactive transactions are not supported on a MariaDB cluster yet (docs/mariadb.md)",
                        "0A000");
}

Outcome MariaDbConnection::describe(const std::string&, const std::vector<std::uint32_t>&, const ReadFloor*) {
  return Outcome::error(code::FeatureNotSupported,
                        "describe requests are not supported on a MariaDB cluster yet (docs/mariadb.md)", "0A000");
}

void MariaDbConnection::setDurableCommits(bool durable) {
  // MariaDB has no per-session synchronous_commit: durability is the server's innodb_flush_log_at_trx_commit.
  if (!durable) KLOG(Warn, "db", "MariaDB: commits stay as durable as the server's innodb_flush_log_at_trx_commit");
}

} // namespace kluster::db::mariadb
