// klusterctl passwd: sets a proxy user's password, stored as a salted SCRAM-SHA-256 verifier (never the password).
#include "commands/command.hpp"
#include "core/proxy/users.hpp"

#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <iterator>

namespace kluster::commands {
namespace {

struct PasswdOptions {
  std::string config;
  std::string user;
  std::string usersFile;
};

// The terminal's settings while echo is off, for the signal handler: Ctrl-C at the prompt must not leave the
// terminal without echo.
termios savedTerminal{};

extern "C" void restoreTerminal(int sig) {
  tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal); // async-signal-safe
  signal(sig, SIG_DFL);
  raise(sig);
}

// One line from standard input; without echo when it is a terminal.
std::string readPassword(const char* prompt) {
  const bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &savedTerminal) == 0;
  constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  struct sigaction previous[std::size(kSignals)]{};
  if (tty) {
    struct sigaction restore {};
    restore.sa_handler = restoreTerminal;
    sigemptyset(&restore.sa_mask);
    for (std::size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &restore, &previous[i]);
    termios quiet = savedTerminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::cerr << prompt << std::flush; // only once echo is off: what is typed at the prompt is never shown
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal);
    for (std::size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &previous[i], nullptr);
    std::cerr << "\n";
  }
  if (!got) throw UsageError("no password given (standard input ended)");
  return line;
}

int runPasswd(const PasswdOptions& o) {
  std::string file = o.usersFile;
  if (file.empty()) {
    auto settings = Settings::load(o.config.empty() ? std::nullopt : std::optional<std::filesystem::path>(o.config));
    file = settings.get("proxy.users_file");
  }
  if (file.empty()) throw UsageError("no users file: give --users-file FILE or set proxy.users_file");
  const auto password = readPassword("Password: ");
  if (password.empty()) throw UsageError("the password is empty");
  // libpq normalizes a non-ASCII password with SASLprep (RFC 4013) before SCRAM; this side does not, so such a
  // password could fail to match. ASCII is what SASLprep leaves as it is.
  for (unsigned char ch : password)
    if (ch >= 0x80 || ch < 0x20 || ch == 0x7f)
      throw UsageError("the password must be printable ASCII (SASLprep of other characters is not implemented)");
  if (isatty(STDIN_FILENO) && readPassword("Again: ") != password) throw UsageError("the passwords differ");
  proxy::Users::set(file, o.user, proxy::scram::Verifier::make(password));
  std::cout << fmt::format("{}: password of user {} set (SCRAM-SHA-256)\n", file, o.user);
  return exitcode::Ok;
}

} // namespace

void registerPasswd(CLI::App& app, Action& action) {
  auto o = std::make_shared<PasswdOptions>();
  auto* cmd = app.add_subcommand("passwd", "Set a proxy user's password in the users file (a salted SCRAM-SHA-256 "
                                           "verifier, never the password)");
  cmd->add_option("USER", o->user, "the user name clients connect as")->required();
  cmd->add_option("--users-file", o->usersFile, "the users file (default proxy.users_file from --config)");
  cmd->add_option("--config", o->config, "TOML config file whose proxy.users_file to use")->envname("KLUSTER_CONFIG");
  cmd->footer("Reads the password from the terminal without echo, twice; or one line from standard input when it "
              "is not a terminal. The file is written whole and renamed into place, mode 600. The proxy reads it "
              "when it starts.");
  cmd->callback([o, &action] { action = [o] { return runPasswd(*o); }; });
}

} // namespace kluster::commands
