#include "core/proxy/pg_types.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <unordered_map>

namespace kluster::proxy {
namespace {

const std::unordered_map<std::string_view, std::uint32_t>& oidsByName() {
  // The names pg_values.cpp and format_type() give, including the arrays of the common types.
  static const std::unordered_map<std::string_view, std::uint32_t> map = {
      {"boolean", oid::Bool},
      {"bytea", oid::Bytea},
      {"char", oid::Char},
      {"\"char\"", oid::Char},
      {"name", oid::Name},
      {"bigint", oid::Int8},
      {"smallint", oid::Int2},
      {"integer", oid::Int4},
      {"text", oid::Text},
      {"oid", oid::Oid},
      {"json", oid::Json},
      {"real", oid::Float4},
      {"double precision", oid::Float8},
      {"character", oid::Bpchar},
      {"character varying", oid::Varchar},
      {"date", oid::Date},
      {"time without time zone", oid::Time},
      {"timestamp without time zone", oid::Timestamp},
      {"timestamp with time zone", oid::Timestamptz},
      {"interval", oid::Interval},
      {"time with time zone", oid::Timetz},
      {"numeric", oid::Numeric},
      {"uuid", oid::Uuid},
      {"jsonb", oid::Jsonb},
      {"regclass", 2205},
      {"regproc", 24},
      {"regtype", 2206},
      {"xid", 28},
      {"cid", 29},
      {"tid", 27},
      {"inet", 869},
      {"cidr", 650},
      {"macaddr", 829},
      {"bit", 1560},
      {"bit varying", 1562},
      {"money", 790},
      {"pg_lsn", 3220},
      {"aclitem", 1033},
      {"pg_node_tree", 194},
      {"boolean[]", 1000},
      {"smallint[]", 1005},
      {"integer[]", 1007},
      {"text[]", 1009},
      {"character[]", 1014},
      {"character varying[]", 1015},
      {"bigint[]", 1016},
      {"real[]", 1021},
      {"double precision[]", 1022},
      {"oid[]", 1028},
      {"name[]", 1003},
      {"numeric[]", 1231},
      {"uuid[]", 2951},
      {"jsonb[]", 3807},
      {"json[]", 199},
      {"date[]", 1182},
      {"timestamp without time zone[]", 1115},
      {"timestamp with time zone[]", 1185},
      {"aclitem[]", 1034},
      {"\"char\"[]", 1002},
      {"int2vector", 22},
      {"oidvector", 30},
  };
  return map;
}

// --- JSON text as PostgreSQL writes it ---------------------------------------------------------

std::string number(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15)
    return fmt::format("{}", static_cast<long long>(d));
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d); // shortest exact, as PostgreSQL 12+ (extra_float_digits 1)
  std::string s(buf, p);
  // PostgreSQL writes exponents with a sign and at least two digits: 1e+20, 1e-07.
  if (auto e = s.find('e'); e != std::string::npos) {
    std::string mant = s.substr(0, e), exp = s.substr(e + 1);
    char sign = '+';
    if (!exp.empty() && (exp[0] == '-' || exp[0] == '+')) {
      sign = exp[0];
      exp.erase(0, 1);
    }
    s = mant + "e" + sign + (exp.size() < 2 ? "0" : "") + exp;
  }
  return s;
}

// jsonb's output form: ", " between items and ": " after keys.
void jsonText(const ojson& v, std::string& out) {
  switch (v.type()) {
  case ojson::value_t::object: {
    out += '{';
    bool first = true;
    for (const auto& [k, item] : v.items()) {
      if (!first) out += ", ";
      first = false;
      out += ojson(k).dump();
      out += ": ";
      jsonText(item, out);
    }
    out += '}';
    break;
  }
  case ojson::value_t::array: {
    out += '[';
    bool first = true;
    for (const auto& item : v) {
      if (!first) out += ", ";
      first = false;
      jsonText(item, out);
    }
    out += ']';
    break;
  }
  case ojson::value_t::number_float: out += number(v.get<double>()); break;
  default: out += v.dump(); break;
  }
}

} // namespace

std::uint32_t typeOid(std::string_view typeName) {
  if (auto it = oidsByName().find(typeName); it != oidsByName().end()) return it->second;
  if (typeName.rfind("oid:", 0) == 0) { // a type the node could not name
    std::uint32_t v = 0;
    const auto digits = typeName.substr(4);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    // Only built-in types' OIDs (below 10000) are the same on every node; the others are text, as a
    // node's describe answer reports them.
    if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty())
      return v < kFirstAssignedOid ? v : oid::Text;
  }
  // "character varying(20)", "numeric(10,2)", "timestamp(3) with time zone": drop the modifier.
  if (auto open = typeName.find('('); open != std::string_view::npos) {
    const auto close = typeName.find(')', open);
    if (close != std::string_view::npos) {
      std::string bare(typeName.substr(0, open));
      bare += typeName.substr(close + 1);
      if (auto it = oidsByName().find(bare); it != oidsByName().end()) return it->second;
    }
  }
  return oid::Text;
}

std::int16_t typeSize(std::uint32_t o) {
  switch (o) {
  case oid::Bool:
  case oid::Char: return 1;
  case oid::Int2: return 2;
  case oid::Int4:
  case oid::Oid:
  case oid::Float4:
  case oid::Date: return 4;
  case oid::Int8:
  case oid::Float8:
  case oid::Time:
  case oid::Timestamp:
  case oid::Timestamptz: return 8;
  case oid::Uuid: return 16;
  case oid::Name: return 64;
  default: return -1;
  }
}

std::optional<std::string> textValue(const ojson& value) {
  switch (value.type()) {
  case ojson::value_t::null: return std::nullopt;
  case ojson::value_t::string: return value.get<std::string>();
  case ojson::value_t::boolean: return std::string(value.get<bool>() ? "t" : "f");
  case ojson::value_t::number_integer: return std::to_string(value.get<std::int64_t>());
  case ojson::value_t::number_unsigned: return std::to_string(value.get<std::uint64_t>());
  case ojson::value_t::number_float: return number(value.get<double>());
  default: {
    std::string s;
    jsonText(value, s);
    return s;
  }
  }
}

} // namespace kluster::proxy
