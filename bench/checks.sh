#!/usr/bin/env bash
# What continuous verification costs a live cluster: `klusterctl bench load` against one node with
# node.check_interval = 0 (off), one whose every check is full (node.check_full_every = 1: every table summed
# at every check, as before checks were incremental) and one with incremental checks (only the tables written
# since the previous check summed again, a full check every --full-every periods), in one run on the same
# services, alternating (off, full, incremental, off, ...) so that drift of the machine hits all three. Each
# node's database holds a ballast table that no request writes: every full check scans it. See bench/README.md.
set -euo pipefail

# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
KLUSTER_LOG_TAG=bench/checks.sh

usage() {
  cat <<'EOF'
Usage: bench/checks.sh [--klusterctl BIN] [--interval 2s] [--full-every N] [--rows N] [--duration 20s]
                       [--clients N] [--rounds N] [--keep]

  --klusterctl BIN  the klusterctl to measure (default build/src/klusterctl)
  --interval D      node.check_interval of the measured nodes with checks (default 2s: far more often than
                    the default 5m, so that the cost shows)
  --full-every N    node.check_full_every of the incremental node (default 1000: no full check during the
                    runs, so that they measure incremental checks alone; with a full check every N periods
                    the cost is about incremental's + (full's - incremental's) / N)
  --rows N          rows of the ballast table every check scans (default 200000)
  --duration D      each bench load run (default 20s)
  --clients N       bench load's concurrent clients (default 16)
  --rounds N        rounds of off/full/incremental runs (default 2)
  --keep            keep the temporary directory (configs, node logs)

Prints one line per run (throughput, latency, the CPU time per write of the node and of PostgreSQL, the
checks and the tables they summed or reused) and each setting's ratios to off. Each run starts once the
node made its first check (a full one: a node that starts has no sums to reuse). Only one node runs at a time
(an idle node with checks on would still scan its tables while another is measured).
EOF
}

KLUSTERCTL=build/src/klusterctl
INTERVAL=2s
FULL_EVERY=1000
ROWS=200000
DURATION=20s
CLIENTS=16
ROUNDS=2
KEEP=""
while (($#)); do
  case $1 in
    --klusterctl) KLUSTERCTL=${2:?}; shift 2 ;;
    --interval) INTERVAL=${2:?}; shift 2 ;;
    --full-every) FULL_EVERY=${2:?}; shift 2 ;;
    --rows) ROWS=${2:?}; shift 2 ;;
    --duration) DURATION=${2:?}; shift 2 ;;
    --clients) CLIENTS=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

cd "$KLUSTER_REPO_ROOT"
KLUSTERCTL=$(abspath "$KLUSTERCTL")
[[ -x $KLUSTERCTL ]] || die "$KLUSTERCTL is missing: build it (cmake --build build --target klusterctl)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kluster-checks.XXXXXX")
chmod 755 "$WORK"
NODE_PID=""

stop_node() {
  if [[ -n $NODE_PID ]] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
  fi
  NODE_PID=""
}
cleanup() {
  local rc=$?
  stop_node
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
BASE=checks$RANDOM

PG_PID=$(head -n 1 "$WORK/services/pg/pg1/data/postmaster.pid")

# A cluster of one node per setting, each with its own database.
make_cluster() { # setting check_interval check_full_every
  local cluster=${BASE}_$1 db=${BASE}_$1_node1
  psql "$SERVER_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $db" >/dev/null
  {
    printf '[cluster]\nname = "%s"\nbrokers = "%s"\n\n' "$cluster" "$BROKERS"
    printf '[node]\nid = "node1"\ncheck_interval = "%s"\ncheck_full_every = %s\n\n' "$2" "$3"
    printf '[database]\nurl = "%s/%s"\n' "${SERVER_URL%/*}" "$db"
  } >"$WORK/$1.toml"
  "$KLUSTERCTL" init --brokers "$BROKERS" --cluster "$cluster" >/dev/null 2>&1
}
start_node() { # setting
  local port
  port=$(pick_port)
  METRICS=127.0.0.1:$port
  "$KLUSTERCTL" node run --config "$WORK/$1.toml" --metrics-address "$METRICS" >>"$WORK/$1.log" 2>&1 &
  NODE_PID=$!
  local deadline=$(($(now_s) + 60))
  until "$KLUSTERCTL" exec --brokers "$BROKERS" --cluster "${BASE}_$1" --to ONE --timeout 2s "SELECT 1" \
    >/dev/null 2>&1; do
    kill -0 "$NODE_PID" 2>/dev/null || { tail -n 20 "$WORK/$1.log" >&2; die "the $1 node exited"; }
    (($(now_s) < deadline)) || die "the $1 node did not answer within 60 s (see $WORK/$1.log)"
  done
}
metric() { # name: its value on the running node
  curl -fsS "http://$METRICS/metrics" | awk -v m="$1" '$1 ~ "^"m"[{]" {print $2}'
}

SETTINGS=(off full incremental)
for setting in "${SETTINGS[@]}"; do
  case $setting in
    off) make_cluster off 0 1 ;;
    full) make_cluster full "$INTERVAL" 1 ;;
    incremental) make_cluster incremental "$INTERVAL" "$FULL_EVERY" ;;
  esac
  start_node "$setting"
  "$KLUSTERCTL" exec --brokers "$BROKERS" --cluster "${BASE}_$setting" --to ALL --wait all \
    "CREATE TABLE ballast (id int PRIMARY KEY, label text, n numeric)" >/dev/null
  "$KLUSTERCTL" exec --brokers "$BROKERS" --cluster "${BASE}_$setting" --to ALL --wait all --timeout 120s \
    "INSERT INTO ballast SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, $ROWS) g" >/dev/null
  stop_node
done

printf '== continuous verification: bench load --clients %s --duration %s, %s-row ballast, check_interval %s, incremental: check_full_every %s; %s, %s core(s)\n' \
  "$CLIENTS" "$DURATION" "$ROWS" "$INTERVAL" "$FULL_EVERY" "$("$KLUSTERCTL" --version)" "$(nproc)"
printf '%-12s %5s %11s %7s %7s %9s %9s %9s %6s %6s %6s %8s\n' setting round "requests/s" "p50 ms" "p99 ms" \
  "node us/w" "pg us/w" "all us/w" checks summed reused "check ms"
results=$WORK/results.tsv
: >"$results"
for ((round = 1; round <= ROUNDS; round++)); do
  for setting in "${SETTINGS[@]}"; do
    start_node "$setting"
    if [[ $setting != off ]]; then # a node's first check is full (it has no sums to reuse): not in the runs
      deadline=$(($(now_s) + 180))
      until (($(metric kluster_checks_total) >= 1)); do
        (($(now_s) < deadline)) || die "the $setting node made no check within 180 s (see $WORK/$setting.log)"
        sleep 0.5
      done
    fi
    before="$(metric kluster_checks_total) $(metric kluster_check_tables_summed_total) $(metric kluster_check_tables_reused_total)"
    out=$("$KLUSTERCTL" bench load --brokers "$BROKERS" --cluster "${BASE}_$setting" --clients "$CLIENTS" \
      --duration "$DURATION" --cpu-pid "node=$NODE_PID" --cpu-pid "postgres=$PG_PID" -o json)
    after="$(metric kluster_checks_total) $(metric kluster_check_tables_summed_total) $(metric kluster_check_tables_reused_total)"
    last=$(metric kluster_check_last_duration_seconds)
    stop_node
    python3 - "$setting" "$round" "$before" "$after" "$last" "$out" "$results" <<'PY'
import json, sys
setting, rnd, before, after, last, out, results = sys.argv[1:]
checks, summed, reused = (int(float(a)) - int(float(b)) for a, b in zip(after.split(), before.split()))
j = json.loads(out)
cpu = {p["name"]: p["us_per_write"] for p in (j.get("cpu") or {}).get("processes", [])}
machine = (j.get("cpu") or {}).get("machine_us_per_write") or 0
node, pg = cpu.get("node", 0), cpu.get("postgres", 0)
line = (setting, rnd, j["throughput"], j["latency"]["p50_ms"], j["latency"]["p99_ms"], node, pg, machine)
print(f"{setting:<12} {rnd:>5} {j['throughput']:>11.0f} {j['latency']['p50_ms']:>7.2f} {j['latency']['p99_ms']:>7.2f} "
      f"{node:>9.0f} {pg:>9.0f} {machine:>9.0f} {checks:>6} {summed:>6} {reused:>6} "
      f"{float(last) * 1000 if setting != 'off' else 0:>8.0f}")
with open(results, "a") as f:
    f.write("\t".join(str(x) for x in line) + "\n")
PY
  done
done
python3 - "$results" <<'PY'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
def mean(setting, col):
    vals = [float(r[col]) for r in rows if r[0] == setting]
    return sum(vals) / len(vals)
for setting in ("full", "incremental"):
    tput = mean(setting, 2) / mean("off", 2)
    p50 = mean(setting, 3) / mean("off", 3)
    cpu = (mean(setting, 5) + mean(setting, 6)) / (mean("off", 5) + mean("off", 6))
    print(f"checks {setting:<11} / off: throughput {tput:.3f} ({(tput - 1) * 100:+.1f}%), median latency {p50:.3f} "
          f"({(p50 - 1) * 100:+.1f}%), node + PostgreSQL CPU per write {cpu:.3f} ({(cpu - 1) * 100:+.1f}%)")
PY
