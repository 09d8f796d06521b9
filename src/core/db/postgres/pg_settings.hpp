#pragma once
// The PostgreSQL settings a node's connection pins, and why each other one cannot make nodes differ. No libpq here:
// tests include it.
#include <optional>
#include <string_view>

namespace kluster::db {

/// The options (`-c name=value ...`) that pin a connection's session settings, whatever the server's defaults
/// (pg_session.cpp).
const char* sessionOptions();

/// Why a run-time setting a database, role or session can change (pg_settings' contexts user and superuser) cannot
/// make nodes differ (pg_settings.cpp; docs/determinism.md "Every setting").
enum class SettingClass {
  Pinned,
  PinnedWhenAllowed,
  Transaction,
  Planner,
  Resources,
  Storage,
  Logging,
  Connection,
  Permission,
  ServerCode
};
/// The class of a setting (any case); none for a setting Kluster has not judged.
std::optional<SettingClass> settingClass(std::string_view name);
std::string_view describe(SettingClass cls);

} // namespace kluster::db
