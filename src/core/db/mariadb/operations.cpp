// What the operator commands need of a MariaDB database (db::Operations): backup (dump.cpp), restore
// (restore.cpp), verify's SQL (verify.cpp) and `bench apply`'s baseline (here).
#include "core/db/mariadb/operations.hpp"

#include "core/db/mariadb/mariadb.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

namespace kluster::db::mariadb {

double MariaDbOperations::timeInserts(const std::string& url, const std::string& table, int rows, int txSize) const {
  Client c(Url::parse(url));
  c.exec(kSessionSettings);
  // The table and the rows `bench apply` sends through the cluster (a type both dialects accept: MariaDB has
  // had UUID since 10.7), the keys drawn by the client beforehand as the bench's requests carry theirs.
  c.exec(fmt::format("DROP TABLE IF EXISTS {0}; CREATE TABLE {0} (id uuid PRIMARY KEY, n integer NOT NULL, "
                     "note text NOT NULL) ENGINE = InnoDB",
                     table));
  std::vector<std::string> ids;
  for (int i = 0; i < rows; ++i) ids.push_back(util::uuid4());
  const auto start = std::chrono::steady_clock::now();
  for (int done = 0; done < rows;) {
    // One transaction of txSize single-row INSERTs in one round trip, as a node's batch is.
    std::string sql = "START TRANSACTION;";
    for (int k = 0; k < txSize && done < rows; ++k, ++done)
      sql += fmt::format("INSERT INTO {} (id, n, note) VALUES ('{}', {}, 'row {}');", table,
                         ids[static_cast<std::size_t>(done)], done, done);
    c.exec(sql + "COMMIT");
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  c.exec(fmt::format("DROP TABLE {}", table));
  return took.count();
}

std::string MariaDbOperations::flushBuffers(const std::string&) const {
  return "MariaDB's buffer pool is not flushed on demand by Kluster";
}

const Operations& MariaDbAdapter::operations() const {
  static const MariaDbOperations instance;
  return instance;
}

} // namespace kluster::db::mariadb
