// The man page: the commands and options come from the CLI11 tree, the settings from settingSpecs(), the
// codes from core/codes.hpp; the prose between them is in generate_man_text.cpp.
#include "commands/generate.hpp"

#include "core/codes.hpp"
#include "core/config.hpp"
#include "core/version.hpp"

#include <fmt/format.h>

#include <cctype>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kluster::commands::docs {
namespace {

// Appends one Unicode code point of `text` starting at `i` as a groff \[uXXXX] escape; returns the bytes used.
std::size_t escapeUtf8(std::string_view text, std::size_t i, std::string& out) {
  const auto c = static_cast<unsigned char>(text[i]);
  std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (i + len > text.size()) len = 1;
  std::uint32_t cp = len == 1 ? c : c & (0x7F >> len);
  for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  out += len == 1 ? std::string("?") : fmt::format("\\[u{:04X}]", cp);
  return len;
}

/// Text as roff: backslashes escaped, a '-' that starts a word (an option) made a real minus, UTF-8 as
/// named glyphs so groff needs no preprocessor, and no line starting with a control character.
std::string roff(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      i += escapeUtf8(text, i, out);
      continue;
    }
    if (c == '\\')
      out += "\\e";
    else if (c == '-' && (i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1]))))
      out += "\\-";
    else
      out += c;
    if (c == '\n' && i + 1 < text.size() && (text[i + 1] == '.' || text[i + 1] == '\'')) out += "\\&";
    ++i;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

std::string bold(std::string_view text) { return "\\fB" + roff(text) + "\\fR"; }
std::string italic(std::string_view text) { return "\\fI" + roff(text) + "\\fR"; }

/// Descriptions start lowercase, as --help shows them; where the page makes a sentence of one, it starts uppercase.
std::string sentence(std::string text) {
  if (!text.empty() && std::islower(static_cast<unsigned char>(text[0])))
    text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

std::string optionTerm(const OptionDoc& o) {
  if (!o.positional.empty()) return italic(o.positional) + (o.repeatable ? " ..." : "");
  std::string term;
  for (const auto& n : o.names) term += (term.empty() ? "" : ", ") + bold(n);
  if (o.takesValue) term += " " + italic(o.metavar);
  return term;
}

std::string optionBody(const OptionDoc& o) {
  std::string body = roff(o.description);
  std::vector<std::string> notes;
  if (!o.defaultValue.empty()) notes.push_back("default: " + bold(o.defaultValue));
  if (!o.env.empty()) notes.push_back("environment: " + bold(o.env));
  if (o.repeatable && o.description.find("repeatable") == std::string::npos) notes.push_back("repeatable");
  if (o.required) notes.push_back("required");
  if (!notes.empty()) {
    std::string joined;
    for (const auto& n : notes) joined += (joined.empty() ? "" : "; ") + n;
    body += " (" + joined + ")";
  }
  return body;
}

std::string usage(const CommandDoc& c) {
  std::string line = bold(c.fullName());
  if (!c.subcommands.empty()) return line + " " + italic("command") + " [" + italic("options") + "]";
  if (std::any_of(c.options.begin(), c.options.end(), [](const OptionDoc& o) { return o.positional.empty(); }))
    line += " [" + italic("options") + "]";
  for (const auto& o : c.options) {
    if (o.positional.empty()) continue;
    const auto arg = italic(o.positional) + (o.repeatable ? " ..." : "");
    line += o.required ? " " + arg : " [" + arg + "]";
  }
  return line;
}

void leaves(const CommandDoc& c, std::vector<const CommandDoc*>& out) {
  for (const auto& s : c.subcommands) {
    if (s.subcommands.empty())
      out.push_back(&s);
    else
      leaves(s, out);
  }
}

void writeCommand(const CommandDoc& c, std::ostream& out) {
  out << ".SS \"" << roff(c.fullName()) << "\"\n";
  out << usage(c) << "\n.PP\n" << roff(sentence(c.description)) << "\n";
  if (!c.subcommands.empty()) {
    out << ".PP\nCommands:";
    for (std::size_t i = 0; i < c.subcommands.size(); ++i)
      out << (i ? ", " : " ") << bold(c.subcommands[i].path.back());
    out << ".\n";
  }
  // Arguments first, then options, each in the order the command defines them.
  for (const bool positional : {true, false})
    for (const auto& o : c.options) {
      if (o.help || o.positional.empty() != !positional) continue; // -h, --help: said once in OPTIONS
      out << ".TP\n" << optionTerm(o) << "\n" << optionBody(o) << "\n";
    }
  if (!c.footer.empty()) out << ".PP\n" << roff(c.footer) << "\n";
  for (const auto& s : c.subcommands) writeCommand(s, out);
}

void writeSettings(std::ostream& out) {
  for (const auto& s : settingSpecs()) {
    out << ".TP\n" << bold(s.key) << " = " << (s.defaultValue.empty() ? "(none)" : italic(s.defaultValue)) << "\n";
    out << roff(s.help) << " (environment: " << bold(s.env) << (s.secret ? "; a secret, masked when shown" : "")
        << ")\n";
  }
}

void writeEnvironment(const CommandDoc& root, std::ostream& out) {
  // Every KLUSTER_* variable: the settings' and those an option reads directly (e.g. KLUSTER_CONFIG).
  std::map<std::string, std::string> vars; // name -> roff
  std::function<void(const CommandDoc&)> collect = [&](const CommandDoc& c) {
    for (const auto& o : c.options)
      if (!o.env.empty() && !o.names.empty())
        vars.emplace(o.env, "The value of " + bold(o.names.back()) + " when the option is not given.");
    for (const auto& s : c.subcommands) collect(s);
  };
  collect(root);
  for (const auto& s : settingSpecs()) vars[s.env] = "Sets " + bold(s.key) + " (see CONFIGURATION).";
  for (const auto& [name, meaning] : vars) out << ".TP\n" << bold(name) << "\n" << meaning << "\n";
}

void writeResultCodes(std::ostream& out) {
  const std::vector<std::pair<CodeKind, const char*>> groups = {
      {CodeKind::Ok, "Success"},
      {CodeKind::Request, "Malformed requests (no SQL ran)"},
      {CodeKind::Refused, "Refused before running (identically on every node)"},
      {CodeKind::Sql, "Refused by PostgreSQL (identically on every node; sqlState has the SQLSTATE)"},
      {CodeKind::Node, "Node conditions (reported on the ERRORS topic)"},
      {CodeKind::Client, "Client outcomes"},
  };
  for (const auto& [kind, title] : groups) {
    out << ".SS \"" << roff(title) << "\"\n";
    for (const auto& c : resultCodes())
      if (c.kind == kind) out << ".TP\n" << bold(c.code) << "\n" << roff(sentence(std::string(c.meaning))) << ".\n";
  }
}

void writeExitStatus(std::ostream& out) {
  for (const auto& e : exitCodes())
    out << ".TP\n" << bold(std::to_string(e.value)) << "\n" << roff(sentence(std::string(e.meaning))) << ".\n";
}

} // namespace

std::string manPageName(const CommandDoc& command) {
  std::string name = "klusterctl";
  for (const auto& p : command.path) name += "-" + p;
  return name;
}

std::vector<const CommandDoc*> pageCommands(const CommandDoc& root) {
  std::vector<const CommandDoc*> out;
  leaves(root, out);
  return out;
}

void writeCommandMan(const CommandDoc& c, std::ostream& out) {
  std::string path;
  for (const auto& p : c.path) path += (path.empty() ? "" : " ") + p;
  std::string upper = manPageName(c);
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  out << ".\\\" Generated by `klusterctl generate man-pages` from the CLI definitions: do not edit.\n"
      << ".\\\" The examples are in src/commands/generate_man_examples.cpp.\n";
  out << ".TH " << upper << " 1 \"\" \"klusterctl " << kVersion << "\" \"Kluster Manual\"\n";
  out << ".SH NAME\n" << manPageName(c) << " \\- " << roff(c.description) << "\n";
  out << ".SH SYNOPSIS\n" << usage(c) << "\n";
  out << ".SH DESCRIPTION\n" << roff(sentence(c.description)) << ".\n";
  if (!c.footer.empty()) out << ".PP\n" << roff(c.footer) << "\n";
  out << ".PP\nThe settings, environment variables, result codes and configuration layers are described in "
      << bold("klusterctl") << "(1).\n";
  out << ".SH OPTIONS\n";
  for (const bool positional : {true, false})
    for (const auto& o : c.options) {
      if (o.positional.empty() != !positional) continue;
      out << ".TP\n" << optionTerm(o) << "\n" << optionBody(o) << "\n";
    }
  out << ".SH EXAMPLES\n";
  const auto& examples = commandExamples(path);
  for (std::size_t i = 0; i < examples.size(); ++i) {
    if (i) out << ".PP\n";
    out << roff(examples[i].caption) << "\n.PP\n.nf\n.RS\n" << roff(examples[i].commands) << "\n.RE\n.fi\n";
  }
  out << ".SH EXIT STATUS\n";
  writeExitStatus(out);
  out << ".SH SEE ALSO\n" << bold("klusterctl") << "(1)\n";
}

void writeMan(const CommandDoc& root, std::ostream& out) {
  out << ".\\\" Generated by `klusterctl generate man` from the CLI definitions: do not edit.\n"
      << ".\\\" The prose is in src/commands/generate_man_text.cpp. Regenerate the committed copy with\n"
      << ".\\\" `cmake --build build --target update-docs`.\n";
  out << ".TH KLUSTERCTL 1 \"\" \"klusterctl " << kVersion << "\" \"Kluster Manual\"\n";
  std::string summary = root.description;
  if (summary.rfind("klusterctl: ", 0) == 0) summary = summary.substr(12);
  out << ".SH NAME\nklusterctl \\- " << roff(summary) << "\n";

  out << ".SH SYNOPSIS\n"
      << bold("klusterctl") << " [" << bold("--version") << "] [" << bold("-h") << "|" << bold("--help") << "]\n";
  std::vector<const CommandDoc*> commands;
  leaves(root, commands);
  for (const auto* c : commands) out << ".br\n" << usage(*c) << "\n";

  out << ".SH DESCRIPTION\n" << text::description;
  out << ".SH OPTIONS\n";
  for (const auto& o : root.options) out << ".TP\n" << optionTerm(o) << "\n" << optionBody(o) << "\n";
  out << ".PP\nEvery command also accepts " << bold("-h") << ", " << bold("--help") << ".\n";
  out << ".SH COMMANDS\n";
  for (const auto& c : root.subcommands) writeCommand(c, out);

  out << ".SH CONFIGURATION\n" << text::configuration;
  out << ".SS Settings\n";
  writeSettings(out);
  out << ".SH ENVIRONMENT\n";
  writeEnvironment(root, out);
  out << ".SH RESULT CODES\n" << text::resultCodes;
  writeResultCodes(out);
  out << ".SH EXIT STATUS\n";
  writeExitStatus(out);
  out << ".SH FILES\n" << text::files;
  out << ".SH EXAMPLES\n" << text::examples;
  out << ".SH SEE ALSO\n" << text::seeAlso;
}

} // namespace kluster::commands::docs
