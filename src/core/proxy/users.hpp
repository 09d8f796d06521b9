#pragma once
// The proxy's users file: one `USER:SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` line per user
// (PostgreSQL's verifier format, never a password), `#` comments, mode 600. `klusterctl passwd` writes it; the
// proxy reads it when it starts.
#include "core/proxy/scram.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace kluster::proxy {

class Users {
public:
  /// Reads `file`; refuses one that others may read (mode beyond 600) or a malformed line (UsageError).
  static Users load(const std::filesystem::path& file);
  static Users parse(std::string_view text, const std::string& name);
  const scram::Verifier* find(const std::string& user) const;
  /// The made-up verifier an unknown user's exchange runs with. Its salt and iterations are the same at every
  /// attempt (a fresh salt each time would tell unknown users from known ones, whose salt never changes) and
  /// across restarts: they derive from the file's secret keys. No password matches it.
  scram::Verifier mock(const std::string& user) const;
  std::size_t size() const { return users_.size(); }
  /// Sets (adds or replaces) a user's verifier in `file`: written whole to a new temporary file of mode 600
  /// in the same folder, flushed to disk and renamed over it. Creates the file when missing.
  static void set(const std::filesystem::path& file, const std::string& user, const scram::Verifier& verifier);

private:
  void prepareMock();

  std::map<std::string, scram::Verifier> users_;
  std::string mockKey_;
  int mockIterations_ = 4096;
};

} // namespace kluster::proxy
