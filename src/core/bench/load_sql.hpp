#pragma once
// The SQL of `bench load` that differs between the databases a cluster can run on: the setup of its tables and
// the end check. Everything it sends is SQL both PostgreSQL and MariaDB accept where it can be (the statements
// of the workload are the same), and always SQL PostgreSQL's parser reads: a MariaDB cluster's requests are
// still analysed by it (docs/mariadb.md).
#include "core/client/client.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kluster::bench {

enum class Dialect { PostgreSQL, MariaDB };

/// The cluster's database, from a read on ONE (`SELECT version()`: every node of a cluster runs the same DBMS).
Dialect detectDialect(client::Client& c, std::chrono::milliseconds timeout);

/// The requests that create the benchmark's tables `table` (id uuid PRIMARY KEY, client, n) and `table`_hot (id,
/// n) with `hotRows` rows of n = 0, in order, each one request.
std::vector<std::vector<std::string>> setupRequests(Dialect d, const std::string& table, int hotRows);

/// The end check's query (one statement, sent through ALL).
std::string checkQuery(Dialect d, const std::string& table);

/// What a node's answer to checkQuery() must be for the ids applied (sorted) and the hot rows' increments:
/// compares `row` (the first row of the answer; on MariaDB all its rows) with them. `rows` gets the node's
/// row count as it answered.
bool checkAnswer(Dialect d, const ojson& result, const std::vector<std::string>& ids,
                 const std::map<int, std::int64_t>& hotCounts, std::string& rows);

/// The order-independent sum over `ids` of the first 15 hex digits of sha256(id), in decimal (what MariaDB's
/// `sum(cast(conv(substring(sha2(cast(id AS char), 256), 1, 15), 16, 10) AS unsigned))` gives).
std::string idSum(const std::vector<std::string>& ids);
/// That SQL expression for the column `id`.
std::string idSumSql();

} // namespace kluster::bench
