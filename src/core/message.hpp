#pragma once
// The JSON messages exchanged through Kafka (format version 1; see docs/messages.md).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kluster {

using ojson = nlohmann::ordered_json;

inline constexpr int kMessageVersion = 1;
inline constexpr std::size_t kDefaultMaxRequestBytes = 1024 * 1024;

/// A client's request: one SQL string, or several statements applied atomically, with positional parameters.
struct Request {
  int version = kMessageVersion;
  std::string messageId;
  std::string clientId;
  std::vector<std::string> statements;             ///< from `sqlString` (one entry) or `statements`
  nlohmann::json params = nlohmann::json::array(); ///< values for $1, $2, ... (strings, numbers, booleans, null)
  std::optional<std::int64_t> minAllOffset;        ///< ONE only: answer once ALL is applied up to here
  std::optional<std::int64_t> timeoutMs;           ///< how long the client waits; a node may stop trying after
  /// Set on Kluster's own control message `{"kind": "fingerprint", ...}`: a node's database server identity,
  /// published through ALL so the first one in the log becomes the cluster's record on every node.
  std::optional<nlohmann::json> fingerprint;
  /// Set on Kluster's own control message `{"kind": "tick"}` (ALL only): a node publishes one when ALL has been
  /// quiet for a check period, so that continuous verification has a position to check at. It changes nothing.
  bool tick = false;
  /// A `{"kind": "security", "digest": ...}` request (ALL only; `klusterctl security publish`): from its position
  /// on, every node enforces its clients file, whose digest must be this one.
  std::optional<std::string> securityDigest;
  /// `"auth": {"signedAt": ms, "hmac": hex}`: the client's signature (core/auth.hpp).
  struct Auth {
    std::int64_t signedAtMs = 0;
    std::string hmac;
  };
  std::optional<Auth> auth;
  /// Asks the nodes to put the times they handled the request in their responses (`bench load --breakdown`).
  bool trace = false;
  /// A describe request (`"kind": "describe"`, ONE only): the node prepares the one statement in `statements`
  /// without running it and answers its parameter and result column types (a StatementDescription as the
  /// response's `result`). `paramTypes` are the types the client declared (0: let the database infer it).
  bool describe = false;
  std::vector<std::uint32_t> paramTypes;
  /// An interactive transaction's statements (README "Transactions"), one statement per entry of `statements`.
  /// On ONE, a speculation: the node runs them in a transaction it always rolls back and answers each one's
  /// result and digest. On ALL, its commit: the node applies them atomically, and only if each statement's result
  /// digest equals `expect`'s (else SERIALIZATION_FAILURE, nothing applied). The values Kluster pins come from
  /// here, not from the Kafka message, so the speculation and the commit compute the same ones.
  struct Transaction {
    std::int64_t timeMs = 0;            ///< the pinned current time (ms since 1970 UTC): when the transaction began
    double seed = 0;                    ///< random()'s seed, in [-1, 1]
    std::string uuidKey;                ///< what gen_random_uuid() derives from
    std::vector<nlohmann::json> params; ///< per statement (`params` stays empty); missing entries: none
    std::vector<std::string> expect;    ///< the digests of the first expect.size() statements' results
    /// Sequences the transaction draws from, each with the first value it draws: a block of values its client
    /// reserved through ALL, so that concurrent transactions never draw the same ones. Others draw what a commit
    /// at the node's position would.
    std::map<std::string, std::int64_t> sequences;
    /// ALL: this request stages its statements (plain DML: a COPY's rows inside the transaction) as part
    /// `stagePart` of the transaction `uuidKey` instead of applying them. Every node checks them as it would apply
    /// them and keeps them in its database until the commit that names the part (or for 24 hours of log time).
    std::optional<std::int32_t> stagePart;
    /// A commit (ALL): a part staged before it, run just before the commit's statement `before` (its index;
    /// statements.size(): after the last). Its statements are not compared: their client saw only "COPY n".
    struct Staged {
      std::int32_t part = 0;
      std::size_t before = 0;
    };
    std::vector<Staged> staged;
  };
  std::optional<Transaction> transaction;
  /// ONE: requests with the same routing key go to the same partition, so the same node answers them while
  /// ONE's group is stable (an interactive transaction's speculations, a session's catalog reads). Empty: the
  /// messageId spreads them. The client library's; not part of the message.
  std::string routingKey;

  std::string toJson() const;
};

/// The most parameters a statement takes (PostgreSQL's protocol limit).
inline constexpr std::size_t kMaxParams = 65535;

/// What a describe request's response carries as its `result`: a statement's parameter types and result
/// columns, by type OID. Types that are not PostgreSQL's built-ins (OIDs from 10000: enums, domains,
/// extensions' types) differ between nodes and are reported as text (25).
struct StatementDescription {
  struct Column {
    std::string name;
    std::uint32_t typeOid = 0;
    bool operator==(const Column&) const = default;
  };
  std::vector<std::uint32_t> paramTypes;
  std::vector<Column> columns; ///< empty: the statement returns no rows
  bool operator==(const StatementDescription&) const = default;

  /// `{"paramTypes": [23, 25], "columns": [{"name": "id", "typeOid": 23}]}`
  ojson toJson() const;
  /// Throws std::invalid_argument on a malformed description.
  static StatementDescription fromJson(const ojson& j);
};

/// What parsing a raw Kafka payload gave: a valid request, or an error code with whatever ids could be read.
struct ParsedRequest {
  Request request;
  std::string errorCode; ///< empty when the request is valid
  std::string errorMessage;
  bool ok() const { return errorCode.empty(); }
  bool hasRequestId() const { return !request.messageId.empty(); }
};

/// Validates a raw payload. Never throws.
ParsedRequest parseRequest(std::string_view payload, std::size_t maxBytes = kDefaultMaxRequestBytes);

/// When a node handled a traced request: wall-clock microseconds since the epoch (comparable between
/// processes of one machine; across machines only as far as their clocks agree).
struct Trace {
  std::int64_t fetchedUs = 0;   ///< the node's reader got the request from Kafka
  std::int64_t startedUs = 0;   ///< its batch (ALL) or query (ONE) started
  std::int64_t committedUs = 0; ///< the batch committed (ALL) or the query finished (ONE)
  std::int64_t producedUs = 0;  ///< the response was handed to the Kafka producer
};

/// A node's answer to one request.
struct Response {
  int version = kMessageVersion;
  std::string messageId;
  std::string nodeId;
  std::string requestId;
  std::string clientId;
  std::string requestTopic; ///< "ALL" or "ONE"
  std::string resultCode = "OK";
  ojson result;  ///< rows (array of objects) or {"rowsAffected": n}; null on error
  ojson columns; ///< [{"name", "type"}] when the result has rows
  ojson results; ///< one entry per statement when the request had several
  std::int64_t rowsAffected = 0;
  std::optional<std::int64_t> allOffset;        ///< ALL offset at which the request was applied
  std::optional<std::int64_t> appliedAllOffset; ///< ONE: the node's applied ALL offset when it answered
  std::string resultHash;                       ///< digest of the outcome, equal on every node for the same request
  /// A transaction's speculation: each statement's result digest (see Request::Transaction).
  std::vector<std::string> digests;
  /// A transaction's speculation: the last value it drew from each sequence (by name, schema-qualified).
  std::map<std::string, std::int64_t> drawn;
  std::string errorMessage;
  std::string sqlState;
  std::string hint;
  std::int64_t timestamp = 0; ///< epoch ms when the node answered
  std::int64_t durationMs = 0;
  std::optional<Trace> trace;  ///< only when the request asked for it
  std::int64_t receivedUs = 0; ///< when the client read it (set by the client; not serialized)
  std::string raw;             ///< the JSON exactly as received (set by the client; not serialized)

  bool ok() const { return resultCode == "OK"; }
  std::string toJson() const;
  ojson toOrderedJson() const;
  /// Throws nlohmann::json::exception or std::invalid_argument on a malformed response.
  static Response fromJson(std::string_view payload);
};

/// A digest of a response's outcome: the rows (or rows affected) when OK, the code and SQLSTATE otherwise.
std::string outcomeHash(const Response& response);

/// A node-level failure, published on ERRORS.
struct NodeErrorReport {
  std::string nodeId;
  std::string code;
  std::string message;
  std::string requestId; ///< when the error concerns a request
  std::string requestTopic;
  std::optional<std::int64_t> offset;
  std::string sqlState;
  std::string severity = "error"; ///< "warning" (retrying) or "fatal" (the node stops)
  std::int64_t timestamp = 0;
  std::string toJson() const;
};

} // namespace kluster
