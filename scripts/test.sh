#!/usr/bin/env bash
# Set up, configure, build and test Kluster: what CI runs (.ci/run).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF2'
Usage: scripts/test.sh [--no-setup] [--build-dir DIR] [CTEST_ARGS...]

1. scripts/setup.sh (skipped with --no-setup)
2. cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKLUSTER_WERROR=ON
3. cmake --build build -j2
4. ctest --test-dir build --output-on-failure --no-tests=error -j2 CTEST_ARGS...
   (the test suite starts and stops Kafka/PostgreSQL itself through fixtures)
Put ctest arguments after `--` if they could be mistaken for ours, e.g.
scripts/test.sh -- -R kafka
EOF2
}

SETUP=1
BUILD_DIR=${KLUSTER_BUILD_DIR:-build}
JOBS=${KLUSTER_JOBS:-2}
CTEST_ARGS=()
while (($#)); do
  case $1 in
    --no-setup) SETUP=""; shift ;;
    --build-dir) BUILD_DIR=${2:?--build-dir needs a value}; shift 2 ;;
    --build-dir=*) BUILD_DIR=${1#--build-dir=}; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; CTEST_ARGS+=("$@"); break ;;
    *) CTEST_ARGS+=("$1"); shift ;;
  esac
done

cd "$KLUSTER_REPO_ROOT"

section() { printf '\n==== %s ====\n' "$*"; }
T0=$(now_s)
step() { # NAME CMD...
  local name=$1 t
  shift
  section "$name"
  printf '+ %s\n' "$*"
  t=$(now_s)
  "$@"
  printf -- '---- %s: done in %ss\n' "$name" "$(($(now_s) - t))"
}

if [[ -n $SETUP ]]; then
  step "setup" scripts/setup.sh
fi
step "configure" cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKLUSTER_WERROR=ON
step "build" cmake --build "$BUILD_DIR" -j"$JOBS"
step "test" ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error -j"$JOBS" "${CTEST_ARGS[@]}"
section "all steps passed in $(($(now_s) - T0))s"
