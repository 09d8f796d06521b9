// What the operator commands need of a MariaDB database (db::Operations): backup (dump.cpp), restore
// (restore.cpp), verify's SQL (verify.cpp) and `bench apply`'s baseline (here).
#include "core/db/mariadb/operations.hpp"

#include "core/db/mariadb/mariadb.hpp"

#include <fmt/format.h>

#include <chrono>

namespace kluster::db::mariadb {

double MariaDbOperations::timeInserts(const std::string& url, const std::string& table, int rows, int txSize) const {
  Client c(Url::parse(url));
  c.exec(kSessionSettings);
  c.exec(fmt::format("DROP TABLE IF EXISTS `{0}`; CREATE TABLE `{0}` (id CHAR(36) PRIMARY KEY, n INT NOT NULL, "
                     "label TEXT) ENGINE = InnoDB",
                     table));
  const auto start = std::chrono::steady_clock::now();
  for (int done = 0; done < rows;) {
    // One transaction of txSize single-row INSERTs in one round trip, as a node's batch is.
    std::string sql = "START TRANSACTION;";
    for (int k = 0; k < txSize && done < rows; ++k, ++done)
      sql += fmt::format("INSERT INTO `{}` VALUES (UUID(), {}, 'row {}');", table, done, done);
    c.exec(sql + "COMMIT");
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  c.exec(fmt::format("DROP TABLE `{}`", table));
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
