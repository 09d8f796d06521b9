// The PostgreSQL scanner (pg_query_scan) and a minimal reader of its protobuf output.
#include "core/sql/current_time.hpp"

#include <pg_query.h>

#include <cstdint>
#include <stdexcept>

namespace kluster::sql::detail {

namespace {

// Minimal protobuf reader for PgQuery__ScanResult (so that protobuf-c headers are not needed):
//   ScanResult { int32 version = 1; repeated ScanToken tokens = 2; }
//   ScanToken  { int32 start = 1; int32 end = 2; Token token = 4; KeywordKind keyword_kind = 5; }
class ProtoReader {
public:
  ProtoReader(const unsigned char* p, std::size_t n) : p_(p), end_(p + n) {}
  [[nodiscard]] bool atEnd() const { return p_ >= end_; }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) throw std::runtime_error("kluster::sql: truncated scanner output");
      const unsigned char b = *p_++;
      v |= std::uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    throw std::runtime_error("kluster::sql: malformed scanner output");
  }

  ProtoReader sub() {
    const std::uint64_t len = varint();
    if (len > static_cast<std::uint64_t>(end_ - p_)) throw std::runtime_error("kluster::sql: truncated scanner output");
    ProtoReader r(p_, len);
    p_ += len;
    return r;
  }

  void skip(unsigned wireType) {
    switch (wireType) {
    case 0: varint(); return;
    case 1: advance(8); return;
    case 2: sub(); return;
    case 5: advance(4); return;
    default: throw std::runtime_error("kluster::sql: malformed scanner output");
    }
  }

private:
  void advance(std::size_t n) {
    if (n > static_cast<std::size_t>(end_ - p_)) throw std::runtime_error("kluster::sql: truncated scanner output");
    p_ += n;
  }
  const unsigned char* p_;
  const unsigned char* end_;
};

} // namespace

std::vector<Token> scanTokens(const std::string& sqlz) {
  PgQueryScanResult result = pg_query_scan(sqlz.c_str());
  struct Free {
    PgQueryScanResult& r;
    ~Free() { pg_query_free_scan_result(r); }
  } freeResult{result};
  if (result.error != nullptr) {
    throw SyntaxError(
        {result.error->message != nullptr ? result.error->message : "syntax error", result.error->cursorpos});
  }
  std::vector<Token> tokens;
  ProtoReader reader(reinterpret_cast<const unsigned char*>(result.pbuf.data), result.pbuf.len);
  while (!reader.atEnd()) {
    const std::uint64_t key = reader.varint();
    if ((key >> 3) != 2 || (key & 7) != 2) {
      reader.skip(static_cast<unsigned>(key & 7));
      continue;
    }
    ProtoReader tr = reader.sub();
    Token token;
    while (!tr.atEnd()) {
      const std::uint64_t tkey = tr.varint();
      const auto fieldNo = tkey >> 3;
      if ((tkey & 7) != 0) {
        tr.skip(static_cast<unsigned>(tkey & 7));
        continue;
      }
      const auto value = static_cast<int>(static_cast<std::int32_t>(tr.varint()));
      if (fieldNo == 1)
        token.start = value;
      else if (fieldNo == 2)
        token.end = value;
      else if (fieldNo == 4)
        token.kind = value;
    }
    tokens.push_back(token);
  }
  return tokens;
}

} // namespace kluster::sql::detail
