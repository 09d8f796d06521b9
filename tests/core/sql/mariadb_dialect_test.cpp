// MariaDB's dialect of the analysis (src/core/sql/mariadb): how it splits, classifies and judges requests.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/sql/determinism.hpp"
#include "core/sql/dialect.hpp"
#include "core/sql/mariadb/analyzer.hpp"

using kluster::sql::Analysis;
using kluster::sql::orderIsTotal;
using kluster::sql::SyntaxError;
using kluster::sql::TableRef;
using kluster::sql::mariadb::analyze;

namespace {

std::vector<std::vector<std::string>> keysOf(const TableRef& t) {
  if (t.name == "t" || t.name == "s") return {{"id"}};
  return {};
}

// Whether every row order the request's writes depend on is total, given t(id) and s(id) and tables without
// AUTO_INCREMENT (an INSERT ... SELECT's order matters to them only).
bool ordered(const std::string& sql) {
  const Analysis a = analyze(sql);
  return std::all_of(a.orderRequirements.begin(), a.orderRequirements.end(),
                     [](const auto& r) { return r.onlyIfDrawnDefaults || orderIsTotal(r, keysOf); });
}

bool calls(const Analysis& a, const std::string& f) {
  return std::find(a.functions.begin(), a.functions.end(), f) != a.functions.end();
}

std::vector<std::string> kinds(const Analysis& a) {
  std::vector<std::string> out;
  for (const auto& s : a.statements) out.push_back(s.kind);
  return out;
}

} // namespace

TEST_CASE("MariaDB: statements are split where MariaDB splits them", "[mariadb]") {
  auto a = analyze("INSERT INTO t VALUES (1, 'a;b', \"c;d\", `e;f`); # a ; comment\n-- another ;\n/* ; */ SELECT 2");
  REQUIRE(kinds(a) == std::vector<std::string>{"InsertStmt", "SelectStmt"});
  CHECK(a.statements[0].sql == "INSERT INTO t VALUES (1, 'a;b', \"c;d\", `e;f`)");
  CHECK_FALSE(a.readOnly);
  CHECK(analyze("  ;; ").statements.empty());
  CHECK(analyze("SELECT 'it''s', 'a\\'b'; SELECT 3").statements.size() == 2);

  // A stored program's body is one statement, whatever ';' it holds.
  a = analyze("CREATE PROCEDURE p(IN n INT) BEGIN DECLARE i INT DEFAULT 0; WHILE i < n DO "
              "IF (i > 2) THEN SET i = i + IF(i > 5, 2, 1); ELSE SET i = i + 1; END IF; END WHILE; "
              "CASE WHEN i > 1 THEN SELECT 1; END CASE; END; SELECT 1");
  REQUIRE(kinds(a) == std::vector<std::string>{"CreateFunctionStmt", "SelectStmt"});
  a = analyze("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.v = REPEAT('x', 2); INSERT INTO t VALUES (1)");
  CHECK(kinds(a) == std::vector<std::string>{"CreateTrigStmt", "InsertStmt"});
  CHECK_THROWS_AS(analyze("CREATE PROCEDURE p() BEGIN SELECT 1;"), SyntaxError);
  CHECK_THROWS_AS(analyze("SELECT 'unterminated"), SyntaxError);
  CHECK_THROWS_AS(analyze("SELECT (1"), SyntaxError);
  CHECK_THROWS_AS(analyze("SELECT 1 /* open"), SyntaxError);
}

TEST_CASE("MariaDB: reads are told from writes", "[mariadb]") {
  for (const char* read : {"SELECT * FROM t", "(SELECT 1) UNION (SELECT 2)", "SHOW TABLES", "DESCRIBE t",
                           "EXPLAIN UPDATE t SET v = 1", "WITH c AS (SELECT 1) SELECT * FROM c", "VALUES (1), (2)",
                           "SELECT `select` FROM `t` WHERE v = $1", "CHECKSUM TABLE t"}) {
    INFO(read);
    CHECK(analyze(read).readOnly);
  }
  for (const char* write :
       {"SELECT * FROM t FOR UPDATE", "SELECT * FROM t LOCK IN SHARE MODE", "INSERT INTO t VALUES (1)",
        "REPLACE INTO t VALUES (1)", "DELETE FROM t", "UPDATE t SET v = 1", "CREATE TABLE x (id INT)", "DO 1",
        "CALL p()", "SELECT 1; DELETE FROM t"}) {
    INFO(write);
    CHECK_FALSE(analyze(write).readOnly);
  }
  CHECK(analyze("SELECT * FROM t FOR UPDATE").locks);
  const auto& d = kluster::sql::dialect("mariadb");
  CHECK(d.isReadOnly("SELECT 1"));
  CHECK_FALSE(d.isReadOnly("SELECT 'broken"));
  CHECK(d.pinCurrentTime("INSERT INTO t VALUES (NOW())", 0) == "INSERT INTO t VALUES (NOW())");
  CHECK(&kluster::sql::dialect("postgresql") == &kluster::sql::postgresDialect());
}

TEST_CASE("MariaDB: functions called, parameters used", "[mariadb]") {
  auto a = analyze("INSERT INTO t (id, v) VALUES (UUID(), db1.f($1)), (RAND(), $3)");
  CHECK(calls(a, "uuid"));
  CHECK(calls(a, "f"));
  CHECK(calls(a, "rand"));
  CHECK_FALSE(calls(a, "t"));
  REQUIRE(a.statements.size() == 1);
  CHECK(a.statements[0].maxParam == 3);
  CHECK(a.statements[0].usedParams == std::vector<bool>{true, false, true});
  CHECK(analyze("SELECT '$1', `$2`, $1abc").statements[0].maxParam == 0);
  a = analyze("CREATE TABLE IF NOT EXISTS t (id CHAR(36) PRIMARY KEY, KEY k (id), v INT DEFAULT (SYS_GUID()))");
  CHECK_FALSE(calls(a, "t"));
  CHECK_FALSE(calls(a, "k"));
  CHECK(calls(a, "sys_guid"));
  CHECK(calls(analyze("INSERT INTO t VALUES (CURRENT_USER)"), "current_user"));
  CHECK(calls(analyze("INSERT INTO t VALUES (NEXT VALUE FOR s)"), "nextval"));
  CHECK(calls(analyze("CALL proc"), "proc"));
  CHECK(calls(analyze("INSERT INTO t VALUES (1) /*! , (SYSDATE()) */"), "sysdate"));
  CHECK(calls(analyze("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.id = UUID()"), "uuid"));
}

TEST_CASE("MariaDB: what is refused from syntax", "[mariadb]") {
  auto refusal = [](const char* sql) {
    const Analysis a = analyze(sql);
    if (a.serverAccess) return std::string("server");
    if (a.unsupported) return std::string("unsupported");
    if (a.transactionControl) return std::string("transaction");
    if (a.nonTransactional) return std::string("nontransactional");
    if (a.sessionState) return std::string("session");
    if (a.nondeterministic) return std::string("nondeterministic");
    return std::string();
  };
  CHECK(refusal("INSERT INTO t VALUES (@x)") == "session");
  CHECK(refusal("SELECT @x := 1") == "session");
  CHECK(refusal("SELECT v INTO @x FROM t") == "session");
  CHECK(refusal("SET @x = 1") == "session");
  CHECK(refusal("SET sql_mode = ''") == "session");
  CHECK(refusal("SET NAMES latin1") == "session");
  CHECK(refusal("/*!40101 SET NAMES utf8 */") == "session");
  CHECK(refusal("USE other") == "session");
  CHECK(refusal("CREATE TEMPORARY TABLE x (id INT)") == "session");
  CHECK(refusal("PREPARE s FROM 'SELECT 1'") == "session");
  CHECK(refusal("SET STATEMENT max_statement_time = 1 FOR UPDATE t SET v = 1") == "nondeterministic");
  CHECK(refusal("SET GLOBAL max_connections = 10") == "server");
  CHECK(refusal("SET @@global.max_connections = 10") == "server");
  CHECK(refusal("LOAD DATA INFILE '/etc/passwd' INTO TABLE t") == "server");
  CHECK(refusal("SELECT * FROM t INTO OUTFILE '/tmp/x'") == "server");
  CHECK(refusal("GRANT ALL ON *.* TO x") == "server");
  CHECK(refusal("CREATE DATABASE other") == "server");
  CHECK(refusal("CREATE FUNCTION f RETURNS INTEGER SONAME 'udf.so'") == "server");
  CHECK(refusal("BEGIN") == "transaction");
  CHECK(refusal("START TRANSACTION READ ONLY") == "transaction");
  CHECK(refusal("SET autocommit = 0") == "transaction");
  CHECK(refusal("LOCK TABLES t WRITE") == "transaction");
  CHECK(refusal("XA START 'x'") == "transaction");
  CHECK(refusal("OPTIMIZE TABLE t") == "nontransactional");
  CHECK(refusal("ANALYZE TABLE t") == "nontransactional");
  CHECK(refusal("FROBNICATE t") == "unsupported");
  CHECK(refusal("CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO DELETE FROM t") == "nondeterministic");
  CHECK(refusal("CREATE TABLE x (id INT) ENGINE = MyISAM") == "nondeterministic");
  CHECK(refusal("CREATE TABLE x (id INT) /*!50100 ENGINE=MEMORY */") == "nondeterministic");
  CHECK(refusal("CREATE TABLE x (id INT) ENGINE = InnoDB") == "");
  CHECK(refusal("INSERT INTO other.t VALUES (1)") == "nondeterministic");
  CHECK(refusal("INSERT INTO t SELECT user FROM mysql.user") == "nondeterministic");
  CHECK(refusal("INSERT INTO t VALUES (@@hostname)") == "nondeterministic");
  CHECK(refusal("INSERT INTO t VALUES (@@sql_mode)") == "");
  CHECK(refusal("SELECT @@hostname") == "");
  CHECK(refusal("UPDATE t JOIN s ON s.id = t.sid SET t.v = s.v") == "nondeterministic");
  CHECK(refusal("UPDATE t, s SET t.v = s.v WHERE s.id = t.sid") == "nondeterministic");
  CHECK(refusal("UPDATE t SET v = RAND()") == "nondeterministic");
  CHECK(refusal("INSERT INTO t SELECT RAND() FROM s") == "nondeterministic");
  CHECK(refusal("INSERT INTO t VALUES (RAND())") == "");
  CHECK(refusal("SELECT t.v FROM t WHERE t.id = 1") == "");
  CHECK(refusal("UPDATE t SET t.v = 2 WHERE t.id = 1") == "");
}

TEST_CASE("MariaDB: the row orders writes depend on", "[mariadb]") {
  CHECK(ordered("DELETE FROM t ORDER BY id LIMIT 1"));
  CHECK_FALSE(ordered("DELETE FROM t LIMIT 1"));
  CHECK_FALSE(ordered("DELETE FROM t ORDER BY v LIMIT 1"));
  CHECK(ordered("UPDATE t SET v = 1 ORDER BY id DESC LIMIT 2"));
  CHECK_FALSE(ordered("UPDATE t SET v = 1 LIMIT 2"));
  CHECK_FALSE(ordered("UPDATE t SET v = (SELECT v FROM s LIMIT 1) WHERE id = 1"));
  CHECK(ordered("UPDATE t SET v = (SELECT v FROM s ORDER BY s.id LIMIT 1) WHERE id = 1"));
  CHECK_FALSE(ordered("INSERT INTO t (v) SELECT v FROM (SELECT v FROM s ORDER BY id) x LIMIT 1"));
  CHECK_FALSE(ordered("INSERT INTO t (v) SELECT v FROM s UNION SELECT v FROM n ORDER BY v LIMIT 1"));
  CHECK(ordered("SELECT v FROM t LIMIT 1")); // a read: its order is not judged
  CHECK_FALSE(ordered("INSERT INTO t (v) SELECT GROUP_CONCAT(v) FROM s"));
  CHECK(ordered("INSERT INTO t (v) SELECT GROUP_CONCAT(v ORDER BY id SEPARATOR ',') FROM s"));
  CHECK(ordered("INSERT INTO t (v) SELECT GROUP_CONCAT(v) FROM s GROUP BY id"));
  CHECK_FALSE(ordered("INSERT INTO t (v) SELECT ROW_NUMBER() OVER () FROM s"));
  CHECK(ordered("INSERT INTO t (v) SELECT ROW_NUMBER() OVER (ORDER BY id) FROM s"));
  CHECK_FALSE(ordered("INSERT INTO t (v) SELECT CONCAT('n', ROW_NUMBER() OVER ()) FROM s"));
  CHECK_FALSE(ordered("INSERT INTO t (v) SELECT CONCAT(GROUP_CONCAT(v), 'x') FROM s"));
  CHECK(ordered("INSERT INTO t (v) SELECT CONCAT(GROUP_CONCAT(v ORDER BY s.id), 'x') FROM s"));
  CHECK_FALSE(ordered("UPDATE t SET v = (SELECT COALESCE(MAX(v), (SELECT v FROM s LIMIT 1)) FROM s) WHERE id = 1"));
  CHECK(ordered("INSERT INTO t (v) SELECT SUM(v) OVER (PARTITION BY v) FROM s"));
  CHECK_FALSE(ordered("INSERT INTO t (v) SELECT SUM(v) OVER (ORDER BY v ROWS 1 PRECEDING) FROM s"));
  CHECK_FALSE(ordered("CREATE TABLE x (id INT AUTO_INCREMENT PRIMARY KEY, v INT) SELECT v FROM s"));
  CHECK(ordered("CREATE TABLE x AS SELECT v FROM s"));

  // INSERT ... SELECT: the order matters when the target draws values per row, or keeps one of colliding rows.
  auto a = analyze("INSERT INTO t (v) SELECT v FROM s");
  REQUIRE(a.orderRequirements.size() == 1);
  REQUIRE(a.orderRequirements[0].onlyIfDrawnDefaults);
  CHECK(a.orderRequirements[0].onlyIfDrawnDefaults->target.name == "t");
  CHECK(a.orderRequirements[0].onlyIfDrawnDefaults->given == std::vector<std::string>{"v"});
  CHECK(a.scansRows);
  for (const char* sql : {"INSERT IGNORE INTO t SELECT * FROM s", "REPLACE INTO t SELECT * FROM s",
                          "INSERT INTO t SELECT * FROM s ON DUPLICATE KEY UPDATE v = VALUES(v)"}) {
    INFO(sql);
    a = analyze(sql);
    REQUIRE(a.orderRequirements.size() == 1);
    CHECK_FALSE(a.orderRequirements[0].onlyIfDrawnDefaults);
    CHECK_FALSE(orderIsTotal(a.orderRequirements[0], keysOf));
  }
  CHECK(ordered("INSERT IGNORE INTO t SELECT * FROM s ORDER BY id"));
  CHECK(analyze("INSERT INTO t VALUES (1), (2) ON DUPLICATE KEY UPDATE v = v + 1").orderRequirements.empty());
  CHECK_FALSE(analyze("INSERT INTO t VALUES (1)").scansRows);
}

TEST_CASE("MariaDB: the unique keys an UPDATE changes", "[mariadb]") {
  auto a = analyze("UPDATE t SET id = id + 1, `V` = 2");
  REQUIRE(a.keyUpdates.size() == 1);
  CHECK(a.keyUpdates[0].table.name == "t");
  CHECK(a.keyUpdates[0].columns == std::vector<std::string>{"id", "v"});
  CHECK(a.keyUpdates[0].pinned.empty());
  a = analyze("UPDATE t AS x SET x.v = 1 WHERE x.id = $1 AND w BETWEEN 1 AND 2 AND 'a' = k");
  REQUIRE(a.keyUpdates.size() == 1);
  CHECK(a.keyUpdates[0].table.alias == "x");
  CHECK(a.keyUpdates[0].columns == std::vector<std::string>{"v"});
  CHECK(a.keyUpdates[0].pinned == std::vector<std::string>{"id", "k"});
  CHECK(analyze("UPDATE t SET v = 1 WHERE id = 1 OR id = 2").keyUpdates.at(0).pinned.empty());
  CHECK(analyze("UPDATE t SET v = 1 WHERE id = 1").writeTargets.at(0).name == "t");
}

TEST_CASE("MariaDB: any text is analysed or refused as a syntax error, never a crash", "[mariadb]") {
  // Every prefix of statements that exercise each rule, and random soups of MariaDB's tokens: the analysis either
  // succeeds or throws SyntaxError (a node answers SYNTAX_ERROR; it never stops on a request).
  const std::vector<std::string> seeds = {
      "CREATE PROCEDURE p(IN n INT) BEGIN DECLARE i INT DEFAULT 0; WHILE i < n DO IF (i > 2) THEN SET i = i + "
      "IF(i > 5, 2, 1); END IF; END WHILE; END",
      "UPDATE t AS x SET x.v = (SELECT GROUP_CONCAT(v ORDER BY s.id SEPARATOR ',') FROM s LIMIT 1) WHERE x.id = $1 "
      "AND w BETWEEN 1 AND 2 ORDER BY id LIMIT 3",
      "INSERT IGNORE INTO db.t (a, `b`) SELECT ROW_NUMBER() OVER (PARTITION BY a ORDER BY b ROWS 1 PRECEDING), "
      "@x := @@session.sql_mode FROM s JOIN u USING (id) ON DUPLICATE KEY UPDATE a = VALUES(a)",
      "/*!40101 SET NAMES utf8 */; SELECT 'a''b\\'c', \"d\", X'0F', _utf8mb4'x' # c\n-- d\n FROM t FOR UPDATE",
      "CREATE TABLE x (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE = InnoDB /*!50100 PARTITION BY HASH(id) */ SELECT "
      "a FROM (SELECT a FROM s) d WINDOW w AS (ORDER BY a)"};
  auto tryIt = [](const std::string& sql) {
    try {
      (void)analyze(sql);
    } catch (const SyntaxError&) {
    }
  };
  for (const auto& s : seeds)
    for (std::size_t n = 0; n <= s.size(); ++n) tryIt(s.substr(0, n));
  const std::vector<std::string> pieces = {
      "SELECT",     "INSERT", "UPDATE",  "DELETE",     "CREATE",    "TABLE",   "PROCEDURE",
      "TRIGGER",    "BEGIN",  "END",     "IF",         "CASE",      "WHEN",    "THEN",
      "LOOP",       "REPEAT", "WHILE",   "DO",         "(",         ")",       ",",
      ";",          ".",      "=",       ":=",         "LIMIT",     "ORDER",   "BY",
      "GROUP",      "FROM",   "JOIN",    "ON",         "USING",     "SET",     "WHERE",
      "AND",        "OR",     "BETWEEN", "OVER",       "PARTITION", "ROWS",    "GROUP_CONCAT",
      "ROW_NUMBER", "INTO",   "VALUES",  "DUPLICATE",  "KEY",       "IGNORE",  "REPLACE",
      "WITH",       "UNION",  "t",       "`q`",        "'s'",       "\"d\"",   "1",
      "$1",         "$2",     "@x",      "@@sql_mode", "/*!",       "*/",      "#c\n",
      "-- c\n",     "NEXT",   "VALUE",   "FOR",        "ENGINE",    "DEFINER", "CURRENT_USER",
      "SEPARATOR",  "FETCH",  "FIRST",   "AS"};
  std::mt19937 rng(12345);
  for (int k = 0; k < 20000; ++k) {
    std::string sql;
    const int n = 1 + static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) sql += pieces[rng() % pieces.size()] + " ";
    tryIt(sql);
  }
  SUCCEED();
}
