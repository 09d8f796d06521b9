// Determinism on MariaDB (issue 25's hazard list): a 3-node cluster where node 2's server runs with other defaults
// for every session setting Kluster pins (scripts/mariadb.sh --different: time zone, sql_mode, lc_messages,
// sql_select_limit, auto_increment_increment, default_regex_flags...) and node 3 reads its rows in another physical
// order (descending indexes added by hand). Each hazardous write is refused by every node with the same code, or
// applied with the same answer everywhere; at the end every table is identical on every node.
#include "support/cluster.hpp"
#include "support/helpers.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

using namespace kluster;
using namespace kluster::test;
using nlohmann::json;

namespace {

struct Hazard {
  std::string sql;
  std::string code; ///< every node's resultCode
};

// What the nodes answered, as one string per node ("CODE" or "CODE: message").
std::vector<std::string> answers(const json& responses) {
  std::vector<std::string> out;
  for (const auto& r : responses)
    out.push_back(r.value("resultCode", "") + (r.contains("errorMessage") && r["errorMessage"].is_string()
                                                   ? ": " + r["errorMessage"].get<std::string>()
                                                   : ""));
  return out;
}

} // namespace

TEST_CASE("MariaDB hazards: refused alike or applied alike, with other server defaults and row orders",
          "[mariadb][determinism]") {
  ClusterOptions options;
  options.database = "mariadb";
  TestCluster cluster(options);
  REQUIRE(Services::get().mariadbUrls.size() >= 2); // node 2 on the server with other defaults
  auto all = [&](const std::string& sql) {
    auto r = cluster.exec({"--to", "ALL", "--wait", "all", "-o", "json", "--timeout", "30s", sql});
    INFO(sql << "\n" << r.out << r.err);
    REQUIRE_FALSE(r.out.empty());
    return parseJson(r.out);
  };
  for (const char* ddl :
       {"CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL, label VARCHAR(40) NOT NULL, r DOUBLE NULL)",
        "CREATE TABLE seq (id INT AUTO_INCREMENT PRIMARY KEY, src INT NOT NULL, note VARCHAR(64) NULL)",
        "CREATE TABLE sink (k VARCHAR(40) PRIMARY KEY, val TEXT NULL)"})
    for (const auto& r : all(ddl)) REQUIRE(r["resultCode"] == "OK");
  for (const auto& r : all("INSERT INTO items VALUES (1, 10, 'label-one', NULL), (2, 10, 'label-two', NULL), "
                           "(3, 20, 'label-three', NULL), (4, 20, 'label-four', NULL), (5, 30, 'label-five', NULL), "
                           "(6, 30, 'label-six', NULL), (7, 40, 'label-seven', NULL), (8, 40, 'label-eight', NULL)"))
    REQUIRE(r["resultCode"] == "OK");
  // Node 3 reads its rows in another order: scans without ORDER BY may take these indexes.
  cluster.query(3, "CREATE INDEX v_desc ON items (v DESC, id DESC)");
  cluster.query(3, "CREATE INDEX src_desc ON seq (src DESC, id DESC)");

  const std::string refused = "NONDETERMINISTIC";
  const std::vector<Hazard> hazards = {
      // Sources other than the log: refused.
      {"INSERT INTO sink VALUES ('uuid', UUID())", refused},
      {"INSERT INTO sink VALUES ('uuid_short', UUID_SHORT())", refused},
      {"INSERT INTO sink VALUES ('sysdate', SYSDATE())", refused},
      {"INSERT INTO sink VALUES ('conn', CONNECTION_ID())", refused},
      {"INSERT INTO sink VALUES ('user', CURRENT_USER())", refused},
      {"INSERT INTO sink VALUES ('user2', CURRENT_USER)", refused},
      {"INSERT INTO sink VALUES ('db', DATABASE())", refused},
      {"INSERT INTO sink VALUES ('version', VERSION())", refused},
      {"INSERT INTO sink VALUES ('found', FOUND_ROWS())", refused},
      {"INSERT INTO sink VALUES ('lid', LAST_INSERT_ID())", refused},
      {"INSERT INTO sink VALUES ('bytes', HEX(RANDOM_BYTES(4)))", refused},
      {"INSERT INTO sink VALUES ('sleep', SLEEP(0))", refused},
      {"INSERT INTO sink VALUES ('host', @@hostname)", refused},
      {"INSERT INTO sink VALUES ('opt', @@optimizer_switch)", refused},
      {"INSERT INTO sink SELECT 'users', COUNT(*) FROM mysql.user", refused},
      // Session state: user variables and settings.
      {"SET @x = 5", refused},
      {"INSERT INTO sink VALUES ('var', @x)", refused},
      {"SET sql_mode = ''", refused},
      {"SET STATEMENT sql_mode = '' FOR INSERT INTO sink VALUES ('ss', 'x')", refused},
      {"CREATE TEMPORARY TABLE tmp (id INT)", refused},
      {"USE mysql", refused},
      // Row order: LIMIT without a total ORDER BY, order-sensitive aggregates, AUTO_INCREMENT drawn in row order.
      {"UPDATE items SET label = 'first' LIMIT 1", refused},
      {"DELETE FROM items WHERE v = 10 LIMIT 1", refused},
      {"UPDATE items SET label = 'by v' ORDER BY v LIMIT 1", refused},
      {"INSERT INTO sink (k, val) SELECT 'lim', label FROM items LIMIT 1", refused},
      {"INSERT INTO seq (src) SELECT id FROM items", refused},
      {"INSERT INTO sink SELECT 'gc', GROUP_CONCAT(label) FROM items", refused},
      {"INSERT INTO sink SELECT 'ja', JSON_ARRAYAGG(label) FROM items", refused},
      {"INSERT INTO sink SELECT CONCAT('rn', ROW_NUMBER() OVER ()), label FROM items", refused},
      {"INSERT IGNORE INTO sink SELECT 'dup', label FROM items", refused},
      {"REPLACE INTO sink SELECT 'rep', label FROM items", refused},
      {"CREATE TABLE copy1 (n INT AUTO_INCREMENT PRIMARY KEY, id INT) SELECT id FROM items", refused},
      {"UPDATE items SET r = RAND()", refused},
      {"UPDATE items SET id = id + 10", refused},
      {"UPDATE items JOIN seq ON seq.src = items.id SET items.label = seq.note", refused},
      // Code and engines that escape the log.
      {"CREATE TRIGGER trg BEFORE INSERT ON sink FOR EACH ROW SET NEW.val = UUID()", refused},
      {"CREATE EVENT ev ON SCHEDULE EVERY 1 HOUR DO DELETE FROM sink", refused},
      {"CREATE TABLE mem (id INT PRIMARY KEY) ENGINE = MEMORY", refused},
      {"CREATE TABLE hist (id INT PRIMARY KEY) WITH SYSTEM VERSIONING", refused},
      {"SELECT * FROM items INTO OUTFILE '/tmp/kluster-hazard'", "FORBIDDEN"},
      {"LOAD DATA INFILE '/etc/hostname' INTO TABLE sink", "FORBIDDEN"},
      // Deterministic through the pins: node 2's server defaults differ in each of these.
      {"INSERT INTO sink VALUES ('now', NOW(6))", "OK"},
      {"INSERT INTO sink VALUES ('utc', CONCAT(UTC_TIMESTAMP(6), ' ', UNIX_TIMESTAMP(), ' ', CURDATE()))", "OK"},
      {"INSERT INTO sink VALUES ('div', CONCAT(1 / 3))", "OK"},
      {"INSERT INTO sink SELECT 'gco', GROUP_CONCAT(label ORDER BY id) FROM items", "OK"},
      {"INSERT INTO sink VALUES ('week', WEEK('2026-01-04'))", "OK"},
      {"INSERT INTO sink VALUES ('month', DATE_FORMAT('2026-03-01', '%M %W'))", "OK"},
      {"INSERT INTO sink VALUES ('rand', CONCAT(RAND(), ' ', RAND()))", "OK"},
      {"INSERT INTO sink VALUES ('regex', 'a\\nb' REGEXP 'a.b')", "OK"},
      {"INSERT INTO sink VALUES ('cmp', 'a' = 'A')", "OK"},
      {"INSERT INTO sink SELECT 'cte', MAX(n) FROM (WITH RECURSIVE c (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c "
       "WHERE n < 10) SELECT n FROM c) x",
       "OK"},
      {"INSERT INTO seq (src) VALUES (1), (2), (3)", "OK"},
      {"INSERT INTO seq (src) SELECT id FROM items ORDER BY id", "OK"},
      {"UPDATE items SET label = 'ordered' ORDER BY id LIMIT 2", "OK"},
      {"UPDATE items SET v = v + 1 WHERE id = 3", "OK"},
      {"INSERT INTO sink VALUES ('now', 'again') ON DUPLICATE KEY UPDATE val = CONCAT(val, '+')", "OK"},
      {"INSERT INTO sink SELECT 'gc-grouped', GROUP_CONCAT(label) FROM items GROUP BY id HAVING id = 5", "OK"},
      // Errors alike: strict mode and the messages' language are pinned.
      {"INSERT INTO sink VALUES ('this key is far longer than the forty characters of k', 'x')", "DATA_EXCEPTION"},
      {"INSERT INTO items VALUES (1, 1, 'duplicate', NULL)", "CONSTRAINT_VIOLATION"},
  };
  int refusedCount = 0;
  for (const auto& h : hazards) {
    const auto responses = all(h.sql);
    const auto said = answers(responses);
    INFO(h.sql << "\n" << responses.dump(2));
    REQUIRE(said.size() == 3);
    CHECK(said[1] == said[0]); // node 2, other server defaults
    CHECK(said[2] == said[0]); // node 3, other row order
    for (const auto& r : responses) CHECK(r["resultCode"] == h.code);
    if (h.code == refused) ++refusedCount;
    if (h.code == "OK") {
      CHECK(responses[1]["result"] == responses[0]["result"]);
      CHECK(responses[2]["result"] == responses[0]["result"]);
    }
  }
  CHECK(hazards.size() >= 30);
  CHECK(refusedCount >= 30);

  // A read on every node: the pinned sql_select_limit gives all rows on node 2 too.
  const auto read = all("SELECT id, label FROM items ORDER BY id");
  for (const auto& r : read) CHECK(r["result"].size() == 8);
  for (const char* table : {"items", "seq", "sink"}) {
    const auto sql = fmt::format("SELECT * FROM {} ORDER BY 1", table);
    const auto reference = cluster.query(1, sql);
    INFO(table);
    CHECK_FALSE(reference.empty());
    CHECK(cluster.query(2, sql) == reference);
    CHECK(cluster.query(3, sql) == reference);
  }
  // The pins did their work on node 2: 4 decimals, English names, concatenation past its 16 characters, one by one.
  CHECK(cluster.scalar(2, "SELECT val FROM sink WHERE k = 'div'") == "0.3333");
  CHECK(cluster.scalar(2, "SELECT val FROM sink WHERE k = 'month'") == "March Sunday");
  CHECK(cluster.scalar(2, "SELECT val FROM sink WHERE k = 'gco'").size() > 16);
  CHECK(cluster.scalar(2, "SELECT GROUP_CONCAT(id ORDER BY id) FROM seq WHERE src <= 3 AND id <= 3") == "1,2,3");
}
