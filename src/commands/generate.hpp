#pragma once
// `klusterctl generate`: the man page and shell completions, written from the CLI11 definitions so they
// never drift from `--help`. generate.cpp reads the App tree into the plain model below; generate_man.cpp
// and generate_completion.cpp write it out.
#include <CLI/CLI.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace kluster::commands::docs {

/// One option or positional argument of a command, as the docs need it.
struct OptionDoc {
  std::vector<std::string> names; ///< "-f", "--file" (short names first); empty for a positional
  std::string positional;         ///< the positional's name, when it is one
  std::string metavar;            ///< what the value looks like: TEXT, INT, FILE, a|b|c
  std::vector<std::string> choices;
  std::string description;
  std::string defaultValue;
  std::string env;
  bool takesValue = false;
  bool repeatable = false;
  bool required = false;
  bool file = false;      ///< the value is a file name (completed as one)
  bool directory = false; ///< the value is a directory name
  bool help = false;      ///< -h/--help, which every command has
};

/// One command of the tree: the root (empty path), a group such as `node` or a leaf such as `node run`.
struct CommandDoc {
  std::vector<std::string> path;
  std::string description;
  std::string footer;
  std::vector<OptionDoc> options;
  std::vector<CommandDoc> subcommands;

  /// "klusterctl node run"
  std::string fullName() const;
  bool hasPositionals() const;
};

/// Reads the visible commands and options of the App tree (hidden ones, with group "", are left out).
CommandDoc describe(const CLI::App& root);

/// The man page's hand-written prose, in roff (generate_man_text.cpp); each ends with a newline.
namespace text {
extern const char* const description;
extern const char* const configuration;
extern const char* const resultCodes;
extern const char* const files;
extern const char* const examples;
extern const char* const seeAlso;
} // namespace text

/// One example of a command's page: a sentence and the command lines (plain text, one per line).
struct Example {
  const char* caption;
  const char* commands;
};
/// The examples of a command ("node run"), from generate_man_examples.cpp; empty when it has none.
const std::vector<Example>& commandExamples(const std::string& path);

/// Writes the man page (roff, section 1).
void writeMan(const CommandDoc& root, std::ostream& out);
/// The page name of a command: "klusterctl-node-run".
std::string manPageName(const CommandDoc& command);
/// The commands that get a page of their own: every leaf (init, node run, offsets show, ...).
std::vector<const CommandDoc*> pageCommands(const CommandDoc& root);
/// Writes one command's own man page (roff, section 1): its usage, options, examples and exit status.
void writeCommandMan(const CommandDoc& command, std::ostream& out);
/// Writes the fish completion script.
void writeFish(const CommandDoc& root, std::ostream& out);
/// Writes the bash completion script (defines _klusterctl and registers it with `complete`).
void writeBash(const CommandDoc& root, std::ostream& out);
/// Writes the zsh completion function file (_klusterctl, for a directory in $fpath).
void writeZsh(const CommandDoc& root, std::ostream& out);

} // namespace kluster::commands::docs
