#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs them, seeded from the project's own inputs.
set -euo pipefail

usage() {
  cat <<'EOF2'
Usage: tests/fuzz/run.sh [--build-dir DIR] [--seconds N] [--seed N] [TARGET...]

TARGET: request (the request parser), sql (the SQL analyzer), config (the config parser); default: all three.
Builds tests/fuzz with clang++-14 into DIR (default build-fuzz), then runs each target for N seconds
(default 60) on a corpus seeded from tests/corpus (requests and their SQL) and examples/*.toml. Findings
(crash-*, leak-*, timeout-*) are written to DIR/findings; the exit status is non-zero on any finding.
--seed N makes a run repeatable (libFuzzer's -seed; CI uses --seed 1, so a finding in CI is found again by
the same command; without it each run explores anew). The long form: tests/fuzz/run.sh --seconds 3600
EOF2
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build-fuzz
seconds=60
seed=0
targets=()
while (($#)); do
  case $1 in
    --build-dir) build=$(realpath -m "${2:?}"); shift 2 ;;
    --seconds) seconds=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    request | sql | config) targets+=("$1"); shift ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
((${#targets[@]})) || targets=(request sql config)

cxx=$(command -v clang++-14 || command -v clang++ || true)
cc=$(command -v clang-14 || command -v clang || true)
[[ -n $cxx && -n $cc ]] || { echo "clang++ not found: scripts/setup.sh installs clang-14" >&2; exit 2; }

# One build at a time (ctest may start several targets at once).
mkdir -p "$build"
exec 9>"$build/.lock"
flock 9
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$build" -j"${KLUSTER_JOBS:-2}" --target "${targets[@]/%/_fuzz}"
flock -u 9

seeds() { # TARGET DIR: the seed corpus of a target
  local dir=$2 f
  mkdir -p "$dir"
  case $1 in
    request) cp "$root"/tests/corpus/requests/*.req "$dir"/ ;;
    sql)
      # The SQL of every corpus request that has one, as plain text.
      for f in "$root"/tests/corpus/requests/*.req; do
        python3 -c 'import json,sys
try:
    j = json.loads(open(sys.argv[1], "rb").read())
    s = j.get("sqlString") if isinstance(j, dict) else None
    if isinstance(s, str): sys.stdout.write(s)
except Exception: pass' "$f" >"$dir/$(basename "$f" .req).sql"
      done
      find "$dir" -empty -delete ;;
    config) cp "$root"/examples/*.toml "$dir"/ ;;
  esac
}

mkdir -p "$build/findings"
status=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  seeds "$t" "$corpus"
  printf '==== fuzz %s for %ss (seeds: %s)\n' "$t" "$seconds" "$(find "$corpus" -type f | wc -l)"
  # ASan's leak check runs at exit (lsan.supp: a leak inside libpg_query); -rss_limit_mb catches runaway memory;
  # -timeout a hang on one input.
  if ! LSAN_OPTIONS="suppressions=$here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" "$build/${t}_fuzz" -seed="$seed" -max_total_time="$seconds" -max_len=65536 -timeout=25 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$build/findings/$t-" "$corpus" 2>"$build/$t.log"; then
    status=1
    tail -n 60 "$build/$t.log" >&2
    printf 'FAIL: fuzz %s found a problem; the input is in %s/findings\n' "$t" "$build" >&2
  else
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+.*DONE' "$build/$t.log" || true
    printf 'fuzz %s: no crash, leak or sanitizer report in %ss\n' "$t" "$seconds"
  fi
done
exit $status
