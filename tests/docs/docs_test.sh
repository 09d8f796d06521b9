#!/usr/bin/env bash
# Checks of the generated man page and shell completions (the ctest docs.* entries, see cmake/Docs.cmake).
# Each check generates afresh with the klusterctl under test.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tests/docs/docs_test.sh up-to-date KLUSTERCTL SOURCE_DIR
       tests/docs/docs_test.sh man-lint KLUSTERCTL
       tests/docs/docs_test.sh bash-completion KLUSTERCTL

up-to-date       the committed man/ and completions/ files equal what KLUSTERCTL generates
man-lint         groff renders the man page with every warning enabled (-ww) and prints none
bash-completion  the bash completion offers subcommands, options and file names
EOF
}

CHECK=${1:-}
KLUSTERCTL=${2:-}
[[ -n $CHECK && -x $KLUSTERCTL ]] || { usage >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

up_to_date() {
  local src=${1:?SOURCE_DIR is required} drift=0 entry path kind
  for entry in man/klusterctl.1:man completions/klusterctl.bash:bash completions/_klusterctl:zsh; do
    path=${entry%%:*} kind=${entry##*:}
    "$KLUSTERCTL" generate "$kind" --out "$TMP/$kind"
    if [[ ! -f $src/$path ]]; then
      printf '%s is missing\n' "$path" >&2
      drift=1
    elif ! diff -u "$src/$path" "$TMP/$kind" >"$TMP/$kind.diff"; then
      printf '%s differs from what klusterctl generates now:\n' "$path" >&2
      head -n 40 "$TMP/$kind.diff" >&2
      drift=1
    fi
  done
  if ((drift)); then
    printf 'hint: the CLI changed; refresh the committed copies with\n' >&2
    printf '  cmake --build build --target update-docs\n' >&2
    printf 'and commit man/ and completions/.\n' >&2
    exit 1
  fi
  echo "man/ and completions/ are up to date"
}

man_lint() {
  "$KLUSTERCTL" generate man --out "$TMP/klusterctl.1"
  command -v groff >/dev/null || fail "groff is not installed (scripts/setup.sh installs groff-base)"
  local warnings
  warnings=$(groff -man -Tutf8 -ww -z "$TMP/klusterctl.1" 2>&1)
  [[ -z $warnings ]] || fail "groff warns about the man page:"$'\n'"$warnings"
  # Every visible subcommand has a section; a command added to registry.cpp shows up here by itself.
  local text
  text=$(groff -man -Tascii -P-cbou "$TMP/klusterctl.1" 2>/dev/null)
  for section in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS CONFIGURATION ENVIRONMENT 'RESULT CODES' \
    'EXIT STATUS' FILES EXAMPLES 'SEE ALSO'; do
    grep -q "^$section\$" <<<"$text" || fail "the man page has no $section section"
  done
  grep -q 'klusterctl exec' <<<"$text" || fail "the man page does not describe klusterctl exec"
  if grep -q 'klusterctl generate' <<<"$text"; then fail "the hidden generate command is in the man page"; fi
  echo "the man page renders without warnings"
}

# Runs the completion function for a command line (the last word is the one being completed) and prints
# the candidates, one a line.
complete_words() {
  bash -c '
    source "$1"
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _klusterctl
    printf "%s\n" "${COMPREPLY[@]}"
  ' complete "$TMP/klusterctl.bash" "$@"
}

expect_offer() { # WORD COMMAND-LINE...
  local want=$1 got
  shift
  got=$(complete_words "$@")
  grep -qx -- "$want" <<<"$got" || fail "completing '$*' did not offer '$want'; it offered: ${got//$'\n'/ }"
}

bash_completion() {
  "$KLUSTERCTL" generate bash --out "$TMP/klusterctl.bash"
  bash -n "$TMP/klusterctl.bash" || fail "the bash completion has a syntax error"
  expect_offer exec klusterctl ex
  expect_offer run klusterctl node ''
  expect_offer --timeout klusterctl exec --ti
  expect_offer --brokers klusterctl exec --wait all --bro
  local got
  got=$(complete_words klusterctl ex)
  [[ $got == exec ]] || fail "completing 'klusterctl ex' should offer exec alone; it offered: $got"
  got=$(complete_words klusterctl gen)
  [[ -z $got ]] || fail "the hidden generate command was offered: $got"
  # File names after --config and -f, including after a value option that precedes them.
  mkdir -p "$TMP/cfg"
  : >"$TMP/cfg/node1.toml"
  expect_offer "$TMP/cfg/node1.toml" klusterctl exec --timeout 5s --config "$TMP/cfg/no"
  expect_offer "$TMP/cfg/node1.toml" klusterctl exec -f "$TMP/cfg/n"
  expect_offer "$TMP/cfg/node1.toml" klusterctl node run --config = "$TMP/cfg/"
  echo "the bash completion offers subcommands, options and file names"
}

case $CHECK in
  up-to-date) up_to_date "${3:-}" ;;
  man-lint) man_lint ;;
  bash-completion) bash_completion ;;
  *) usage >&2; exit 2 ;;
esac
