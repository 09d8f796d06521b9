#!/usr/bin/env bash
# Run Kluster's benchmarks with one command: build klusterctl (Release), start Kafka and PostgreSQL in a
# temporary directory, run `klusterctl bench apply` and `klusterctl bench exec`, print their numbers, and
# stop everything. See bench/README.md.
set -euo pipefail

# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
KLUSTER_LOG_TAG=bench/run.sh

usage() {
  cat <<'EOF'
Usage: bench/run.sh [--rows N] [--count N] [--batch-max N] [--build-dir DIR] [--no-build] [--keep]
                    [--compare KLUSTERCTL]

  --rows N        INSERT requests in bench apply's backlog (default 100000)
  --count N       invocations per case of bench exec (default 50)
  --batch-max N   the node's [node] batch_max (default: klusterctl's default, 500)
  --build-dir DIR Release build directory (default build-bench)
  --no-build      use the klusterctl already in the build directory
  --keep          keep the temporary directory (configs, node logs) for a look afterwards
  --compare BIN   also run bench apply with another klusterctl (e.g. one built from an older commit), on a
                  cluster and database of its own, right before this build's: before/after from one run

Numbers go to stdout; progress and logs' locations to stderr.
EOF
}

ROWS=100000
COUNT=50
BATCH_MAX=""
BUILD_DIR=build-bench
BUILD=1
KEEP=""
COMPARE=""
while (($#)); do
  case $1 in
    --rows) ROWS=${2:?--rows needs a value}; shift 2 ;;
    --count) COUNT=${2:?--count needs a value}; shift 2 ;;
    --batch-max) BATCH_MAX=${2:?--batch-max needs a value}; shift 2 ;;
    --build-dir) BUILD_DIR=${2:?--build-dir needs a value}; shift 2 ;;
    --no-build) BUILD=""; shift ;;
    --keep) KEEP=1; shift ;;
    --compare) COMPARE=$(abspath "${2:?--compare needs a klusterctl binary}"); shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

cd "$KLUSTER_REPO_ROOT"
BUILD_DIR=$(abspath "$BUILD_DIR")
KLUSTERCTL=$BUILD_DIR/src/klusterctl
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kluster-bench.XXXXXX")
chmod 755 "$WORK" # PostgreSQL runs as its own user and must reach its data dir in here
NODE_PID=""

cleanup() {
  local rc=$?
  if [[ -n $NODE_PID ]] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
  fi
  scripts/services.sh down "$WORK/services" >/dev/null 2>&1 || log "could not stop the services in $WORK/services"
  if [[ -n $KEEP ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n $BUILD ]]; then
  log "building klusterctl (Release) in $BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLUSTER_BUILD_TESTS=OFF >"$WORK/build.log"
  cmake --build "$BUILD_DIR" -j"${KLUSTER_JOBS:-2}" --target klusterctl >>"$WORK/build.log" ||
    { tail -n 30 "$WORK/build.log" >&2; die "build failed"; }
fi
[[ -x $KLUSTERCTL ]] || die "$KLUSTERCTL is missing (drop --no-build)"

log "starting Kafka and PostgreSQL in $WORK/services"
scripts/services.sh up "$WORK/services" --pg 1 >/dev/null
# shellcheck source=/dev/null
source "$WORK/services/env.sh"
BROKERS=$KLUSTER_TEST_BROKERS
SERVER_URL=${KLUSTER_TEST_PG_URLS%% *}
# One cluster with one node (node1) per klusterctl under test, each with its own database.
make_cluster() { # name klusterctl
  local cluster=$1 bin=$2 db=${1}_node1
  psql "$SERVER_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $db" >/dev/null
  {
    printf '[cluster]\nname = "%s"\nbrokers = "%s"\n\n' "$cluster" "$BROKERS"
    printf '[node]\nid = "node1"\n%s\n\n' "${BATCH_MAX:+batch_max = $BATCH_MAX}"
    printf '[database]\nurl = "%s/%s"\n' "${SERVER_URL%/*}" "$db"
  } >"$WORK/$cluster.toml"
  "$bin" init --brokers "$BROKERS" --cluster "$cluster" >/dev/null 2>&1
}
CLUSTER=bench$RANDOM
make_cluster "$CLUSTER" "$KLUSTERCTL"
cp "$WORK/$CLUSTER.toml" "$WORK/node1.toml"

printf '== klusterctl %s, %s, %s core(s)\n' "$("$KLUSTERCTL" --version)" "$(uname -m)" "$(nproc)"
if [[ -n $COMPARE ]]; then
  [[ -x $COMPARE ]] || die "--compare: $COMPARE is not an executable"
  make_cluster "${CLUSTER}b" "$COMPARE"
  printf '\n== bench apply with %s (%s), for comparison\n' "$COMPARE" "$("$COMPARE" --version)"
  "$COMPARE" bench apply --rows "$ROWS" --node-config "$WORK/${CLUSTER}b.toml" --node-log "$WORK/compare-apply.log"
fi
printf '\n== bench apply (the node is stopped; bench apply starts and stops it)\n'
"$KLUSTERCTL" bench apply --rows "$ROWS" --node-config "$WORK/node1.toml" --node-log "$WORK/node1-apply.log"

log "starting node1 for bench exec"
"$KLUSTERCTL" node run --config "$WORK/node1.toml" >"$WORK/node1.log" 2>&1 &
NODE_PID=$!
deadline=$(($(now_s) + 60))
until "$KLUSTERCTL" exec --brokers "$BROKERS" --cluster "$CLUSTER" --to ONE --timeout 2s "SELECT 1" >/dev/null 2>&1; do
  kill -0 "$NODE_PID" 2>/dev/null || { tail -n 20 "$WORK/node1.log" >&2; die "node1 exited"; }
  (($(now_s) < deadline)) || die "node1 did not answer within 60 s (see $WORK/node1.log)"
done

printf '\n== bench exec\n'
"$KLUSTERCTL" bench exec --brokers "$BROKERS" --cluster "$CLUSTER" --count "$COUNT"
