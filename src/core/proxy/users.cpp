#include "core/proxy/users.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace kluster::proxy {

Users Users::load(const std::filesystem::path& file) {
  return parse(util::readSecretFile(file.string(), "users file"), file.string());
}

Users Users::parse(std::string_view text, const std::string& name) {
  Users u;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    auto v = colon == std::string::npos ? std::nullopt : scram::Verifier::parse(line.substr(colon + 1));
    if (colon == 0 || !v)
      throw UsageError(fmt::format("users file {} line {}: expected USER:SCRAM-SHA-256$... (klusterctl passwd "
                                   "writes it)",
                                   name, n));
    u.users_[line.substr(0, colon)] = *v;
  }
  u.prepareMock();
  return u;
}

void Users::prepareMock() {
  if (users_.empty()) {
    mockKey_ = scram::randomBytes(32); // no user to tell apart from: any salt will do
    return;
  }
  // A key nobody without the file knows, and the iteration count most users have.
  std::string secrets = "kluster proxy mock verifier";
  std::map<int, int> iterations;
  for (const auto& [user, v] : users_) {
    secrets += std::string(1, '\0') + user + '\0' + v.serverKey;
    ++iterations[v.iterations];
  }
  mockKey_ = scram::sha256(secrets);
  int best = 0;
  for (const auto& [count, users] : iterations)
    if (users > best) {
      best = users;
      mockIterations_ = count;
    }
}

scram::Verifier Users::mock(const std::string& user) const {
  scram::Verifier v;
  v.iterations = mockIterations_;
  v.salt = scram::hmac(mockKey_, std::string("salt") + '\0' + user).substr(0, 16);
  v.storedKey = scram::hmac(mockKey_, std::string("stored") + '\0' + user);
  v.serverKey = scram::hmac(mockKey_, std::string("server") + '\0' + user);
  return v;
}

const scram::Verifier* Users::find(const std::string& user) const {
  auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

void Users::set(const std::filesystem::path& file, const std::string& user, const scram::Verifier& verifier) {
  if (user.empty() || user.find_first_of(":\r\n") != std::string::npos || user[0] == '#')
    throw UsageError("a user name must not be empty, start with '#' or contain ':' or a line break");
  std::vector<std::string> lines;
  if (std::filesystem::exists(file)) {
    Users::load(file); // refuses a malformed or readable-by-others file before touching it
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(user + ":", 0) != 0) lines.push_back(line);
  } else {
    lines.push_back("# klusterctl proxy users: USER:SCRAM verifier (klusterctl passwd USER --users-file FILE)");
  }
  lines.push_back(user + ":" + verifier.text());
  std::string text;
  for (const auto& l : lines) text += l + "\n";

  // mkstemp creates the file with mode 600 and a name no other writer uses; rename makes the change atomic.
  std::string tmp = file.string() + ".XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw UsageError(fmt::format("cannot create a file next to {}: {}", file.string(), std::strerror(errno)));
  const auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw UsageError(fmt::format("cannot {} {}: {}", what, tmp, std::strerror(err)));
  };
  for (std::size_t done = 0; done < text.size();) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("flush");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw UsageError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw UsageError(fmt::format("cannot replace {}: {}", file.string(), std::strerror(err)));
  }
}

} // namespace kluster::proxy
