#pragma once
// Which requests should wait to leave the proxy together. A closed-loop client (a driver waiting for each
// answer before it sends its next statement) replies soon after its result is written; the clients answered
// by one response batch reply within a fraction of a millisecond of each other, each over its own socket.
// Sent one by one, their requests become as many Kafka produce requests and as many small batches on the
// nodes (on a busy machine, most of the cost). Sent through the client's batching producer
// (ClientOptions::batchLinger) while other clients are active (a request in flight, or answered and about to
// reply), they share produce requests, as a client library's requests do when its callbacks send the next
// ones at once. With nobody else active a request goes at once: a single client pays nothing. PostgreSQL's
// commit_delay and commit_siblings make the same bet for WAL flushes.
// No I/O and no clock of its own: the server's loop tells it what happens.
#include <chrono>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <utility>

namespace kluster::proxy {

class RequestBatcher {
public:
  using Clock = std::chrono::steady_clock;
  /// `window`: how long after its answer a client counts as about to reply (0: no request ever waits).
  explicit RequestBatcher(std::chrono::microseconds window) : window_(window) {}

  /// Connection `id` got its answer at `now` and has nothing else to send: its client is expected to reply.
  void answered(std::int32_t id, Clock::time_point now);
  /// Connection `id` closed.
  void forget(std::int32_t id) { expected_.erase(id); }
  /// Connection `id` sends a request at `now`, with `othersInFlight` requests of other connections in flight:
  /// true when it should wait for others (some are in flight, or answered within the window and not replied
  /// yet: their clients are busy and will send again), false when it should go at once (nobody else is active).
  bool batch(std::int32_t id, Clock::time_point now, std::size_t othersInFlight);
  /// Clients answered within the window that have not replied yet.
  std::size_t expected(Clock::time_point now);

private:
  std::chrono::microseconds window_;
  std::unordered_map<std::int32_t, Clock::time_point> expected_;   // by connection: when answered
  std::deque<std::pair<Clock::time_point, std::int32_t>> answers_; // in time order, to expire the oldest first
};

} // namespace kluster::proxy
