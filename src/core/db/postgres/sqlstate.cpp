// Which SQLSTATEs are a request's own outcome, which are worth retrying, and which are this node's problem.
// The table is documented in docs/messages.md ("Error classes"); keep the two in step.
#include "core/db/postgres/postgres.hpp"

namespace kluster::db {

ErrorKind classifySqlState(const std::string& s) {
  if (s.size() != 5) return ErrorKind::Node;
  const std::string cls = s.substr(0, 2);
  if (s == "42501") return ErrorKind::Node;    // insufficient privilege: this node's grants differ
  if (s == "25006") return ErrorKind::Request; // read-only transaction (ONE); the node decides for ALL
  if (s == "55P03" || s == "55006") return ErrorKind::Transient; // lock not available / object in use
  if (s == "53300") return ErrorKind::Transient;                 // too many connections
  if (s == "57014") return ErrorKind::Transient;                 // query canceled (timeout or by an operator)
  if (cls == "40" || cls == "08" || cls == "72") return ErrorKind::Transient;
  if (cls == "53" || cls == "58" || cls == "XX" || cls == "57" || cls == "F0" || cls == "28" || cls == "HV")
    return ErrorKind::Node;
  static const char* const requestClasses[] = {"0A", "0B", "0F", "0L", "0P", "0Z", "20", "21", "22", "23", "24",
                                               "25", "26", "27", "2B", "2D", "2F", "34", "38", "39", "3B", "3D",
                                               "3F", "42", "44", "54", "55", "P0", "09", "0E", "01", "02"};
  for (const char* c : requestClasses)
    if (cls == c) return ErrorKind::Request;
  return ErrorKind::Node; // unknown: never answer it as the request's outcome
}

std::string_view resultCodeForSqlState(const std::string& s) {
  if (s == "42601") return code::SyntaxError;
  if (s == "42P01" || s == "42703" || s == "42883" || s == "42704" || s == "3F000" || s == "42P02")
    return code::UndefinedObject;
  if (s == "25006") return code::ReadOnly;
  if (s == "25001") return code::NotTransactional;
  const std::string cls = s.substr(0, 2);
  if (cls == "22") return code::DataException;
  if (cls == "23") return code::ConstraintViolation;
  if (cls == "0A") return code::FeatureNotSupported;
  if (cls == "P0") return code::RaisedException;
  return code::SqlError;
}

} // namespace kluster::db
