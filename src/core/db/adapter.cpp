// The one place a configured database type picks its adapter.
#include "core/db/adapter.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kluster::db {

// Each adapter's folder defines its one entry point.
const Adapter& postgresAdapter(); // postgres/postgres.cpp
const Adapter& mariadbAdapter();  // mariadb/catalog.cpp

namespace {

struct Entry {
  std::string_view type;
  const Adapter& (*get)();
};

constexpr Entry kAdapters[] = {{"postgresql", &postgresAdapter}, {"mariadb", &mariadbAdapter}};

} // namespace

std::vector<std::string> databaseTypes() {
  std::vector<std::string> out;
  for (const auto& e : kAdapters) out.emplace_back(e.type);
  return out;
}

const Adapter& adapter(std::string_view type) {
  for (const auto& e : kAdapters)
    if (e.type == type) return e.get();
  throw UsageError(fmt::format("database type '{}' is not supported (supported: {}); set [database] type", type,
                               fmt::join(databaseTypes(), ", ")));
}

std::unique_ptr<Connection> connect(std::string_view type, const std::string& url) {
  return adapter(type).connect(url);
}

Outcome Outcome::error(std::string_view c, std::string message, std::string sqlState, std::string hint) {
  Outcome o;
  o.resultCode = std::string(c);
  o.errorMessage = std::move(message);
  o.sqlState = std::move(sqlState);
  o.hint = std::move(hint);
  o.result = nullptr;
  return o;
}

Outcome notCaughtUp(std::int64_t held, std::int64_t wanted) {
  return Outcome::error(code::NotCaughtUp,
                        fmt::format("this node's database holds ALL up to offset {}, not yet {}", held, wanted), "",
                        "retry, or read from ALL");
}

} // namespace kluster::db
