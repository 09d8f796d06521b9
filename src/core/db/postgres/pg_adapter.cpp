// PostgreSQL's db::Adapter: what the node decides for PostgreSQL without a connection.
#include "core/db/postgres/pg_operations.hpp"
#include "core/db/postgres/postgres.hpp"

#include <fmt/format.h>

namespace kluster::db {

std::unique_ptr<Connection> PgAdapter::connect(const std::string& url) const {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0)
    return std::make_unique<PgConnection>(url);
  throw UsageError(fmt::format("unsupported database URL '{}': use postgresql://user@host:port/dbname",
                               url.substr(0, url.find(':'))));
}

std::string PgAdapter::sqlStateFor(std::string_view resultCode) const {
  if (resultCode == code::SyntaxError) return "42601";
  if (resultCode == code::FeatureNotSupported) return "0A000";
  if (resultCode == code::Duplicate) return "23505"; // _kluster.applied's primary key
  return {};
}

Statement PgAdapter::recordFingerprint(const std::string& cluster, const std::string& fingerprint,
                                       std::int64_t timestampMs) const {
  return {"INSERT INTO _kluster.cluster_info (cluster, fingerprint, recorded_at) VALUES ($1, $2::jsonb, $3) "
          "ON CONFLICT (cluster) DO NOTHING",
          {cluster, fingerprint, std::to_string(timestampMs)},
          false,
          {}};
}

Statement PgAdapter::recordSecurity(const std::string& cluster, const std::string& digest, std::int64_t offset) const {
  return {"INSERT INTO _kluster.security (cluster, digest, all_offset) VALUES ($1, $2, $3) "
          "ON CONFLICT (cluster) DO UPDATE SET digest = EXCLUDED.digest, all_offset = EXCLUDED.all_offset",
          {cluster, digest, std::to_string(offset)},
          false,
          {}};
}

const Operations& PgAdapter::operations() const {
  static const PgOperations instance;
  return instance;
}

const Adapter& postgresAdapter() {
  static const PgAdapter instance;
  return instance;
}

} // namespace kluster::db
