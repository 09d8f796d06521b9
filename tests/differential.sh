#!/usr/bin/env bash
# The random differential test's long form (not in CI; ctest's integration.differential is the short form): starts
# its own services (Kafka, PostgreSQL), then runs tests/integration/differential_test.cpp with STATEMENTS random
# statements for each seed from SEED to SEED+SEEDS-1, printing each run's summary line (statements checked, applied,
# refused by code, diverged). Exits non-zero at the first divergence; the failing run's output names the statement.
#
#   tests/differential.sh [--statements 10000] [--seed 1] [--seeds 1] [--build build] [--known-hazards]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATEMENTS=10000
SEED=1
SEEDS=1
BUILD=$ROOT/build
KNOWN=0
while (($#)); do
  case $1 in
    --statements) STATEMENTS=${2:?}; shift 2 ;;
    --seed) SEED=${2:?}; shift 2 ;;
    --seeds) SEEDS=${2:?}; shift 2 ;;
    --build) BUILD=$(cd "${2:?}" && pwd); shift 2 ;;
    --known-hazards) KNOWN=1; shift ;;
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "differential.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
BIN=$BUILD/tests/it_differential
[[ -x $BIN ]] || { echo "differential.sh: $BIN not built (cmake --build $BUILD --target it_differential)" >&2; exit 2; }
DIR=$BUILD/differential-services
"$ROOT/scripts/services.sh" up "$DIR" --sasl-ssl >/dev/null
trap '"$ROOT/scripts/services.sh" down "$DIR" >/dev/null 2>&1 || true' EXIT
export KLUSTER_TEST_ENV=$DIR/env KLUSTER_DIFFTEST_STATEMENTS=$STATEMENTS KLUSTER_DIFFTEST_KNOWN_HAZARDS=$KNOWN
for ((seed = SEED; seed < SEED + SEEDS; seed++)); do
  log=$DIR/seed$seed.log
  t0=$(date +%s)
  if KLUSTER_DIFFTEST_SEED=$seed "$BIN" >"$log" 2>&1; then status=passed; else status=FAILED; fi
  summary=$(grep -h '^\[differential\]' "$log" | tail -n 1)
  printf '%s in %ds: %s\n' "$status" $(($(date +%s) - t0)) "${summary:-no summary}"
  if [[ $status == FAILED ]]; then
    sed -n '/FAILED:/,/^=====/p' "$log"
    echo "differential.sh: the whole output is in $log" >&2
    exit 1
  fi
done
