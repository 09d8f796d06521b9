#pragma once
// MariaDB's dialect of the SQL analysis (dialect.hpp): a conservative classifier over MariaDB's tokens
// (lexer.hpp), not a parser. It splits a request into statements (stored programs' BEGIN ... END bodies
// included), names each statement's kind in Kluster's vocabulary, and reports what the node needs to judge a
// write: the functions it calls, the row orders it depends on (LIMIT, GROUP_CONCAT, window functions,
// INSERT ... SELECT), the unique keys an UPDATE changes, and the syntax-only refusals (user variables, session
// settings, other databases, non-InnoDB engines, the server's files). A statement it does not recognise is
// refused (FEATURE_NOT_SUPPORTED), never guessed at. docs/mariadb.md "The SQL analysis" lists the rules.
#include "core/sql/analyzer.hpp"

#include <string_view>

namespace kluster::sql::mariadb {

/// What `sql` does, in MariaDB 10.11's dialect. Throws SyntaxError for text MariaDB's lexer would not read
/// (an unterminated string, identifier or comment; unbalanced parentheses or BEGIN ... END),
/// std::length_error above kMaxSqlBytes.
Analysis analyze(std::string_view sql);

/// Whether a session variable (`time_zone`, `session.sql_mode`, any case) is one the MariaDB adapter pins on every
/// connection, or per request (`timestamp`, the RAND seeds): a write may read it (@@name).
bool pinnedVariable(std::string_view name);

} // namespace kluster::sql::mariadb
