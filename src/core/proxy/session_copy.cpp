// COPY ... FROM STDIN through the proxy (docs/proxy.md "COPY"): the client's rows are parsed as they come and sent
// to ALL as multi-row INSERTs of bounded size, one at a time and in order, each applied exactly once like any
// request. While one is in flight the session reads no more of the client's data (TCP holds it back).
#include "core/proxy/outcome.hpp"
#include "core/proxy/session.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kluster::proxy {
namespace {

constexpr std::size_t kChunkBytes = 256u << 10; // well under node.max_request_bytes with the JSON around it
constexpr std::size_t kChunkRows = 1000;

// Rows per INSERT: at most kChunkRows, and no more parameters than PostgreSQL takes in one statement.
std::size_t rowsPerChunk(const std::vector<CopyParser::Row>& rows) {
  const std::size_t columns = rows.empty() ? 1 : std::max<std::size_t>(rows.front().size(), 1);
  return std::max<std::size_t>(1, std::min(kChunkRows, kMaxParams / columns));
}

} // namespace

void Session::startCopy(const sql::Statement::CopyFrom& options) {
  copy_ = std::make_unique<CopyIn>(CopyIn{options, CopyParser(options), 0, tx_.active()});
  out_.copyInResponse(static_cast<std::int16_t>(options.columns.size()));
  flush_ = true;
}

void Session::copyMessage(wire::Message& m) {
  switch (m.type) {
  case 'd': // CopyData
    try {
      copy_->parser.feed(m.body);
    } catch (const CopyError& e) {
      return endCopy(errorNotice("22P04", e.what()));
    }
    if (copy_->parser.rows().size() >= rowsPerChunk(copy_->parser.rows()) || copy_->parser.bytes() >= kChunkBytes)
      sendCopyRows(false);
    return;
  case 'c': // CopyDone
    try {
      copy_->parser.finish();
    } catch (const CopyError& e) {
      return endCopy(errorNotice("22P04", e.what()));
    }
    return sendCopyRows(true);
  case 'f': { // CopyFail
    wire::Reader r(m.body);
    return endCopy(errorNotice("57014", fmt::format("COPY from stdin failed: {}", r.cstring()),
                               copy_->inTransaction ? "" : "the rows sent before it stay applied"));
  }
  case 'H': // Flush and Sync are ignored during COPY, as PostgreSQL does
  case 'S': return;
  default:
    return endCopy(errorNotice("08P01", fmt::format("unexpected message type 0x{:02x} during COPY from stdin",
                                                    static_cast<unsigned>(static_cast<unsigned char>(m.type)))));
  }
}

void Session::sendCopyRows(bool last) {
  auto& parser = copy_->parser;
  if (parser.rows().empty()) {
    if (last) endCopy(std::nullopt);
    return;
  }
  const auto rows = parser.take(rowsPerChunk(parser.rows()));
  Request req;
  req.statements.push_back(copyInsert(copy_->options, rows, req.params));
  if (copy_->inTransaction) { // staged on every node for the commit
    req = tx_.stage(req.statements.front(), req.params);
  }
  simpleInFlight_ = true;
  send(std::move(req), client::Target::All, [this, last, count = rows.size()](const client::Result& r) {
    simpleInFlight_ = false;
    if (!copy_) return;
    if (auto n = failure(r, options_.timeoutText)) {
      n->hint = copy_->inTransaction
                    ? std::string()
                    : fmt::format("{} row(s) sent before this part of the data stay applied", copy_->rows);
      return endCopy(*n);
    }
    if (copy_->inTransaction) {
      tx_.staged();
      copy_->rows += static_cast<std::int64_t>(count);
    } else {
      copy_->rows += r.responses.front().rowsAffected;
    }
    const auto& pending = copy_->parser.rows();
    if (!pending.empty() && (last || pending.size() >= rowsPerChunk(pending) || copy_->parser.bytes() >= kChunkBytes))
      return sendCopyRows(last);
    if (last) endCopy(std::nullopt);
  });
}

void Session::endCopy(std::optional<wire::Writer::Notice> n) {
  const auto rows = copy_ ? copy_->rows : 0;
  copy_.reset();
  if (n) {
    error(*n);
    tx_.fail(); // in a transaction: it only waits for ROLLBACK, as PostgreSQL's would
  } else {
    out_.commandComplete(fmt::format("COPY {}", rows));
  }
  ready();
}

} // namespace kluster::proxy
