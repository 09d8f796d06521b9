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
  if (!writer->error().empty()) return refuse("42P10", writer->error());
  sql::Statement select;
  try {
    select = options_.analyses->get(writer->select())->statements.at(0);
  } catch (const std::exception& e) {
    return refuse("42601", e.what());
  }
  simpleInFlight_ = true;
  run({std::move(select)}, nlohmann::json::array(), [this, writer](const client::Result& r) {
    simpleInFlight_ = false;
    if (auto n = failure(r, options_.timeoutText)) {
      error(*n);
      tx_.fail();
      return ready();
    }
    const auto& resp = r.responses.front();
    sendCopyOut(*writer, resp.result.is_array() ? resp.result : ojson::array(), resp.columns);
    ready();
  });
  return true;
}

void Session::sendCopyOut(CopyWriter& writer, const ojson& rows, const ojson& columns) {
  if (!writer.names()) {
    std::vector<std::string> names;
    for (std::size_t i = 1; columns.is_array() && i < columns.size(); ++i)
      names.push_back(columns[i].value("name", ""));
    writer.setNames(std::move(names));
    if (!writer.error().empty()) {
      error(errorNotice("42P10", writer.error()));
      return tx_.fail();
    }
  }
  std::size_t sent = 0;
  try {
    const auto first = rows.empty() ? std::nullopt : std::make_optional(recordOf(rows[0]));
    out_.copyOutResponse(static_cast<std::int16_t>(writer.columns(first)));
    if (auto header = writer.header(); !header.empty()) out_.copyData(header);
    for (; sent < rows.size(); ++sent) out_.copyData(writer.row(recordOf(rows[sent])));
  } catch (const std::exception& e) { // never: a node answers each row's record
    error(errorNotice("XX000", fmt::format("COPY TO STDOUT: {}", e.what()),
                      fmt::format("{} row(s) were written before it", sent)));
    return tx_.fail();
  }
  out_.copyDone();
  out_.commandComplete(fmt::format("COPY {}", sent));
}

} // namespace kluster::proxy
