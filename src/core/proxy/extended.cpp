// The extended query protocol: Parse, Bind, Describe, Execute, Close, Sync. Each Execute is one request;
// a read is run when its portal is described (its columns come with its rows). A statement described
// before it is bound is described by a node (a describe request on ONE: the node prepares it without
// running it); descriptions are cached by SQL text until DDL goes through the proxy.
#include "core/proxy/outcome.hpp"
#include "core/proxy/pg_types.hpp"
#include "core/proxy/session.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kluster::proxy {

void DescribeCache::invalidate(std::optional<std::int64_t> allOffset) {
  entries.clear();
  ++generation;
  if (allOffset) ddlOffset = std::max(ddlOffset, *allOffset);
}

std::string DescribeCache::key(const std::string& sql, const std::vector<std::uint32_t>& declared) {
  std::string key = sql;
  if (std::any_of(declared.begin(), declared.end(), [](std::uint32_t t) { return t != 0; })) {
    key += '\0'; // never in SQL text
    for (auto t : declared) key += fmt::format("{},", t);
  }
  return key;
}

void Session::parse(wire::Reader& r) {
  auto name = r.cstring();
  auto query = r.cstring();
  const int n = r.int16();
  std::vector<std::uint32_t> oids;
  for (int i = 0; i < n && !r.failed(); ++i) oids.push_back(static_cast<std::uint32_t>(r.int32()));
  if (r.failed()) return fatal("08P01", "invalid Parse message");
  auto st = std::make_shared<Prepared>();
  st->sql = query;
  st->paramOids = std::move(oids);
  // A statement the proxy refuses counts as answered locally, as in a simple query: no Execute will run it.
  auto refuse = [this](const wire::Writer::Notice& notice) {
    error(notice);
    skipToSync_ = true;
    options_.metrics->answeredLocally(Outcome::Error);
  };
  try {
    st->statements = options_.analyses->get(query)->statements;
  } catch (const sql::SyntaxError& e) {
    auto e2 = errorNotice("42601", e.error().message);
    e2.position = e.error().cursorPosition;
    return refuse(e2);
  } catch (const std::exception& e) {
    return refuse(errorNotice("54000", e.what()));
  }
  if (st->statements.size() > 1)
    return refuse(errorNotice("42601", "cannot insert multiple commands into a prepared statement"));
  if (!name.empty() && statements_.count(name)) {
    error(errorNotice("42P05", fmt::format("prepared statement \"{}\" already exists", name)));
    skipToSync_ = true;
    return;
  }
  const auto& cached = options_.describeCache->entries;
  if (auto it = cached.find(DescribeCache::key(query, st->paramOids)); it != cached.end()) st->description = it->second;
  statements_[name] = std::move(st);
  out_.parseComplete();
}

void Session::bind(wire::Reader& r) {
  const std::string body(r.bytes(r.remaining()));
  wire::Reader in(body);
  auto portalName = in.cstring();
  auto statementName = in.cstring();
  std::vector<std::int16_t> formats(static_cast<std::size_t>(std::max<int>(0, in.int16())));
  for (auto& f : formats) f = in.int16();
  const int nParams = in.int16();
  std::vector<std::optional<std::string>> raw;
  for (int i = 0; i < nParams && !in.failed(); ++i) {
    const auto len = in.int32();
    if (len < 0)
      raw.emplace_back(std::nullopt);
    else
      raw.emplace_back(in.bytes(static_cast<std::size_t>(len)));
  }
  std::vector<std::int16_t> resultFormats(static_cast<std::size_t>(std::max<int>(0, in.int16())));
  for (auto& f : resultFormats) f = in.int16();
  if (in.failed()) return fatal("08P01", "invalid Bind message");
  if (formats.size() > 1 && formats.size() != static_cast<std::size_t>(nParams))
    return fatal("08P01",
                 fmt::format("bind message has {} parameter formats but {} parameters", formats.size(), nParams));
  auto it = statements_.find(statementName);
  if (it == statements_.end()) {
    error(errorNotice("26000", fmt::format("prepared statement \"{}\" does not exist", statementName)));
    skipToSync_ = true;
    return;
  }
  auto st = it->second;
  const int needed = st->statements.empty() ? 0 : st->statements.front().maxParam;
  if (nParams != needed) {
    error(errorNotice("08P01",
                      fmt::format("bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
                                  nParams, statementName, needed)));
    skipToSync_ = true;
    return;
  }
  auto formatOf = [&](int i) -> std::int16_t {
    if (formats.empty()) return 0;
    return formats.size() == 1 ? formats[0] : formats[static_cast<std::size_t>(i)];
  };
  Portal portal;
  portal.statement = st;
  portal.resultFormats = std::move(resultFormats);
  for (int i = 0; i < nParams; ++i) {
    const auto idx = static_cast<std::size_t>(i);
    if (!raw[idx]) {
      portal.params.push_back(nullptr);
      continue;
    }
    if (formatOf(i) == 0) {
      portal.params.push_back(*raw[idx]);
      continue;
    }
    // Its type as declared by Parse, else as described (a client that sends binary without either: text).
    std::uint32_t type = oid::Text;
    if (idx < st->paramOids.size() && st->paramOids[idx])
      type = st->paramOids[idx];
    else if (st->description && idx < st->description->paramOids.size())
      type = st->description->paramOids[idx];
    auto text = textFromBinary(type, *raw[idx]);
    if (!text) {
      error(errorNotice("22P03",
                        fmt::format("incorrect binary data format in bind parameter {} (type oid {})", i + 1, type),
                        "send this parameter in text format"));
      skipToSync_ = true;
      return;
    }
    portal.params.push_back(std::move(*text));
  }
  portals_[portalName] = std::move(portal);
  out_.bindComplete();
}

void Session::fetchDescription(const std::shared_ptr<Prepared>& st, std::function<void()> then) {
  auto& cache = *options_.describeCache;
  auto key = DescribeCache::key(st->sql, st->paramOids);
  if (auto it = cache.entries.find(key); it != cache.entries.end()) {
    st->description = it->second;
    return then();
  }
  Request req;
  req.describe = true;
  req.statements = {st->sql};
  req.paramTypes = st->paramOids;
  // The node must have applied this connection's writes and the last DDL sent through this proxy.
  if (const auto floor = std::max(seenAll_.value_or(-1), cache.ddlOffset); floor >= 0) req.minAllOffset = floor;
  send(
      std::move(req), client::Target::One,
      [this, st, key = std::move(key), generation = cache.generation, then = std::move(then)](const client::Result& r) {
        if (auto n = failure(r, options_.timeoutText)) {
          error(*n);
          skipToSync_ = true;
          return;
        }
        Description d;
        try {
          const auto answer = StatementDescription::fromJson(r.responses.front().result);
          d.paramOids = answer.paramTypes;
          for (const auto& c : answer.columns) {
            wire::Writer::Field f;
            f.name = c.name;
            f.typeOid = c.typeOid;
            f.typeSize = typeSize(c.typeOid);
            d.columns.push_back(std::move(f));
          }
        } catch (const std::exception& e) {
          error(errorNotice("XX000", std::string("a node described the statement in a malformed answer: ") + e.what()));
          skipToSync_ = true;
          return;
        }
        auto& c = *options_.describeCache;
        if (c.generation == generation) { // no DDL completed meanwhile
          if (c.entries.size() >= DescribeCache::kMaxEntries) c.entries.clear();
          c.entries[key] = d;
        }
        st->description = std::move(d);
        then();
      });
}

void Session::describe(wire::Reader& r) {
  const auto kind = static_cast<char>(r.byte());
  auto name = r.cstring();
  if (r.failed()) return fatal("08P01", "invalid Describe message");
  if (kind == 'S') {
    auto it = statements_.find(name);
    if (it == statements_.end()) {
      error(errorNotice("26000", fmt::format("prepared statement \"{}\" does not exist", name)));
      skipToSync_ = true;
      return;
    }
    auto st = it->second;
    auto answer = [this, st] {
      std::vector<std::uint32_t> oids = st->description->paramOids;
      for (std::size_t i = 0; i < oids.size() && i < st->paramOids.size(); ++i)
        if (st->paramOids[i]) oids[i] = st->paramOids[i];
      out_.parameterDescription(oids);
      if (st->description->columns.empty())
        out_.noData();
      else
        out_.rowDescription(st->description->columns);
    };
    if (st->statements.empty()) {
      st->description = Description{};
      return answer();
    }
    if (st->description) return answer();
    return fetchDescription(st, answer);
  }
  if (kind != 'P') return fatal("08P01", fmt::format("invalid DESCRIBE message subtype {}", static_cast<int>(kind)));
  auto it = portals_.find(name);
  if (it == portals_.end()) {
    error(errorNotice("34000", fmt::format("portal \"{}\" does not exist", name)));
    skipToSync_ = true;
    return;
  }
  describePortal(it->second);
}

void Session::describePortal(Portal& portal) {
  auto st = portal.statement;
  if (st->statements.empty()) return out_.noData();
  const auto& stmt = st->statements.front();
  auto withFormats = [&portal](std::vector<wire::Writer::Field> fs) {
    for (std::size_t i = 0; i < fs.size(); ++i)
      if (!portal.resultFormats.empty())
        fs[i].format = portal.resultFormats.size() == 1 || i >= portal.resultFormats.size() ? portal.resultFormats[0]
                                                                                            : portal.resultFormats[i];
    return fs;
  };
  if (portal.result) {
    const auto& resp = portal.result->responses.front();
    if (resp.result.is_array())
      out_.rowDescription(fields(resp.result, resp.columns, portal.resultFormats));
    else
      out_.noData();
    return;
  }
  if (local(stmt, Mode::Describe)) return;
  if (stmt.readOnly || tx_.open()) {
    // A read runs now: its rows bring their columns, and Execute sends them. So does every statement of a
    // transaction, which may use what the transaction created (the nodes cannot describe that).
    const std::string name = [&] {
      for (auto& [n, p] : portals_)
        if (&p == &portal) return n;
      return std::string();
    }();
    return run({stmt}, portal.params, [this, name](const client::Result& r) {
      auto it = portals_.find(name);
      if (it == portals_.end()) return;
      if (auto n = failure(r, options_.timeoutText)) {
        error(*n);
        skipToSync_ = true;
        tx_.fail();
        return;
      }
      it->second.result = r;
      describePortal(it->second);
    });
  }
  if (st->description) {
    if (st->description->columns.empty()) return out_.noData();
    return out_.rowDescription(withFormats(st->description->columns));
  }
  fetchDescription(st, [this, st, withFormats] {
    if (st->description->columns.empty()) return out_.noData();
    out_.rowDescription(withFormats(st->description->columns));
  });
}

void Session::execute(wire::Reader& r) {
  auto name = r.cstring();
  const auto maxRows = r.int32();
  if (r.failed()) return fatal("08P01", "invalid Execute message");
  auto it = portals_.find(name);
  if (it == portals_.end()) {
    error(errorNotice("34000", fmt::format("portal \"{}\" does not exist", name)));
    skipToSync_ = true;
    return;
  }
  executePortal(it->second, maxRows);
}

void Session::executePortal(Portal& portal, std::int32_t maxRows) {
  auto st = portal.statement;
  if (st->statements.empty()) return out_.emptyQueryResponse();
  if (portal.result) return emitPortal(portal, maxRows);
  if (answerLocally(st->statements.front(), Mode::Execute)) return;
  std::string name;
  for (auto& [n, p] : portals_)
    if (&p == &portal) name = n;
  run({st->statements.front()}, portal.params, [this, name, maxRows](const client::Result& r) {
    auto it = portals_.find(name);
    if (auto n = failure(r, options_.timeoutText)) {
      error(*n);
      skipToSync_ = true;
      tx_.fail();
      return;
    }
    if (it == portals_.end()) return;
    it->second.result = r;
    emitPortal(it->second, maxRows);
  });
}

void Session::emitPortal(Portal& portal, std::int32_t maxRows) {
  const auto& stmt = portal.statement->statements.front();
  const auto& resp = portal.result->responses.front();
  if (!resp.result.is_array()) {
    if (portal.sent > 0) return out_.commandComplete(commandTag(stmt, 0));
    portal.sent = 1;
    return out_.commandComplete(commandTag(stmt, resp.result.value("rowsAffected", std::int64_t{0})));
  }
  const auto total = resp.result.size();
  const auto count =
      maxRows > 0 ? std::min<std::size_t>(static_cast<std::size_t>(maxRows), total - portal.sent) : total - portal.sent;
  auto fs = fields(resp.result, resp.columns, portal.resultFormats);
  for (const auto& f : fs)
    if (f.format == 1 && !binarySupported(f.typeOid)) {
      error(errorNotice(
          "0A000",
          fmt::format("binary output of type oid {} (column \"{}\") is not supported by the proxy", f.typeOid, f.name),
          "ask for this column in text format"));
      skipToSync_ = true;
      return;
    }
  emitRows(stmt, resp.result, resp.columns, false, portal.resultFormats, portal.sent, count);
  portal.sent += count;
  if (portal.sent < total)
    out_.portalSuspended();
  else
    out_.commandComplete(commandTag(stmt, static_cast<std::int64_t>(total)));
}

void Session::close(wire::Reader& r) {
  const auto kind = static_cast<char>(r.byte());
  auto name = r.cstring();
  if (r.failed() || (kind != 'S' && kind != 'P')) return fatal("08P01", "invalid Close message");
  if (kind == 'S')
    statements_.erase(name);
  else
    portals_.erase(name);
  out_.closeComplete();
}

void Session::sync() {
  skipToSync_ = false;
  portals_.erase(""); // the unnamed portal ends with the implicit transaction
  ready();
}

} // namespace kluster::proxy
