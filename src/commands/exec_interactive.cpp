#include "commands/exec_interactive.hpp"

#include "core/errors.hpp"
#include "core/util.hpp"

#include <editline/readline.h>
#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <poll.h>
#include <sstream>
#include <termios.h>
#include <unistd.h>

namespace kluster::commands {
namespace {

// Set by Ctrl-C (SIGINT) while the prompt runs: it drops the line being typed, or stops waiting for a
// request, as in psql, instead of ending the process.
volatile std::sig_atomic_t interruptedFlag = 0;
void onInterrupt(int) { interruptedFlag = 1; }
// Set by SIGTERM or SIGHUP (the terminal closed): the prompt ends as with \q, so whoever runs it (exec,
// demo) gets to clean up and the history is saved.
volatile std::sig_atomic_t quitFlag = 0;
void onQuit(int) {
  quitFlag = 1;
  interruptedFlag = 1; // also stops waiting for an answer, and ends the line being read
}

// The line editor's key reader. libedit's own would miss a Ctrl-C that comes while it is not blocked in
// read() (say, as it echoes the keys typed just before): the signal is handled, and read() then waits for
// a key that never comes. Waiting in short polls sees the flag whenever the signal came.
int readKey(FILE* in) {
  const int fd = fileno(in);
  for (;;) {
    if (interruptedFlag || quitFlag) return EOF; // the line editor returns no line: Ctrl-C, SIGTERM
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);
    if (ready < 0 && errno != EINTR) return EOF;
    if (ready <= 0) continue;
    unsigned char key = 0;
    const auto n = ::read(fd, &key, 1);
    if (n == 1) return key;
    if (n == 0 || (errno != EINTR && errno != EAGAIN)) return EOF; // end of input, or an error
  }
}

} // namespace

std::string metaHelp() {
  return "Statements end with ';' and may span lines. Meta-commands:\n"
         "  \\to ONE|ALL|auto          where statements go (auto: reads to ONE, everything else to ALL)\n"
         "  \\wait first|all|quorum|N  how many responses to wait for\n"
         "  \\o table|json|jsonl|csv   output format\n"
         "  \\timeout DURATION         how long to wait for responses (e.g. 500ms, 10s)\n"
         "  \\timing [on|off]          show how long each statement took\n"
         "  \\r                        drop the statement being typed\n"
         "  \\?                        this help\n"
         "  \\q                        quit (or Ctrl-D)\n"
         "Ctrl-C drops the line being typed, or stops waiting for an answer.";
}

MetaOutcome applyMeta(std::string_view line, PromptState& state) {
  std::istringstream words{std::string(line)};
  std::string command, arg, extra;
  words >> command >> arg >> extra;
  MetaOutcome m;
  auto& s = state.settings;
  auto fail = [&](std::string message) {
    m.error = true;
    m.message = std::move(message);
    return m;
  };
  if (!extra.empty()) return fail(fmt::format("{}: too many arguments (\\? lists the meta-commands)", command));
  try {
    if (command == "\\q" || command == "\\quit") {
      m.quit = true;
    } else if (command == "\\?" || command == "\\help") {
      m.message = metaHelp();
    } else if (command == "\\r" || command == "\\reset") {
      m.reset = true;
      m.message = "Query buffer reset (cleared).";
    } else if (command == "\\timing") {
      if (arg == "on" || arg == "off")
        state.timing = arg == "on";
      else if (arg.empty())
        state.timing = !state.timing;
      else
        return fail("\\timing: use on or off, or nothing to toggle");
      m.message = fmt::format("Timing is {}.", state.timing ? "on" : "off");
    } else if (command == "\\to") {
      if (!arg.empty()) {
        chooseTarget(arg, {}); // validates
        s.to = arg;
      }
      m.message = fmt::format("Statements go to {}.", s.to);
    } else if (command == "\\wait") {
      if (!arg.empty()) {
        s.wait = client::WaitPolicy::parse(arg);
        s.waitText = arg;
      }
      m.message = fmt::format("Waiting for {}.", s.waitText);
    } else if (command == "\\o") {
      if (!arg.empty()) s.format = parseFormat(arg);
      static const char* names[] = {"table", "json", "jsonl", "csv"};
      m.message = fmt::format("Output format is {}.", names[static_cast<int>(s.format)]);
    } else if (command == "\\timeout") {
      if (!arg.empty()) {
        const auto t = util::parseDuration(arg);
        if (t.count() <= 0) return fail("\\timeout: the duration must be positive");
        s.timeout = t;
        s.timeoutText = arg;
      }
      m.message = fmt::format("Timeout is {}.", s.timeoutText);
    } else {
      return fail(fmt::format("invalid command {}: \\? lists the meta-commands", command));
    }
  } catch (const UsageError& e) {
    return fail(e.what());
  }
  return m;
}

namespace {

// ~/.kluster_history, or $KLUSTER_HISTORY (empty: keep none).
std::string historyPath() {
  if (const char* env = std::getenv("KLUSTER_HISTORY")) return env;
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.kluster_history" : std::string();
}

void printError(const std::exception& e, const std::string& hint = {}) {
  std::cerr << "klusterctl: " << e.what() << "\n";
  if (!hint.empty()) std::cerr << "hint: " << hint << "\n";
}

} // namespace

int runInteractive(ExecRunner& runner, PromptState state, const std::string& cluster) {
  rl_getc_function = readKey; // before anything initializes the line editor, which takes it then
  const auto history = historyPath();
  using_history();
  stifle_history(1000);
  if (!history.empty()) read_history(history.c_str()); // a missing file is a fresh history
  // With stdout redirected (`klusterctl exec > out.txt` at a terminal) the prompt and the echo go to the
  // terminal through stderr, so the file gets only the data.
  if (!isatty(STDOUT_FILENO)) rl_outstream = stderr;
  std::cerr << fmt::format("klusterctl exec on cluster {}: end statements with ';', \\? for help, \\q to quit.\n",
                           cluster);
  // libedit prints the prompt first and leaves line mode only when it reads the first key (read_prepare,
  // then read_char in its read.c). A Ctrl-D typed in between reached the kernel in line mode, which turns
  // it into the end of a line nobody reads, and the prompt never saw it. Leaving line mode before each
  // prompt makes every key typed after the prompt reach the line editor as typed.
  termios original{};
  const bool terminal = tcgetattr(STDIN_FILENO, &original) == 0;
  termios keys = original;
  keys.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
  keys.c_cc[VMIN] = 1;
  keys.c_cc[VTIME] = 0;
  struct sigaction interrupt {};
  struct sigaction previous {};
  interrupt.sa_handler = onInterrupt;
  sigemptyset(&interrupt.sa_mask);
  sigaction(SIGINT, &interrupt, &previous);
  struct sigaction quit {};
  struct sigaction previousTerm {};
  struct sigaction previousHup {};
  quit.sa_handler = onQuit;
  sigemptyset(&quit.sa_mask);
  sigaction(SIGTERM, &quit, &previousTerm);
  sigaction(SIGHUP, &quit, &previousHup);
  quitFlag = 0;
  state.settings.interrupted = [] {
    const bool was = interruptedFlag != 0;
    interruptedFlag = 0;
    return was;
  };
  StatementBuffer buffer;
  std::string lastLine;
  while (!quitFlag) {
    // As psql's: "=*>" inside a transaction, "=!>" when it failed and waits for ROLLBACK.
    const char status = runner.transactionStatus();
    const auto prompt = fmt::format("{}{}{}> ", cluster, buffer.empty() ? "=" : "-",
                                    status == 'T'   ? "*"
                                    : status == 'E' ? "!"
                                                    : "");
    if (terminal) tcsetattr(STDIN_FILENO, TCSANOW, &keys);
    interruptedFlag = 0;
    char* raw = readline(prompt.c_str());
    if (quitFlag) {
      std::free(raw);
      std::cout << "\n";
      break;
    }
    if (!raw && interruptedFlag) { // Ctrl-C: forget the line and any statement being typed
      interruptedFlag = 0;
      buffer.clear();
      std::cout << "\n";
      continue;
    }
    if (!raw) {
      std::cout << "\n";
      break;
    }
    std::string line(raw);
    std::free(raw);
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos && buffer.empty()) continue;
    if (first != std::string::npos && line != lastLine) add_history(line.c_str()); // as bash's ignoredups
    lastLine = line;
    if (!buffer.inQuote() && first != std::string::npos && line[first] == '\\') {
      const auto meta = applyMeta(std::string_view(line).substr(first), state);
      if (!meta.message.empty()) (meta.error ? std::cerr : std::cout) << meta.message << "\n";
      if (meta.reset) buffer.clear();
      if (meta.quit) break;
      continue;
    }
    for (auto& statement : buffer.add(line)) {
      Request request;
      request.statements = {std::move(statement)};
      const auto started = std::chrono::steady_clock::now();
      try {
        runner.run(std::move(request), state.settings, std::cout, std::cerr);
      } catch (const KlusterError& e) {
        printError(e, e.hint());
      } catch (const std::exception& e) {
        printError(e);
      }
      if (state.timing)
        std::cout << fmt::format(
            "Time: {:.3f} ms\n",
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
      std::cout << std::flush;
      std::cerr << std::flush;
    }
  }
  sigaction(SIGINT, &previous, nullptr);
  sigaction(SIGTERM, &previousTerm, nullptr);
  sigaction(SIGHUP, &previousHup, nullptr);
  if (terminal) tcsetattr(STDIN_FILENO, TCSANOW, &original);
  if (!history.empty() && write_history(history.c_str()) != 0)
    std::cerr << fmt::format("klusterctl: could not save the history to {}\n", history);
  return exitcode::Ok;
}

} // namespace kluster::commands
