// klusterctl generate man|man-pages|bash|zsh|fish: the man page and completions, from the same CLI11 tree that parses
// the command line. Hidden (group ""): it is for the build (cmake/Docs.cmake), not for users.
#include "commands/generate.hpp"

#include "commands/command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace kluster::commands {
namespace docs {
namespace {

// Options whose value is a file although their definition does not say so with ->type_name("FILE") or
// ->check(CLI::ExistingFile), as new options should. An option whose description speaks of a directory
// takes one, unless its type says otherwise.
const std::vector<std::string> kFileOptions = {"--config", "--file", "--node-config"};

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep)) parts.push_back(part);
  return parts;
}

OptionDoc describeOption(const CLI::Option& opt, const CLI::App& app) {
  OptionDoc d;
  for (const auto& s : opt.get_snames()) d.names.push_back("-" + s);
  for (const auto& l : opt.get_lnames()) d.names.push_back("--" + l);
  if (d.names.empty()) d.positional = opt.get_name(true, false);
  d.description = opt.get_description();
  d.defaultValue = opt.get_default_str();
  d.env = opt.get_envname();
  d.takesValue = opt.get_items_expected_max() > 0;
  d.repeatable = d.takesValue && opt.get_expected_max() > 1;
  d.required = opt.get_required();
  d.help = &opt == app.get_help_ptr() || &opt == app.get_help_all_ptr();
  // CLI11 spells a type as "TEXT" followed by each validator's description: "TEXT:{a,b}", "TEXT:FILE".
  const auto parts = split(opt.get_type_name(), ':');
  d.metavar = parts.empty() ? "" : parts[0];
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const auto& v = parts[i];
    if (v.size() > 2 && v.front() == '{' && v.back() == '}') d.choices = split(v.substr(1, v.size() - 2), ',');
    if (v == "FILE" || v.rfind("PATH", 0) == 0) d.file = true;
    if (v == "DIR") d.directory = true;
  }
  if (d.metavar == "FILE" || d.metavar == "PATH") d.file = true;
  if (d.metavar == "DIR") d.directory = true;
  for (const auto& n : d.names)
    if (std::find(kFileOptions.begin(), kFileOptions.end(), n) != kFileOptions.end()) d.file = true;
  if (d.takesValue && !d.file && d.metavar == "TEXT" && d.description.find("directory") != std::string::npos)
    d.directory = true;
  if (d.file) d.metavar = "FILE";
  if (d.directory) d.metavar = "DIR";
  if (!d.choices.empty()) {
    d.metavar.clear();
    for (const auto& c : d.choices) d.metavar += (d.metavar.empty() ? "" : "|") + c;
  }
  return d;
}

CommandDoc describeCommand(const CLI::App& app, std::vector<std::string> path) {
  CommandDoc c;
  c.path = std::move(path);
  c.description = app.get_description();
  c.footer = app.get_footer();
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_group().empty()) continue; // hidden
    c.options.push_back(describeOption(*opt, app));
  }
  // The filter overload lists every subcommand; the plain one would list only those parsed.
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_group().empty() || sub->get_name().empty()) continue; // hidden, or an option group
    auto subPath = c.path;
    subPath.push_back(sub->get_name());
    c.subcommands.push_back(describeCommand(*sub, std::move(subPath)));
  }
  return c;
}

} // namespace

std::string CommandDoc::fullName() const {
  std::string name = "klusterctl";
  for (const auto& p : path) name += " " + p;
  return name;
}

bool CommandDoc::hasPositionals() const {
  return std::any_of(options.begin(), options.end(), [](const OptionDoc& o) { return !o.positional.empty(); });
}

CommandDoc describe(const CLI::App& root) { return describeCommand(root, {}); }

} // namespace docs

namespace {

struct GenerateOptions {
  std::string what;
  std::string out;
};

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) throw UsageError(fmt::format("cannot write {}", path));
}

int runGenerate(const CLI::App& root, const GenerateOptions& o) {
  const auto tree = docs::describe(root);
  if (o.what == "man-pages") { // one page per command, into a directory
    if (o.out.empty() || o.out == "-") throw UsageError("generate man-pages needs --out DIR");
    std::filesystem::create_directories(o.out);
    for (const auto* c : docs::pageCommands(tree)) {
      std::ostringstream page;
      docs::writeCommandMan(*c, page);
      writeFile(o.out + "/" + docs::manPageName(*c) + ".1", page.str());
    }
    return exitcode::Ok;
  }
  std::ostringstream text;
  if (o.what == "man")
    docs::writeMan(tree, text);
  else if (o.what == "bash")
    docs::writeBash(tree, text);
  else if (o.what == "fish")
    docs::writeFish(tree, text);
  else
    docs::writeZsh(tree, text);
  if (o.out.empty() || o.out == "-") {
    std::cout << text.str();
    return exitcode::Ok;
  }
  writeFile(o.out, text.str());
  return exitcode::Ok;
}

} // namespace

void registerGenerate(CLI::App& app, Action& action) {
  auto o = std::make_shared<GenerateOptions>();
  auto* cmd = app.add_subcommand("generate", "Write the man page or a shell completion script (for the build)");
  cmd->group(""); // hidden from --help, the man page and the completions
  cmd->add_option("what", o->what, "man, man-pages (one page per command, into --out DIR), bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"man", "man-pages", "bash", "zsh", "fish"}));
  cmd->add_option("--out", o->out, "write to this file (this directory for man-pages) instead of standard output")
      ->type_name("FILE");
  cmd->callback([o, &app, &action] { action = [o, &app] { return runGenerate(app, *o); }; });
}

} // namespace kluster::commands
