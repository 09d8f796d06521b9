// Startup, simple query and the requests behind them. The extended query protocol is in extended.cpp,
// statements answered by the proxy itself (SET, SHOW, transaction blocks) in local.cpp.
#include "core/proxy/session.hpp"

#include "core/errors.hpp"
#include "core/log.hpp"
#include "core/proxy/outcome.hpp"
#include "core/proxy/pg_types.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kluster::proxy {

Session::Session(SessionOptions options, Sender sender, std::int32_t pid, std::int32_t secret, bool trusted,
                 std::optional<wire::Writer::Notice> refuse)
    : options_(std::move(options)), sender_(std::move(sender)), pid_(pid), secret_(secret), trusted_(trusted),
      refuse_(std::move(refuse)) {
  if (!options_.describeCache) options_.describeCache = std::make_shared<DescribeCache>();
  if (!options_.analyses) options_.analyses = std::make_shared<sql::AnalysisCache>();
  if (!options_.metrics) options_.metrics = std::make_shared<Metrics>();
}

Session::~Session() {
  if (busy_) options_.metrics->requestDone(inFlightRoute_, Outcome::Cancelled, std::nullopt);
}

void Session::received(std::string_view bytes) {
  if (phase_ == Phase::Closed) return;
  in_.append(bytes);
  process();
}

void Session::process() {
  while (!busy_ && !closing_ && !tlsPending_ && phase_ != Phase::Closed) {
    std::optional<wire::FramingError> err;
    auto m = wire::take(in_, phase_ == Phase::Startup, options_.maxMessageBytes, err);
    if (err) {
      fatal(err->sqlState, err->message);
      return;
    }
    if (!m) return;
    handle(*m);
  }
}

void Session::resume() {
  if (!busy_) process();
  if (onOutput) onOutput();
}

wire::Writer::Notice errorNotice(std::string sqlState, std::string message, std::string hint) {
  wire::Writer::Notice n;
  n.sqlState = std::move(sqlState);
  n.message = std::move(message);
  n.hint = std::move(hint);
  return n;
}

void Session::fatal(const std::string& sqlState, const std::string& message, Refusal why) {
  if (phase_ == Phase::Startup || phase_ == Phase::Auth) options_.metrics->refused(why);
  wire::Writer::Notice n;
  n.severity = "FATAL";
  n.sqlState = sqlState;
  n.message = message;
  out_.error(n);
  terminate();
}

void Session::terminate() {
  closing_ = true;
  phase_ = Phase::Closed;
  in_.clear();
}

void Session::error(const wire::Writer::Notice& n) {
  ++errors_;
  out_.error(n);
  flush_ = true; // as PostgreSQL, which flushes an error at once
}

void Session::ready() {
  if (!simpleQueue_.empty()) {
    if (errors_ == simpleErrors_) return nextSimple(); // the query string goes on
    simpleQueue_.clear();                              // an error ends it, as in PostgreSQL
  }
  out_.readyForQuery(tx_.status());
  flush_ = true;
}

void Session::handle(wire::Message& m) {
  if (phase_ != Phase::Ready) flush_ = true; // the client waits for each answer of the startup and SCRAM
  if (phase_ == Phase::Startup) return startup(m);
  if (phase_ == Phase::Auth) return authenticate(m);
  if (copy_) return copyMessage(m);
  wire::Reader r(m.body);
  const auto now = std::chrono::steady_clock::now();
  if (tx_.active() && options_.transactionIdleTimeout.count() > 0 &&
      now - lastMessage_ > options_.transactionIdleTimeout && m.type != 'X')
    return fatal("25P03", "terminating connection due to idle-in-transaction timeout");
  lastMessage_ = now;
  if (skipToSync_ && m.type != 'S' && m.type != 'X') return; // extended query after an error
  switch (m.type) {
  case 'Q': {
    auto text = r.cstring();
    if (r.failed()) return fatal("08P01", "invalid Query message");
    return simpleQuery(text);
  }
  case 'P': return parse(r);
  case 'B': return bind(r);
  case 'D': return describe(r);
  case 'E': return execute(r);
  case 'C': return close(r);
  case 'S': return sync();
  case 'H': flush_ = true; return; // Flush: what the messages before it produced is written now
  case 'X': return terminate();
  case 'd':
  case 'c':
  case 'f': // COPY data outside COPY: ignored, as PostgreSQL does
    return;
  default: return fatal("08P01", fmt::format("invalid frontend message type {}", static_cast<int>(m.type)));
  }
}

void Session::startup(wire::Message& m) {
  auto s = wire::parseStartup(m.body);
  if (!s) return fatal("08P01", "invalid startup packet layout");
  if (s->code == wire::kSslRequest && options_.tlsAvailable && !tls_) {
    // Bytes sent after the SSLRequest, before the handshake, would be read as if they came through TLS
    // (CVE-2021-23214): a client must wait for the answer.
    if (!in_.empty()) return fatal("08P01", "received unencrypted data after SSL request");
    out_.sslAnswer('S');
    tlsPending_ = true;
    return;
  }
  if (s->code == wire::kSslRequest || s->code == wire::kGssEncRequest) {
    out_.sslAnswer('N'); // no TLS here (or GSSAPI): the client continues in plain text or gives up
    return;
  }
  if (s->code == wire::kCancelRequest) {
    if (onCancelRequest) onCancelRequest(s->cancelPid, s->cancelKey);
    terminate(); // a cancel connection is closed without an answer
    return;
  }
  if (s->code >> 16 != 3)
    return fatal("0A000", fmt::format("unsupported frontend protocol {}.{}: server supports 3.0", s->code >> 16,
                                      s->code & 0xffff));
  if (!s->params.count("user")) return fatal("28000", "no PostgreSQL user name specified in startup packet");
  if (options_.tlsRequired && !tls_)
    return fatal("28000", "the proxy accepts only TLS connections (proxy.tls_required): connect with sslmode=require",
                 Refusal::TlsRequired);
  if (refuse_) {
    options_.metrics->refused(Refusal::TooMany);
    out_.error(*refuse_);
    return terminate();
  }
  startupParams_ = s->params;
  if (trusted_) {
    options_.metrics->authenticated(AuthMethod::Trust, true);
    return accept();
  }
  if (!options_.users) {
    options_.metrics->refused(Refusal::AuthFailed);
    wire::Writer::Notice n;
    n.severity = "FATAL";
    n.sqlState = "28000";
    n.message = "the client's address is not in proxy.trust, and the proxy has no users file for passwords";
    n.hint = "set proxy.users_file (klusterctl passwd USER --users-file FILE), or add the client's address to "
             "proxy.trust";
    out_.error(n);
    return terminate();
  }
  // SCRAM-SHA-256, an unknown user included (the exchange fails at its end, as for a wrong password).
  const auto& user = s->params.at("user");
  const auto* verifier = options_.users->find(user);
  scram_ = std::make_unique<scram::Exchange>(verifier ? *verifier : options_.users->mock(user), verifier != nullptr);
  out_.authenticationSasl({"SCRAM-SHA-256"});
  phase_ = Phase::Auth;
}

void Session::authenticate(wire::Message& m) {
  const auto& user = startupParams_.at("user");
  if (m.type != 'p') return fatal("08P01", fmt::format("expected a SASL response, got message type {}", m.type));
  wire::Reader r(m.body);
  std::string data;
  if (scramFirst_) { // SASLInitialResponse: mechanism, length, client-first-message
    const auto mechanism = r.cstring();
    const auto length = r.int32();
    if (r.failed() || length < 0 || static_cast<std::size_t>(length) != r.remaining())
      return fatal("08P01", "invalid SASLInitialResponse");
    if (mechanism != "SCRAM-SHA-256") {
      options_.metrics->authenticated(AuthMethod::Scram, false);
      return fatal("28000", fmt::format("SASL mechanism {} is not supported: use SCRAM-SHA-256", mechanism),
                   Refusal::AuthFailed);
    }
    data = r.bytes(static_cast<std::size_t>(length));
  } else { // SASLResponse: client-final-message
    data = std::string(m.body);
  }
  std::string why;
  auto answer = scramFirst_ ? scram_->clientFirst(data, why) : scram_->clientFinal(data, why);
  if (!answer) {
    KLOG(Info, "proxy", "password authentication of user \"{}\" failed: {}", user, why);
    options_.metrics->authenticated(AuthMethod::Scram, false);
    return fatal("28P01", fmt::format("password authentication failed for user \"{}\"", user), Refusal::AuthFailed);
  }
  if (scramFirst_) {
    scramFirst_ = false;
    out_.authenticationSaslContinue(*answer);
    return;
  }
  out_.authenticationSaslFinal(*answer);
  scram_.reset();
  options_.metrics->authenticated(AuthMethod::Scram, true);
  accept();
}

void Session::accept() {
  const auto& startup = startupParams_;
  out_.authenticationOk();
  auto appName = startup.count("application_name") ? startup.at("application_name") : "";
  settings_["application_name"] = appName;
  const std::pair<const char*, std::string> params[] = {
      {"server_version", options_.serverVersion},
      {"server_encoding", "UTF8"},
      {"client_encoding", "UTF8"},
      {"DateStyle", "ISO, MDY"},
      {"IntervalStyle", "postgres"},
      {"integer_datetimes", "on"},
      {"standard_conforming_strings", "on"},
      {"TimeZone", "UTC"},
      {"is_superuser", "off"},
      {"session_authorization", startup.at("user")},
      {"application_name", appName},
  };
  for (const auto& [name, value] : params) out_.parameterStatus(name, value);
  out_.backendKeyData(pid_, secret_);
  phase_ = Phase::Ready;
  ready();
}

void Session::simpleQuery(const std::string& text) {
  sql::Analysis analysis;
  try {
    analysis = *options_.analyses->get(text);
  } catch (const sql::SyntaxError& e) {
    wire::Writer::Notice n;
    n.sqlState = "42601";
    n.message = e.error().message;
    n.position = e.error().cursorPosition;
    error(n);
    tx_.fail();
    options_.metrics->answeredLocally(Outcome::Error);
    return ready();
  } catch (const std::exception& e) {
    error({"ERROR", "54000", e.what(), "", "", 0});
    options_.metrics->answeredLocally(Outcome::Error);
    return ready();
  }
  if (analysis.statements.empty()) {
    out_.emptyQueryResponse();
    return ready();
  }
  const bool control = std::any_of(analysis.statements.begin(), analysis.statements.end(),
                                   [](const sql::Statement& st) { return st.transaction.has_value(); });
  if (analysis.statements.size() == 1 || control) {
    // One at a time: BEGIN; ...; COMMIT in one query string is a transaction block, as in PostgreSQL.
    simpleQueue_.assign(analysis.statements.begin(), analysis.statements.end());
    simpleErrors_ = errors_;
    return nextSimple();
  }
  if (tx_.active() && !tx_.open()) {
    error(errorNotice("25P02", "current transaction is aborted, commands ignored until end of transaction block"));
    options_.metrics->answeredLocally(Outcome::Error);
    return ready();
  }
  runSimple(std::move(analysis.statements));
}

void Session::nextSimple() {
  auto st = std::move(simpleQueue_.front());
  simpleQueue_.pop_front();
  if (answerLocally(st, Mode::Simple)) return;
  runSimple({std::move(st)});
}

void Session::runSimple(std::vector<sql::Statement> statements) {
  simpleInFlight_ = true;
  auto sent = statements;
  run(std::move(sent), nlohmann::json::array(), [this, statements = std::move(statements)](const client::Result& r) {
    simpleInFlight_ = false;
    if (auto n = failure(r, options_.timeoutText)) {
      error(*n);
      tx_.fail();
    } else {
      const auto& resp = r.responses.front();
      for (std::size_t i = 0; i < statements.size(); ++i) {
        const bool last = i + 1 == statements.size();
        const ojson& one =
            statements.size() > 1 && resp.results.is_array() && i < resp.results.size() ? resp.results[i] : resp.result;
        emitStatement(statements[i], one, last ? resp.columns : ojson());
      }
    }
    ready();
  });
}

void Session::run(std::vector<sql::Statement> statements, nlohmann::json params,
                  std::function<void(const client::Result&)> then) {
  if (tx_.active()) // a speculation on ONE of the transaction so far and them
    return transactions_.execute(std::move(statements), std::move(params), options_.transactionLimits, seenAll_,
                                 std::move(then));
  bool readOnly = true, schema = false, catalog = false;
  Request req;
  for (auto& st : statements) {
    readOnly = readOnly && st.readOnly;
    schema = schema || changesSchema(st);
    catalog = catalog || !st.validatable;
    req.statements.push_back(st.sql);
  }
  req.params = std::move(params);
  const auto target = readOnly ? client::Target::One : client::Target::All;
  if (target == client::Target::One && seenAll_) req.minAllOffset = seenAll_; // read-your-writes
  // Reads of the catalog feed object ids into each other (psql's \d, drivers' type look-ups), and ids differ
  // between nodes: one node answers all of a session's.
  if (target == client::Target::One && catalog) req.routingKey = fmt::format("session/{}/{}", pid_, secret_);
  if (!schema || target == client::Target::One) return send(std::move(req), target, std::move(then));
  send(std::move(req), target, [this, then = std::move(then)](const client::Result& r) {
    options_.describeCache->invalidate(r.allOffset()); // even after an error: a timed-out DDL may apply
    then(r);
  });
}

void Session::send(Request req, client::Target target, std::function<void(const client::Result&)> then) {
  const client::WaitPolicy wait = target == client::Target::One ? client::WaitPolicy{} : options_.writeWait;
  busy_ = true;
  ++sent_;
  inFlightRoute_ = target == client::Target::One ? Route::One : Route::All;
  inFlightSince_ = std::chrono::steady_clock::now();
  options_.metrics->requestSent();
  const auto generation = generation_;
  sender_(std::move(req), target, wait, options_.timeout,
          [this, generation, target, then = std::move(then)](client::Result r) {
            if (generation != generation_) return; // cancelled: already answered
            busy_ = false;
            options_.metrics->requestDone(inFlightRoute_, outcomeOf(r),
                                          std::chrono::steady_clock::now() - inFlightSince_);
            if (target == client::Target::All)
              if (const auto offset = r.allOffset()) seenAll_ = std::max(seenAll_.value_or(-1), *offset);
            then(r);
            resume();
          });
}

void Session::cancel() {
  if (!busy_) return;
  ++generation_;
  busy_ = false;
  options_.metrics->requestDone(inFlightRoute_, Outcome::Cancelled, std::nullopt);
  wire::Writer::Notice n;
  n.sqlState = "57014";
  n.message = "canceling statement due to user request";
  n.hint = "a write that was sent may still be applied by the cluster";
  error(n);
  tx_.fail();
  copy_.reset(); // the rows sent before the cancel stay applied
  if (simpleInFlight_)
    ready();
  else
    skipToSync_ = true;
  resume();
}

std::vector<wire::Writer::Field> Session::fields(const ojson& rows, const ojson& columns,
                                                 const std::vector<std::int16_t>& formats) const {
  std::vector<wire::Writer::Field> out;
  if (columns.is_array()) {
    for (const auto& c : columns) {
      wire::Writer::Field f;
      f.name = c.value("name", "");
      f.typeOid = typeOid(c.value("type", "text"));
      out.push_back(std::move(f));
    }
  } else if (rows.is_array() && !rows.empty() && rows[0].is_object()) {
    // An earlier statement of several: names from its rows, values as text.
    for (const auto& [k, v] : rows[0].items()) {
      wire::Writer::Field f;
      f.name = k;
      out.push_back(std::move(f));
    }
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].typeSize = typeSize(out[i].typeOid);
    if (!formats.empty()) out[i].format = formats.size() == 1 ? formats[0] : formats[i < formats.size() ? i : 0];
  }
  return out;
}

void Session::emitRows(const sql::Statement& st, const ojson& rows, const ojson& columns, bool describe,
                       const std::vector<std::int16_t>& formats, std::size_t from, std::size_t count) {
  const auto fs = fields(rows, columns, formats);
  if (describe) out_.rowDescription(fs);
  (void)st;
  std::vector<std::optional<std::string>> values;
  for (std::size_t r = from; r < from + count && r < rows.size(); ++r) {
    values.clear();
    const auto& row = rows[r];
    std::size_t c = 0;
    for (const auto& [k, v] : row.items()) {
      auto text = textValue(v);
      if (text && c < fs.size() && fs[c].format == 1) {
        auto bin = binaryFromText(fs[c].typeOid, *text);
        text = bin ? std::move(bin) : std::move(text);
      }
      values.push_back(std::move(text));
      ++c;
    }
    out_.dataRow(values);
  }
}

void Session::emitStatement(const sql::Statement& st, const ojson& one, const ojson& columns) {
  if (one.is_array()) {
    emitRows(st, one, columns, true, {}, 0, one.size());
    out_.commandComplete(commandTag(st, static_cast<std::int64_t>(one.size())));
  } else {
    const auto rows = one.is_object() ? one.value("rowsAffected", std::int64_t{0}) : std::int64_t{0};
    out_.commandComplete(commandTag(st, rows));
  }
}

} // namespace kluster::proxy
