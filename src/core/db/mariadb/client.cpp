#include "core/db/mariadb/client.hpp"

#include "core/sql/mariadb/lexer.hpp"

#include <fmt/format.h>
#include <mysql.h>

#include <cctype>
#include <mutex>

namespace kluster::db::mariadb {
namespace {

std::string percentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void libraryInit() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

} // namespace

Url Url::parse(const std::string& url) {
  constexpr std::string_view scheme = "mariadb://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("a MariaDB URL starts with mariadb://");
  std::string_view rest = std::string_view(url).substr(scheme.size());
  Url u;
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto db = rest.substr(slash + 1);
    if (auto q = db.find('?'); q != std::string_view::npos)
      throw std::invalid_argument("MariaDB URLs take no options (?...)");
    u.database = percentDecode(db);
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    auto userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto colon = userinfo.find(':');
    u.user = percentDecode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) u.password = percentDecode(userinfo.substr(colon + 1));
  }
  auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    const std::string port(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p < 1 || p > 65535)
      throw std::invalid_argument(fmt::format("bad port '{}' in the MariaDB URL", port));
    u.port = static_cast<unsigned>(p);
  }
  if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']')
    authority = authority.substr(1, authority.size() - 2);
  u.host = percentDecode(authority);
  if (u.host.empty()) throw std::invalid_argument("the MariaDB URL has no host");
  return u;
}

std::string Column::typeName() const {
  const bool binary = charset == 63;
  const std::string unsignedSuffix = (flags & UNSIGNED_FLAG) ? " unsigned" : "";
  if (flags & ENUM_FLAG) return "enum";
  if (flags & SET_FLAG) return "set";
  switch (static_cast<enum_field_types>(type)) {
  case MYSQL_TYPE_TINY: return "tinyint" + unsignedSuffix;
  case MYSQL_TYPE_SHORT: return "smallint" + unsignedSuffix;
  case MYSQL_TYPE_INT24: return "mediumint" + unsignedSuffix;
  case MYSQL_TYPE_LONG: return "int" + unsignedSuffix;
  case MYSQL_TYPE_LONGLONG: return "bigint" + unsignedSuffix;
  case MYSQL_TYPE_DECIMAL:
  case MYSQL_TYPE_NEWDECIMAL: return "decimal" + unsignedSuffix;
  case MYSQL_TYPE_FLOAT: return "float";
  case MYSQL_TYPE_DOUBLE: return "double";
  case MYSQL_TYPE_BIT: return "bit";
  case MYSQL_TYPE_YEAR: return "year";
  case MYSQL_TYPE_DATE:
  case MYSQL_TYPE_NEWDATE: return "date";
  case MYSQL_TYPE_TIME:
  case MYSQL_TYPE_TIME2: return "time";
  case MYSQL_TYPE_DATETIME:
  case MYSQL_TYPE_DATETIME2: return "datetime";
  case MYSQL_TYPE_TIMESTAMP:
  case MYSQL_TYPE_TIMESTAMP2: return "timestamp";
  case MYSQL_TYPE_VARCHAR:
  case MYSQL_TYPE_VAR_STRING: return binary ? "varbinary" : "varchar";
  case MYSQL_TYPE_STRING: return binary ? "binary" : "char";
  case MYSQL_TYPE_TINY_BLOB:
  case MYSQL_TYPE_MEDIUM_BLOB:
  case MYSQL_TYPE_LONG_BLOB:
  case MYSQL_TYPE_BLOB: return binary ? "blob" : "text";
  case MYSQL_TYPE_JSON: return "json";
  case MYSQL_TYPE_GEOMETRY: return "geometry";
  case MYSQL_TYPE_NULL: return "null";
  default: return "unknown";
  }
}

Client::Client(const Url& url, unsigned connectTimeoutSeconds) {
  libraryInit();
  mysql_ = mysql_init(nullptr);
  if (!mysql_) throw Error(2008, "HY000", "MariaDB client: out of memory");
  mysql_optionsv(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_optionsv(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeoutSeconds);
  my_bool no = 0;
  mysql_optionsv(mysql_, MYSQL_OPT_RECONNECT, &no);             // a lost connection must be seen, never papered over
  mysql_optionsv(mysql_, MYSQL_READ_DEFAULT_FILE, "/dev/null"); // no option file of the host
  const auto flags = CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_FOUND_ROWS;
  if (!mysql_real_connect(mysql_, url.host.c_str(), url.user.empty() ? nullptr : url.user.c_str(),
                          url.password.empty() ? nullptr : url.password.c_str(),
                          url.database.empty() ? nullptr : url.database.c_str(), url.port, nullptr, flags)) {
    Error e = lastError();
    mysql_close(mysql_);
    mysql_ = nullptr;
    throw e;
  }
}

Client::~Client() {
  if (mysql_) mysql_close(mysql_);
}

Error Client::lastError() const {
  const char* state = mysql_sqlstate(mysql_);
  return Error(mysql_errno(mysql_), state ? state : "HY000", mysql_error(mysql_));
}

void Client::fail() { throw lastError(); }

Partial Client::run(std::string_view sql) {
  Partial out;
  if (mysql_real_query(mysql_, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    Error e = lastError();
    if (e.clientSide()) throw e;
    out.error = std::move(e);
    return out;
  }
  for (;;) {
    Result r;
    MYSQL_RES* res = mysql_store_result(mysql_);
    if (res) {
      r.hasRows = true;
      const unsigned n = mysql_num_fields(res);
      const MYSQL_FIELD* fields = mysql_fetch_fields(res);
      for (unsigned c = 0; c < n; ++c)
        r.columns.push_back({fields[c].name, static_cast<int>(fields[c].type), fields[c].flags, fields[c].charsetnr,
                             fields[c].decimals});
      r.rows.reserve(mysql_num_rows(res));
      while (MYSQL_ROW row = mysql_fetch_row(res)) {
        const unsigned long* lengths = mysql_fetch_lengths(res);
        Row values(n);
        for (unsigned c = 0; c < n; ++c)
          if (row[c]) values[c] = std::string(row[c], lengths[c]);
        r.rows.push_back(std::move(values));
      }
      mysql_free_result(res);
      r.affectedRows = r.rows.size();
    } else if (mysql_field_count(mysql_) != 0) {
      fail(); // rows were due but could not be read
    } else {
      r.affectedRows = mysql_affected_rows(mysql_);
      r.insertId = mysql_insert_id(mysql_);
    }
    r.warnings = mysql_warning_count(mysql_);
    out.results.push_back(std::move(r));
    const int next = mysql_next_result(mysql_);
    if (next == -1) return out;
    if (next > 0) {
      Error e = lastError();
      if (e.clientSide()) throw e;
      out.error = std::move(e);
      return out;
    }
  }
}

std::vector<Result> Client::query(std::string_view sql) {
  Partial p = run(sql);
  if (p.error) throw *p.error;
  return std::move(p.results);
}

std::optional<std::string> Client::scalar(std::string_view sql) {
  auto results = query(sql);
  if (results.empty() || results.back().rows.empty() || results.back().rows[0].empty()) return std::nullopt;
  return results.back().rows[0][0];
}

std::string Client::quote(std::string_view value) {
  std::string out(value.size() * 2 + 3, '\0');
  out[0] = '\'';
  const auto n =
      mysql_real_escape_string(mysql_, out.data() + 1, value.data(), static_cast<unsigned long>(value.size()));
  if (n == static_cast<unsigned long>(-1)) fail();
  out.resize(n + 1);
  out += '\'';
  return out;
}

std::vector<Placeholder> findPlaceholders(std::string_view sql) {
  std::vector<Placeholder> found;
  try {
    for (const auto& t : sql::mariadb::tokenize(sql)) // the dialect's lexer: strings, identifiers, comments skipped
      if (t.type == sql::mariadb::Token::Type::Param) found.push_back({t.offset, t.length, t.number});
  } catch (const sql::mariadb::LexError&) {
    return {}; // an unterminated string or comment: the server reports the syntax error
  }
  return found;
}

std::string literal(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    switch (c) {
    case '\'': out += "''"; break;
    case '\\': out += "\\\\"; break;
    case '\0': out += "\\0"; break;
    default: out += c;
    }
  }
  return out + "'";
}

std::string ident(std::string_view name) {
  std::string out = "`";
  for (char c : name) out += c == '`' ? std::string("``") : std::string(1, c);
  return out + "`";
}

std::string Client::bind(std::string_view sql, const std::vector<std::optional<std::string>>& params) {
  const auto holders = findPlaceholders(sql);
  if (holders.empty()) return std::string(sql);
  std::string out;
  out.reserve(sql.size() + 16 * holders.size());
  std::size_t at = 0;
  for (const auto& h : holders) {
    if (h.n == 0 || h.n > params.size())
      throw std::invalid_argument(
          fmt::format("the statement uses ${} but the request has {} parameter(s)", h.n, params.size()));
    out.append(sql.substr(at, h.offset - at));
    const auto& value = params[h.n - 1];
    out += value ? quote(*value) : std::string("NULL");
    at = h.offset + h.length;
  }
  out.append(sql.substr(at));
  return out;
}

bool Client::alive() { return mysql_ && mysql_ping(mysql_) == 0; }

std::string Client::serverVersion() const { return mysql_get_server_info(mysql_); }

} // namespace kluster::db::mariadb
