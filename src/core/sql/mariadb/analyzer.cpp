// MariaDB's dialect of the SQL analysis: statements split and classified from MariaDB's tokens. See analyzer.hpp.
#include "core/sql/mariadb/analyzer.hpp"

#include "core/sql/dialect.hpp"
#include "core/sql/mariadb/statement.hpp"

#include <algorithm>
#include <set>

namespace kluster::sql::mariadb {

namespace {

using Type = Token::Type;

[[noreturn]] void syntaxError(std::string_view sql, std::string message, std::size_t offset) {
  // PostgreSQL-style 1-based character position, as ParseError carries it.
  int chars = 1;
  for (std::size_t k = 0; k < offset && k < sql.size(); ++k)
    if ((static_cast<unsigned char>(sql[k]) & 0xC0) != 0x80) ++chars;
  throw SyntaxError(ParseError{std::move(message), chars});
}

// A parenthesised list's top level holds a comma: IF(a, b, c) and REPEAT(s, n) are functions; IF (a) THEN is not.
bool commaInside(const std::vector<Token>& t, std::size_t open) {
  int depth = 0;
  for (std::size_t k = open; k < t.size(); ++k) {
    if (t[k].symbol("(")) ++depth;
    if (t[k].symbol(")") && --depth == 0) return false;
    if (depth == 1 && t[k].symbol(",")) return true;
  }
  return false;
}

// CREATE [OR REPLACE] [DEFINER = ...] [SQL SECURITY ...] [AGGREGATE] FUNCTION/PROCEDURE/TRIGGER/EVENT/PACKAGE, or
// BEGIN NOT ATOMIC: a statement whose body holds statements of its own, ';' included.
bool storedProgram(const std::vector<Token>& t, std::size_t at) {
  if (t[at].is("BEGIN")) return at + 2 < t.size() && t[at + 1].is("NOT") && t[at + 2].is("ATOMIC");
  if (!t[at].is("CREATE")) return false;
  for (std::size_t k = at + 1; k < t.size() && k < at + 16; ++k) {
    if (t[k].symbol(";")) return false;
    for (auto w : {"FUNCTION", "PROCEDURE", "TRIGGER", "EVENT", "PACKAGE"})
      if (t[k].is(w)) return true;
    for (auto w : {"TABLE", "VIEW", "INDEX", "SEQUENCE", "DATABASE", "SCHEMA", "USER", "ROLE", "SERVER"})
      if (t[k].is(w)) return false;
  }
  return false;
}

// Token spans of the statements, split at ';' outside parentheses and outside stored programs' bodies.
std::vector<std::pair<std::size_t, std::size_t>> split(std::string_view sql, const std::vector<Token>& t) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::size_t start = 0;
  int parens = 0, blocks = 0;
  bool program = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i == start) program = storedProgram(t, i);
    const Token& k = t[i];
    if (k.symbol("(")) ++parens;
    if (k.symbol(")") && --parens < 0) syntaxError(sql, "syntax error at or near \")\"", k.offset);
    if (program && parens == 0 && k.type == Type::Word) {
      const bool call = i + 1 < t.size() && t[i + 1].symbol("(") && commaInside(t, i + 1);
      if (k.is("BEGIN") || k.is("CASE") || k.is("LOOP") || k.is("WHILE") || ((k.is("IF") || k.is("REPEAT")) && !call)) {
        ++blocks;
      } else if (k.is("END")) {
        if (--blocks < 0) syntaxError(sql, "syntax error at or near \"END\"", k.offset);
        if (i + 1 < t.size())
          for (auto w : {"IF", "CASE", "LOOP", "REPEAT", "WHILE"})
            if (t[i + 1].is(w)) {
              ++i;
              break;
            }
      }
    }
    if (k.symbol(";") && parens == 0 && blocks == 0) {
      if (i > start) spans.emplace_back(start, i);
      start = i + 1;
    }
  }
  if (parens > 0) syntaxError(sql, "syntax error at end of input (a parenthesis is not closed)", sql.size());
  if (blocks > 0) syntaxError(sql, "syntax error at end of input (BEGIN without END)", sql.size());
  if (start < t.size()) spans.emplace_back(start, t.size());
  return spans;
}

struct Classified {
  std::string kind;
  bool readOnly = false;
  bool unknown = false;
};

// The statement's kind in Kluster's vocabulary (dialect.hpp), and whether it only reads.
Classified classify(const Tokens& t) {
  const std::size_t b = t.begin();
  const Token& first = t[b];
  auto second = [&](std::string_view w) { return t.is(b + 1, w); };
  if (first.symbol("(") || first.is("SELECT") || first.is("VALUES") || first.is("TABLE")) return {"SelectStmt", true};
  if (first.is("WITH")) {
    for (std::size_t i = b; i < t.end(); ++i)
      for (auto w : {"INSERT", "UPDATE", "DELETE", "REPLACE"})
        if (t.depth(i) == 0 && t[i].is(w))
          return {w == std::string_view("INSERT") || w == std::string_view("REPLACE") ? "InsertStmt"
                  : w == std::string_view("UPDATE")                                   ? "UpdateStmt"
                                                                                      : "DeleteStmt"};
    return {"SelectStmt", true};
  }
  if (first.is("INSERT") || first.is("REPLACE")) return {"InsertStmt"};
  if (first.is("UPDATE")) return {"UpdateStmt"};
  if (first.is("DELETE")) return {"DeleteStmt"};
  if (first.is("SHOW") || first.is("HELP")) return {"VariableShowStmt", true};
  if (first.is("DESCRIBE") || first.is("DESC") || first.is("EXPLAIN")) return {"ExplainStmt", true};
  if (first.is("CHECK") || first.is("CHECKSUM")) return {"VariableShowStmt", true};
  if (first.is("ANALYZE")) // ANALYZE TABLE updates statistics; ANALYZE <statement> runs it
    return second("TABLE") || second("NO_WRITE_TO_BINLOG") || second("LOCAL") ? Classified{"VacuumStmt"}
                                                                              : Classified{"ExplainStmt"};
  if (first.is("OPTIMIZE") || first.is("REPAIR")) return {"VacuumStmt"};
  if (first.is("TRUNCATE")) return {"TruncateStmt"};
  if (first.is("CREATE") || first.is("ALTER") || first.is("DROP") || first.is("RENAME")) {
    static const std::pair<std::string_view, std::string_view> kObjects[] = {{"TABLE", "Stmt"},
                                                                             {"INDEX", "IndexStmt"},
                                                                             {"VIEW", "ViewStmt"},
                                                                             {"FUNCTION", "FunctionStmt"},
                                                                             {"PROCEDURE", "FunctionStmt"},
                                                                             {"TRIGGER", "TrigStmt"},
                                                                             {"SEQUENCE", "SeqStmt"},
                                                                             {"EVENT", "EventStmt"},
                                                                             {"DATABASE", "DatabaseStmt"},
                                                                             {"SCHEMA", "DatabaseStmt"},
                                                                             {"USER", "RoleStmt"},
                                                                             {"ROLE", "RoleStmt"},
                                                                             {"SERVER", "ForeignServerStmt"},
                                                                             {"PACKAGE", "FunctionStmt"},
                                                                             {"TABLESPACE", "TableSpaceStmt"},
                                                                             {"LOGFILE", "TableSpaceStmt"}};
    for (std::size_t i = b + 1; i < t.end() && i < b + 16 && !t.symbol(i, "("); ++i)
      for (const auto& [word, suffix] : kObjects)
        if (t[i].is(word)) {
          if (first.is("DROP")) return {"DropStmt"};
          if (first.is("RENAME")) return {"RenameStmt"};
          if (first.is("ALTER"))
            return {word == "TABLE" ? "AlterTableStmt" : std::string("Alter") + std::string(suffix)};
          if (word == "TABLE") return {"CreateStmt"};
          if (word == "FUNCTION" || word == "PROCEDURE" || word == "PACKAGE") return {"CreateFunctionStmt"};
          if (word == "TRIGGER") return {"CreateTrigStmt"};
          return {std::string("Create") + std::string(suffix)};
        }
    return {"CreateStmt", false, true};
  }
  if (first.is("SET")) return {"VariableSetStmt"};
  if (first.is("BEGIN") && !second("NOT")) return {"TransactionStmt"};
  if (first.is("BEGIN")) return {"DoStmt"}; // BEGIN NOT ATOMIC ... END: an anonymous block
  for (auto w : {"START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "XA"})
    if (first.is(w)) return {"TransactionStmt"};
  if (first.is("LOCK") || first.is("UNLOCK")) return {"LockStmt"};
  if (first.is("CALL")) return {"CallStmt"};
  if (first.is("DO")) return {"DoStmt"};
  if (first.is("PREPARE") || first.is("EXECUTE") || first.is("DEALLOCATE")) return {"PrepareStmt"};
  if (first.is("USE")) return {"VariableSetStmt"};
  for (auto w : {"LOAD", "GRANT", "REVOKE", "FLUSH", "KILL", "SHUTDOWN", "RESET", "PURGE", "CHANGE", "STOP", "INSTALL",
                 "UNINSTALL", "BINLOG", "BACKUP", "CACHE", "HANDLER", "SIGNAL", "RESIGNAL", "GET"})
    if (first.is(w)) return {"ServerStmt"};
  return {"Unknown", false, true};
}

struct Rules {
  Analysis& out;
  void nondeterministic(std::string message, std::string hint) {
    if (!out.nondeterministic) out.nondeterministic = Refusal{std::move(message), std::move(hint)};
  }
  void sessionState(std::string message, std::string hint) {
    if (!out.sessionState) out.sessionState = Refusal{message, hint};
    nondeterministic(std::move(message), std::move(hint));
  }
  void serverAccess(std::string message, std::string hint) {
    if (!out.serverAccess) out.serverAccess = Refusal{std::move(message), std::move(hint)};
  }
  void unsupported(std::string message, std::string hint) {
    if (!out.unsupported) out.unsupported = Refusal{std::move(message), std::move(hint)};
  }
};

} // namespace

bool pinnedVariable(std::string_view variable) {
  std::string name(variable);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  if (name.rfind("SESSION.", 0) == 0) name = name.substr(8);
  static const std::set<std::string, std::less<>> kPinned = {"TIME_ZONE",
                                                             "SQL_MODE",
                                                             "DIV_PRECISION_INCREMENT",
                                                             "GROUP_CONCAT_MAX_LEN",
                                                             "MAX_SORT_LENGTH",
                                                             "LC_TIME_NAMES",
                                                             "CHARACTER_SET_CLIENT",
                                                             "CHARACTER_SET_CONNECTION",
                                                             "CHARACTER_SET_RESULTS",
                                                             "COLLATION_CONNECTION",
                                                             "TX_ISOLATION",
                                                             "TRANSACTION_ISOLATION",
                                                             "AUTOCOMMIT",
                                                             "MAX_STATEMENT_TIME",
                                                             "INNODB_LOCK_WAIT_TIMEOUT",
                                                             "AUTO_INCREMENT_INCREMENT",
                                                             "AUTO_INCREMENT_OFFSET",
                                                             "SQL_SAFE_UPDATES",
                                                             "SQL_SELECT_LIMIT",
                                                             "SQL_AUTO_IS_NULL",
                                                             "EXPLICIT_DEFAULTS_FOR_TIMESTAMP",
                                                             "DEFAULT_STORAGE_ENGINE",
                                                             "FOREIGN_KEY_CHECKS",
                                                             "UNIQUE_CHECKS",
                                                             "DEFAULT_WEEK_FORMAT",
                                                             "MAX_JOIN_SIZE",
                                                             "SQL_BIG_SELECTS",
                                                             "MAX_RECURSIVE_ITERATIONS",
                                                             "SQL_IF_EXISTS",
                                                             "DEFAULT_REGEX_FLAGS",
                                                             "LC_MESSAGES",
                                                             "INNODB_STRICT_MODE",
                                                             "MAX_SP_RECURSION_DEPTH",
                                                             "CHECK_CONSTRAINT_CHECKS",
                                                             "UPDATABLE_VIEWS_WITH_LIMIT",
                                                             "OLD_MODE",
                                                             "TIMESTAMP",
                                                             "RAND_SEED1",
                                                             "RAND_SEED2"};
  return kPinned.count(name) > 0;
}

namespace {

void transactionControl(const Tokens& t, Statement& st) {
  using Action = Statement::TransactionControl::Action;
  const std::size_t b = t.begin();
  Statement::TransactionControl c;
  const Token& first = t[b];
  auto name = [&](std::size_t i) { return i < t.end() ? Tokens::lower(t[i]) : std::string(); };
  if (first.is("BEGIN") || first.is("START")) {
    c.action = Action::Begin;
    for (std::size_t i = b; i + 1 < t.end(); ++i)
      if (t[i].is("READ") && t[i + 1].is("ONLY")) c.readOnly = true;
  } else if (first.is("COMMIT")) {
    c.action = Action::Commit;
  } else if (first.is("ROLLBACK")) {
    c.action = Action::Rollback;
    for (std::size_t i = b; i < t.end(); ++i)
      if (t[i].is("TO")) {
        c.action = Action::RollbackTo;
        c.savepoint = name(t.is(i + 1, "SAVEPOINT") ? i + 2 : i + 1);
      }
  } else if (first.is("SAVEPOINT")) {
    c.action = Action::Savepoint;
    c.savepoint = name(b + 1);
  } else if (first.is("RELEASE")) {
    c.action = Action::Release;
    c.savepoint = name(t.is(b + 1, "SAVEPOINT") ? b + 2 : b + 1);
  } else if (first.is("XA")) {
    c.action = Action::Prepared;
  } else {
    c.action = Action::Set;
  }
  for (std::size_t i = b; i + 1 < t.end(); ++i)
    if (t[i].is("AND") && t[i + 1].is("CHAIN")) c.chain = true;
  st.transaction = c;
}

// What a SET statement does: transaction control, session state, or the server's configuration.
void setStatement(const Tokens& t, Statement& st, Analysis& out, Rules& rules) {
  const std::size_t b = t.begin();
  if (t.is(b + 1, "TRANSACTION") || (t.is(b + 2, "TRANSACTION") && (t.is(b + 1, "SESSION") || t.is(b + 1, "LOCAL")))) {
    out.transactionControl = true;
    transactionControl(t, st);
    return;
  }
  if (t.is(b + 1, "GLOBAL") || t.is(b + 1, "PASSWORD") || t.is(b + 1, "ROLE") || t.is(b + 1, "DEFAULT")) {
    rules.serverAccess("SET GLOBAL, SET PASSWORD and SET ROLE change the database server or its users, not the "
                       "node's data",
                       "change the server's configuration on each server directly");
    return;
  }
  for (std::size_t i = b; i < t.end(); ++i) {
    if (t[i].type == Type::SystemVar && t[i].upper.rfind("GLOBAL.", 0) == 0)
      rules.serverAccess("SET @@global changes the database server's configuration, not the node's data",
                         "change the server's configuration on each server directly");
    if ((t[i].is("AUTOCOMMIT") || t[i].upper == "AUTOCOMMIT" || t[i].upper == "SESSION.AUTOCOMMIT") && t.depth(i) == 0)
      out.transactionControl = true;
  }
  if (t.is(b + 1, "STATEMENT")) {
    rules.nondeterministic("SET STATEMENT ... FOR runs a statement under settings other than those Kluster pins on "
                           "every node",
                           "send the statement without SET STATEMENT; Kluster pins the settings that change results");
    return;
  }
  rules.sessionState("a session SET (a setting, a user variable, NAMES, CHARACTER SET) would outlive the request on "
                     "the node's connection, and Kluster pins the settings that change results",
                     "send the value as a parameter ($1) instead of a variable; leave the settings to Kluster");
}

void judge(std::string_view sql, const Tokens& t, Statement& st, const Classified& c, Analysis& out) {
  Rules rules{out};
  const std::size_t b = t.begin(), e = t.end();
  const Token& first = t[b];
  if (c.unknown) {
    rules.unsupported("Kluster's MariaDB dialect does not know this statement (" +
                          std::string(sql.substr(first.offset, first.length)) + "), so it cannot judge it",
                      "docs/mariadb.md lists the statements a MariaDB cluster accepts");
    return;
  }
  if (c.kind == "TransactionStmt" || c.kind == "LockStmt") {
    out.transactionControl = true;
    if (c.kind == "TransactionStmt") transactionControl(t, st);
    return;
  }
  if (c.kind == "VariableSetStmt") {
    if (first.is("USE"))
      rules.sessionState("USE would change the database of the node's connection", "leave out USE: each node works "
                                                                                   "in its own database");
    else
      setStatement(t, st, out, rules);
    return;
  }
  if (c.kind == "PrepareStmt") {
    rules.sessionState("PREPARE, EXECUTE and DEALLOCATE keep statements on the node's connection, and run SQL "
                       "Kluster cannot read",
                       "send the statement itself with $n parameters");
    return;
  }
  if (c.kind == "ServerStmt" || c.kind == "CreateRoleStmt" || c.kind == "AlterRoleStmt" ||
      c.kind == "CreateForeignServerStmt" || c.kind == "AlterForeignServerStmt" || c.kind == "CreateTableSpaceStmt" ||
      c.kind == "AlterTableSpaceStmt" || c.kind == "CreateDatabaseStmt" || c.kind == "AlterDatabaseStmt" ||
      (first.is("DROP") && (t.is(b + 1, "USER") || t.is(b + 1, "ROLE") || t.is(b + 1, "DATABASE") ||
                            t.is(b + 1, "SCHEMA") || t.is(b + 1, "SERVER")))) {
    rules.serverAccess("this statement reaches past the node's database (the server's files, users, replication, "
                       "other databases or its processes)",
                       "run it on each database server directly");
    return;
  }
  if (c.kind == "VacuumStmt") {
    out.nonTransactional = true;
    return;
  }
  if (c.kind == "CreateEventStmt" || c.kind == "AlterEventStmt") {
    rules.nondeterministic("an event runs on each server's own clock, outside the log",
                           "run the statement from a client at the time it should run");
    return;
  }
  // Statement-level facts every kind shares.
  bool temporary = false;
  for (std::size_t i = b; i < e; ++i) {
    const Token& k = t[i];
    if (k.type == Type::UserVar)
      rules.sessionState("a user variable (@" + Tokens::lower(k) +
                             ") keeps its value on the node's connection "
                             "between requests",
                         "send the value as a parameter ($1), or compute it in the statement");
    if (k.type == Type::SystemVar && !c.readOnly && !pinnedVariable(k.upper))
      rules.nondeterministic("a write reads the server variable @@" + Tokens::lower(k) +
                                 ", which Kluster does not pin: it may differ between nodes",
                             "pass the value as a parameter");
    if (k.is("TEMPORARY")) temporary = true;
    if ((k.is("OUTFILE") || k.is("DUMPFILE")) && i > b && t[i - 1].is("INTO"))
      rules.serverAccess("SELECT ... INTO OUTFILE writes a file on the database server",
                         "read the rows through Kluster and write the file on the client");
    if (k.is("INTO") && c.kind == "SelectStmt" && i + 1 < e && t[i + 1].type == Type::UserVar)
      st.readOnly = false; // SELECT ... INTO @x sets a variable (refused above)
    if ((k.is("FOR") && t.is(i + 1, "UPDATE")) || (k.is("LOCK") && t.is(i + 1, "IN")) ||
        (k.is("FOR") && t.is(i + 1, "SHARE"))) {
      out.locks = true;
      st.readOnly = false;
    }
    if (k.is("ENGINE") && (c.kind == "CreateStmt" || c.kind == "AlterTableStmt")) {
      std::size_t v = t.symbol(i + 1, "=") ? i + 2 : i + 1;
      if (v < e && Tokens::isName(t[v]) && Tokens::lower(t[v]) != "innodb")
        rules.nondeterministic("the " + Tokens::lower(t[v]) +
                                   " engine is not transactional (or not the same on every server): Kluster applies "
                                   "each write exactly once only in InnoDB tables",
                               "leave out ENGINE (InnoDB is the default) or write ENGINE = InnoDB");
    }
    if ((k.is("DATA") || k.is("INDEX")) && t.is(i + 1, "DIRECTORY"))
      rules.serverAccess("DATA/INDEX DIRECTORY places files on the database server", "leave it out");
    if (k.is("SYSTEM") && t.is(i + 1, "VERSIONING"))
      rules.nondeterministic("a system-versioned table stamps its history rows with each server's own transaction "
                             "time",
                             "keep history in a table of your own, with the time passed by the client");
    if (k.is("SONAME"))
      rules.serverAccess("a function from a shared library (SONAME) runs code on the database server",
                         "install it on each server directly");
    // Another database of the server: db.table in a place that names tables (FROM, JOIN, INTO, UPDATE, TABLE...).
    if (Tokens::isName(k) && t.symbol(i + 1, ".") && i + 2 < e && Tokens::isName(t[i + 2]) && i > b) {
      const std::string schema = Tokens::lower(k);
      const Token& before = t[i - 1];
      const bool tablePlace = before.is("FROM") || before.is("JOIN") || before.is("INTO") || before.is("UPDATE") ||
                              before.is("TABLE") || before.is("REFERENCES") || before.is("STRAIGHT_JOIN") ||
                              before.is("USING") || before.is("ON") || before.is("EXISTS") ||
                              (before.symbol(",") && (c.kind == "DropStmt" || c.kind == "RenameStmt"));
      const bool system =
          schema == "mysql" || schema == "information_schema" || schema == "performance_schema" || schema == "sys";
      if (!c.readOnly && (tablePlace || system))
        rules.nondeterministic(system ? "a write reads the server's own tables (" + schema +
                                            "), which differ between nodes"
                                      : "a write names another database (" + schema +
                                            "), which Kluster does not replicate: each node has its own database",
                               "name the tables of the node's database without a database name");
    }
  }
  if (temporary)
    rules.sessionState("a temporary table would outlive the request on the node's connection",
                       "use a table of the database, or a subquery or CTE");
  if (out.serverAccess || out.unsupported) return;
  if (c.kind == "CallStmt" || c.kind == "DoStmt") out.scansRows = true;
}

void merge(Analysis& out, Statement st, const Tokens& t, bool readOnly) {
  // Parameters.
  for (std::size_t i = t.begin(); i < t.end(); ++i)
    if (t[i].type == Type::Param && t[i].number > 0) {
      const int n = static_cast<int>(t[i].number);
      st.maxParam = std::max(st.maxParam, n);
      if (st.usedParams.size() < static_cast<std::size_t>(n)) st.usedParams.resize(static_cast<std::size_t>(n));
      st.usedParams[static_cast<std::size_t>(n - 1)] = true;
    }
  st.readOnly = st.readOnly && readOnly;
  st.validatable = st.readOnly;
  out.readOnly = out.readOnly && st.readOnly;
  out.statements.push_back(std::move(st));
}

} // namespace

Analysis analyze(std::string_view sql) {
  if (sql.size() > kMaxSqlBytes) throw std::length_error("the SQL text is larger than 16 MiB");
  if (sql.find('\0') != std::string_view::npos) syntaxError(sql, "the SQL text contains a NUL character", 0);
  std::vector<Token> tokens;
  try {
    tokens = tokenize(sql);
  } catch (const LexError& e) {
    syntaxError(sql, e.message, e.offset);
  }
  Analysis out;
  std::size_t textFrom = 0; // a statement's text starts after the previous ';' (comments before it kept)
  for (const auto& [b, e] : split(sql, tokens)) {
    const Tokens t(sql, tokens, b, e);
    const std::size_t textTo = e < tokens.size() ? tokens[e].offset : sql.size();
    if (b > 0) textFrom = tokens[b - 1].offset + tokens[b - 1].length;
    Statement st;
    auto text = sql.substr(textFrom, textTo - textFrom);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    st.sql = std::string(text);
    const Classified c = classify(t);
    st.kind = c.kind == "Unknown" ? "Unknown" : c.kind;
    judge(sql, t, st, c, out); // clears st.readOnly for locking reads and SELECT ... INTO @x
    const bool readOnly = c.readOnly && st.readOnly;
    if (!out.serverAccess && !out.unsupported && !out.transactionControl) {
      collectFunctions(t, out.functions);
      if (!readOnly) {
        orderRules(t, c.kind, out);
        if (c.kind == "UpdateStmt") updateRules(t, out);
      }
    }
    merge(out, std::move(st), t, readOnly);
  }
  std::sort(out.functions.begin(), out.functions.end());
  out.functions.erase(std::unique(out.functions.begin(), out.functions.end()), out.functions.end());
  // A write that scans rows draws RAND() per row in each node's own row order.
  if (out.scansRows && std::binary_search(out.functions.begin(), out.functions.end(), "rand") && !out.nondeterministic)
    out.nondeterministic = Refusal{"RAND() is drawn once per row this write scans, in each node's own row order",
                                   "compute the random values in the client, or derive them from the row's key "
                                   "(e.g. CRC32(id))"};
  return out;
}

namespace {

class MariaDbDialect final : public Dialect {
public:
  std::string_view type() const override { return "mariadb"; }
  Analysis analyze(std::string_view sql) const override { return mariadb::analyze(sql); }
  // The adapter pins the clock per request (SET timestamp): nothing to rewrite.
  std::string pinCurrentTime(std::string_view sql, std::int64_t) const override { return std::string(sql); }
  std::string pinDefaultTime(std::string_view sql) const override { return std::string(sql); }
};

} // namespace

} // namespace kluster::sql::mariadb

namespace kluster::sql {

const Dialect& mariadbDialect() {
  static const mariadb::MariaDbDialect instance;
  return instance;
}

} // namespace kluster::sql
