#pragma once
// One client connection's protocol state machine: startup, simple and extended query, turned into Kluster
// requests. No I/O: the server feeds it bytes and writes what it produces; requests go out through a
// Sender whose completion the server delivers back on the connection's event loop.
#include "core/client/client.hpp"
#include "core/client/transaction_driver.hpp"
#include "core/proxy/copy.hpp"
#include "core/proxy/metrics.hpp"
#include "core/proxy/scram.hpp"
#include "core/proxy/users.hpp"
#include "core/proxy/wire.hpp"
#include "core/sql/analysis_cache.hpp"
#include "core/sql/analyzer.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kluster::proxy {

class CopyWriter;

/// An ErrorResponse's fields (severity ERROR).
wire::Writer::Notice errorNotice(std::string sqlState, std::string message, std::string hint = {});

/// A prepared statement's parameter and result column types (Describe before Bind).
struct Description {
  std::vector<std::uint32_t> paramOids;
  std::vector<wire::Writer::Field> columns; ///< empty: the statement returns no rows (NoData)
};

/// Descriptions a node gave, by SQL text (and declared parameter types), shared by every session of one
/// proxy (one event-loop thread uses it). Emptied when a statement that is not plain DML (DDL...) sent
/// through this proxy completes; describes then wait for the nodes to have applied it.
struct DescribeCache {
  static constexpr std::size_t kMaxEntries = 10000; ///< then it starts over
  std::map<std::string, Description> entries;
  std::uint64_t generation = 0; ///< bumped when emptied: a describe sent before is not cached
  std::int64_t ddlOffset = -1;  ///< the ALL offset of the last DDL seen: describes carry it as minAllOffset
  /// After a request that may have changed the schema (applied at `allOffset`, when known).
  void invalidate(std::optional<std::int64_t> allOffset);
  /// The key of a statement's description: its text, and the parameter types declared by Parse.
  static std::string key(const std::string& sql, const std::vector<std::uint32_t>& declared);
};

struct SessionOptions {
  client::WaitPolicy writeWait;             ///< how many nodes a write waits for (first by default)
  std::chrono::milliseconds timeout{10000}; ///< per request
  std::string timeoutText = "10s";
  std::size_t maxMessageBytes = 8u << 20;
  std::string serverVersion = "15.0 (Kluster)";
  /// Descriptions by SQL text, shared by every session of one proxy.
  std::shared_ptr<DescribeCache> describeCache;
  /// Analyses by SQL text, shared by every session: a text sent again (a driver's Parse of the same
  /// statement, an application's usual queries) is parsed once.
  std::shared_ptr<sql::AnalysisCache> analyses;
  /// SCRAM-SHA-256 verifiers by user (proxy.users_file): peers that are not trusted authenticate with them.
  std::shared_ptr<const Users> users;
  bool tlsAvailable = false; ///< an SSLRequest is answered 'S' and the server starts TLS (proxy.tls_cert)
  bool tlsRequired = false;  ///< a startup outside TLS is refused (proxy.tls_required)
  /// The proxy's counters, shared by every session (a session without one counts into its own).
  std::shared_ptr<Metrics> metrics;
  /// Interactive transactions: how many statements and bytes one may hold (proxy.transaction_max_statements,
  /// node.max_request_bytes), and how long one may stay idle (proxy.transaction_idle_timeout; 0: no limit).
  client::Transaction::Limits transactionLimits;
  std::chrono::milliseconds transactionIdleTimeout{0};
};

class Session {
public:
  using Done = std::function<void(client::Result)>;
  /// Sends a request; `done` is called later, on the thread that runs this session.
  using Sender = std::function<void(Request, client::Target, client::WaitPolicy, std::chrono::milliseconds, Done)>;

  /// `trusted`: the peer may connect without a password (proxy.trust). `refuse`: answer the startup with this FATAL
  /// error (e.g. too many connections) and close.
  Session(SessionOptions options, Sender sender, std::int32_t pid, std::int32_t secret, bool trusted,
          std::optional<wire::Writer::Notice> refuse = std::nullopt);
  /// A request still in flight counts as cancelled: its answer will not reach the client.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Consumes bytes from the client and processes every complete message it can.
  void received(std::string_view bytes);
  /// Output produced since the last call.
  std::string takeOutput() {
    flush_ = false;
    return out_.take();
  }
  /// Output to write now. As a PostgreSQL backend, the session holds what the extended query protocol answers
  /// before a Sync (ParseComplete, BindComplete...) until ReadyForQuery, a Flush message, an error, or a
  /// packet's worth of it: one write, and one wake-up of the client, per round trip. The startup and
  /// authentication exchange and a closing session are written at once.
  bool hasOutput() const { return !out_.empty() && (flush_ || closing_ || out_.size() >= kFlushBytes); }
  /// Close once the output is written (Terminate, a FATAL error).
  bool closing() const { return closing_; }
  /// Bytes received and not yet processed (the server stops reading above a limit).
  std::size_t buffered() const { return in_.size(); }
  /// Called after a request's completion produced output (the server then writes it).
  std::function<void()> onOutput;
  /// Called when this connection turns out to carry a CancelRequest for another session.
  std::function<void(std::int32_t pid, std::int32_t secret)> onCancelRequest;
  /// CancelRequest for this session: stop waiting for the request in flight and answer 57014.
  void cancel();

  const std::map<std::string, std::string>& startupParams() const { return startupParams_; }
  /// The session answered an SSLRequest with 'S': once that byte is written, the server runs the TLS
  /// handshake, calls tlsStarted(), and only then reads again.
  bool tlsPending() const { return tlsPending_; }
  void tlsStarted() {
    tlsPending_ = false;
    tls_ = true;
  }
  /// Startup and authentication are over (the deadline for them no longer applies).
  bool started() const { return phase_ == Phase::Ready; }

private:
  enum class Phase { Startup, Auth, Ready, Closed };
  struct Prepared {
    std::string sql;
    std::vector<sql::Statement> statements; // at most one
    std::vector<std::uint32_t> paramOids;   // as declared by Parse (0: unspecified)
    std::optional<Description> description;
  };
  struct Portal {
    std::shared_ptr<Prepared> statement;
    nlohmann::json params = nlohmann::json::array();
    std::vector<std::int16_t> resultFormats;
    std::optional<client::Result> result; // executed already (Describe of a read runs it)
    std::size_t sent = 0;                 // rows sent so far (Execute with a row limit)
  };

  void process();
  void handle(wire::Message& m);
  void startup(wire::Message& m);
  void authenticate(wire::Message& m); // SASLInitialResponse, SASLResponse
  void accept();                       // AuthenticationOk, ParameterStatus..., BackendKeyData, ReadyForQuery
  void simpleQuery(const std::string& text);
  // A query string's statements run together (one request, atomic), as PostgreSQL's implicit transaction does.
  void runSimple(std::vector<sql::Statement> statements);
  // A query string that holds transaction control runs one statement at a time (simpleQueue_).
  void nextSimple();
  // A FATAL error that closes the connection; before the session started, counted as refused for `why`.
  void fatal(const std::string& sqlState, const std::string& message, Refusal why = Refusal::Protocol);
  void error(const wire::Writer::Notice& n);
  void ready();
  void terminate();

  // extended query (extended.cpp)
  void parse(wire::Reader& r);
  void bind(wire::Reader& r);
  void describe(wire::Reader& r);
  void execute(wire::Reader& r);
  void close(wire::Reader& r);
  void sync();
  void describePortal(Portal& portal);
  void executePortal(Portal& portal, std::int32_t maxRows);
  void emitPortal(Portal& portal, std::int32_t maxRows);
  // Finds a statement's description (cached, or asked of a node with a describe request on ONE), then
  // calls `then`; on error it answers with the error and does not call it.
  void fetchDescription(const std::shared_ptr<Prepared>& st, std::function<void()> then);

  // local statements and transaction blocks (local.cpp); true when handled without a request
  enum class Mode { Simple, Describe, Execute }; // Simple: a Query; Describe/Execute: of a portal
  bool local(const sql::Statement& st, Mode mode);
  // local(), counted in the metrics as answered by the proxy (unless it sent a request: COMMIT of a block's writes).
  bool answerLocally(const sql::Statement& st, Mode mode);
  void localResult(Mode mode, const std::string& tag, const std::optional<std::pair<std::string, std::string>>& row);
  // COPY ... FROM STDIN (session_copy.cpp): the rows go to ALL as INSERTs of bounded size, in order.
  struct CopyIn {
    sql::Statement::CopyFrom options;
    CopyParser parser;
    std::int64_t rows = 0;      // applied (inside a transaction: staged) so far
    bool inTransaction = false; // BEGIN ... COMMIT: the rows are staged for the commit (Transaction::stage)
  };
  void startCopy(const sql::Statement::CopyFrom& options);
  void copyMessage(wire::Message& m);
  void sendCopyRows(bool last);
  void endCopy(std::optional<wire::Writer::Notice> error); // CommandComplete (or the error), ReadyForQuery
  // COPY ... TO STDOUT (session_copy_out.cpp): the SELECT it stands for runs as this session's reads do, and its rows
  // are answered as COPY data. COPY to or from a file or a program is refused there too.
  bool copyOut(const sql::Statement& st, Mode mode);
  void runCopyOut(const std::shared_ptr<CopyWriter>& writer);
  // Runs a read of COPY TO as this session's reads run; `then` gets its rows and columns (an error is answered).
  void readForCopy(const std::string& text, std::function<void(const ojson&, const ojson&)> then);
  void sendCopyOut(CopyWriter& writer, const ojson& rows, const ojson& columns);

  // interactive transactions (session_transaction.cpp)
  bool transactionBlock(const sql::Statement& st, Mode mode);
  // Answers `n` for a statement the proxy refuses itself (a Describe of it: NoData); the transaction fails. True.
  bool refuseLocally(const wire::Writer::Notice& n, Mode mode);
  // pg_dump's set_config('search_path', '', false) and ALTER ... OWNER TO, skipped with a notice; nullopt otherwise.
  std::optional<bool> dumpPreamble(const sql::Statement& st, Mode mode);
  // SET, RESET and SHOW of the session's settings (local.cpp); false for other statements.
  bool sessionSetting(const sql::Statement& st, Mode mode);
  void commitTransaction(Mode mode);
  std::optional<std::string> setting(const std::string& name) const;

  // requests
  void run(std::vector<sql::Statement> statements, nlohmann::json params,
           std::function<void(const client::Result&)> then);
  // Sends one request; `then` runs on its completion unless cancel() came first.
  void send(Request req, client::Target target, std::function<void(const client::Result&)> then);
  void emitRows(const sql::Statement& st, const ojson& rows, const ojson& columns, bool describe,
                const std::vector<std::int16_t>& formats, std::size_t from, std::size_t count);
  std::vector<wire::Writer::Field> fields(const ojson& rows, const ojson& columns,
                                          const std::vector<std::int16_t>& formats) const;
  void emitStatement(const sql::Statement& st, const ojson& one, const ojson& columns);
  void resume();

  SessionOptions options_;
  Sender sender_;
  std::int32_t pid_;
  std::int32_t secret_;
  bool trusted_;
  std::optional<wire::Writer::Notice> refuse_;
  static constexpr std::size_t kFlushBytes = 8192; // as PostgreSQL's output buffer
  Phase phase_ = Phase::Startup;
  std::string in_;
  wire::Writer out_;
  bool flush_ = false; // out_ holds a flush point (see hasOutput)
  bool busy_ = false;  // a request is in flight; processing waits for it
  Route inFlightRoute_ = Route::All;
  std::chrono::steady_clock::time_point inFlightSince_;
  std::uint64_t sent_ = 0;   // requests sent, and
  std::uint64_t errors_ = 0; // ErrorResponses written, by this session (the metrics tell local outcomes by them)
  bool closing_ = false;
  bool simpleInFlight_ = false;  // the request in flight answers a simple Query (ReadyForQuery follows it)
  bool skipToSync_ = false;      // extended query: an error discards messages until Sync
  std::uint64_t generation_ = 0; // bumped by cancel(): a completion of an older generation is ignored
  std::map<std::string, std::string> startupParams_;
  std::unique_ptr<scram::Exchange> scram_; // the SCRAM exchange under way (Phase::Auth)
  bool scramFirst_ = true;
  bool tlsPending_ = false;
  bool tls_ = false;
  std::map<std::string, std::string> settings_; // SET in this session
  // Its interactive transactions: speculations, the sequence values it reserved, commits (sent through send()).
  client::TransactionDriver transactions_{
      [this](Request req, client::Target target, client::TransactionDriver::Then then) {
        send(std::move(req), target, std::move(then));
      }};
  client::Transaction& tx_ = transactions_.tx();
  std::unique_ptr<CopyIn> copy_;                      // COPY FROM STDIN under way
  std::chrono::steady_clock::time_point lastMessage_; // for proxy.transaction_idle_timeout
  std::deque<sql::Statement> simpleQueue_;            // the rest of a query string run one statement at a time
  std::uint64_t simpleErrors_ = 0;                    // errors_ when that query string began: one more stops it
  std::optional<std::int64_t> seenAll_;               // read-your-writes: highest allOffset of this session's writes
  std::map<std::string, std::shared_ptr<Prepared>> statements_;
  std::map<std::string, Portal> portals_;
  friend class SessionTestAccess;
};

} // namespace kluster::proxy
