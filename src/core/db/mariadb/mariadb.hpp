#pragma once
// The MariaDB adapter (MariaDB 10.11, InnoDB), over MariaDB Connector/C (client.hpp). A batch goes to the server
// as one multi-statement query: one round trip, each request behind a savepoint so that a request's error undoes
// that request alone. docs/mariadb.md says what works and what does not yet.
#include "core/db/adapter.hpp"
#include "core/db/mariadb/client.hpp"

#include <memory>

namespace kluster::db::mariadb {

/// MariaDB's error number (and SQLSTATE, for numbers not in the table) as an error kind and a result code
/// (errors.cpp; docs/mariadb.md "Error classes").
ErrorKind classifyError(unsigned number, const std::string& sqlState);
std::string_view resultCodeForError(unsigned number, const std::string& sqlState);

/// One MariaDB value in text form as JSON: integers that fit exactly and doubles as numbers, decimals as numbers
/// when exact in a double, everything else (dates, strings, bit, binary) as text.
ojson valueToJson(const Column& column, const std::string& text);
/// One statement's result as a request's result: [{column: value}] or {"rowsAffected": n}.
ojson resultToJson(const Result& result, ojson* columns);

/// The session settings every connection pins, so every node computes and formats values identically whatever
/// its server's configuration says (one SET statement).
extern const char* const kSessionSettings;

/// The statements the node's bookkeeping runs in a batch (MariaDbAdapter gives them).
Statement recordSecurityStatement(const std::string& cluster, const std::string& digest, std::int64_t offset);
Statement recordFingerprintStatement(const std::string& cluster, const std::string& fingerprint,
                                     std::int64_t timestampMs);
/// MariaDB's @@rand_seed1 and @@rand_seed2 for Kluster's seed in [-1, 1] (each in [0, 2^30 - 2]).
std::pair<std::uint32_t, std::uint32_t> randSeeds(double seed);

/// The MariaDB adapter: `[database] type = "mariadb"`, mariadb:// URLs (catalog.cpp).
class MariaDbAdapter final : public Adapter {
public:
  std::string_view type() const override { return "mariadb"; }
  std::unique_ptr<Connection> connect(const std::string& url) const override;
  std::string sqlStateFor(std::string_view resultCode) const override;
  Statement recordFingerprint(const std::string& cluster, const std::string& fingerprint,
                              std::int64_t timestampMs) const override {
    return recordFingerprintStatement(cluster, fingerprint, timestampMs);
  }
  Statement recordSecurity(const std::string& cluster, const std::string& digest, std::int64_t offset) const override {
    return recordSecurityStatement(cluster, digest, offset);
  }
  bool transactionalDdl() const override { return false; } // DDL commits implicitly
  const Operations& operations() const override;           // operations.cpp
};

class MariaDbConnection final : public Connection {
public:
  explicit MariaDbConnection(const std::string& url);

  ServerInfo serverInfo() override;
  void ensureSchema() override;
  Position loadPosition(const std::string& cluster) override;
  std::optional<std::string> loadFingerprint(const std::string& cluster) override;
  std::optional<SecurityRecord> loadSecurity(const std::string& cluster) override;
  void claimProcess(const std::string& cluster, const std::string& token) override;
  std::string processClaim(const std::string& cluster) override;
  std::map<std::string, AppliedRecord> findApplied(const std::vector<std::string>& messageIds) override;
  void begin() override;
  std::vector<Outcome> execute(const std::vector<const Work*>& work) override;
  bool commit(const std::string& cluster, const std::vector<AppliedEntry>& entries, const Position& position) override;
  void rollback() noexcept override;
  void forgetStatements() override {} // statements are sent as text: nothing is prepared on the server
  Outcome query(const Work& work, const ReadFloor* atLeast) override;
  Outcome speculate(const Work& work, const ReadFloor* atLeast) override;
  Outcome describe(const std::string& sql, const std::vector<std::uint32_t>& paramTypes,
                   const ReadFloor* atLeast) override;
  void setDurableCommits(bool durable) override;
  std::map<std::string, FunctionVolatility> functionVolatility(const std::vector<std::string>& names) override;
  std::vector<std::vector<std::string>> uniqueKeys(const std::string& schema, const std::string& table) override;
  std::vector<std::string> drawnDefaults(const std::string& schema, const std::string& table) override;
  std::vector<std::string> immediateUniqueColumns(const std::string& schema, const std::string& table) override;
  RequestInputs requestInputs() override;
  std::vector<FunctionDefinition> userFunctions(const std::string& name) override;
  std::vector<FunctionDefinition> triggerFunctions(const std::string& schema, const std::string& table) override;
  std::vector<std::string> tableFunctions(const std::string& schema, const std::string& table) override;
  ViewDefinition viewDefinition(const std::string& schema, const std::string& name) override;
  std::vector<FunctionDefinition> ruleDefinitions(const std::string& schema, const std::string& table) override;
  std::int64_t openSnapshot(const std::string& cluster) override;
  std::vector<std::string> snapshotTables() override;
  TableChecksum snapshotChecksum(const std::string& table) override;
  void closeSnapshot() noexcept override { rollback(); }

private:
  // Runs bookkeeping SQL; a failure throws DbError with its class.
  std::vector<Result> run(const std::string& sql, const char* what);
  [[noreturn]] void throwError(const Error& e, const std::string& what);
  // The SQL of one request: its pins and its statements, each statement's SQL with its parameters bound.
  // `kinds` gets one entry per statement sent: true for the request's own statements.
  void appendWork(const Work& w, std::string* sql, std::vector<bool>* own);
  Outcome requestOutcome(const Error& e) const;
  std::optional<Outcome> beginRead(const ReadFloor* atLeast);
  void restoreAutoinc();

  std::string url_;
  std::unique_ptr<Client> client_;
  bool beginPending_ = false; // begin() was called; START TRANSACTION goes out with the first statements
  bool inBatch_ = false;
  bool autoincRestored_ = false; // the AUTO_INCREMENT counters were put back on this connection
  bool oneOff_ = false;          // the batch ran a statement that is not plain DML (DDL commits implicitly)
};

} // namespace kluster::db::mariadb
