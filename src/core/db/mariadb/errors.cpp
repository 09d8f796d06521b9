// MariaDB's error numbers in Kluster's error classes and result codes. Many MariaDB errors share SQLSTATE HY000,
// so the number decides, not the SQLSTATE. The table is documented in docs/mariadb.md ("Error classes"); keep the
// two in step. An error not listed here is a request's outcome only when its SQLSTATE's class says the statement
// itself is wrong (22 data, 23 constraint, 42 syntax or access rule); anything else is the node's.
#include "core/db/mariadb/mariadb.hpp"

#include <algorithm>
#include <array>

namespace kluster::db::mariadb {
namespace {

struct Mapping {
  unsigned number;
  ErrorKind kind;
  std::string_view code; // the result code when kind is Request
};

// clang-format off
constexpr std::array kMappings = {
  // Transient: retry the same batch after a back-off.
  Mapping{1205, ErrorKind::Transient, {}}, // ER_LOCK_WAIT_TIMEOUT
  Mapping{1213, ErrorKind::Transient, {}}, // ER_LOCK_DEADLOCK
  Mapping{1040, ErrorKind::Transient, {}}, // ER_CON_COUNT_ERROR: too many connections
  Mapping{1053, ErrorKind::Transient, {}}, // ER_SERVER_SHUTDOWN
  Mapping{1317, ErrorKind::Transient, {}}, // ER_QUERY_INTERRUPTED (KILL QUERY)
  Mapping{1927, ErrorKind::Transient, {}}, // ER_CONNECTION_KILLED
  Mapping{1969, ErrorKind::Transient, {}}, // ER_STATEMENT_TIMEOUT (max_statement_time)
  Mapping{1180, ErrorKind::Transient, {}}, // ER_ERROR_DURING_COMMIT
  Mapping{1181, ErrorKind::Transient, {}}, // ER_ERROR_DURING_ROLLBACK
  Mapping{1615, ErrorKind::Transient, {}}, // ER_NEED_REPREPARE
  // Node: this node's server, grants or disk differ from the others'.
  Mapping{1044, ErrorKind::Node, {}}, // ER_DBACCESS_DENIED_ERROR
  Mapping{1045, ErrorKind::Node, {}}, // ER_ACCESS_DENIED_ERROR
  Mapping{1698, ErrorKind::Node, {}}, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  Mapping{1142, ErrorKind::Node, {}}, // ER_TABLEACCESS_DENIED_ERROR
  Mapping{1143, ErrorKind::Node, {}}, // ER_COLUMNACCESS_DENIED_ERROR
  Mapping{1227, ErrorKind::Node, {}}, // ER_SPECIFIC_ACCESS_DENIED_ERROR
  Mapping{1370, ErrorKind::Node, {}}, // ER_PROCACCESS_DENIED_ERROR
  Mapping{1290, ErrorKind::Node, {}}, // ER_OPTION_PREVENTS_STATEMENT (--read-only, ...)
  Mapping{1021, ErrorKind::Node, {}}, // ER_DISK_FULL
  Mapping{1114, ErrorKind::Node, {}}, // ER_RECORD_FILE_FULL: the table is full
  Mapping{1030, ErrorKind::Node, {}}, // ER_GET_ERRNO: the storage engine failed
  Mapping{1036, ErrorKind::Node, {}}, // ER_OPEN_AS_READONLY
  Mapping{1037, ErrorKind::Node, {}}, // ER_OUTOFMEMORY
  Mapping{1038, ErrorKind::Node, {}}, // ER_OUT_OF_SORTMEMORY
  Mapping{1041, ErrorKind::Node, {}}, // ER_OUT_OF_RESOURCES
  Mapping{1105, ErrorKind::Node, {}}, // ER_UNKNOWN_ERROR
  Mapping{1026, ErrorKind::Node, {}}, // ER_ERROR_ON_WRITE
  // Request: every node hits it identically.
  Mapping{1064, ErrorKind::Request, code::SyntaxError},     // ER_PARSE_ERROR
  Mapping{1149, ErrorKind::Request, code::SyntaxError},     // ER_SYNTAX_ERROR
  Mapping{1146, ErrorKind::Request, code::UndefinedObject}, // ER_NO_SUCH_TABLE
  Mapping{1054, ErrorKind::Request, code::UndefinedObject}, // ER_BAD_FIELD_ERROR: unknown column
  Mapping{1051, ErrorKind::Request, code::UndefinedObject}, // ER_BAD_TABLE_ERROR: unknown table (DROP)
  Mapping{1049, ErrorKind::Request, code::UndefinedObject}, // ER_BAD_DB_ERROR
  Mapping{1305, ErrorKind::Request, code::UndefinedObject}, // ER_SP_DOES_NOT_EXIST: unknown function/procedure
  Mapping{1630, ErrorKind::Request, code::UndefinedObject}, // ER_FUNC_INEXISTENT_NAME_COLLISION
  Mapping{1091, ErrorKind::Request, code::UndefinedObject}, // ER_CANT_DROP_FIELD_OR_KEY
  Mapping{1062, ErrorKind::Request, code::ConstraintViolation}, // ER_DUP_ENTRY
  Mapping{1586, ErrorKind::Request, code::ConstraintViolation}, // ER_DUP_ENTRY_WITH_KEY_NAME
  Mapping{1451, ErrorKind::Request, code::ConstraintViolation}, // ER_ROW_IS_REFERENCED_2 (foreign key)
  Mapping{1452, ErrorKind::Request, code::ConstraintViolation}, // ER_NO_REFERENCED_ROW_2 (foreign key)
  Mapping{1048, ErrorKind::Request, code::ConstraintViolation}, // ER_BAD_NULL_ERROR: NOT NULL
  Mapping{1364, ErrorKind::Request, code::ConstraintViolation}, // ER_NO_DEFAULT_FOR_FIELD
  Mapping{4025, ErrorKind::Request, code::ConstraintViolation}, // ER_CONSTRAINT_FAILED: CHECK
  Mapping{1264, ErrorKind::Request, code::DataException}, // ER_WARN_DATA_OUT_OF_RANGE (strict mode)
  Mapping{1265, ErrorKind::Request, code::DataException}, // WARN_DATA_TRUNCATED
  Mapping{1292, ErrorKind::Request, code::DataException}, // ER_TRUNCATED_WRONG_VALUE
  Mapping{1366, ErrorKind::Request, code::DataException}, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  Mapping{1367, ErrorKind::Request, code::DataException}, // ER_ILLEGAL_VALUE_FOR_TYPE
  Mapping{1406, ErrorKind::Request, code::DataException}, // ER_DATA_TOO_LONG
  Mapping{1365, ErrorKind::Request, code::DataException}, // ER_DIVISION_BY_ZERO
  Mapping{1690, ErrorKind::Request, code::DataException}, // ER_DATA_OUT_OF_RANGE
  Mapping{1411, ErrorKind::Request, code::DataException}, // ER_WRONG_VALUE_FOR_TYPE
  Mapping{1792, ErrorKind::Request, code::ReadOnly},      // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
  Mapping{1235, ErrorKind::Request, code::FeatureNotSupported}, // ER_NOT_SUPPORTED_YET
  Mapping{1178, ErrorKind::Request, code::FeatureNotSupported}, // ER_CHECK_NOT_IMPLEMENTED
  Mapping{1644, ErrorKind::Request, code::RaisedException},     // ER_SIGNAL_EXCEPTION (SIGNAL SQLSTATE '45000')
  Mapping{1050, ErrorKind::Request, code::SqlError}, // ER_TABLE_EXISTS_ERROR
  Mapping{1060, ErrorKind::Request, code::SqlError}, // ER_DUP_FIELDNAME
  Mapping{1061, ErrorKind::Request, code::SqlError}, // ER_DUP_KEYNAME
  Mapping{1007, ErrorKind::Request, code::SqlError}, // ER_DB_CREATE_EXISTS
  Mapping{1136, ErrorKind::Request, code::SqlError}, // ER_WRONG_VALUE_COUNT_ON_ROW
  Mapping{1242, ErrorKind::Request, code::SqlError}, // ER_SUBQUERY_NO_1_ROW
  Mapping{1582, ErrorKind::Request, code::SqlError}, // ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT
};
// clang-format on

} // namespace

ErrorKind classifyError(unsigned number, const std::string& sqlState) {
  if (number >= 2000 && number < 3000) return ErrorKind::Transient; // the client library's: connection failed or lost
  const auto* m =
      std::find_if(kMappings.begin(), kMappings.end(), [&](const Mapping& x) { return x.number == number; });
  if (m != kMappings.end()) return m->kind;
  if (sqlState == "40001") return ErrorKind::Transient;
  if (sqlState.size() == 5 && sqlState[0] == '0' && sqlState[1] == '8') return ErrorKind::Transient;
  const std::string cls = sqlState.substr(0, 2);
  if (cls == "22" || cls == "23" || cls == "42") return ErrorKind::Request;
  return ErrorKind::Node; // unknown: never answer it as the request's outcome
}

std::string_view resultCodeForError(unsigned number, const std::string& sqlState) {
  const auto* m =
      std::find_if(kMappings.begin(), kMappings.end(), [&](const Mapping& x) { return x.number == number; });
  if (m != kMappings.end() && m->kind == ErrorKind::Request) return m->code;
  const std::string cls = sqlState.substr(0, 2);
  if (cls == "22") return code::DataException;
  if (cls == "23") return code::ConstraintViolation;
  return code::SqlError;
}

} // namespace kluster::db::mariadb
