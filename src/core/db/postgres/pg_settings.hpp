#pragma once
// The PostgreSQL settings a node's connection pins, and why each other one cannot make nodes differ. No libpq here:
// tests include it.
#include <optional>
#include <string_view>
#include <vector>

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
/// Every setting of class `cls`, in lower case (integration.determinism and integration.differential give each one
/// another default on one node: tests/integration/odd_settings.cpp).
std::vector<std::string_view> settingsOf(SettingClass cls);
/// Every class, in declaration order.
inline constexpr SettingClass kSettingClasses[] = {
    SettingClass::Pinned,     SettingClass::PinnedWhenAllowed, SettingClass::Transaction, SettingClass::Planner,
    SettingClass::Resources,  SettingClass::Storage,           SettingClass::Logging,     SettingClass::Connection,
    SettingClass::Permission, SettingClass::ServerCode};
std::string_view describe(SettingClass cls);
/// The class's short name: "pinned", "pinned when allowed", "transaction", "plan", ...
std::string_view className(SettingClass cls);

} // namespace kluster::db
