#include "commands/command.hpp"
#include "commands/generate.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <sstream>

using namespace kluster::commands;

namespace {

const docs::OptionDoc* findOption(const docs::CommandDoc& c, const std::string& name) {
  for (const auto& o : c.options)
    if (o.positional == name || std::find(o.names.begin(), o.names.end(), name) != o.names.end()) return &o;
  return nullptr;
}

struct SampleCli {
  CLI::App app{"klusterctl: a sample"};
  std::string text;
  std::vector<std::string> many;
  bool flag = false;

  SampleCli() {
    auto* alpha = app.add_subcommand("alpha", "Alpha: does things");
    alpha->add_option("-c,--config", text, "config file")->envname("KLUSTER_CONFIG");
    alpha->add_option("--mode", text, "fast or safe")->check(CLI::IsMember({"fast", "safe"}));
    alpha->add_option("-p", many, "a value (repeatable)");
    alpha->add_flag("--dry", flag, "change nothing");
    alpha->add_option("--out", text, "directory to write");
    alpha->add_option("--wait", text, "how long")->capture_default_str();
    alpha->add_option("sql", text, ".pgpass, \\backslash, at least \xe2\x89\xa5 1, -n");
    app.add_subcommand("hiddencmd", "not for users")->group("");
  }
};

} // namespace

TEST_CASE("describe reads visible commands and what each option takes") {
  SampleCli cli;
  cli.text = "10s";
  const auto tree = docs::describe(cli.app);
  REQUIRE(tree.subcommands.size() == 1); // "hiddencmd" is hidden
  const auto& alpha = tree.subcommands[0];
  CHECK(alpha.fullName() == "klusterctl alpha");
  const auto* config = findOption(alpha, "--config");
  REQUIRE(config);
  CHECK(config->names == std::vector<std::string>{"-c", "--config"});
  CHECK(config->file);
  CHECK(config->env == "KLUSTER_CONFIG");
  CHECK(findOption(alpha, "--mode")->choices == std::vector<std::string>{"fast", "safe"});
  CHECK(findOption(alpha, "--mode")->metavar == "fast|safe");
  CHECK(findOption(alpha, "-p")->repeatable);
  CHECK(!findOption(alpha, "--dry")->takesValue);
  CHECK(findOption(alpha, "--out")->directory);
  CHECK(findOption(alpha, "sql")->positional == "sql");
  CHECK(alpha.hasPositionals());
}

TEST_CASE("the man page escapes what roff would misread") {
  SampleCli cli;
  std::ostringstream out;
  docs::writeMan(docs::describe(cli.app), out);
  const auto page = out.str();
  CHECK(page.find("\\fB\\-c\\fR, \\fB\\-\\-config\\fR \\fIFILE\\fR") != std::string::npos);
  CHECK(page.find("\\&.pgpass, \\ebackslash, at least \\[u2265] 1, \\-n") != std::string::npos);
  CHECK(page.find("hiddencmd") == std::string::npos);
  // No generated line may start with a control character by accident: every one is a known macro or comment.
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '.') continue;
    INFO(line);
    const auto macro = line.substr(0, line.find(' '));
    CHECK((macro == ".\\\"" || macro == ".TH" || macro == ".SH" || macro == ".SS" || macro == ".TP" || macro == ".PP" ||
           macro == ".br" || macro == ".RS" || macro == ".RE" || macro == ".IP" || macro == ".nf" || macro == ".fi"));
  }
}

TEST_CASE("the completions know commands, options and how values complete") {
  SampleCli cli;
  std::ostringstream bash, zsh;
  const auto tree = docs::describe(cli.app);
  docs::writeBash(tree, bash);
  docs::writeZsh(tree, zsh);
  CHECK(bash.str().find("[\"klusterctl\"]=\"alpha\"") != std::string::npos);
  CHECK(bash.str().find("[\"klusterctl alpha|--config\"]=\"file\"") != std::string::npos);
  CHECK(bash.str().find("[\"klusterctl alpha|--mode\"]=\"=fast safe\"") != std::string::npos);
  CHECK(bash.str().find("complete -F _klusterctl klusterctl") != std::string::npos);
  CHECK(zsh.str().rfind("#compdef klusterctl\n", 0) == 0);
  CHECK(zsh.str().find("'(-c --config)'{-c+,--config=}'[config file]:config:_files'") != std::string::npos);
  CHECK(zsh.str().find(":mode:(fast safe)") != std::string::npos);
  CHECK(bash.str().find("hiddencmd") == std::string::npos);
  CHECK(zsh.str().find("hiddencmd") == std::string::npos);
}

TEST_CASE("every klusterctl command and option is described, and generate stays hidden") {
  CLI::App app{"klusterctl: test"};
  Action action;
  registerAll(app, action);
  const auto tree = docs::describe(app);
  std::function<void(const docs::CommandDoc&)> check = [&](const docs::CommandDoc& c) {
    INFO(c.fullName());
    CHECK(c.fullName() != "klusterctl generate");
    if (!c.path.empty()) CHECK(!c.description.empty());
    for (const auto& o : c.options) {
      INFO((o.names.empty() ? o.positional : o.names.back()));
      CHECK(!o.description.empty());
    }
    for (const auto& s : c.subcommands) check(s);
  };
  check(tree);
  CHECK(tree.subcommands.size() >= 5);
}
