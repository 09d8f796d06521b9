#pragma once
// The client library: publish requests, collect their responses. Responses for a client land on one
// RESPONSES partition (fnv1a(clientId) mod partitions), which the client reads by direct assignment
// from the offset it had before sending, so no group join is needed and no response is missed.
#include "core/kafka/kafka.hpp"
#include "core/message.hpp"
#include "core/topics.hpp"

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kluster::client {

enum class Target { All, One };

/// How a request leaves for Kafka. Batched: through a second producer that waits up to
/// ClientOptions::batchLinger for more requests to share its produce request (one append to the topic, one
/// fetch and one database transaction on the nodes for all of them), for a caller that knows others are about
/// to come; Now without a batchLinger. Requests sent Now and Batched may reach the topic in another order
/// than they were sent: a caller that needs one request ordered after another waits for the first's result.
/// Auto (the default): Batched while other requests of this client are in flight, so that concurrent callers
/// share produce requests and a lone caller never waits; it never reorders: it switches producers only once
/// the other one has no request left unacknowledged by the broker.
enum class Dispatch { Now, Batched, Auto };

/// How many responses to wait for.
struct WaitPolicy {
  enum class Kind { First, All, Quorum, Count, None };
  Kind kind = Kind::First;
  int count = 1; ///< for Count
  /// Parses "first", "all", "quorum", "none" or a number; throws UsageError.
  static WaitPolicy parse(const std::string& text);
};

/// What came back for one request.
struct Result {
  std::string requestId;
  Target target = Target::All;
  std::vector<Response> responses;
  std::vector<std::string> expectedNodes; ///< live members when the request was sent (ALL)
  std::vector<std::string> missingNodes;  ///< expected nodes that had not answered at the deadline
  bool timedOut = false;
  bool diverged = false; ///< ALL responses disagree (different resultHash)
  std::chrono::milliseconds elapsed{0};
  std::int64_t sentUs = 0;  ///< wall-clock microseconds when it was handed to the Kafka producer
  std::int64_t ackedUs = 0; ///< when the broker acknowledged it (traced requests only; 0 when not seen)
  bool allOk() const;
  /// The highest ALL offset among the responses (the request's position in ALL), if any carried one.
  std::optional<std::int64_t> allOffset() const;
};

/// Whether responses to one ALL request disagree: different result codes (say OK on one node and an
/// error on another) or different result hashes.
bool responsesDiverge(const std::vector<Response>& responses);

struct ClientOptions {
  std::string brokers;
  std::string cluster = "kluster";
  std::string clientId; ///< empty: a fresh unique id
  /// The client's secret key: when set, every request is signed with it (core/auth.hpp). Never logged.
  std::string key;
  kafka::Properties kafka; ///< pass-through librdkafka properties
  int lingerMs = 0;        ///< producer batching delay (0 for lowest latency)
  /// The linger of the producer that Dispatch::Batched (and Auto) requests go through, made the first time one is
  /// sent (0: no such producer; every request is sent Now).
  std::chrono::milliseconds batchLinger{1};
  /// Bounds each call made while connecting (topic metadata, watermarks), so unreachable brokers fail
  /// the constructor with a KlusterError(NODE_ERROR) instead of librdkafka retrying forever.
  std::chrono::milliseconds connectTimeout{10000};
  /// false: no reader thread of the client's own; the caller's event loop reads the responses (readFd(),
  /// readResponses()), and the results come on its thread: one thread hand-over less per response.
  bool readerThread = true;
};

class Client {
public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Publishes a request (its clientId and, when empty, messageId are filled in) and returns a future
  /// that completes when the wait policy is met or at the timeout. A request with minAllOffset asks the
  /// node to give up waiting for ALL a little before `timeout`, so NOT_CAUGHT_UP arrives in time.
  /// Completed and timed-out requests are forgotten at once; late responses to them are dropped.
  std::future<Result> send(Request request, Target target, WaitPolicy wait, std::chrono::milliseconds timeout);
  using Callback = std::function<void(Result)>;
  /// Like send(), but calls `done` with the result instead of completing a future: on the client's reader
  /// thread, or the thread that calls readResponses() (on the calling thread for --wait none, or when the
  /// client is closing), never while holding a lock of the client's, so `done` may send the next request.
  /// Thousands of requests in flight need no thread each.
  void sendAsync(Request request, Target target, WaitPolicy wait, std::chrono::milliseconds timeout, Callback done,
                 Dispatch dispatch = Dispatch::Auto);
  /// The nodes currently members of the cluster: the active `<cluster>.node.<id>` consumer groups.
  std::vector<std::string> liveNodes();
  const std::string& clientId() const;
  /// Requests sent whose result is not yet complete (they are tracked until then; never longer than
  /// their timeout).
  std::size_t inFlight() const;
  /// Requests sent so far through the batching producer (Dispatch::Batched, and Auto while others were in flight).
  std::uint64_t batchedSends() const;

  /// Without a reader thread (ClientOptions::readerThread false): a non-blocking descriptor that becomes
  /// readable when responses have arrived (librdkafka writes a byte to it when its queue stops being empty).
  int readFd() const;
  /// Without a reader thread: drains readFd(), handles the responses that have arrived (up to `max`), calls
  /// the callbacks of the requests they complete and those of requests past their deadline, on this thread.
  /// Returns false when responses may be left (call again soon: no new byte will come for them). Call it
  /// when readFd() is readable and at least every few tens of milliseconds (deadlines).
  bool readResponses(std::size_t max = 1024);

private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// Node ids of active `<cluster>.node.*` groups in a group listing.
std::vector<std::string> membersFromGroups(const Topics& topics,
                                           const std::vector<std::pair<std::string, bool>>& groups);

} // namespace kluster::client
