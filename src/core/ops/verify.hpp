#pragma once
// `klusterctl verify`: proves the nodes hold the same data. Every question is an ordinary read-only request
// on ALL, so every node answers it at the same log position: the comparison is exact even while clients
// write. Step 1 lists the user tables (with their primary keys), step 2 checksums each table, and for a
// table that differs, key ranges are checksummed level by level (ntile over the sorted keys) until the
// differing rows themselves can be listed.
#include "core/db/operations.hpp"
#include "core/message.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kluster::client {
class Client;
}

namespace kluster::ops::verify {

using db::KeyColumn;
using db::KeyRange;
using db::TableInfo;

/// Reads step 1's rows; tables without a primary key get the whole-row key.
std::vector<TableInfo> parseCatalog(const ojson& rows);

/// A table's (or key range's) row count and checksum. The checksum is order-independent (sums of the
/// rows' md5), so it needs no sort and constant memory however large the table.
struct Sum {
  std::int64_t rows = 0;
  std::string checksum;
  bool operator==(const Sum& o) const { return rows == o.rows && checksum == o.checksum; }
};

/// Reads boundary rows (k0, k1, ...) into key tuples.
std::vector<std::vector<std::string>> parseKeys(const ojson& rows, std::size_t columns, const char* prefix = "k");
/// The sub-ranges the boundaries cut `range` into: [lo, b1), [b1, b2), ..., [bn-1, hi) (the first boundary
/// is `range`'s own first key, so it is not a cut).
std::vector<KeyRange> split(const KeyRange& range, const std::vector<std::vector<std::string>>& bounds);
/// "id >= '1a' AND id < '3f'" for people; "all rows" for an unbounded range.
std::string describeRange(const TableInfo& table, const KeyRange& range);

/// Which nodes agree. `values` has one entry per node that answered; nodes of `nodes` without an entry
/// share the value "absent" (e.g. all lack a row). The largest group is the reference when it is the
/// only largest one; every node outside it differs. With a tie every node differs.
struct Agreement {
  std::vector<std::string> agreeing;
  std::vector<std::string> differing;
  bool identical() const { return differing.empty(); }
};
Agreement agree(const std::vector<std::string>& nodes, const std::map<std::string, std::string>& values);

/// What the nodes answered to one ALL request.
struct Answers {
  std::int64_t allOffset = -1;
  std::map<std::string, ojson> rows;         ///< node -> result rows (OK responses)
  std::map<std::string, std::string> errors; ///< node -> "CODE: message"
  std::vector<std::string> missing;          ///< live nodes that did not answer in time
};
/// Sends one read-only SQL request to ALL and collects every live node's answer.
using AskFn = std::function<Answers(const std::string& sql)>;

/// An AskFn over the client library: ALL, waiting for every live node up to `timeout` per request.
AskFn clientAsk(client::Client& client, std::chrono::milliseconds timeout);

struct RangeReport {
  int level = 0; ///< 1 for the first split of the table
  KeyRange range;
  std::string where; ///< describeRange()
  std::map<std::string, Sum> nodes;
  std::vector<std::string> differing;
};

struct RowReport {
  std::vector<std::string> key;
  std::map<std::string, std::string> hashes; ///< node -> md5 of the row; a node without an entry lacks the row
  std::vector<std::string> differing;
};

struct TableReport {
  TableInfo table;
  std::string status = "identical"; ///< identical, differs, missing (not on every node), error
  std::map<std::string, Sum> nodes;
  std::map<std::string, std::string> notes; ///< node -> why it differs beyond the checksum
  std::vector<std::string> differing;
  std::vector<RangeReport> ranges; ///< the narrowest differing key ranges found
  std::vector<RowReport> rows;     ///< the differing rows, when the ranges got small enough
  bool identical() const { return status == "identical"; }
};

struct Report {
  std::string cluster;
  std::vector<std::string> nodes;   ///< nodes that answered
  std::vector<std::string> missing; ///< live nodes that did not answer
  std::int64_t allOffset = -1;      ///< ALL offset of the table checksums
  int buckets = 16;
  std::vector<TableReport> tables;
  bool identical() const;
  /// 0 identical, 4 a difference, 3 a node did not answer (and nothing differs).
  int exitCode() const;
  ojson toJson() const;
};

struct Options {
  int buckets = 16;                ///< key ranges per split
  int maxLevels = 6;               ///< splits at most
  int rowListLimit = 50;           ///< list rows once a differing range has at most this many
  int maxRangesPerLevel = 4;       ///< differing ranges followed per table and level
  std::vector<std::string> tables; ///< only these ("schema.table" or "table" for public); empty: all
};

/// Runs the comparison through `ask`, with the SQL of the cluster's DBMS.
Report run(const AskFn& ask, const db::VerifyQueries& queries, const Options& options);

} // namespace kluster::ops::verify
