# Every dependency comes from Debian 12's packages (scripts/setup.sh installs them).
find_package(PkgConfig REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++ rdkafka)
# PostgreSQL's client library, for the PostgreSQL adapter (src/core/db/postgres) only. libpqxx is not used:
# ARCHITECTURE.md says why.
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
# The MariaDB adapter (src/core/db/mariadb): MariaDB Connector/C (libmariadb-dev).
pkg_check_modules(MARIADB REQUIRED IMPORTED_TARGET libmariadb)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(LIBEDIT REQUIRED IMPORTED_TARGET libedit)
find_package(Threads REQUIRED)
# klusterctl proxy's event loop: standalone (header-only) asio, Debian's libasio-dev.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
# The node's /metrics, /health and /ready endpoint (libcpp-httplib-dev).
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# The node's reader, applier and responder threads hand requests to each other: memory allocated on one
# thread is freed on another, which glibc's allocator handles slowly (bench/README.md has the numbers).
# Not with sanitizers, which bring their own allocator.
if(NOT KLUSTER_SANITIZE)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
endif()

find_path(PG_QUERY_INCLUDE_DIR pg_query.h REQUIRED)
find_library(PG_QUERY_LIBRARY NAMES pg_query REQUIRED)
add_library(pg_query::pg_query UNKNOWN IMPORTED)
set_target_properties(pg_query::pg_query PROPERTIES
  IMPORTED_LOCATION ${PG_QUERY_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${PG_QUERY_INCLUDE_DIR})

if(KLUSTER_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
endif()
