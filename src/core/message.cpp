#include "core/message.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

namespace kluster {
using nlohmann::json;

std::string Request::toJson() const {
  ojson j;
  j["version"] = version;
  j["messageId"] = messageId;
  j["clientId"] = clientId;
  if (fingerprint) {
    j["kind"] = "fingerprint";
    j["fingerprint"] = *fingerprint;
    return j.dump();
  }
  if (auth) j["auth"] = {{"signedAt", auth->signedAtMs}, {"hmac", auth->hmac}};
  if (tick) {
    j["kind"] = "tick";
    return j.dump();
  }
  if (securityDigest) { // with the fields below, which its signature covers too
    j["kind"] = "security";
    j["digest"] = *securityDigest;
  }
  if (describe) j["kind"] = "describe";
  if (statements.size() == 1)
    j["sqlString"] = statements.front();
  else
    j["statements"] = statements;
  if (!params.empty()) j["params"] = params;
  if (describe && !paramTypes.empty()) j["paramTypes"] = paramTypes;
  if (minAllOffset) j["minAllOffset"] = *minAllOffset;
  if (timeoutMs) j["timeoutMs"] = *timeoutMs;
  if (trace) j["trace"] = true;
  if (transaction) {
    ojson t;
    t["time"] = transaction->timeMs;
    t["seed"] = transaction->seed;
    t["uuidKey"] = transaction->uuidKey;
    if (!transaction->params.empty()) t["params"] = transaction->params;
    t["expect"] = transaction->expect;
    if (!transaction->sequences.empty()) t["sequences"] = transaction->sequences;
    if (transaction->stagePart) t["stage"] = *transaction->stagePart;
    if (!transaction->staged.empty()) {
      ojson staged = ojson::array();
      for (const auto& s : transaction->staged) staged.push_back(ojson::array({s.part, s.before}));
      t["staged"] = std::move(staged);
    }
    j["transaction"] = std::move(t);
  }
  return j.dump();
}

namespace {

// Replaces every byte that is not part of well-formed UTF-8 with U+FFFD, so the ids can still be read.
std::string sanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t len = 1;
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0xC0 && c < 0xE0)
      len = 2;
    else if (c >= 0xE0 && c < 0xF0)
      len = 3;
    else if (c >= 0xF0)
      len = 4;
    if (i + len <= text.size() && util::validUtf8(text.substr(i, len)) && (c < 0x80 || c >= 0xC0)) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

void fail(ParsedRequest& parsed, std::string_view code, std::string message) {
  parsed.errorCode = std::string(code);
  parsed.errorMessage = std::move(message);
}

template <typename Json> bool isOid(const Json& v) {
  return v.is_number_integer() && v.template get<std::int64_t>() >= 0 && v.template get<std::int64_t>() <= 0xFFFFFFFF;
}

// A describe request: one statement, no parameter values, the declared parameter types (OIDs) if any.
bool parseDescribe(const json& j, ParsedRequest& parsed) {
  Request& req = parsed.request;
  if (req.statements.size() != 1) {
    fail(parsed, code::BadRequest, "a describe request describes one statement: give 'sqlString'");
    return false;
  }
  if (auto it = j.find("params"); it != j.end() && !(it->is_array() && it->empty())) {
    fail(parsed, code::BadRequest, "a describe request takes no 'params' (give 'paramTypes')");
    return false;
  }
  auto it = j.find("paramTypes");
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_array() || it->size() > kMaxParams) {
    fail(parsed, code::BadRequest, fmt::format("'paramTypes' must be an array of at most {} type OIDs", kMaxParams));
    return false;
  }
  for (const auto& t : *it) {
    if (!isOid(t)) {
      fail(parsed, code::BadRequest, "'paramTypes' must hold type OIDs (integers from 0 to 4294967295)");
      return false;
    }
    req.paramTypes.push_back(t.get<std::uint32_t>());
  }
  return true;
}

// An interactive transaction's speculation or commit (Request::Transaction).
bool parseTransaction(const json& t, ParsedRequest& parsed) {
  Request& req = parsed.request;
  auto bad = [&](std::string why) {
    fail(parsed, code::BadRequest, "'transaction': " + why);
    return false;
  };
  if (!t.is_object()) return bad("must be an object");
  if (req.describe || !req.params.empty()) return bad("takes its parameters in 'transaction.params'");
  Request::Transaction tx;
  const auto time = t.find("time"), seed = t.find("seed"), key = t.find("uuidKey");
  if (time == t.end() || !time->is_number_integer()) return bad("'time' must be milliseconds since 1970");
  if (seed == t.end() || !seed->is_number() || seed->get<double>() < -1 || seed->get<double>() > 1)
    return bad("'seed' must be a number from -1 to 1");
  if (key == t.end() || !key->is_string()) return bad("'uuidKey' must be a string");
  tx.timeMs = time->get<std::int64_t>();
  tx.seed = seed->get<double>();
  tx.uuidKey = key->get<std::string>();
  if (auto p = t.find("params"); p != t.end()) {
    if (!p->is_array() || p->size() > req.statements.size()) return bad("'params' must be an array per statement");
    for (const auto& one : *p) {
      if (!one.is_array()) return bad("'params' must be an array per statement");
      for (const auto& v : one)
        if (v.is_object() || v.is_array())
          return fail(parsed, code::ParamMismatch, "a parameter must be a string, number, boolean or null"), false;
      tx.params.push_back(one);
    }
  }
  if (auto e = t.find("expect"); e != t.end()) {
    if (!e->is_array() || e->size() > req.statements.size())
      return bad("'expect' must be an array of at most one digest per statement");
    for (const auto& d : *e) {
      if (!d.is_string()) return bad("'expect' must hold strings");
      tx.expect.push_back(d.get<std::string>());
    }
  }
  if (auto q = t.find("sequences"); q != t.end()) {
    if (!q->is_object()) return bad("'sequences' must map sequence names to their first values");
    for (const auto& [name, first] : q->items()) {
      if (!first.is_number_integer()) return bad("'sequences' must map sequence names to their first values");
      tx.sequences[name] = first.get<std::int64_t>();
    }
  }
  if (auto s = t.find("stage"); s != t.end()) {
    if (!s->is_number_integer() || s->get<std::int64_t>() < 0 || s->get<std::int64_t>() > INT32_MAX)
      return bad("'stage' must be a part number");
    tx.stagePart = static_cast<std::int32_t>(s->get<std::int64_t>());
  }
  if (auto s = t.find("staged"); s != t.end()) {
    const auto bad2 = [&] { return bad("'staged' must be an array of [part, before statement index] pairs"); };
    if (!s->is_array() || tx.stagePart) return bad2();
    for (const auto& one : *s) {
      if (!one.is_array() || one.size() != 2 || !one[0].is_number_integer() || !one[1].is_number_unsigned())
        return bad2();
      const auto part = one[0].get<std::int64_t>();
      const auto before = one[1].get<std::uint64_t>();
      if (part < 0 || part > INT32_MAX || before > req.statements.size()) return bad2();
      if (!tx.staged.empty() && before < tx.staged.back().before) return bad2();
      tx.staged.push_back({static_cast<std::int32_t>(part), static_cast<std::size_t>(before)});
    }
  }
  if (req.statements.empty() && tx.staged.empty())
    return fail(parsed, code::EmptySql, "the request has no SQL to run"), false;
  req.transaction = std::move(tx);
  return true;
}

void readIds(const json& j, Request& req) {
  if (auto it = j.find("messageId"); it != j.end() && it->is_string()) req.messageId = it->get<std::string>();
  if (auto it = j.find("clientId"); it != j.end() && it->is_string()) req.clientId = it->get<std::string>();
}

} // namespace

ParsedRequest parseRequest(std::string_view payload, std::size_t maxBytes) {
  ParsedRequest parsed;
  Request& req = parsed.request;
  const bool tooLarge = payload.size() > maxBytes;
  const bool utf8 = util::validUtf8(payload);
  // Even a refused request is answered when its ids can be read, so the client is not left waiting.
  std::string_view text = payload;
  std::string sanitized;
  if (!utf8) {
    sanitized = sanitizeUtf8(payload);
    text = sanitized;
  }
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    if (tooLarge)
      fail(parsed, code::TooLarge,
           fmt::format("request of {} bytes exceeds the limit of {}", payload.size(), maxBytes));
    else
      fail(parsed, code::BadRequest, "the request is not a JSON object");
    return parsed;
  }
  readIds(j, req);
  if (tooLarge)
    return fail(parsed, code::TooLarge,
                fmt::format("request of {} bytes exceeds the limit of {}", payload.size(), maxBytes)),
           parsed;
  if (!utf8) return fail(parsed, code::InvalidUtf8, "the request is not valid UTF-8"), parsed;

  if (auto it = j.find("version"); it != j.end()) {
    if (!it->is_number_integer()) return fail(parsed, code::BadRequest, "'version' must be an integer"), parsed;
    req.version = it->get<int>();
    if (req.version != kMessageVersion)
      return fail(parsed, code::UnsupportedVersion,
                  fmt::format("message version {} is not supported (this node speaks {})", req.version,
                              kMessageVersion)),
             parsed;
  }
  auto requireString = [&](const char* key) -> bool {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      fail(parsed, code::BadRequest, fmt::format("'{}' must be a non-empty string", key));
      return false;
    }
    return true;
  };
  if (!requireString("messageId") || !requireString("clientId")) return parsed;
  if (auto a = j.find("auth"); a != j.end()) {
    const auto at = a->is_object() ? a->find("signedAt") : a->end();
    const auto mac = a->is_object() ? a->find("hmac") : a->end();
    if (!a->is_object() || at == a->end() || !at->is_number_integer() || mac == a->end() || !mac->is_string())
      return fail(parsed, code::BadRequest, "'auth' must be {\"signedAt\": milliseconds, \"hmac\": hex string}"),
             parsed;
    req.auth = Request::Auth{at->get<std::int64_t>(), mac->get<std::string>()};
  }
  if (auto kind = j.find("kind"); kind != j.end() && *kind != "sql") {
    if (*kind == "describe") {
      req.describe = true;
    } else if (*kind == "tick") {
      req.tick = true;
      return parsed;
    } else if (*kind == "security") {
      auto d = j.find("digest");
      if (d == j.end() || !d->is_string() || d->get_ref<const std::string&>().size() != 64)
        return fail(parsed, code::BadRequest, "a security request needs 'digest': 64 hex digits"), parsed;
      req.securityDigest = d->get<std::string>();
    } else {
      auto fp = j.find("fingerprint");
      if (*kind != "fingerprint" || fp == j.end() || !fp->is_object())
        return fail(parsed, code::BadRequest, "unknown request kind (\"sql\" and \"describe\" requests are accepted)"),
               parsed;
      req.fingerprint = *fp;
      return parsed;
    }
  }

  auto sql = j.find("sqlString");
  auto stmts = j.find("statements");
  if (sql != j.end() && stmts != j.end())
    return fail(parsed, code::BadRequest, "give either 'sqlString' or 'statements', not both"), parsed;
  if (sql != j.end()) {
    if (!sql->is_string()) return fail(parsed, code::BadRequest, "'sqlString' must be a string"), parsed;
    req.statements.push_back(std::move(sql->get_ref<std::string&>()));
  } else if (stmts != j.end()) {
    if (!stmts->is_array()) return fail(parsed, code::BadRequest, "'statements' must be an array of strings"), parsed;
    for (const auto& s : *stmts) {
      if (!s.is_string()) return fail(parsed, code::BadRequest, "'statements' must be an array of strings"), parsed;
      req.statements.push_back(s.get<std::string>());
    }
  } else if (!req.securityDigest) {
    return fail(parsed, code::BadRequest, "the request has no 'sqlString' (or 'statements')"), parsed;
  }
  bool anySql = false;
  for (const auto& s : req.statements)
    if (s.find_first_not_of(" \t\r\n;") != std::string::npos) anySql = true;
  if (req.securityDigest && anySql) return fail(parsed, code::BadRequest, "a security request carries no SQL"), parsed;
  // An interactive transaction's commit may hold nothing but parts it staged (a COPY inside BEGIN ... COMMIT).
  const auto tx = j.find("transaction");
  const bool onlyStaged = tx != j.end() && tx->is_object() && tx->contains("staged");
  if (!anySql && !req.securityDigest && !onlyStaged)
    return fail(parsed, code::EmptySql, "the request has no SQL to run"), parsed;
  if (req.describe && !parseDescribe(j, parsed)) return parsed;

  if (auto it = j.find("params"); it != j.end()) {
    if (!it->is_array()) return fail(parsed, code::BadRequest, "'params' must be an array"), parsed;
    for (const auto& p : *it)
      if (p.is_object() || p.is_array())
        return fail(parsed, code::ParamMismatch, "a parameter must be a string, number, boolean or null"), parsed;
    req.params = std::move(*it);
  }
  auto optionalInt = [&](const char* key, std::optional<std::int64_t>& out) -> bool {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0) {
      fail(parsed, code::BadRequest, fmt::format("'{}' must be a non-negative integer", key));
      return false;
    }
    out = it->get<std::int64_t>();
    return true;
  };
  if (!optionalInt("minAllOffset", req.minAllOffset) || !optionalInt("timeoutMs", req.timeoutMs)) return parsed;
  if (auto it = j.find("trace"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return fail(parsed, code::BadRequest, "'trace' must be a boolean"), parsed;
    req.trace = it->get<bool>();
  }
  if (auto it = j.find("transaction"); it != j.end() && !it->is_null() && !parseTransaction(*it, parsed)) return parsed;
  return parsed;
}

ojson StatementDescription::toJson() const {
  ojson j;
  j["paramTypes"] = paramTypes;
  j["columns"] = ojson::array();
  for (const auto& c : columns) j["columns"].push_back({{"name", c.name}, {"typeOid", c.typeOid}});
  return j;
}

StatementDescription StatementDescription::fromJson(const ojson& j) {
  auto oidOf = [](const ojson& v) {
    if (!isOid(v)) throw std::invalid_argument("a type OID must be an integer from 0 to 4294967295");
    return v.get<std::uint32_t>();
  };
  if (!j.is_object()) throw std::invalid_argument("a statement description must be a JSON object");
  const auto params = j.find("paramTypes");
  const auto columns = j.find("columns");
  if (params == j.end() || !params->is_array() || columns == j.end() || !columns->is_array())
    throw std::invalid_argument("a statement description needs the arrays 'paramTypes' and 'columns'");
  StatementDescription d;
  for (const auto& p : *params) d.paramTypes.push_back(oidOf(p));
  for (const auto& c : *columns) {
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string() || !c.contains("typeOid"))
      throw std::invalid_argument("a described column needs a 'name' and a 'typeOid'");
    d.columns.push_back({c["name"].get<std::string>(), oidOf(c["typeOid"])});
  }
  return d;
}

ojson Response::toOrderedJson() const {
  ojson j;
  j["version"] = version;
  j["messageId"] = messageId;
  j["nodeId"] = nodeId;
  j["requestId"] = requestId;
  if (!clientId.empty()) j["clientId"] = clientId;
  j["requestTopic"] = requestTopic;
  j["resultCode"] = resultCode;
  if (ok()) {
    j["result"] = result;
    if (!columns.is_null()) j["columns"] = columns;
    if (!results.is_null()) j["results"] = results;
  } else {
    j["errorMessage"] = errorMessage;
    if (!sqlState.empty()) j["sqlState"] = sqlState;
    if (!hint.empty()) j["hint"] = hint;
  }
  j["rowsAffected"] = rowsAffected;
  if (allOffset) j["allOffset"] = *allOffset;
  if (appliedAllOffset) j["appliedAllOffset"] = *appliedAllOffset;
  if (!resultHash.empty()) j["resultHash"] = resultHash;
  if (!digests.empty()) j["digests"] = digests;
  if (!drawn.empty()) j["drawn"] = drawn;
  j["timestamp"] = timestamp;
  j["durationMs"] = durationMs;
  if (trace)
    j["trace"] = {{"fetchedUs", trace->fetchedUs},
                  {"startedUs", trace->startedUs},
                  {"committedUs", trace->committedUs},
                  {"producedUs", trace->producedUs}};
  return j;
}

namespace {

// JSON text of a string, as nlohmann's dump() writes it (UTF-8 passed through; the texts here are valid
// UTF-8: request ids from validated requests, messages from the database's UTF-8 connection).
void appendQuoted(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < 0x20)
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      else
        out += ch;
    }
  }
  out += '"';
}

void appendKey(std::string& out, std::string_view key) {
  if (out.size() > 1) out += ',';
  out += '"';
  out += key;
  out += "\":";
}

} // namespace

// Written field by field rather than through toOrderedJson(): a node answers every request, and building
// an ordered JSON object first costs several times more. The output is the same text (tested).
std::string Response::toJson() const {
  std::string out;
  out.reserve(512);
  out += '{';
  auto str = [&](std::string_view key, std::string_view value) {
    appendKey(out, key);
    appendQuoted(out, value);
  };
  auto num = [&](std::string_view key, std::int64_t value) {
    appendKey(out, key);
    fmt::format_to(std::back_inserter(out), "{}", value);
  };
  auto nested = [&](std::string_view key, const ojson& value) {
    appendKey(out, key);
    out += value.dump();
  };
  num("version", version);
  str("messageId", messageId);
  str("nodeId", nodeId);
  str("requestId", requestId);
  if (!clientId.empty()) str("clientId", clientId);
  str("requestTopic", requestTopic);
  str("resultCode", resultCode);
  if (ok()) {
    nested("result", result);
    if (!columns.is_null()) nested("columns", columns);
    if (!results.is_null()) nested("results", results);
  } else {
    str("errorMessage", errorMessage);
    if (!sqlState.empty()) str("sqlState", sqlState);
    if (!hint.empty()) str("hint", hint);
  }
  num("rowsAffected", rowsAffected);
  if (allOffset) num("allOffset", *allOffset);
  if (appliedAllOffset) num("appliedAllOffset", *appliedAllOffset);
  if (!resultHash.empty()) str("resultHash", resultHash);
  if (!digests.empty()) nested("digests", ojson(digests));
  if (!drawn.empty()) nested("drawn", ojson(drawn));
  num("timestamp", timestamp);
  num("durationMs", durationMs);
  if (trace)
    fmt::format_to(std::back_inserter(out),
                   ",\"trace\":{{\"fetchedUs\":{},\"startedUs\":{},\"committedUs\":{},\"producedUs\":{}}}",
                   trace->fetchedUs, trace->startedUs, trace->committedUs, trace->producedUs);
  out += '}';
  return out;
}

Response Response::fromJson(std::string_view payload) {
  auto j = ojson::parse(payload);
  if (!j.is_object()) throw std::invalid_argument("response is not a JSON object");
  Response r;
  r.version = j.value("version", kMessageVersion);
  r.messageId = j.value("messageId", "");
  r.nodeId = j.at("nodeId").get<std::string>();
  r.requestId = j.at("requestId").get<std::string>();
  r.clientId = j.value("clientId", "");
  r.requestTopic = j.value("requestTopic", "");
  r.resultCode = j.at("resultCode").get<std::string>();
  if (auto it = j.find("result"); it != j.end()) r.result = *it;
  if (auto it = j.find("columns"); it != j.end()) r.columns = *it;
  if (auto it = j.find("results"); it != j.end()) r.results = *it;
  r.rowsAffected = j.value("rowsAffected", std::int64_t{0});
  if (auto it = j.find("allOffset"); it != j.end() && it->is_number_integer()) r.allOffset = it->get<std::int64_t>();
  if (auto it = j.find("appliedAllOffset"); it != j.end() && it->is_number_integer())
    r.appliedAllOffset = it->get<std::int64_t>();
  r.resultHash = j.value("resultHash", "");
  if (auto it = j.find("digests"); it != j.end() && it->is_array())
    for (const auto& d : *it)
      if (d.is_string()) r.digests.push_back(d.get<std::string>());
  if (auto it = j.find("drawn"); it != j.end() && it->is_object())
    for (const auto& [name, last] : it->items())
      if (last.is_number_integer()) r.drawn[name] = last.get<std::int64_t>();
  r.errorMessage = j.value("errorMessage", "");
  r.sqlState = j.value("sqlState", "");
  r.hint = j.value("hint", "");
  r.timestamp = j.value("timestamp", std::int64_t{0});
  r.durationMs = j.value("durationMs", std::int64_t{0});
  if (auto it = j.find("trace"); it != j.end() && it->is_object()) {
    r.trace = Trace{it->value("fetchedUs", std::int64_t{0}), it->value("startedUs", std::int64_t{0}),
                    it->value("committedUs", std::int64_t{0}), it->value("producedUs", std::int64_t{0})};
  }
  return r;
}

std::string outcomeHash(const Response& r) {
  std::string material = r.resultCode;
  material += '\n';
  if (r.ok()) {
    material += r.results.is_null() ? r.result.dump() : r.results.dump();
  } else {
    material += r.sqlState;
  }
  return util::sha256Hex(material).substr(0, 32);
}

std::string NodeErrorReport::toJson() const {
  ojson j;
  j["version"] = kMessageVersion;
  j["nodeId"] = nodeId;
  j["code"] = code;
  j["severity"] = severity;
  j["message"] = message;
  if (!requestId.empty()) j["requestId"] = requestId;
  if (!requestTopic.empty()) j["requestTopic"] = requestTopic;
  if (offset) j["offset"] = *offset;
  if (!sqlState.empty()) j["sqlState"] = sqlState;
  j["timestamp"] = timestamp ? timestamp : util::nowMillis();
  return j.dump();
}

} // namespace kluster
