#pragma once
// The interactive prompt of `klusterctl exec` (no SQL given and a terminal on standard input), in the
// manner of psql: statements may span lines and end with `;`, backslash meta-commands change how the
// next statements are sent, and the input history is kept in ~/.kluster_history.
#include "commands/exec_session.hpp"
#include "core/sql/statement_buffer.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace kluster::commands {

using sql::StatementBuffer;

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
