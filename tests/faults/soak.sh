#!/usr/bin/env bash
# The fault suite's soak mode (not in CI): starts its own services (3 Kafka brokers with proxied
# listeners, 3 PostgreSQL), then runs every scenario again and again, each round with
# KLUSTER_FAULTS_SCALE=SCALE (that many times the faults of the short form), printing the checker's
# summary line per scenario and round, until MINUTES have passed. Exits non-zero at the first anomaly.
#
#   tests/faults/soak.sh [--minutes 30] [--scale 3] [--build build] [--scenario TAG]...
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MINUTES=30
SCALE=3
BUILD=$ROOT/build
SCENARIOS=()
while (($#)); do
  case $1 in
    --minutes) MINUTES=${2:?}; shift 2 ;;
    --scale) SCALE=${2:?}; shift 2 ;;
    --build) BUILD=$(cd "${2:?}" && pwd); shift 2 ;;
    --scenario) SCENARIOS+=("${2:?}"); shift 2 ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
((${#SCENARIOS[@]})) || SCENARIOS=(node-kill postgres brokers kafka-down client-kill slow-node db-refuses partition producer)
BIN=$BUILD/tests/it_faults
[[ -x $BIN ]] || { echo "soak.sh: $BIN not built (cmake --build $BUILD --target it_faults)" >&2; exit 2; }
DIR=$BUILD/fault-soak
"$ROOT/scripts/services.sh" up "$DIR" --brokers 3 --pg 3 --proxied >/dev/null
trap '"$ROOT/scripts/services.sh" down "$DIR" >/dev/null 2>&1 || true' EXIT
export KLUSTER_TEST_ENV=$DIR/env KLUSTER_FAULTS_SCALE=$SCALE
end=$(($(date +%s) + MINUTES * 60))
round=0
while (($(date +%s) < end)); do
  round=$((round + 1))
  for s in "${SCENARIOS[@]}"; do
    log=$DIR/round$round-$s.log
    t0=$(date +%s)
    if "$BIN" "[$s]" >"$log" 2>&1; then status=passed; else status=FAILED; fi
    summary=$(grep -h '^\[faults\] [a-z-]*:' "$log" | tail -n 1 | sed 's/^\[faults\] //')
    printf 'round %d %-12s %s in %ds: %s\n' "$round" "$s" "$status" $(($(date +%s) - t0)) "${summary:-no summary}"
    if [[ $status == FAILED ]]; then
      echo "soak.sh: round $round, scenario $s failed; log: $log" >&2
      grep -h '^\[faults\]   ' "$log" >&2 || tail -n 40 "$log" >&2
      exit 1
    fi
  done
done
echo "soak: $round round(s) of ${#SCENARIOS[@]} scenarios in $MINUTES min, no anomaly"
