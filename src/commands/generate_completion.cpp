// Shell completions: bash gets tables (subcommands and options per command path) and one generic function;
// zsh gets one _arguments function per command, the idiom its own completions use.
#include "commands/generate.hpp"

#include <fmt/format.h>

#include <cctype>
#include <functional>
#include <string>
#include <vector>

namespace kluster::commands::docs {
namespace {

std::string join(const std::vector<std::string>& words, const std::string& sep) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : sep) + w;
  return out;
}

void forEach(const CommandDoc& c, const std::function<void(const CommandDoc&)>& f) {
  f(c);
  for (const auto& s : c.subcommands) forEach(s, f);
}

// ---- bash ---------------------------------------------------------------------------------------------------

/// A double-quoted bash word.
std::string bashQuote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  return out + "\"";
}

/// How bash completes an option's value: "file", "dir", "=a b c" (these words) or "any" (nothing to offer).
std::string bashValueKind(const OptionDoc& o) {
  if (!o.choices.empty()) return "=" + join(o.choices, " ");
  if (o.directory) return "dir";
  if (o.file) return "file";
  return "any";
}

const char* const kBashFunction = R"(_klusterctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} path=klusterctl word opt= kind i
  COMPREPLY=()
  # Which command is being completed: walk the words before the cursor, skipping option values
  # (bash splits --opt=value into --opt, =, value).
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == -* ]]; then
      if [[ -n ${_klusterctl_values["$path|$word"]+x} ]]; then
        ((i++))
        [[ ${COMP_WORDS[i]} == = ]] && ((i++))
      fi
    elif [[ " ${_klusterctl_commands[$path]} " == *" $word "* ]]; then
      path+=" $word"
    fi
  done
  # Completing an option's value?
  if [[ $cur == = ]]; then
    opt=${COMP_WORDS[COMP_CWORD - 1]}
    cur=
  elif ((COMP_CWORD >= 2)) && [[ ${COMP_WORDS[COMP_CWORD - 1]} == = ]]; then
    opt=${COMP_WORDS[COMP_CWORD - 2]}
  elif ((COMP_CWORD >= 1)); then
    opt=${COMP_WORDS[COMP_CWORD - 1]}
  fi
  if [[ $opt == -* && -n ${_klusterctl_values["$path|$opt"]+x} ]]; then
    kind=${_klusterctl_values["$path|$opt"]}
    case $kind in
      file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
      dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
      =*) mapfile -t COMPREPLY < <(compgen -W "${kind#=}" -- "$cur") ;;
    esac
    return 0
  fi
  if [[ $cur != -* && -n ${_klusterctl_commands[$path]} ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${_klusterctl_commands[$path]}" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -W "${_klusterctl_options[$path]}" -- "$cur")
  fi
  return 0
}
complete -F _klusterctl klusterctl
)";

// ---- zsh ----------------------------------------------------------------------------------------------------

/// A single-quoted zsh word.
std::string zshQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// An option description for _arguments' [...]: one line, brackets and backslashes escaped.
std::string zshDescription(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') break;
    if (c == '[' || c == ']' || c == '\\' || c == ':') out += '\\';
    out += c;
  }
  return out;
}

std::string zshAction(const OptionDoc& o) {
  if (!o.choices.empty()) return "(" + join(o.choices, " ") + ")";
  if (o.directory) return "_files -/";
  if (o.file) return "_files";
  return " ";
}

std::string zshOptionSpec(const OptionDoc& o) {
  const std::string desc = "[" + zshDescription(o.description) + "]";
  if (!o.positional.empty()) {
    const auto prefix = o.repeatable ? "*:" : o.required ? ":" : "::";
    return zshQuote(prefix + o.positional + ":" + zshAction(o));
  }
  std::vector<std::string> forms;
  for (const auto& n : o.names) {
    // How the value may be attached: -fVALUE or -f VALUE; --file=VALUE or --file VALUE.
    std::string suffix = o.takesValue ? (n.rfind("--", 0) == 0 ? "=" : "+") : "";
    forms.push_back(n + suffix);
  }
  const std::string value =
      o.takesValue ? ":" + (o.names.back().substr(o.names.back().find_first_not_of('-'))) + ":" + zshAction(o) : "";
  std::string lead;
  if (o.repeatable)
    lead = "'*'";
  else if (o.names.size() > 1)
    lead = zshQuote("(" + join(o.names, " ") + ")");
  const std::string names = forms.size() > 1 ? "{" + join(forms, ",") + "}" : forms[0];
  return lead + names + zshQuote(desc + value);
}

std::string zshFunctionName(const CommandDoc& c) {
  std::string name = "_klusterctl";
  for (const auto& p : c.path) {
    name += "_";
    for (char ch : p) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  }
  return name;
}

void writeZshFunction(const CommandDoc& c, std::ostream& out) {
  const auto name = zshFunctionName(c);
  out << "\n" << name << "() {\n";
  std::vector<std::string> specs;
  for (const auto& o : c.options) specs.push_back(zshOptionSpec(o));
  if (c.subcommands.empty()) {
    out << "  _arguments -s -S";
    for (const auto& s : specs) out << " \\\n    " << s;
    out << "\n}\n";
    return;
  }
  out << "  local curcontext=$curcontext state line ret=1\n  _arguments -C -s -S";
  for (const auto& s : specs) out << " \\\n    " << s;
  out << " \\\n    ': :->command' \\\n    '*:: :->args' && ret=0\n";
  out << "  case $state in\n    command)\n      local -a commands=(";
  for (const auto& s : c.subcommands) {
    std::string entry = s.path.back() + ":";
    for (char ch : s.description) entry += ch == '\n' ? ' ' : ch;
    out << "\n        " << zshQuote(entry);
  }
  out << "\n      )\n      _describe -t commands " << zshQuote(c.fullName() + " command") << " commands && ret=0 ;;\n";
  out << "    args)\n      case $words[1] in\n";
  for (const auto& s : c.subcommands)
    out << "        " << s.path.back() << ") " << zshFunctionName(s) << " && ret=0 ;;\n";
  out << "      esac ;;\n  esac\n  return ret\n}\n";
  for (const auto& s : c.subcommands) writeZshFunction(s, out);
}

} // namespace

void writeBash(const CommandDoc& root, std::ostream& out) {
  out << "# bash completion for klusterctl.\n"
      << "# Generated by `klusterctl generate bash` from the CLI definitions: do not edit.\n"
      << "# Install: copy to /usr/share/bash-completion/completions/klusterctl, or source it from ~/.bashrc.\n\n";
  out << "# Subcommands, options, and how option values complete, per command path.\n";
  out << "declare -gA _klusterctl_commands=(";
  forEach(root, [&](const CommandDoc& c) {
    std::vector<std::string> names;
    for (const auto& s : c.subcommands) names.push_back(s.path.back());
    if (!names.empty()) out << "\n  [" << bashQuote(c.fullName()) << "]=" << bashQuote(join(names, " "));
  });
  out << "\n)\ndeclare -gA _klusterctl_options=(";
  forEach(root, [&](const CommandDoc& c) {
    std::vector<std::string> names;
    for (const auto& o : c.options)
      for (const auto& n : o.names) names.push_back(n);
    out << "\n  [" << bashQuote(c.fullName()) << "]=" << bashQuote(join(names, " "));
  });
  out << "\n)\ndeclare -gA _klusterctl_values=(";
  forEach(root, [&](const CommandDoc& c) {
    for (const auto& o : c.options)
      if (o.takesValue)
        for (const auto& n : o.names)
          out << "\n  [" << bashQuote(c.fullName() + "|" + n) << "]=" << bashQuote(bashValueKind(o));
  });
  out << "\n)\n\n" << kBashFunction;
}

void writeZsh(const CommandDoc& root, std::ostream& out) {
  out << "#compdef klusterctl\n"
      << "# zsh completion for klusterctl.\n"
      << "# Generated by `klusterctl generate zsh` from the CLI definitions: do not edit.\n"
      << "# Install: put this file (named _klusterctl) in a directory of $fpath, then run compinit.\n";
  // Autoloaded, this file is the body of _klusterctl: it defines the real functions, then calls the new one.
  writeZshFunction(root, out);
  out << "\nif [[ $funcstack[1] == _klusterctl ]]; then\n  _klusterctl \"$@\"\nelse\n"
      << "  compdef _klusterctl klusterctl\nfi\n";
}

} // namespace kluster::commands::docs
