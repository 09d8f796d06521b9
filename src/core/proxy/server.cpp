#include "core/proxy/server.hpp"

#include "core/errors.hpp"
#include "core/log.hpp"
#include "core/proxy/batcher.hpp"

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace kluster::proxy {

std::pair<std::string, unsigned short> parseAddress(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw UsageError(fmt::format("invalid listen address '{}': use HOST:PORT, e.g. 127.0.0.1:6432", text));
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || port > 65535) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    throw UsageError(fmt::format("invalid port in listen address '{}'", text));
  }
  return {host, static_cast<unsigned short>(port)};
}

namespace {

using asio::ip::tcp;

class Connection;

// Where results wait for the loop. They come on the loop's own thread (readResponses, a send that failed),
// or from the thread that closes the client at the end; those that come before the loop takes the first one
// join it: one turn of the loop for a whole fetch of responses (a node answers a committed batch at once),
// and never a connection's callback run inside the client's readResponses() or sendAsync(). Closed before the
// loop goes away: a result that comes later (the client answers what is pending as it closes) is dropped,
// not posted to a dead loop.
class Mailbox : public std::enable_shared_from_this<Mailbox> {
public:
  explicit Mailbox(asio::io_context& io) : io_(&io) {}
  void post(std::function<void()> f) {
    std::lock_guard lock(mutex_);
    if (!io_) return;
    queue_.push_back(std::move(f));
    if (queue_.size() == 1) asio::post(*io_, [self = shared_from_this()] { self->drain(); });
  }
  void close() {
    std::lock_guard lock(mutex_);
    io_ = nullptr;
    queue_.clear();
  }

private:
  void drain() {
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard lock(mutex_);
      batch.swap(queue_);
    }
    for (auto& f : batch) f();
  }

  std::mutex mutex_;
  asio::io_context* io_;
  std::vector<std::function<void()>> queue_;
};

// What every connection shares. The loop is the last member: destroying it destroys the connections its
// pending handlers hold, which still update the counters.
struct Shared {
  client::Client* client = nullptr;
  std::shared_ptr<Mailbox> mailbox;
  RequestBatcher batcher{std::chrono::microseconds(0)}; ///< which requests wait for others (batchWindow)
  ServerOptions options;
  std::size_t live = 0;
  std::int32_t nextPid = 1;
  std::unordered_map<std::int32_t, std::weak_ptr<Connection>> byPid;
  std::unique_ptr<asio::ssl::context> tls; ///< when proxy.tls_cert and tls_key are set
  asio::io_context io;
  Metrics& metrics() { return *options.session.metrics; }
};

std::int32_t randomKey() {
  std::int32_t key = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&key), sizeof key) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return key;
}

class Connection : public std::enable_shared_from_this<Connection> {
public:
  Connection(Shared& shared, tcp::socket socket) : shared_(shared), socket_(std::move(socket)), deadline_(shared.io) {}

  ~Connection() {
    shared_.batcher.forget(pid_);
    --shared_.live;
    shared_.metrics().connectionClosed();
    shared_.byPid.erase(pid_);
  }

  void start() {
    ++shared_.live;
    shared_.metrics().connectionOpened();
    pid_ = shared_.nextPid++;
    secret_ = randomKey();
    asio::error_code ec;
    const auto peer = socket_.remote_endpoint(ec);
    const bool trusted = !ec && shared_.options.trust.contains(peer.address().to_string());
    socket_.set_option(tcp::no_delay(true), ec);
    std::optional<wire::Writer::Notice> refuse;
    if (shared_.live > shared_.options.maxConnections) {
      wire::Writer::Notice n;
      n.severity = "FATAL";
      n.sqlState = "53300";
      n.message =
          fmt::format("sorry, too many clients already (proxy.max_connections = {})", shared_.options.maxConnections);
      refuse = n;
    }
    std::weak_ptr<Connection> weak = shared_from_this();
    auto sender = [this, weak](Request req, client::Target target, client::WaitPolicy wait,
                               std::chrono::milliseconds timeout, Session::Done done) {
      auto deliver = [weak, mailbox = shared_.mailbox, done = std::move(done)](client::Result r) {
        // On the client's reader thread: hand the result to the loop, which drops it if the connection is gone.
        mailbox->post([weak, done, r = std::make_shared<client::Result>(std::move(r))] {
          if (auto self = weak.lock()) {
            const auto sent = self->sent_;
            done(std::move(*r));
            self->flush();
            // Answered, with nothing more to send: its client is expected to reply soon.
            if (self->sent_ == sent) self->shared_.batcher.answered(self->pid_, RequestBatcher::Clock::now());
          }
        });
      };
      ++sent_;
      // Others in flight or about to reply: this request may wait for theirs, to share a produce request.
      auto dispatch = client::Dispatch::Now;
      if (shared_.batcher.batch(pid_, RequestBatcher::Clock::now(), shared_.client->inFlight())) {
        dispatch = client::Dispatch::Batched;
        shared_.metrics().requestBatched();
      }
      try {
        shared_.client->sendAsync(std::move(req), target, wait, timeout, deliver, dispatch);
      } catch (const std::exception& e) {
        KLOG(Warn, "proxy", "sending a request failed: {}", e.what());
        client::Result r;
        r.timedOut = true;
        deliver(std::move(r));
      }
    };
    session_ = std::make_unique<Session>(shared_.options.session, sender, pid_, secret_, trusted, refuse);
    session_->onCancelRequest = [this](std::int32_t pid, std::int32_t key) {
      auto it = shared_.byPid.find(pid);
      if (it == shared_.byPid.end()) return;
      if (auto target = it->second.lock(); target && target->secret_ == key) {
        target->session_->cancel();
        target->flush();
      }
    };
    shared_.byPid[pid_] = weak;
    // A client that connects and then says nothing (or stalls in TLS or SCRAM) does not keep its slot.
    deadline_.expires_after(shared_.options.startupTimeout);
    deadline_.async_wait([weak](asio::error_code waited) {
      auto self = weak.lock();
      if (waited || !self || self->session_->started()) return;
      KLOG(Info, "proxy", "connection {}: no startup within {} ms: closed", self->pid_,
           self->shared_.options.startupTimeout.count());
      self->shared_.metrics().refused(Refusal::StartupTimeout);
      self->shut();
    });
    read();
  }

  void flush() {
    if (session_->hasOutput()) pending_ += session_->takeOutput();
    if (!writing_ && !pending_.empty()) {
      writing_ = true;
      outgoing_.swap(pending_);
      pending_.clear();
      auto done = [self = shared_from_this()](asio::error_code ec, std::size_t) {
        self->writing_ = false;
        self->outgoing_.clear();
        if (ec) return self->shut();
        if (self->session_->tlsPending() && !self->tls_) return self->handshake(); // after the 'S'
        self->flush();
      };
      if (tls_)
        asio::async_write(*tls_, asio::buffer(outgoing_), done);
      else
        asio::async_write(socket_, asio::buffer(outgoing_), done);
      return;
    }
    if (!writing_ && pending_.empty() && session_->closing()) return shut();
    // Reading resumes once a request's completion drained what was waiting.
    if (paused_ && session_->buffered() < readLimit()) {
      paused_ = false;
      const auto self = std::move(keepAlive_); // the read holds it from here on
      read();
    }
  }

private:
  std::size_t readLimit() const { return shared_.options.session.maxMessageBytes + (64u << 10); }

  void read() {
    if (closed_) return;
    auto got = [self = shared_from_this()](asio::error_code ec, std::size_t n) {
      if (ec) return self->shut(); // the client went away (mid-message too): nothing is sent for it
      self->session_->received(std::string_view(self->buffer_.data(), n));
      self->flush();
      if (self->closed_ || self->session_->closing() || self->session_->tlsPending()) return;
      if (self->session_->buffered() >= self->readLimit()) {
        self->paused_ = true;    // stop reading until the session consumed its input
        self->keepAlive_ = self; // no read holds the connection meanwhile, and its requests hold it weakly
      } else {
        self->read();
      }
    };
    if (tls_)
      tls_->async_read_some(asio::buffer(buffer_), got);
    else
      socket_.async_read_some(asio::buffer(buffer_), got);
  }

  // The SSLRequest was answered 'S': TLS from here on, then the startup packet inside it.
  void handshake() {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *shared_.tls);
    tls_->async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](asio::error_code ec) {
      if (ec) {
        KLOG(Info, "proxy", "connection {}: TLS handshake failed: {}", self->pid_, ec.message());
        self->shared_.metrics().refused(Refusal::TlsHandshake);
        return self->shut();
      }
      self->session_->tlsStarted();
      self->read();
    });
  }

  void shut() {
    const auto self = std::move(keepAlive_); // released when shut() returns, not in the middle of it
    if (closed_) return;
    closed_ = true;
    asio::error_code ec;
    deadline_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  Shared& shared_;
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_; // after a successful SSLRequest
  asio::steady_timer deadline_;
  std::unique_ptr<Session> session_;
  std::array<char, 16384> buffer_{};
  std::string pending_, outgoing_;
  bool writing_ = false, closed_ = false, paused_ = false;
  std::shared_ptr<Connection> keepAlive_; // set while paused: what keeps the connection alive then
  std::int32_t pid_ = 0, secret_ = 0;
  std::uint64_t sent_ = 0; // requests this connection sent
};

} // namespace

class Server::Impl {
public:
  Impl(ServerOptions options, client::Client& client)
      : signals_(shared_.io), responses_(shared_.io), tick_(shared_.io) {
    shared_.options = std::move(options);
    shared_.client = &client;
    shared_.batcher = RequestBatcher(shared_.options.batchWindow);
    int fd = -1;
    try {
      fd = ::dup(client.readFd());
    } catch (const std::logic_error&) {
      throw std::logic_error("proxy::Server needs a client made with readerThread = false: its loop reads the "
                             "client's responses");
    }
    if (fd < 0) throw KlusterError(code::NodeError, fmt::format("dup: {}", std::strerror(errno)));
    responses_.assign(fd);
    shared_.mailbox = std::make_shared<Mailbox>(shared_.io);
    if (!shared_.options.session.describeCache)
      shared_.options.session.describeCache = std::make_shared<DescribeCache>();
    if (!shared_.options.session.analyses) shared_.options.session.analyses = std::make_shared<sql::AnalysisCache>();
    if (!shared_.options.session.metrics) shared_.options.session.metrics = std::make_shared<Metrics>();
    if (!shared_.options.tlsCert.empty() || !shared_.options.tlsKey.empty()) {
      if (shared_.options.tlsCert.empty() || shared_.options.tlsKey.empty())
        throw UsageError("TLS needs both proxy.tls_cert and proxy.tls_key");
      shared_.tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      shared_.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                               asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                               asio::ssl::context::no_tlsv1_1);
      asio::error_code ec;
      shared_.tls->use_certificate_chain_file(shared_.options.tlsCert, ec);
      if (ec) throw UsageError(fmt::format("proxy.tls_cert {}: {}", shared_.options.tlsCert, ec.message()));
      shared_.tls->use_private_key_file(shared_.options.tlsKey, asio::ssl::context::pem, ec);
      if (ec) throw UsageError(fmt::format("proxy.tls_key {}: {}", shared_.options.tlsKey, ec.message()));
      // As PostgreSQL: no renegotiation, which would let a client make the proxy redo handshakes at will.
      SSL_CTX_set_options(shared_.tls->native_handle(), SSL_OP_NO_RENEGOTIATION);
      struct stat key {};
      if (::stat(shared_.options.tlsKey.c_str(), &key) == 0 && (key.st_mode & 007) != 0)
        KLOG(Warn, "proxy", "proxy.tls_key {} may be read by every user of this machine: chmod 600 {}",
             shared_.options.tlsKey, shared_.options.tlsKey);
      shared_.options.session.tlsAvailable = true;
    } else if (shared_.options.session.tlsRequired) {
      throw UsageError("proxy.tls_required needs proxy.tls_cert and proxy.tls_key");
    }
    for (const auto& text : shared_.options.listen) {
      const auto [host, port] = parseAddress(text);
      asio::error_code ec;
      const auto address = asio::ip::make_address(host, ec);
      if (ec) throw UsageError(fmt::format("invalid listen address '{}': {}", text, ec.message()));
      auto acceptor = std::make_unique<tcp::acceptor>(shared_.io);
      const tcp::endpoint endpoint(address, port);
      acceptor->open(endpoint.protocol());
      acceptor->set_option(tcp::acceptor::reuse_address(true));
      acceptor->bind(endpoint, ec);
      if (ec) throw KlusterError(code::NodeError, fmt::format("cannot listen on {}: {}", text, ec.message()));
      acceptor->listen(asio::socket_base::max_listen_connections);
      acceptors_.push_back(std::move(acceptor));
    }
  }

  std::vector<std::string> addresses() const {
    std::vector<std::string> out;
    for (const auto& a : acceptors_) {
      const auto e = a->local_endpoint();
      out.push_back(e.address().is_v6() ? fmt::format("[{}]:{}", e.address().to_string(), e.port())
                                        : fmt::format("{}:{}", e.address().to_string(), e.port()));
    }
    return out;
  }

  void run(bool signals) {
    for (auto& a : acceptors_) accept(*a);
    awaitResponses();
    tick();
    if (signals) {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
      signals_.async_wait([this](asio::error_code ec, int) {
        if (!ec) stop();
      });
    }
    shared_.io.run();
  }

  ~Impl() { shared_.mailbox->close(); }

  bool responsive(std::chrono::milliseconds within) {
    auto ran = std::make_shared<std::promise<void>>();
    auto done = ran->get_future();
    asio::post(shared_.io, [ran] { ran->set_value(); });
    return done.wait_for(within) == std::future_status::ready;
  }

  void stop() {
    asio::post(shared_.io, [this] {
      for (auto& a : acceptors_) {
        asio::error_code ec;
        a->close(ec);
      }
      shared_.io.stop();
    });
  }

private:
  // The client's responses are read on this loop: results reach their connections without a thread
  // hand-over. librdkafka writes a byte to the client's descriptor when responses arrive.
  void awaitResponses() {
    responses_.async_wait(asio::posix::stream_descriptor::wait_read, [this](asio::error_code ec) {
      if (ec) return;
      readResponses();
      awaitResponses();
    });
  }

  void readResponses() {
    if (!shared_.client->readResponses()) asio::post(shared_.io, [this] { readResponses(); }); // more are left
  }

  // Requests past their deadline are answered even when no response comes.
  void tick() {
    tick_.expires_after(std::chrono::milliseconds(20));
    tick_.async_wait([this](asio::error_code ec) {
      if (ec) return;
      readResponses();
      tick();
    });
  }

  void accept(tcp::acceptor& acceptor) {
    acceptor.async_accept([this, &acceptor](asio::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        KLOG(Warn, "proxy", "accept: {}", ec.message());
      } else {
        std::make_shared<Connection>(shared_, std::move(socket))->start();
      }
      accept(acceptor);
    });
  }

  Shared shared_;
  asio::signal_set signals_;
  asio::posix::stream_descriptor responses_; ///< a duplicate of the client's readFd()
  asio::steady_timer tick_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
};

Server::Server(ServerOptions options, client::Client& client)
    : impl_(std::make_unique<Impl>(std::move(options), client)) {}
Server::~Server() = default;
std::vector<std::string> Server::addresses() const { return impl_->addresses(); }
void Server::run(bool signals) { impl_->run(signals); }
void Server::stop() { impl_->stop(); }
bool Server::responsive(std::chrono::milliseconds within) { return impl_->responsive(within); }

} // namespace kluster::proxy
