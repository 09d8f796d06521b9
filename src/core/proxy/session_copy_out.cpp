// COPY table [(columns)] TO STDOUT and COPY (query) TO STDOUT through the proxy (docs/proxy.md "COPY"): a read. The
// SELECT it stands for goes where this session's reads go (ONE, with its read-your-writes offset; inside BEGIN ...
// COMMIT, the transaction's speculation), and the rows come back as COPY data: CopyOutResponse, a CopyData per line,
// CopyDone, "COPY n".
#include "core/proxy/copy_out.hpp"
#include "core/proxy/outcome.hpp"
#include "core/proxy/pg_types.hpp"
#include "core/proxy/session.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace kluster::proxy {
namespace {

// The record text a row of CopyWriter::select()'s answer carries (its first column).
std::string recordOf(const ojson& row) {
  if (!row.is_object() || row.empty())
    throw std::runtime_error("a node answered COPY's query with a row of no columns");
  auto text = textValue(row.begin().value());
  if (!text) throw std::runtime_error("a node answered COPY's query with a NULL row");
  return *text;
}

} // namespace

bool Session::copyOut(const sql::Statement& st, Mode mode) {
  auto refuse = [&](std::string sqlState, std::string message, std::string hint = {}) {
    return refuseLocally(errorNotice(std::move(sqlState), std::move(message), std::move(hint)), mode);
  };
  if (!st.copyTo)
    return refuse("42501", "COPY to or from a file or a program would reach the database server's own files",
                  "send the rows through the connection: COPY ... FROM STDIN or TO STDOUT (psql's \\copy does so)");
  const auto& options = *st.copyTo;
  if (mode != Mode::Simple)
    return refuse("0A000", "COPY through the extended query protocol is not supported by the proxy",
                  "send COPY ... TO STDOUT as a simple query (psql's \\copy and psycopg's cursor.copy() do so), or "
                  "read the rows with SELECT");
  if (tx_.active() && transactionBlock(st, mode)) return true; // a failed transaction block: 25P02
  if (options.binary)
    return refuse("0A000", "COPY in binary format is not supported by the proxy",
                  "COPY TO STDOUT in text or CSV format");
  if (!options.unsupported.empty())
    return refuse("0A000", fmt::format("COPY option {} is not supported by the proxy", options.unsupported),
                  "COPY TO STDOUT takes FORMAT text or csv, DELIMITER, NULL, HEADER, QUOTE, ESCAPE, FORCE_QUOTE and "
                  "ENCODING 'UTF8'");
  if (!options.invalid.empty()) return refuse(options.invalidState, options.invalid);
  auto writer = std::make_shared<CopyWriter>(options);
  if (const auto& p = writer->problem()) return refuse(p->sqlState, p->message, p->hint);
  const auto relation = writer->relationQuery();
  if (relation.empty()) return runCopyOut(writer), true;
  // COPY table TO: which columns it copies, and whether the table is one COPY copies from, first.
  readForCopy(relation, [this, writer](const ojson& rows, const ojson&) {
    if (rows.empty()) throw std::runtime_error("a node answered COPY's catalog query with no row");
    writer->setRelation(rows[0]);
    if (const auto& p = writer->problem()) {
      error(errorNotice(p->sqlState, p->message, p->hint));
      tx_.fail();
      return ready();
    }
    runCopyOut(writer);
  });
  return true;
}

void Session::runCopyOut(const std::shared_ptr<CopyWriter>& writer) {
  readForCopy(writer->select(), [this, writer](const ojson& rows, const ojson& columns) {
    sendCopyOut(*writer, rows, columns);
    ready();
  });
}

void Session::readForCopy(const std::string& text, std::function<void(const ojson&, const ojson&)> then) {
  sql::Statement select;
  try {
    select = options_.analyses->get(text)->statements.at(0);
  } catch (const std::exception& e) { // never: the COPY parsed, and what it becomes does
    error(errorNotice("42601", e.what()));
    tx_.fail();
    return ready();
  }
  simpleInFlight_ = true;
  run({std::move(select)}, nlohmann::json::array(), [this, then = std::move(then)](const client::Result& r) {
    simpleInFlight_ = false;
    if (auto n = failure(r, options_.timeoutText)) {
      error(*n);
      tx_.fail();
      return ready();
    }
    const auto& resp = r.responses.front();
    try {
      then(resp.result.is_array() ? resp.result : ojson::array(), resp.columns);
    } catch (const std::exception& e) { // never: a node answers what was asked
      error(errorNotice("XX000", fmt::format("COPY TO STDOUT: {}", e.what())));
      tx_.fail();
      ready();
    }
  });
}

void Session::sendCopyOut(CopyWriter& writer, const ojson& rows, const ojson& columns) {
  if (writer.wantsNames()) {
    std::vector<std::string> names;
    for (std::size_t i = 1; columns.is_array() && i < columns.size(); ++i)
      names.push_back(columns[i].value("name", ""));
    writer.setNames(std::move(names));
    if (const auto& p = writer.problem()) {
      error(errorNotice(p->sqlState, p->message, p->hint));
      return tx_.fail();
    }
  }
  const auto first = rows.empty() ? std::nullopt : std::make_optional(recordOf(rows[0]));
  out_.copyOutResponse(static_cast<std::int16_t>(writer.columns(first)));
  if (auto header = writer.header(); !header.empty()) out_.copyData(header);
  for (const auto& row : rows) out_.copyData(writer.row(recordOf(row)));
  out_.copyDone();
  out_.commandComplete(fmt::format("COPY {}", rows.size()));
}

} // namespace kluster::proxy
