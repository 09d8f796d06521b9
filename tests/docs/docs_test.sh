#!/usr/bin/env bash
# Checks of the generated man page and shell completions (the ctest docs.* entries, see cmake/Docs.cmake).
# Each check generates afresh with the klusterctl under test.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tests/docs/docs_test.sh up-to-date KLUSTERCTL SOURCE_DIR
       tests/docs/docs_test.sh man-lint KLUSTERCTL
       tests/docs/docs_test.sh bash-completion KLUSTERCTL
       tests/docs/docs_test.sh fish-completion KLUSTERCTL
       tests/docs/docs_test.sh every-flag KLUSTERCTL

up-to-date       the committed man/ and completions/ files equal what KLUSTERCTL generates
man-lint         groff renders every man page with every warning enabled (-ww) and prints none
bash-completion  the bash completion offers subcommands, options and file names
fish-completion  the fish completion offers subcommands, options and file names (fish runs it)
every-flag       every command has a man page and a bash, zsh and fish entry naming each flag of its --help
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
  for entry in man/klusterctl.1:man completions/klusterctl.bash:bash completions/_klusterctl:zsh \
    completions/klusterctl.fish:fish; do
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
  # The per-command pages: the same set of files, each equal.
  "$KLUSTERCTL" generate man-pages --out "$TMP/pages"
  local committed generated
  committed=$(cd "$src/man" && ls klusterctl-*.1 2>/dev/null || true)
  generated=$(cd "$TMP/pages" && ls)
  if [[ $committed != "$generated" ]]; then
    printf 'man/klusterctl-*.1 are not the pages klusterctl generates now:\n' >&2
    diff <(printf '%s\n' "$committed") <(printf '%s\n' "$generated") >&2 || true
    drift=1
  fi
  for path in $generated; do
    if [[ -f $src/man/$path ]] && ! diff -u "$src/man/$path" "$TMP/pages/$path" >"$TMP/page.diff"; then
      printf 'man/%s differs from what klusterctl generates now:\n' "$path" >&2
      head -n 40 "$TMP/page.diff" >&2
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
  "$KLUSTERCTL" generate man-pages --out "$TMP/pages"
  local page count=0
  for page in "$TMP"/pages/*.1; do
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    [[ -z $warnings ]] || fail "groff warns about $(basename "$page"):"$'\n'"$warnings"
    text=$(groff -man -Tascii -P-cbou "$page" 2>/dev/null)
    for section in NAME SYNOPSIS DESCRIPTION OPTIONS EXAMPLES 'EXIT STATUS' 'SEE ALSO'; do
      grep -q "^$section\$" <<<"$text" || fail "$(basename "$page") has no $section section"
    done
    grep -q "^ *klusterctl " <<<"$(sed -n '/^EXAMPLES$/,/^EXIT STATUS$/p' <<<"$text")" ||
      fail "$(basename "$page") has no example command"
    count=$((count + 1))
  done
  ((count >= 10)) || fail "only $count per-command pages were generated"
  echo "the man page and $count per-command pages render without warnings"
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

fish_completion() {
  command -v fish >/dev/null || fail "fish is not installed (scripts/setup.sh installs it)"
  "$KLUSTERCTL" generate fish --out "$TMP/klusterctl.fish"
  fish --no-execute "$TMP/klusterctl.fish" || fail "the fish completion has a syntax error"
  # Completes a command line as fish would at its end; prints the candidates without descriptions.
  fish_complete() {
    HOME=$TMP fish --no-config -c 'source $argv[1]; complete -C $argv[2]' "$TMP/klusterctl.fish" "$1" | cut -f1
  }
  fish_expect() { # WORD COMMAND-LINE
    local got
    got=$(fish_complete "$2")
    grep -qx -- "$1" <<<"$got" || fail "fish completing '$2' did not offer '$1'; it offered: ${got//$'\n'/ }"
  }
  fish_expect exec 'klusterctl ex'
  fish_expect run 'klusterctl node '
  fish_expect --metrics-address 'klusterctl node run --met'
  fish_expect --brokers 'klusterctl exec --wait all --bro'
  fish_expect json 'klusterctl node run --log-format '
  local got
  got=$(fish_complete 'klusterctl gen')
  [[ -z $got ]] || fail "fish offered the hidden generate command: $got"
  got=$(fish_complete 'klusterctl node run --')
  if grep -qx -- --wait <<<"$got"; then fail "fish offered exec's --wait for node run"; fi
  mkdir -p "$TMP/cfg"
  : >"$TMP/cfg/node1.toml"
  fish_expect "$TMP/cfg/node1.toml" "klusterctl exec --timeout 5s --config $TMP/cfg/no"
  echo "the fish completion offers subcommands, options and file names"
}

# The flags `klusterctl PATH --help` lists (one a line), and the subcommands it lists.
help_flags() {
  "$KLUSTERCTL" "$@" --help | awk '/^ +-/ { split($1, names, ","); for (i in names) print names[i] }' | sort -u
}
help_subcommands() {
  "$KLUSTERCTL" "$@" --help | awk 'tolower($0) ~ /^subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }'
}

every_flag() {
  "$KLUSTERCTL" generate man-pages --out "$TMP/pages"
  for kind in bash zsh fish; do "$KLUSTERCTL" generate "$kind" --out "$TMP/klusterctl.$kind"; done
  local leaves=() queue=("") path sub subs checked=0
  while ((${#queue[@]})); do
    path=${queue[0]}
    queue=("${queue[@]:1}")
    # shellcheck disable=SC2086 # the path is words
    subs=$(help_subcommands $path)
    if [[ -z $subs ]]; then
      leaves+=("$path")
    else
      for sub in $subs; do queue+=("${path:+$path }$sub"); done
    fi
  done
  ((${#leaves[@]} >= 10)) || fail "found only ${#leaves[@]} commands in --help"
  for path in "${leaves[@]}"; do
    local page=$TMP/pages/klusterctl-${path// /-}.1 flags flag text zshfn fishat
    [[ -f $page ]] || fail "klusterctl $path has no man page (klusterctl-${path// /-}.1)"
    text=$(groff -man -Tascii -P-cbou "$page" 2>/dev/null)
    # shellcheck disable=SC2086
    flags=$(help_flags $path)
    [[ -n $flags ]] || fail "klusterctl $path --help lists no flag"
    zshfn=$(awk -v f="_klusterctl_${path// /_}() {" '$0 == f { on = 1 } on { print } on && /^}$/ { exit }' \
      "$TMP/klusterctl.zsh")
    [[ -n $zshfn ]] || fail "the zsh completion has no function for klusterctl $path"
    fishat=$(grep -F "__klusterctl_at \\'$path\\''" "$TMP/klusterctl.fish" || true)
    for flag in $flags; do
      grep -qE -- "(^|[ ,])$flag( |,|$)" <<<"$text" || fail "klusterctl-${path// /-}.1 does not mention $flag"
      grep -qE -- "^  \[\"klusterctl $path\"\]=\"([^\"]* )?$flag( [^\"]*)?\"$" "$TMP/klusterctl.bash" ||
        fail "the bash completion of klusterctl $path does not offer $flag"
      grep -qF -- "$flag" <<<"$zshfn" || fail "the zsh completion of klusterctl $path does not offer $flag"
      if [[ $flag == --* ]]; then
        grep -qE -- " -l ${flag#--}( |$)" <<<"$fishat" || fail "the fish completion of klusterctl $path lacks $flag"
      else
        grep -qE -- " -s ${flag#-}( |$)" <<<"$fishat" || fail "the fish completion of klusterctl $path lacks $flag"
      fi
      checked=$((checked + 1))
    done
  done
  echo "${#leaves[@]} commands: a man page and bash, zsh and fish completions name all $checked flags of their --help"
}

case $CHECK in
  up-to-date) up_to_date "${3:-}" ;;
  man-lint) man_lint ;;
  bash-completion) bash_completion ;;
  fish-completion) fish_completion ;;
  every-flag) every_flag ;;
  *) usage >&2; exit 2 ;;
esac
