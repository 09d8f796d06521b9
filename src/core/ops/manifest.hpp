#pragma once
// A backup's manifest (DIR/manifest.json): what was backed up, at which ALL position, and the size and
// SHA-256 of every file, so a restore can prove the files are the ones the backup wrote. A backup
// directory without a manifest is incomplete: the manifest is written last.
#include "core/db/operations.hpp"
#include "core/message.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::ops {

inline constexpr int kManifestVersion = 1;
inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kDumpFile = "database.dump";

/// A SHA-256 computed piece by piece, so a file of any size is hashed in constant memory.
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  /// The hex digest; the object cannot be updated afterwards.
  std::string finish();

private:
  void* ctx_;
};

/// One file of a backup.
struct FileEntry {
  std::string name; ///< relative to the backup directory, no '/' in it
  std::uint64_t bytes = 0;
  std::string sha256;
};

/// Size and SHA-256 of a file, read in chunks.
FileEntry hashFile(const std::filesystem::path& path);

/// A backup's manifest: the dump's facts (method, format, the database's server and locale) and Kluster's.
struct Manifest : db::DumpFacts {
  Manifest() {
    method = "pg_dump";
    format = "custom";
    product = "PostgreSQL";
  }
  int formatVersion = kManifestVersion;
  std::string cluster;
  std::string node;
  std::int64_t allOffset = -1; ///< last applied ALL offset inside the backup; replay resumes at allOffset + 1
  std::string messageId;       ///< id of the request applied at allOffset
  std::int64_t timeMs = 0;     ///< when the snapshot was taken
  std::int64_t durationMs = 0;
  bool nodeStopped = false; ///< taken with --stop-node
  std::string klusterctlVersion;
  std::vector<FileEntry> files;

  std::int64_t replayFrom() const { return allOffset + 1; }
  std::uint64_t totalBytes() const;
  ojson toJson() const;
  /// Throws UsageError on a manifest this version cannot read (missing fields, newer format, unsafe names).
  static Manifest fromJson(const ojson& j);
};

/// Writes DIR/manifest.json (through a temporary file and a rename, then fsync), so it appears whole or not at all.
void writeManifest(const std::filesystem::path& dir, const Manifest& manifest);
/// Reads DIR/manifest.json; throws UsageError when it is missing or unreadable.
Manifest readManifest(const std::filesystem::path& dir);
/// Checks every file's size and SHA-256 against the manifest; returns one line per problem (empty: all good).
std::vector<std::string> verifyFiles(const std::filesystem::path& dir, const Manifest& manifest);

/// Flushes a file's contents to stable storage.
void syncFile(const std::filesystem::path& path);

/// "1.5 MiB"
std::string formatBytes(std::uint64_t bytes);

} // namespace kluster::ops
