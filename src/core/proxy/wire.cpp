#include "core/proxy/wire.hpp"

#include <fmt/format.h>

#include <cstring>

namespace kluster::proxy::wire {
namespace {

std::int32_t readInt32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::int32_t>((std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) |
                                   (std::uint32_t{u[2]} << 8) | std::uint32_t{u[3]});
}

} // namespace

std::optional<Message> take(std::string& buffer, bool startup, std::size_t maxBytes,
                            std::optional<FramingError>& error) {
  const std::size_t header = startup ? 4 : 5;
  if (buffer.size() < header) return std::nullopt;
  const std::int32_t length = readInt32(buffer.data() + (startup ? 0 : 1));
  // The length counts itself (4 bytes) but not the type byte.
  if (length < 4 || (startup && length < 8)) {
    error = FramingError{"08P01", fmt::format("invalid message length {}", length)};
    return std::nullopt;
  }
  const std::size_t limit = startup ? kMaxStartupBytes : maxBytes;
  if (static_cast<std::size_t>(length) > limit) {
    error = FramingError{startup ? "08P01" : "54000",
                         fmt::format("{} of {} bytes is larger than the proxy accepts ({} bytes)",
                                     startup ? "startup packet" : "message", length, limit)};
    return std::nullopt;
  }
  const std::size_t total = static_cast<std::size_t>(length) + (startup ? 0 : 1);
  if (buffer.size() < total) return std::nullopt;
  Message m;
  m.type = startup ? '\0' : buffer[0];
  m.body.assign(buffer, header, total - header);
  buffer.erase(0, total);
  return m;
}

std::int32_t Reader::int32() {
  if (remaining() < 4) {
    failed_ = true;
    pos_ = data_.size();
    return 0;
  }
  const auto v = readInt32(data_.data() + pos_);
  pos_ += 4;
  return v;
}

std::int16_t Reader::int16() {
  if (remaining() < 2) {
    failed_ = true;
    pos_ = data_.size();
    return 0;
  }
  const auto* u = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
  pos_ += 2;
  return static_cast<std::int16_t>((u[0] << 8) | u[1]);
}

std::uint8_t Reader::byte() {
  if (remaining() < 1) {
    failed_ = true;
    return 0;
  }
  return static_cast<std::uint8_t>(data_[pos_++]);
}

std::string Reader::cstring() {
  const auto nul = data_.find('\0', pos_);
  if (nul == std::string_view::npos) {
    failed_ = true;
    pos_ = data_.size();
    return {};
  }
  std::string s(data_.substr(pos_, nul - pos_));
  pos_ = nul + 1;
  return s;
}

std::string Reader::bytes(std::size_t n) {
  if (remaining() < n) {
    failed_ = true;
    pos_ = data_.size();
    return {};
  }
  std::string s(data_.substr(pos_, n));
  pos_ += n;
  return s;
}

std::optional<Startup> parseStartup(std::string_view body) {
  Reader r(body);
  Startup s;
  s.code = r.int32();
  if (r.failed()) return std::nullopt;
  if (s.code == kSslRequest || s.code == kGssEncRequest) return r.atEnd() ? std::optional(s) : std::nullopt;
  if (s.code == kCancelRequest) {
    s.cancelPid = r.int32();
    s.cancelKey = r.int32();
    if (r.failed() || !r.atEnd()) return std::nullopt;
    return s;
  }
  if (s.code >> 16 != 3) return s; // another protocol version: refused by its number, whatever follows
  // name/value pairs, ended by an empty name
  while (true) {
    auto name = r.cstring();
    if (r.failed()) return std::nullopt;
    if (name.empty()) break;
    auto value = r.cstring();
    if (r.failed()) return std::nullopt;
    s.params[name] = value;
  }
  if (!r.atEnd()) return std::nullopt;
  return s;
}

std::string Writer::take() {
  std::string s;
  s.swap(out_);
  return s;
}

std::size_t Writer::begin(char type) {
  out_.push_back(type);
  const auto start = out_.size();
  out_.append(4, '\0');
  return start;
}

void Writer::end(std::size_t start) {
  const auto len = static_cast<std::uint32_t>(out_.size() - start);
  out_[start] = static_cast<char>(len >> 24);
  out_[start + 1] = static_cast<char>(len >> 16);
  out_[start + 2] = static_cast<char>(len >> 8);
  out_[start + 3] = static_cast<char>(len);
}

void Writer::int32(std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  const char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8),
                     static_cast<char>(u)};
  out_.append(b, 4);
}

void Writer::int16(std::int16_t v) {
  const auto u = static_cast<std::uint16_t>(v);
  out_.push_back(static_cast<char>(u >> 8));
  out_.push_back(static_cast<char>(u));
}

void Writer::cstring(std::string_view s) {
  out_.append(s);
  out_.push_back('\0');
}

void Writer::authenticationOk() {
  const auto m = begin('R');
  int32(0);
  end(m);
}

void Writer::authenticationSasl(const std::vector<std::string>& mechanisms) {
  const auto m = begin('R');
  int32(10);
  for (const auto& mech : mechanisms) cstring(mech);
  out_.push_back('\0');
  end(m);
}

void Writer::authenticationSaslContinue(std::string_view data) {
  const auto m = begin('R');
  int32(11);
  out_.append(data);
  end(m);
}

void Writer::authenticationSaslFinal(std::string_view data) {
  const auto m = begin('R');
  int32(12);
  out_.append(data);
  end(m);
}

void Writer::parameterStatus(std::string_view name, std::string_view value) {
  const auto m = begin('S');
  cstring(name);
  cstring(value);
  end(m);
}

void Writer::backendKeyData(std::int32_t pid, std::int32_t key) {
  const auto m = begin('K');
  int32(pid);
  int32(key);
  end(m);
}

void Writer::readyForQuery(char status) {
  const auto m = begin('Z');
  out_.push_back(status);
  end(m);
}

void Writer::rowDescription(const std::vector<Field>& fields) {
  const auto m = begin('T');
  int16(static_cast<std::int16_t>(fields.size()));
  for (const auto& f : fields) {
    cstring(f.name);
    int32(0); // table oid
    int16(0); // column number
    int32(static_cast<std::int32_t>(f.typeOid));
    int16(f.typeSize);
    int32(-1); // type modifier
    int16(f.format);
  }
  end(m);
}

void Writer::noData() {
  const auto m = begin('n');
  end(m);
}

void Writer::dataRow(const std::vector<std::optional<std::string>>& values) {
  const auto m = begin('D');
  int16(static_cast<std::int16_t>(values.size()));
  for (const auto& v : values) {
    if (!v) {
      int32(-1);
      continue;
    }
    int32(static_cast<std::int32_t>(v->size()));
    out_.append(*v);
  }
  end(m);
}

void Writer::commandComplete(std::string_view tag) {
  const auto m = begin('C');
  cstring(tag);
  end(m);
}

void Writer::emptyQueryResponse() {
  const auto m = begin('I');
  end(m);
}

void Writer::noticeFields(const Notice& n) {
  auto field = [this](char code, std::string_view value) {
    if (value.empty()) return;
    out_.push_back(code);
    cstring(value);
  };
  field('S', n.severity);
  field('V', n.severity); // the non-localized severity
  field('C', n.sqlState.empty() ? "XX000" : n.sqlState);
  field('M', n.message);
  field('D', n.detail);
  field('H', n.hint);
  if (n.position > 0) field('P', std::to_string(n.position));
  out_.push_back('\0');
}

void Writer::error(const Notice& notice) {
  const auto m = begin('E');
  noticeFields(notice);
  end(m);
}

void Writer::notice(const Notice& notice) {
  const auto m = begin('N');
  noticeFields(notice);
  end(m);
}

void Writer::parseComplete() { end(begin('1')); }
void Writer::bindComplete() { end(begin('2')); }
void Writer::closeComplete() { end(begin('3')); }
void Writer::portalSuspended() { end(begin('s')); }

void Writer::parameterDescription(const std::vector<std::uint32_t>& oids) {
  const auto m = begin('t');
  int16(static_cast<std::int16_t>(oids.size()));
  for (auto oid : oids) int32(static_cast<std::int32_t>(oid));
  end(m);
}

void Writer::copyInResponse(std::int16_t columns) { copyResponse('G', columns); }

void Writer::copyOutResponse(std::int16_t columns) { copyResponse('H', columns); }

void Writer::copyResponse(char type, std::int16_t columns) {
  const auto m = begin(type);
  out_.push_back('\0'); // text
  int16(columns);
  for (std::int16_t i = 0; i < columns; ++i) int16(0);
  end(m);
}

void Writer::copyData(std::string_view data) {
  const auto m = begin('d');
  out_.append(data);
  end(m);
}

void Writer::copyDone() { end(begin('c')); }

void Writer::sslAnswer(char answer) { out_.push_back(answer); }

} // namespace kluster::proxy::wire
