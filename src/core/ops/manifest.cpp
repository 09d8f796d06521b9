#include "core/ops/manifest.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kluster::ops {
namespace fs = std::filesystem;

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("cannot initialize SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, std::size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

std::string Sha256::finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

FileEntry hashFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("cannot read {}", path.string()));
  FileEntry entry;
  entry.name = path.filename().string();
  Sha256 sha;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    sha.update(buf.data(), n);
    entry.bytes += n;
  }
  if (in.bad()) throw UsageError(fmt::format("error reading {}", path.string()));
  entry.sha256 = sha.finish();
  return entry;
}

std::uint64_t Manifest::totalBytes() const {
  std::uint64_t total = 0;
  for (const auto& f : files) total += f.bytes;
  return total;
}

ojson Manifest::toJson() const {
  ojson files_ = ojson::array();
  for (const auto& f : files) files_.push_back({{"name", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  return {
      {"formatVersion", formatVersion},
      {"kind", "kluster-backup"},
      {"cluster", cluster},
      {"node", node},
      {"allOffset", allOffset},
      {"replayFrom", replayFrom()},
      {"messageId", messageId},
      {"time", util::isoMillis(timeMs)},
      {"timeMs", timeMs},
      {"durationMs", durationMs},
      {"method", method},
      {"format", format},
      {"nodeStopped", nodeStopped},
      {"server", {{"product", product}, {"version", serverVersion}, {"majorVersion", serverMajor}}},
      {"database",
       {{"name", database},
        {"encoding", encoding},
        {"collation", collation},
        {"ctype", ctype},
        {"sizeBytes", databaseBytes}}},
      {"toolVersion", toolVersion},
      {"klusterctlVersion", klusterctlVersion},
      {"files", files_},
      {"totalBytes", totalBytes()},
  };
}

Manifest Manifest::fromJson(const ojson& j) {
  Manifest m;
  try {
    m.formatVersion = j.at("formatVersion").get<int>();
    if (m.formatVersion > kManifestVersion)
      throw UsageError(fmt::format("the backup's manifest has format {}, newer than this klusterctl reads ({}); "
                                   "use a newer klusterctl",
                                   m.formatVersion, kManifestVersion));
    if (j.value("kind", "") != "kluster-backup") throw UsageError("manifest.json is not a Kluster backup manifest");
    m.cluster = j.at("cluster").get<std::string>();
    m.node = j.at("node").get<std::string>();
    m.allOffset = j.at("allOffset").get<std::int64_t>();
    m.messageId = j.value("messageId", "");
    m.timeMs = j.at("timeMs").get<std::int64_t>();
    m.durationMs = j.value("durationMs", std::int64_t{0});
    m.method = j.at("method").get<std::string>();
    m.format = j.at("format").get<std::string>();
    m.nodeStopped = j.value("nodeStopped", false);
    const auto& server = j.at("server");
    m.product = server.at("product").get<std::string>();
    m.serverVersion = server.at("version").get<std::string>();
    m.serverMajor = server.at("majorVersion").get<int>();
    const auto& db = j.at("database");
    m.database = db.at("name").get<std::string>();
    m.encoding = db.value("encoding", "");
    m.collation = db.value("collation", "");
    m.ctype = db.value("ctype", "");
    m.databaseBytes = db.value("sizeBytes", std::int64_t{0});
    m.toolVersion = j.value("toolVersion", "");
    m.klusterctlVersion = j.value("klusterctlVersion", "");
    for (const auto& f : j.at("files")) {
      FileEntry e{f.at("name").get<std::string>(), f.at("bytes").get<std::uint64_t>(),
                  f.at("sha256").get<std::string>()};
      // A manifest names files inside its own directory only.
      if (e.name.empty() || e.name.find('/') != std::string::npos || e.name == "." || e.name == "..")
        throw UsageError(fmt::format("manifest.json names an invalid file '{}'", e.name));
      m.files.push_back(std::move(e));
    }
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(std::string("manifest.json is incomplete or malformed: ") + e.what());
  }
  if (m.files.empty()) throw UsageError("manifest.json lists no files");
  return m;
}

void syncFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw UsageError(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw UsageError(fmt::format("cannot sync {}: {}", path.string(), std::strerror(errno)));
}

void writeManifest(const fs::path& dir, const Manifest& manifest) {
  const auto tmp = dir / (std::string(kManifestFile) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << manifest.toJson().dump(2) << "\n";
    out.flush();
    if (!out) throw UsageError(fmt::format("cannot write {}", tmp.string()));
  }
  syncFile(tmp);
  fs::rename(tmp, dir / kManifestFile);
  syncFile(dir);
}

Manifest readManifest(const fs::path& dir) {
  const auto path = dir / kManifestFile;
  std::ifstream in(path);
  if (!in)
    throw UsageError(fmt::format("{} not found: {} is not a complete backup (the manifest is written last)",
                                 path.string(), dir.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  ojson j;
  try {
    j = ojson::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(fmt::format("{} is not valid JSON: {}", path.string(), e.what()));
  }
  return Manifest::fromJson(j);
}

std::vector<std::string> verifyFiles(const fs::path& dir, const Manifest& manifest) {
  std::vector<std::string> problems;
  for (const auto& f : manifest.files) {
    const auto path = dir / f.name;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      problems.push_back(fmt::format("{}: missing", f.name));
      continue;
    }
    const auto size = fs::file_size(path, ec);
    if (!ec && size != f.bytes) {
      problems.push_back(fmt::format("{}: {} bytes, the manifest says {}", f.name, size, f.bytes));
      continue;
    }
    const auto actual = hashFile(path);
    if (actual.sha256 != f.sha256)
      problems.push_back(
          fmt::format("{}: SHA-256 {} does not match the manifest's {}", f.name, actual.sha256, f.sha256));
  }
  return problems;
}

std::string formatBytes(std::uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
}

} // namespace kluster::ops
