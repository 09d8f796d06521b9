// klusterctl security: keys for clients, the digest of a clients file, and publishing one so that every node
// puts it in effect at the same ALL position.
#include "commands/command.hpp"
#include "core/auth.hpp"
#include "core/client/client.hpp"
#include "core/util.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <iostream>

namespace kluster::commands {
namespace {

struct PublishOptions {
  ClusterFlags flags;
  std::string file;
  std::string timeout = "30s";
};

int runPublish(const PublishOptions& o) {
  const auto clients = auth::Clients::load(o.file);
  const auto settings = o.flags.resolve();
  auto copts = clientOptions(settings);
  const auto timeout = util::parseDuration(o.timeout);
  client::Client client(copts);
  Request r;
  r.securityDigest = clients.digest();
  auto result = client.send(r, client::Target::All, client::WaitPolicy::parse("all"), timeout).get();
  int rc = exitcode::Ok;
  for (const auto& resp : result.responses) {
    if (resp.ok()) {
      std::cout << fmt::format("{}: clients file {} in effect from ALL offset {}\n", resp.nodeId,
                               clients.digest().substr(0, 12), resp.allOffset.value_or(-1));
    } else {
      std::cout << fmt::format("{}: {}: {}\n", resp.nodeId, resp.resultCode, resp.errorMessage);
      rc = exitcode::SqlError;
    }
  }
  if (result.responses.empty() || !result.missingNodes.empty()) {
    std::string missing;
    for (const auto& n : result.missingNodes) missing += (missing.empty() ? "" : ", ") + n;
    std::cerr << fmt::format("klusterctl: no answer from {} within {}: a node whose clients file differs stops at "
                             "the security request (see its log and ERRORS); deploy the same file and start it "
                             "again\n",
                             missing.empty() ? std::string("any node") : missing, o.timeout);
    return exitcode::Timeout;
  }
  return rc;
}

} // namespace

void registerSecurity(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("security", "Signed requests and permissions: keys, clients files, publishing one");
  cmd->require_subcommand(1);

  auto* keygen = cmd->add_subcommand("keygen", "Print a new random client key (32 bytes, hex)");
  keygen->callback([&action] {
    action = [] {
      unsigned char bytes[32];
      if (RAND_bytes(bytes, sizeof bytes) != 1) throw KlusterError(code::NodeError, "no random bytes from OpenSSL");
      std::string hex;
      for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
      std::cout << hex << "\n";
      return exitcode::Ok;
    };
  });

  auto digestFile = std::make_shared<std::string>();
  auto* digest = cmd->add_subcommand("digest", "Check a clients file and print its digest (what publish records)");
  digest->add_option("FILE", *digestFile, "the clients file")->required();
  digest->callback([digestFile, &action] {
    action = [digestFile] {
      const auto clients = auth::Clients::load(*digestFile);
      std::cout << clients.digest() << "\n";
      return exitcode::Ok;
    };
  });

  auto o = std::make_shared<PublishOptions>();
  auto* publish = cmd->add_subcommand(
      "publish", "Put a clients file in effect on every node at once, through ALL (deploy it to every node first)");
  o->flags.add(publish);
  publish->add_option("FILE", o->file, "the clients file every node has (security.clients_file)")->required();
  publish->add_option("--timeout", o->timeout, "how long to wait for every node's answer")->capture_default_str();
  publish->footer("Sends {\"kind\": \"security\", \"digest\": ...} to ALL, signed with security.client_id and its key. "
                  "Each node reads its own clients file again when it applies it: when the digests match, the file is "
                  "in effect from that position on (requests must be signed, permissions apply); when they do not, "
                  "the node stops there rather than diverge. Once a file is in effect, only a client with access = "
                  "\"admin\" may publish another.\nExit status: 0 every node took it, 1 a node refused it, 3 a node "
                  "did not answer, 2 a bad file.");
  publish->callback([o, &action] { action = [o] { return runPublish(*o); }; });
}

} // namespace kluster::commands
