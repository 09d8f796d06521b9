#pragma once
// The interactive prompt of `klusterctl exec` (no SQL given and a terminal on standard input), in the
// manner of psql: statements may span lines and end with `;`, backslash meta-commands change how the
// next statements are sent, and the input history is kept in ~/.kluster_history.
#include "commands/exec_session.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kluster::commands {

/// Assembles typed lines into statements: a `;` ends a statement unless it is inside a quoted string
/// ('...', E'...', "..."), a dollar-quoted body ($$...$$, $tag$...$tag$) or a comment (--, /* */, nested).
class StatementBuffer {
public:
  /// Adds one line; returns the statements it completed, each with its `;` and trimmed.
  std::vector<std::string> add(std::string_view line);
  /// True when nothing but white space waits for a `;`.
  bool empty() const;
  /// True when the text so far ends inside a string, dollar quote or block comment, where a line
  /// starting with a backslash is data, not a meta-command.
  bool inQuote() const { return state_ != State::Code; }
  /// Drops what waits for a `;`.
  void clear();
  const std::string& pending() const { return text_; }

private:
  enum class State { Code, Single, Escaped, Double, LineComment, BlockComment, Dollar };
  std::string text_;
  std::size_t scanned_ = 0;
  State state_ = State::Code;
  int depth_ = 0;   // nesting of block comments
  std::string tag_; // the open dollar quote, e.g. "$fn$"
};

/// What a meta-command line asks for.
struct MetaOutcome {
  bool quit = false;
  bool reset = false;  ///< \r: drop the statement being typed
  bool error = false;  ///< the message is an error
  std::string message; ///< to show the user (may be empty)
};

/// The prompt's state that meta-commands change.
struct PromptState {
  ExecSettings settings;
  bool timing = false;
};

/// Applies one meta-command line (starting with a backslash): \timing [on|off], \to ONE|ALL|auto,
/// \wait first|all|quorum|N, \o table|json|jsonl|csv, \timeout DURATION, \r, \q, \?.
MetaOutcome applyMeta(std::string_view line, PromptState& state);

/// The help text of the meta-commands (\?).
std::string metaHelp();

/// Runs the prompt until \q or end of input; returns the exit code (0).
int runInteractive(ExecRunner& runner, PromptState state, const std::string& cluster);

} // namespace kluster::commands
