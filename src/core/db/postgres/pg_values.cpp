// PostgreSQL results as JSON: rows as objects in column order, SQL NULL as null, numbers as JSON numbers
// only when they fit exactly, json/jsonb embedded, everything else as the server's text.
#include "core/db/postgres/postgres.hpp"
#include "core/db/values.hpp"

namespace kluster::db {

std::string_view builtinTypeName(unsigned oid) {
  switch (oid) {
  case 16: return "boolean";
  case 17: return "bytea";
  case 18: return "char";
  case 19: return "name";
  case 20: return "bigint";
  case 21: return "smallint";
  case 23: return "integer";
  case 25: return "text";
  case 26: return "oid";
  case 114: return "json";
  case 700: return "real";
  case 701: return "double precision";
  case 1042: return "character";
  case 1043: return "character varying";
  case 1082: return "date";
  case 1083: return "time without time zone";
  case 1114: return "timestamp without time zone";
  case 1184: return "timestamp with time zone";
  case 1186: return "interval";
  case 1266: return "time with time zone";
  case 1700: return "numeric";
  case 2950: return "uuid";
  case 3802: return "jsonb";
  default: return {};
  }
}

ojson pgValueToJson(unsigned oid, const char* text, int length) {
  std::string_view v(text, static_cast<std::size_t>(length));
  switch (oid) {
  case 16: return v == "t";
  case 20:
  case 21:
  case 23:
  case 26: return integerValue(v);
  case 700:
  case 701: return floatValue(v);
  case 1700: return decimalValue(v);
  case 114:
  case 3802: {
    auto parsed = ojson::parse(v, nullptr, false);
    if (!parsed.is_discarded()) return parsed;
    return std::string(v);
  }
  default: return std::string(v);
  }
}

std::string PgConnection::typeName(unsigned oid) {
  if (auto name = builtinTypeName(oid); !name.empty()) return std::string(name);
  if (auto it = typeNames_.find(oid); it != typeNames_.end()) return it->second;
  return "oid:" + std::to_string(oid); // resolved lazily outside pipelines; see toOutcome
}

Outcome PgConnection::toOutcome(std::vector<PGresult*>& results) {
  Outcome out;
  out.result = nullptr;
  ojson perStatement = ojson::array();
  for (PGresult* res : results) {
    ojson one;
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
      const int rows = PQntuples(res), cols = PQnfields(res);
      // Column names become object keys; a repeated name gets a suffix so no value is lost.
      std::vector<std::string> keys;
      ojson columns = ojson::array();
      for (int c = 0; c < cols; ++c) {
        std::string name = PQfname(res, c);
        std::string key = name;
        for (int n = 2; std::find(keys.begin(), keys.end(), key) != keys.end(); ++n)
          key = name + "_" + std::to_string(n);
        keys.push_back(key);
        columns.push_back({{"name", key}, {"type", typeName(PQftype(res, c))}});
      }
      ojson data = ojson::array();
      for (int r = 0; r < rows; ++r) {
        ojson row = ojson::object();
        for (int c = 0; c < cols; ++c)
          row[keys[static_cast<std::size_t>(c)]] =
              PQgetisnull(res, r, c) ? ojson(nullptr)
                                     : pgValueToJson(PQftype(res, c), PQgetvalue(res, r, c), PQgetlength(res, r, c));
        data.push_back(std::move(row));
      }
      out.rowsAffected += rows;
      out.columns = std::move(columns);
      one = std::move(data);
    } else {
      const char* n = PQcmdTuples(res);
      std::int64_t affected = (n && *n) ? std::atoll(n) : 0;
      out.rowsAffected += affected;
      out.columns = nullptr;
      one = ojson{{"rowsAffected", affected}};
    }
    perStatement.push_back(one);
    out.result = std::move(one);
  }
  if (results.size() > 1) out.results = std::move(perStatement);
  return out;
}

} // namespace kluster::db
