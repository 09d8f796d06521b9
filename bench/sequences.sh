#!/usr/bin/env bash
# What a speculation's sequences cost (docs/transactions.md "Sequences"): a speculation that writes restarts, in its
# rolled-back transaction, the sequences its statements may draw from (ALTER SEQUENCE ... RESTART: a new file per
# sequence, and a lock that the apply loop's nextval() waits for). Before, it restarted every sequence of the
# database. On one node's database holding --tables SERIAL tables, pgbench runs what a speculation of
# `INSERT INTO t1 (v) VALUES (1)` runs on the database (BEGIN, _kluster.speculate_sequences(), the INSERT,
# _kluster.drawn_sequences(), ROLLBACK) with every sequence restarted (the scope NULL, as before) and with the scope
# the node now passes (the table written), alternating, in one run. See bench/README.md.
set -euo pipefail

# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
KLUSTER_LOG_TAG=bench/sequences.sh

usage() {
  cat <<'EOF'
Usage: bench/sequences.sh [--klusterctl BIN] [--tables N] [--duration S] [--rounds N] [--keep]

  --klusterctl BIN  the klusterctl whose node creates the database's _kluster schema (default build/src/klusterctl)
  --tables N        SERIAL tables in the database (default 50)
  --duration S      seconds of each pgbench run (default 10)
  --rounds N        rounds of (every sequence, the statement's own) runs (default 2)
  --keep            keep the temporary directory

Prints one line per run (speculations/s, mean latency) and the ratio. The cost is mostly the files ALTER
SEQUENCE creates and drops, not CPU.
EOF
}

KLUSTERCTL=build/src/klusterctl
TABLES=50
DURATION=10
ROUNDS=2
KEEP=""
while (($#)); do
  case $1 in
    --klusterctl) KLUSTERCTL=${2:?}; shift 2 ;;
    --tables) TABLES=${2:?}; shift 2 ;;
    --duration) DURATION=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ $TABLES =~ ^[1-9][0-9]*$ ]] || die "--tables must be a positive whole number"

cd "$KLUSTER_REPO_ROOT"
KLUSTERCTL=$(abspath "$KLUSTERCTL")
[[ -x $KLUSTERCTL ]] || die "$KLUSTERCTL is missing: build it (cmake --build build --target klusterctl)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kluster-sequences.XXXXXX")
chmod 755 "$WORK"
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

log "starting Kafka and PostgreSQL in $WORK/services"
scripts/services.sh up "$WORK/services" --pg 1 >/dev/null
# shellcheck source=/dev/null
source "$WORK/services/env.sh"
BROKERS=$KLUSTER_TEST_BROKERS
SERVER_URL=${KLUSTER_TEST_PG_URLS%% *}
CLUSTER=sequences$RANDOM
DB_URL=${SERVER_URL%/*}/${CLUSTER}_node1
PGBIN=${KLUSTER_PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_PID=$(head -n 1 "$WORK/services/pg/pg1/data/postmaster.pid")

psql "$SERVER_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE ${CLUSTER}_node1" >/dev/null
printf '[cluster]\nname = "%s"\nbrokers = "%s"\n\n[node]\nid = "node1"\n\n[database]\nurl = "%s"\n' \
  "$CLUSTER" "$BROKERS" "$DB_URL" >"$WORK/node1.toml"
"$KLUSTERCTL" init --brokers "$BROKERS" --cluster "$CLUSTER" >/dev/null 2>&1
"$KLUSTERCTL" node run --config "$WORK/node1.toml" >>"$WORK/node1.log" 2>&1 &
NODE_PID=$!
deadline=$(($(now_s) + 60))
until "$KLUSTERCTL" exec --brokers "$BROKERS" --cluster "$CLUSTER" --to ONE --timeout 2s "SELECT 1" >/dev/null 2>&1; do
  kill -0 "$NODE_PID" 2>/dev/null || { tail -n 20 "$WORK/node1.log" >&2; die "the node exited"; }
  (($(now_s) < deadline)) || die "the node did not answer within 60 s (see $WORK/node1.log)"
done
ddl=""
for ((i = 1; i <= TABLES; i++)); do ddl+="CREATE TABLE t$i (id serial PRIMARY KEY, v int);"; done
"$KLUSTERCTL" exec --brokers "$BROKERS" --cluster "$CLUSTER" --to ALL --wait all --timeout 120s --tx "$ddl" \
  >/dev/null 2>>"$WORK/exec.log" || die "creating the tables failed (see $WORK/node1.log)"
# The node saved every sequence's state with its batch; it is not needed any more.
kill -TERM "$NODE_PID" && wait "$NODE_PID" 2>/dev/null || true
NODE_PID=""

for scope in every own; do
  if [[ $scope == every ]]; then tables=NULL; else tables="'{public.t1}'"; fi
  printf "BEGIN;\nSELECT _kluster.speculate_sequences('{}', %s, '{}');\nINSERT INTO t1 (v) VALUES (1);\n%s\nROLLBACK;\n" \
    "$tables" "SELECT _kluster.drawn_sequences();" >"$WORK/$scope.sql"
done

printf '== a speculation of one INSERT on a database of %s SERIAL tables; pgbench, 1 client, %s s per run; %s, %s core(s)\n' \
  "$TABLES" "$DURATION" "$("$KLUSTERCTL" --version)" "$(nproc)"
printf '%-28s %5s %15s %11s\n' "sequences restarted" round "speculations/s" "mean ms"
declare -A SUM
for ((round = 1; round <= ROUNDS; round++)); do
  for scope in every own; do
    out=$("$PGBIN/pgbench" -n -c 1 -T "$DURATION" -f "$WORK/$scope.sql" "$DB_URL" 2>&1) || die "pgbench failed: $out"
    tps=$(awk '/^tps =/ {print $3}' <<<"$out")
    lat=$(awk '/^latency average =/ {print $4}' <<<"$out")
    label=$([[ $scope == every ]] && echo "every one ($TABLES, before)" || echo "the table's own (1, now)")
    printf '%-28s %5s %15.1f %11s\n' "$label" "$round" "$tps" "$lat"
    SUM[$scope.tps]=$(awk -v a="${SUM[$scope.tps]:-0}" -v b="$tps" 'BEGIN { print a + b }')
  done
done
awk -v a="${SUM[own.tps]}" -v b="${SUM[every.tps]}" \
  'BEGIN { printf "the table'"'"'s own over every one: speculations/s %.2fx\n", a / b }'
