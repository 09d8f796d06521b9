#!/usr/bin/env bash
# Kluster against the ways PostgreSQL users keep three copies of a database, in one run on one machine: the
# same single-row INSERT workload, closed loop, for 1, 16 and 64 clients, against
#   direct    one PostgreSQL (one copy: the baseline without replication)
#   syncrep   PostgreSQL synchronous streaming replication: a primary and two standbys,
#             synchronous_standby_names = 'ANY 2 (s1, s2)', synchronous_commit = remote_apply
#   pgpool    pgpool-II native replication over three independent PostgreSQL servers (Debian's pgpool2)
#   kluster   Kluster: Kafka and three nodes, each with its own PostgreSQL, `bench load --wait all`
#   kluster-async  the same with node.synchronous_commit = "off" (ALL as the durable copy, README Reliability)
#   proxy     Kluster as above behind `klusterctl proxy` (proxy.wait = "all"), driven by pgbench -M prepared (the
#             statement prepared once, its values bound each time, as drivers do and as bench load sends it):
#             what an application with a PostgreSQL driver gets; at each client count `bench load` runs
#             first on the same cluster (rows "library"), the client library it is compared with
#   proxy-modes  (only when named in --only) the proxy's cluster driven by pgbench -M simple (the values spliced
#             into the SQL text, every text new: psql scripts, pg_dump --inserts, drivers that interpolate) and
#             -M prepared, alternating on one cluster (rows "proxy-simple", "proxy-prepared"; issue 27); with
#             --before BIN first the same with BIN running the nodes and the proxy (rows "... (before)")
#   With --before BIN, kluster too: first a cluster whose nodes and bench load are BIN (rows "kluster-before"),
#   then this build's (rows "kluster"): an older build's latency and CPU next to the new one's in one run
#   batching  (only when named in --only) `bench load` with the client library's batching off (--batch-linger 0,
#             rows "unbatched") and on (its default, rows "batched"), alternating on one cluster
#   speculation  (only when named in --only; bench/speculation.sh) the kluster setup's `bench load` alone and
#             beside interactive transactions through the proxy whose statements are speculations (rolled back
#             on one node, beside its apply loop), alternating on one cluster: what they cost the apply loop
#   mariadb   (only when named in --only; bench/mariadb_peers.sh) Kluster on MariaDB (3 nodes, 3 servers) and
#             MariaDB's semi-synchronous replication (a primary, two replicas) under the same load
# The peers are driven by pgbench, Kluster by `klusterctl bench load`. Every PostgreSQL gets the same settings
# (fsync on, synchronous_commit on, shared_buffers 128MB). Prints one table with the ratios to syncrep and
# writes it to bench/RESULTS.md (--out). At every point it also measures the CPU time each process of the
# setup used per write (bench load's --cpu-pid; bench/cpu.py around pgbench) and, for Kluster, the mean ALL
# batch the nodes applied (their /metrics): a second table under the first. See bench/README.md.
set -euo pipefail

# shellcheck source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
KLUSTER_LOG_TAG=bench/compare.sh

usage() {
  cat <<'EOF'
Usage: bench/compare.sh [--clients "1 16 64"] [--duration S] [--only SETUPS] [--out FILE] [--smoke]
                        [--klusterctl BIN | --build-dir DIR] [--node-klusterctl BIN] [--before BIN] [--keep]
                        [--spec-clients K] [--spec-rate R] [--spec-workload W] [--spec-budget D]

  --clients LIST   client counts to measure (default "1 16 64")
  --duration S     seconds per measurement (default 20)
  --only SETUPS    a comma-separated subset of direct,syncrep,pgpool,kluster,kluster-async,proxy,proxy-modes,
                   batching,speculation,mariadb (default: all but proxy-modes, which measures the proxy under
                   pgbench -M simple and -M prepared, batching, which measures the client library with and without
                   its batching, speculation, which measures the apply loop beside interactive transactions, and
                   mariadb: Kluster on MariaDB against MariaDB's semi-synchronous replication)
  --out FILE       where the Markdown table goes (default bench/RESULTS.md; the smoke form: a temp file)
  --warmup S       Kluster's setups: seconds of load at the largest client count before the first point, not
                   measured (default 10): the broker's JIT compiler and caches warm, as the peers' need not
  --smoke          seconds-long form (2 s per point, clients "1 4"): proves the script works, measures nothing
  --klusterctl BIN the klusterctl to measure (default: build it, Release, in --build-dir)
  --build-dir DIR  Release build directory (default build-bench)
  --node-klusterctl BIN
                   run the nodes with another klusterctl (say, one built from an older commit) while bench
                   load is this one: the node side's before and after, one run each (--only kluster)
  --before BIN     proxy-modes: first measure it with BIN (say, one built from an older commit) running the
                   nodes and the proxy, on a cluster of its own, then with this one: before and after in one run;
                   kluster: the same with BIN running the nodes and bench load (rows "kluster-before")
  --keep           keep the scratch directory (logs, pgbench outputs)
  --workload W     the kluster setups' bench load workload (default insert; read: SELECTs on ONE, each answered
                   by one node, for --before comparisons of the read path; the peers always insert)
  --spec-clients K speculation: pgbench clients running interactive transactions beside bench load (default 8)
  --spec-rate R     speculation: their transactions per second in all (pgbench -R; default: as fast as they go)
  --spec-workload W
                   speculation: bench load's workload (default multi: an INSERT and an UPDATE of a hot row, the
                   rows the transactions beside it read and update)
  --spec-budget D  speculation: the nodes' node.speculation_budget (say 100ms; default: theirs, 0, no limit): the
                   time per second their speculations may take while writes flow

The smoke form also runs the speculation setup's halves once each (alone, speculating) on the proxy's cluster,
and proxy-modes.
Every point also gets the CPU time per write of each process it started (broker, nodes, database servers with
their backends, proxy or pgpool, the client) and of the whole machine: a second table (bench/README.md).
Needs python3 (bench/cpu.py), jq and curl.
Runs as root or as a user that can run PostgreSQL's initdb (root: the servers run as 'postgres').
Installs Debian's pgpool2 when it is missing. Everything it starts is stopped at the end, also on Ctrl-C.
EOF
}

CLIENTS="1 16 64"
DURATION=20
ONLY=direct,syncrep,pgpool,kluster,kluster-async,proxy
WARMUP=10
OUT=""
SMOKE=""
KLUSTERCTL=""
NODE_KLUSTERCTL=""
BUILD_DIR=build-bench
KEEP=""
BEFORE=""
WORKLOAD=""
while (($#)); do
  case $1 in
    --clients) CLIENTS=${2:?--clients needs a value}; shift 2 ;;
    --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
    --only) ONLY=${2:?--only needs a value}; shift 2 ;;
    --warmup) WARMUP=${2:?--warmup needs a value}; shift 2 ;;
    --out) OUT=$(abspath "${2:?--out needs a file}"); shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --klusterctl) KLUSTERCTL=$(abspath "${2:?--klusterctl needs a binary}"); shift 2 ;;
    --build-dir) BUILD_DIR=${2:?--build-dir needs a value}; shift 2 ;;
    --node-klusterctl) NODE_KLUSTERCTL=$(abspath "${2:?--node-klusterctl needs a binary}"); shift 2 ;;
    --before) BEFORE=$(abspath "${2:?--before needs a binary}"); shift 2 ;;
    --keep) KEEP=1; shift ;;
    --spec-clients) SPEC_CLIENTS=${2:?--spec-clients needs a value}; shift 2 ;;
    --spec-rate) SPEC_RATE=${2:?--spec-rate needs a value}; shift 2 ;;
    --workload) WORKLOAD=${2:?--workload needs a value}; shift 2 ;;
    --spec-workload) SPEC_WORKLOAD=${2:?--spec-workload needs a value}; shift 2 ;;
    --spec-budget) export KLUSTER_SPECULATION_BUDGET=${2:?--spec-budget needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
if [[ -n $SMOKE ]]; then
  CLIENTS="1 4"
  DURATION=2
  WARMUP=1
  SPEC_CLIENTS=2
fi
[[ $WARMUP =~ ^[0-9]+$ ]] || die "--warmup must be a whole number of seconds"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "--duration must be a whole number of seconds"
for c in $CLIENTS; do [[ $c =~ ^[1-9][0-9]*$ ]] && ((c <= 64)) || die "--clients: $c is not in 1..64"; done
IFS=, read -r -a SETUPS <<<"$ONLY"
for s in "${SETUPS[@]}"; do
  case $s in direct | syncrep | pgpool | kluster | kluster-async | proxy | proxy-modes | batching | speculation | mariadb) ;;
    *) die "--only: unknown setup $s" ;;
  esac
done
[[ ${SPEC_CLIENTS:-8} =~ ^[1-9][0-9]*$ ]] && ((${SPEC_CLIENTS:-8} <= 64)) || die "--spec-clients must be in 1..64"
[[ -z ${SPEC_RATE:-} || $SPEC_RATE =~ ^[1-9][0-9]*$ ]] || die "--spec-rate must be a whole number of transactions/s"
# The smoke form runs the MariaDB peer too (about 12 s), so that mariadb.sh --semisync and bench load --direct cannot rot.
[[ -z $SMOKE || " ${SETUPS[*]} " == *" mariadb "* ]] || SETUPS+=(mariadb-semisync)
# And proxy-modes (a cluster of its own, about 30 s), so that the -M simple / -M prepared comparison cannot rot either.
[[ -z $SMOKE || " ${SETUPS[*]} " == *" proxy-modes "* ]] || SETUPS+=(proxy-modes)
MAX_CLIENTS=0
for c in $CLIENTS; do ((c > MAX_CLIENTS)) && MAX_CLIENTS=$c; done

cd "$KLUSTER_REPO_ROOT"
PGBIN=${KLUSTER_PG_BINDIR:-/usr/lib/postgresql/15/bin}
[[ -x $PGBIN/initdb && -x $PGBIN/pgbench ]] || die "PostgreSQL 15 with pgbench not found in $PGBIN (run scripts/setup.sh)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kluster-compare.XXXXXX")
chmod 755 "$WORK"
[[ -n $OUT ]] || if [[ -n $SMOKE ]]; then OUT=$WORK/RESULTS.md; else OUT=$KLUSTER_REPO_ROOT/bench/RESULTS.md; fi

# ------------------------------------------------------------------ processes we own, stopped at exit ----
PG_DATA=()    # data directories of the postmasters started here
PIDS=()       # other processes (pgpool, nodes), stopped by pid
KAFKA_DIR=""
MDB_DIRS=()   # scripts/mariadb.sh directories (bench/mariadb_peers.sh)

RUN_USER=$(id -un)
if ((EUID == 0)); then
  RUN_USER=postgres
  id -u postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin postgres
fi
as_pg() { if ((EUID == 0)); then (cd / && runuser -u "$RUN_USER" -- "$@"); else "$@"; fi; }

stop_everything() {
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
  for d in "${PG_DATA[@]}"; do
    [[ -f $d/postmaster.pid ]] && as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w -t 30 stop >/dev/null 2>&1
  done
  PG_DATA=()
  for d in "${MDB_DIRS[@]}"; do scripts/mariadb.sh stop --dir "$d" >/dev/null 2>&1 || true; done
  MDB_DIRS=()
  if [[ -n $KAFKA_DIR ]]; then
    scripts/kafka.sh stop --dir "$KAFKA_DIR" >/dev/null 2>&1 || true
    KAFKA_DIR=""
MDB_DIRS=()   # scripts/mariadb.sh directories (bench/mariadb_peers.sh)
  fi
}

cleanup() {
  local rc=$?
  trap - EXIT
  stop_everything
  if [[ -n $KEEP ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------ PostgreSQL servers ----
# new_pg DIR [conf lines...]: initdb and start a server with the settings every setup shares; sets PORT. (Not
# in a $(...) subshell: start_pg records the server in PG_DATA, so that stop_everything stops it.)
new_pg() {
  local d=$1
  shift
  mkdir -p "$(dirname "$d")"
  ((EUID != 0)) || chown "$RUN_USER:" "$(dirname "$d")"
  as_pg "$PGBIN/initdb" -D "$d" -U postgres -E UTF8 --locale=C.UTF-8 --auth=trust --no-sync >"$d.initdb.log" 2>&1 ||
    die "initdb $d failed (see $d.initdb.log)"
  PORT=$(pick_port)
  write_pg_conf "$d" "$PORT" "$@"
  start_pg "$d"
}

write_pg_conf() { # DIR PORT [conf lines...]
  local d=$1 port=$2
  shift 2
  {
    printf '%s\n' "listen_addresses = '127.0.0.1'" "port = $port" "unix_socket_directories = '$d'" \
      "max_connections = 200" "shared_buffers = 128MB" "fsync = on" "synchronous_commit = on" \
      "full_page_writes = on" "wal_level = replica" "max_wal_senders = 5" "timezone = 'UTC'"
    printf '%s\n' "$@"
  } | as_pg tee -a "$d/postgresql.conf" >/dev/null
}

start_pg() {
  PG_DATA+=("$1")
  as_pg "$PGBIN/pg_ctl" -D "$1" -l "$1.log" -w -t 60 start >/dev/null || die "PostgreSQL $1 did not start (see $1.log)"
}

psql_at() { # PORT SQL (the database: $PSQL_DB, default postgres)
  "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "${PSQL_DB:-postgres}" -c "$2"
}

# wait_for_sql PORT NAME LOG SECONDS: until the server just started (the last of PIDS) answers a query.
wait_for_sql() {
  local deadline=$(($(now_s) + $4))
  until psql_at "$1" "SELECT 1" >/dev/null 2>&1; do
    kill -0 "${PIDS[-1]}" 2>/dev/null || { tail -n 20 "$3" >&2; die "$2 exited"; }
    (($(now_s) < deadline)) || die "$2 did not answer within $4 s (see $3)"
    sleep 0.2
  done
}

# The table and its digest, the same for every setup (kluster's is created by bench load itself).
create_kv() { psql_at "$1" "CREATE TABLE kv (id bigint PRIMARY KEY, client integer NOT NULL, n integer NOT NULL)"; }
kv_digest() { psql_at "$1" "SELECT count(*) || ' ' || coalesce(md5(string_agg(id || ':' || client || ':' || n, ',' ORDER BY id)), '-') FROM kv"; }
checkpoint() { local p; for p in "$@"; do psql_at "$p" CHECKPOINT >/dev/null; done; }

# ------------------------------------------------------------------------------------ measurements ----
# A row: setup|clients|writes/s|p50 ms|p99 ms|check|CPU file|mean ALL batch. The CPU file: the CPU used per
# write by each process of CPU_PIDS (NAME=PID, set by each setup: its trees are summed, a postmaster with its
# backends) and by the client, in the shape of bench load's "cpu" (bench/cpu.py).
ROWS=()
CPU_PIDS=()
CPU_FILE=""
CPU_N=0
CPU_PY=$KLUSTER_REPO_ROOT/bench/cpu.py
pg_pid() { head -n 1 "$1/postmaster.pid"; } # DIR: the postmaster's pid

# :id is cast to bigint for every query protocol. With -M prepared it is a parameter whose type PostgreSQL
# infers from the expression around it ($1 * 64: integer, too small for the ids); with -M simple it is a
# literal, typed integer when it fits in 32 bits, and `:id * 64` then overflows integer for ids from 2^25 to
# 2^31 (one insert in about four million), which aborts the whole run.
cat >"$WORK/insert.sql" <<'EOF'
\set id random(1, 9000000000000000)
INSERT INTO kv (id, client, n) VALUES (:id::bigint * 64 + :client_id, :client_id, :id::bigint % 1000);
EOF

# pgbench_point SETUP PORT CLIENTS [SECONDS]: sets TPS P50 P99 TXNS (TPS and TXNS of this run; the percentiles
# from the per-transaction logs of every run of SETUP at CLIENTS, which share a directory). The database is $PSQL_DB (default postgres), the query protocol $PGBENCH_MODE (default simple).
pgbench_point() {
  local setup=$1 port=$2 c=$3 dir=$WORK/$1-c$3 jobs
  jobs=$((c < 2 ? c : 2))
  mkdir -p "$dir"
  CPU_N=$((CPU_N + 1))
  CPU_FILE=$dir/cpu-$CPU_N.json
  local cpu_args=() p
  for p in "${CPU_PIDS[@]}"; do cpu_args+=(--pid "$p"); done
  (cd "$dir" && python3 "$CPU_PY" run --out "$CPU_FILE" "${cpu_args[@]}" -- "$PGBIN/pgbench" -n -M "${PGBENCH_MODE:-simple}" -c "$c" -j "$jobs" -T "${4:-$DURATION}" --log --log-prefix="$dir/tx" \
    -f "$WORK/insert.sql" -h 127.0.0.1 -p "$port" -U postgres "${PSQL_DB:-postgres}") >"$dir/pgbench.out" 2>&1 ||
    { tail -n 20 "$dir/pgbench.out" >&2; die "$setup: pgbench failed"; }
  TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$dir/pgbench.out" | head -n 1 | awk '{ printf "%.1f", $1 }')
  TXNS=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$dir/pgbench.out")
  python3 "$CPU_PY" per-write --writes "$TXNS" "$CPU_FILE"
  cat "$dir"/tx* | awk '{print $3}' | sort -n >"$dir/latency_us"
  P50=$(percentile "$dir/latency_us" 50)
  P99=$(percentile "$dir/latency_us" 99)
}

percentile() { # FILE PCT: the nearest-rank percentile of sorted microseconds, in ms
  awk -v pct="$2" '{ v[NR] = $1 } END { if (NR == 0) { print "NA"; exit }
    i = int((NR * pct + 99) / 100); if (i < 1) i = 1; printf "%.2f", v[i] / 1000 }' "$1"
}

# The peers' setups (direct, syncrep, pgpool) and their pgbench loop (peer, check_copies).
# shellcheck source=peers.sh
source "$KLUSTER_REPO_ROOT/bench/peers.sh"

setup_kluster() {
  if [[ -n $BEFORE ]]; then SETUP_KLUSTERCTL=$BEFORE LOAD_KLUSTERCTL=$BEFORE run_kluster kluster-before ""; fi
  run_kluster kluster ""
}
setup_kluster-async() { run_kluster kluster-async 'synchronous_commit = "off"\n'; }
setup_proxy() { run_kluster proxy ""; }
setup_proxy-modes() {
  if [[ -n $BEFORE ]]; then SETUP_KLUSTERCTL=$BEFORE run_kluster proxy-modes-before ""; fi
  run_kluster proxy-modes ""
}
setup_batching() { run_kluster batching ""; }
setup_speculation() { run_kluster speculation ""; }
# shellcheck source=speculation.sh
source "$KLUSTER_REPO_ROOT/bench/speculation.sh"
# shellcheck source=mariadb_peers.sh
source "$KLUSTER_REPO_ROOT/bench/mariadb_peers.sh"
# shellcheck source=proxy_modes.sh
source "$KLUSTER_REPO_ROOT/bench/proxy_modes.sh"

# load_row OUT: writes/s|p50|p99|check of a bench load JSON result.
load_row() {
  printf '%s|%s|%s|%s' "$(jq -r '.throughput * 10 | round / 10' "$1")" "$(jq -r '.latency.p50_ms * 100 | round / 100' "$1")" \
    "$(jq -r '.latency.p99_ms * 100 | round / 100' "$1")" \
    "$(jq -r 'if .check.passed then "3 copies identical, exactly the applied requests (bench load check)" else "CHECK FAILED" end' "$1")"
}

# bench_load NAME CLIENTS SECONDS OUT: bench load --wait all (and LOAD_ARGS) against the cluster in $BROKERS/$CLUSTER,
# run by LOAD_KLUSTERCTL (kluster-before) or this klusterctl.
# The CPU per write of CPU_PIDS and of bench load itself go to OUT's "cpu", and to CPU_FILE.
LOAD_ARGS=()
bench_load() {
  local cpu_args=() p
  for p in "${CPU_PIDS[@]}"; do cpu_args+=(--cpu-pid "$p"); done
  "${LOAD_KLUSTERCTL:-$KLUSTERCTL}" bench load --brokers "$BROKERS" --cluster "$CLUSTER" --clients "$2" --duration "$3s" --wait all \
    "${cpu_args[@]}" ${WORKLOAD:+--workload "$WORKLOAD"} "${LOAD_ARGS[@]}" -o json >"$4" 2>"${4%.json}.err" || { cat "${4%.json}.err" "$4" >&2; die "$1: bench load failed"; }
  CPU_FILE=${4%.json}.cpu.json
  python3 "$CPU_PY" merge "$CPU_FILE" "$4"
}

# batch_totals: "SUM COUNT" of kluster_apply_batch_size over the nodes' /metrics (METRICS_PORTS).
METRICS_PORTS=()
batch_totals() {
  local p
  for p in "${METRICS_PORTS[@]}"; do curl -sf "http://127.0.0.1:$p/metrics" || echo "metrics of port $p missing" >&2; done |
    awk '/^kluster_apply_batch_size_sum[{ ]/ { s += $NF } /^kluster_apply_batch_size_count[{ ]/ { c += $NF }
      END { printf "%d %d\n", s, c }'
}
# mean_batch FROM TO [FROM TO]: the mean ALL batch between two batch_totals ("SUM COUNT"), or over two spans.
mean_batch() {
  awk -v a="$1" -v b="$2" -v c="${3:-0 0}" -v d="${4:-0 0}" 'BEGIN { split(a, w, " "); split(b, x, " ")
    split(c, y, " "); split(d, z, " "); n = x[2] - w[2] + z[2] - y[2]
    if (n > 0) printf "%.1f", (x[1] - w[1] + z[1] - y[1]) / n; else printf "-" }'
}

run_kluster() { # NAME EXTRA_NODE_CONFIG
  local name=$1 extra=$2 dir=$WORK/$1 i port c out b0
  BROKERS="" CLUSTER=compare$RANDOM
  mkdir -p "$dir"
  KAFKA_DIR=$dir/kafka
  # The broker with its JIT fully on (the scripts' default stops at C1 for a quick start).
  KLUSTER_KAFKA_JVM_OPTS="-XX:TieredStopAtLevel=4 ${KLUSTER_KAFKA_JVM_OPTS:-}" \
    scripts/kafka.sh start --dir "$KAFKA_DIR" >"$dir/kafka.out" 2>"$dir/kafka.err" ||
    { cat "$dir/kafka.err" >&2; die "Kafka did not start"; }
  BROKERS=$(<"$KAFKA_DIR/bootstrap")
  # SETUP_KLUSTERCTL: this setup's nodes and proxy (proxy-modes --before), else the nodes' (--node-klusterctl).
  local nodes_bin=${SETUP_KLUSTERCTL:-${NODE_KLUSTERCTL:-$KLUSTERCTL}}
  "$nodes_bin" init --brokers "$BROKERS" --cluster "$CLUSTER" >/dev/null
  local ports=() mport
  CPU_PIDS=("broker=$(<"$KAFKA_DIR/broker1/pid")")
  METRICS_PORTS=()
  for i in 1 2 3; do
    new_pg "$dir/pg$i"
    port=$PORT
    ports+=("$port")
    CPU_PIDS+=("pg$i=$(pg_pid "$dir/pg$i")")
    psql_at "$port" "CREATE DATABASE kluster" >/dev/null
    mport=$(pick_port)
    METRICS_PORTS+=("$mport")
    printf '[cluster]\nname = "%s"\nbrokers = "%s"\n\n[node]\nid = "node%s"\n%b\n[database]\nurl = "%s"\n\n[metrics]\naddress = "127.0.0.1:%s"\n' \
      "$CLUSTER" "$BROKERS" "$i" "$extra" "postgresql://postgres@127.0.0.1:$port/kluster" "$mport" >"$dir/node$i.toml"
    "$nodes_bin" node run --config "$dir/node$i.toml" >"$dir/node$i.log" 2>&1 &
    PIDS+=("$!")
    CPU_PIDS+=("node$i=$!")
  done
  local deadline=$(($(now_s) + 90))
  # Ready when all three apply ALL: one request answered by three nodes.
  until "$KLUSTERCTL" exec --brokers "$BROKERS" --cluster "$CLUSTER" --to ALL --wait 3 --timeout 3s -o json \
    "SELECT 1" >/dev/null 2>&1; do
    for i in 1 2 3; do
      kill -0 "${PIDS[-$i]}" 2>/dev/null || { tail -n 20 "$dir"/node*.log >&2; die "a node exited"; }
    done
    (($(now_s) < deadline)) || die "the three nodes did not become active within 90 s (see $dir/node*.log)"
    sleep 0.5
  done
  if [[ $name == proxy ]]; then
    run_proxy "$dir" "${ports[@]}"
  elif [[ $name == proxy-modes* ]]; then
    run_proxy_modes "$dir" "${SETUP_KLUSTERCTL:-$KLUSTERCTL}" "${name#proxy-modes}" "${ports[@]}"
  elif [[ $name == batching ]]; then
    run_batching "$dir" "${ports[@]}"
  elif [[ $name == speculation ]]; then
    spec_run "$dir" "${ports[@]}"
  else
    if ((WARMUP > 0)); then
      log "$name: warming up, bench load, $MAX_CLIENTS client(s), ${WARMUP}s (not measured)"
      bench_load "$name" "$MAX_CLIENTS" "$WARMUP" "$dir/warmup.json"
    fi
    for c in $CLIENTS; do
      for port in "${ports[@]}"; do psql_at "$port" CHECKPOINT >/dev/null; done
      log "$name: bench load, $c client(s), ${DURATION}s, --wait all"
      out=$dir/load-c$c.json
      b0=$(batch_totals)
      bench_load "$name" "$c" "$DURATION" "$out"
      ROWS+=("$name|$c|$(load_row "$out")|$CPU_FILE|$(mean_batch "$b0" "$(batch_totals)")")
    done
  fi
  stop_everything
}

# run_proxy DIR NODE_PORTS...: klusterctl proxy in front of the running cluster, every write waiting for all
# three nodes (proxy.wait = "all", as bench load --wait all), pgbench -M prepared through it with the peers'
# script, and bench load on the same cluster (rows "library"): the two ways in, side by side. At each client
# count they alternate library, proxy, proxy, library, half the duration each (an ABBA order: a drift of this
# machine's speed during the point weighs on both alike); each row gives the mean of its two halves.
run_proxy() {
  local dir=$1 pport total=0 c half tps1 p50a p50b p99a p99b b0 b1 b2 b3 cpu1
  shift
  start_proxy "$dir" "$KLUSTERCTL"
  pport=$PPORT
  export PSQL_DB=kluster PGBENCH_MODE=prepared
  if ((WARMUP > 0)); then
    log "proxy: warming up, bench load then pgbench, $MAX_CLIENTS client(s), ${WARMUP}s each (not measured)"
    bench_load library "$MAX_CLIENTS" "$WARMUP" "$dir/warmup.json"
    pgbench_point proxy-warmup "$pport" "$MAX_CLIENTS" "$WARMUP"
    total=$TXNS
  fi
  half=$(((DURATION + 1) / 2))
  for c in $CLIENTS; do
    checkpoint "$@"
    log "library/proxy: bench load, pgbench, pgbench, bench load; $c client(s), ${half}s each"
    b0=$(batch_totals)
    bench_load library "$c" "$half" "$dir/library-c$c-a.json"
    b1=$(batch_totals)
    pgbench_point proxy "$pport" "$c" "$half"
    tps1=$TPS total=$((total + TXNS)) cpu1=$CPU_FILE
    pgbench_point proxy "$pport" "$c" "$half" # its percentiles: of both halves' transactions
    total=$((total + TXNS))
    python3 "$CPU_PY" merge "$dir/proxy-c$c.cpu.json" "$cpu1" "$CPU_FILE"
    b2=$(batch_totals)
    bench_load library "$c" "$half" "$dir/library-c$c-b.json"
    b3=$(batch_totals)
    halves_row library "$c" "$dir/library-c$c" "$(mean_batch "$b0" "$b1" "$b2" "$b3")"
    # Every write waited for all three nodes: the copies are complete when pgbench returns.
    check_copies "$total" "$@"
    ROWS+=("proxy|$c|$(mean "$tps1" "$TPS" 1)|$P50|$P99|$CHECK|$dir/proxy-c$c.cpu.json|$(mean_batch "$b1" "$b2")")
  done
  # The smoke form runs the speculation setup's measurement too (one half each), so that it cannot rot.
  if [[ -n $SMOKE ]]; then
    spec_pairs "$dir" "$pport" AB "$@"
    spec_transactions "$dir" "$pport" "$@"
  fi
  unset PSQL_DB PGBENCH_MODE
}

# start_proxy DIR BIN: `BIN proxy` in front of the running cluster (proxy.wait = "all"), with the table kv; sets PPORT.
start_proxy() {
  PPORT=$(pick_port)
  printf '[cluster]\nname = "%s"\nbrokers = "%s"\n\n[proxy]\nlisten = "127.0.0.1:%s"\nwait = "all"\nmax_connections = %s\n' \
    "$CLUSTER" "$BROKERS" "$PPORT" "$((MAX_CLIENTS + 8))" >"$1/proxy.toml"
  "$2" proxy --config "$1/proxy.toml" >"$1/proxy.log" 2>&1 &
  PIDS+=("$!")
  CPU_PIDS+=("proxy=$!")
  wait_for_sql "$PPORT" "klusterctl proxy" "$1/proxy.log" 30
  create_kv "$PPORT"
}

mean() { awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN { printf "%.*f", d, (a + b) / 2 }'; } # A B DECIMALS

# halves_row NAME CLIENTS BASE BATCH: the row of two bench load halves BASE-a.json and BASE-b.json (their means;
# their CPU merged into BASE.cpu.json), with the mean ALL batch BATCH.
halves_row() {
  local p50a p50b p99a p99b
  python3 "$CPU_PY" merge "$3.cpu.json" "$3-a.json" "$3-b.json"
  IFS='|' read -r _ p50a p99a _ <<<"$(load_row "$3-a.json")"
  IFS='|' read -r _ p50b p99b _ <<<"$(load_row "$3-b.json")"
  ROWS+=("$1|$2|$(mean "$(jq .throughput "$3-a.json")" "$(jq .throughput "$3-b.json")" 1)|$(mean "$p50a" "$p50b" 2)|$(mean "$p99a" "$p99b" 2)|$(jq -r --slurp 'if all(.check.passed) then "3 copies identical, exactly the applied requests (bench load check)" else "CHECK FAILED" end' "$3-a.json" "$3-b.json")|$3.cpu.json|$4")
}

# run_batching DIR NODE_PORTS...: the client library's batching (issue 27) off and on, on one cluster: bench load
# with --batch-linger 0 (every request at once, as before Dispatch::Auto; rows "unbatched") and with its default
# (rows "batched"), alternating off, on, on, off at each client count, half the duration each.
run_batching() {
  local dir=$1 c half b0 b1 b2 b3
  shift
  if ((WARMUP > 0)); then
    log "batching: warming up, bench load, $MAX_CLIENTS client(s), ${WARMUP}s (not measured)"
    bench_load batched "$MAX_CLIENTS" "$WARMUP" "$dir/warmup.json"
  fi
  half=$(((DURATION + 1) / 2))
  for c in $CLIENTS; do
    checkpoint "$@"
    log "batching: bench load unbatched, batched, batched, unbatched; $c client(s), ${half}s each"
    b0=$(batch_totals)
    LOAD_ARGS=(--batch-linger 0)
    bench_load unbatched "$c" "$half" "$dir/unbatched-c$c-a.json"
    b1=$(batch_totals)
    LOAD_ARGS=()
    bench_load batched "$c" "$half" "$dir/batched-c$c-a.json"
    bench_load batched "$c" "$half" "$dir/batched-c$c-b.json"
    b2=$(batch_totals)
    LOAD_ARGS=(--batch-linger 0)
    bench_load unbatched "$c" "$half" "$dir/unbatched-c$c-b.json"
    b3=$(batch_totals)
    LOAD_ARGS=()
    halves_row unbatched "$c" "$dir/unbatched-c$c" "$(mean_batch "$b0" "$b1" "$b2" "$b3")"
    halves_row batched "$c" "$dir/batched-c$c" "$(mean_batch "$b1" "$b2")"
  done
}

# ------------------------------------------------------------------------------------------- main ----
if [[ -z $KLUSTERCTL && " ${SETUPS[*]} " =~ \ (kluster|kluster-async|proxy|proxy-modes|batching|speculation|mariadb)\  ]]; then
  log "building klusterctl (Release) in $BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLUSTER_BUILD_TESTS=OFF >"$WORK/build.log"
  cmake --build "$BUILD_DIR" -j"${KLUSTER_JOBS:-2}" --target klusterctl >>"$WORK/build.log" ||
    { tail -n 30 "$WORK/build.log" >&2; die "build failed"; }
  KLUSTERCTL=$(abspath "$BUILD_DIR")/src/klusterctl
fi
command -v jq >/dev/null || die "jq is missing (run scripts/setup.sh)"
T0=$(now_s)
for s in "${SETUPS[@]}"; do "setup_$s"; done

value() { # SETUP CLIENTS FIELD(3..5)
  local r
  for r in "${ROWS[@]}"; do
    IFS='|' read -r s c rest <<<"$r"
    [[ $s == "$1" && $c == "$2" ]] && { cut -d'|' -f"$3" <<<"$r"; return; }
  done
  echo NA
}
# cpu_cells FILE: "CPU µs/write|machine µs/write" of a row's CPU file (bench load's "cpu" shape).
cpu_cells() {
  [[ -s $1 ]] || { echo "-|-"; return; }
  jq -r '"\(.total_us_per_write | round)|\(.machine_us_per_write | round)"' "$1"
}
# cpu_breakdown FILE: the processes grouped (client, broker, nodes, database servers, proxy or pgpool), what is
# not named, and every process on its own, in µs per write.
cpu_breakdown() {
  [[ -s $1 ]] || { echo "-|-|-|-|-|-|-|-"; return; }
  jq -r 'def group(f): [.processes[] | select(.name | f) | .us_per_write] | if length == 0 then "-" else add | round | tostring end;
    [group(. == "client"), group(. == "broker"), group(startswith("node")), group((startswith("pg") and . != "pgpool") or startswith("mdb")),
     group(. == "proxy" or . == "pgpool"), (.unattributed_us_per_write | round | tostring),
     (.kafka_requests_per_write | if . == null then "-" else . * 100 | round / 100 | tostring end),
     ([.processes[] | "\(.name) \(.us_per_write | round)"] | join(", "))] | join("|")' "$1"
}
peer_of() { if [[ $1 == *mariadb* ]]; then echo mariadb-semisync; else echo syncrep; fi; } # SETUP
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else printf "-" }'; }

{
  printf '# bench/compare.sh results\n\n'
  printf '%s, %s core(s), %s, PostgreSQL %s, %s s per point%s; klusterctl %s%s.\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" \
    "$(nproc)" "$(uname -m)" "$("$PGBIN/postgres" --version | awk '{print $3}')" "$DURATION" \
    "${SMOKE:+ (smoke form: not a measurement)}" "$("$KLUSTERCTL" --version 2>/dev/null || echo '?')" \
    "${NODE_KLUSTERCTL:+, nodes run by $NODE_KLUSTERCTL}"
  printf '| setup | clients | writes/s | p50 ms | p99 ms | writes/s vs peer | p50 vs peer | p99 vs peer | CPU µs/write | machine µs/write | check |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
  for r in "${ROWS[@]}"; do
    IFS='|' read -r s c tps p50 p99 check cpu batch <<<"$r"
    IFS='|' read -r cpu_named cpu_machine <<<"$(cpu_cells "$cpu")"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$s" "$c" "$tps" "$p50" "$p99" \
      "$(ratio "$tps" "$(value "$(peer_of "$s")" "$c" 3)")" "$(ratio "$p50" "$(value "$(peer_of "$s")" "$c" 4)")" \
      "$(ratio "$p99" "$(value "$(peer_of "$s")" "$c" 5)")" "$cpu_named" "$cpu_machine" "$check"
  done
  printf '\nvs peer: against syncrep; the MariaDB rows against mariadb-semisync.\n'

  printf '\nCPU time per write, µs, by process (user + system from /proc, each process with its descendants, in the\n'
  printf 'measured time; "CPU µs/write" above sums the processes named, "machine" is /proc/stat'"'"'s busy time of the\n'
  printf 'whole machine, so "not named" is what ran besides them). The mean ALL batch: kluster_apply_batch_size of the\n'
  printf 'three nodes over the point; Kafka requests: those bench load'"'"'s client sent to the broker, per write (librdkafka\n'
  printf 'statistics).\n\n'
  printf '| setup | clients | client | broker | nodes | database servers | proxy / pgpool | not named | Kafka requests/write | mean ALL batch | each process |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
  for r in "${ROWS[@]}"; do
    IFS='|' read -r s c tps p50 p99 check cpu batch <<<"$r"
    printf '| %s | %s | %s |\n' "$s" "$c" "$(cpu_breakdown "$cpu" | awk -F'|' -v b="$batch" 'BEGIN { OFS = " | " }
      { print $1, $2, $3, $4, $5, $6, $7, b, $8 }')"
  done
  if [[ " ${SETUPS[*]} " == *" proxy "* ]]; then
    printf '\nThe proxy next to the client library on the same cluster (pgbench -M prepared through `klusterctl proxy` vs\n'
    printf '`bench load`, alternating library, proxy, proxy, library at each client count, all waiting for all three nodes), writes/s:'
    for c in $CLIENTS; do printf ' %s client(s) %s;' "$c" "$(ratio "$(value proxy "$c" 3)" "$(value library "$c" 3)")"; done
    printf '\n'
  fi
  if [[ " ${SETUPS[*]} " == *" proxy-modes "* ]]; then
    printf '\npgbench -M simple over -M prepared through the proxy (alternating simple, prepared, prepared, simple at each\n'
    printf 'client count on one cluster; issue 27 wants >= 0.75x), writes/s:'
    tags=("")
    [[ -z $BEFORE ]] || tags=(" (before)" "")
    for t in "${tags[@]}"; do
      [[ -z $BEFORE ]] || if [[ -n $t ]]; then printf ' before:'; else printf ' after:'; fi
      for c in $CLIENTS; do printf ' %s client(s) %s;' "$c" "$(ratio "$(value "proxy-simple$t" "$c" 3)" "$(value "proxy-prepared$t" "$c" 3)")"; done
    done
    printf '\n'
  fi
  if ((${#SPEC_LINES[@]})); then spec_table; fi
} >"$WORK/table.md"
cat "$WORK/table.md"
if [[ $OUT == "$KLUSTER_REPO_ROOT/bench/RESULTS.md" && -f $OUT ]] && grep -q '^## ' "$OUT"; then
  # Keep the analysis (every section below the table).
  { cat "$WORK/table.md"; printf '\n'; sed -n '/^## /,$p' "$OUT"; } >"$WORK/results.md"
  cp "$WORK/results.md" "$OUT"
else
  cp "$WORK/table.md" "$OUT"
fi
log "table written to $OUT; $(($(now_s) - T0)) s in all"
grep -q 'DIFFER\|CHECK FAILED' "$WORK/table.md" && die "a setup's copies differ (see the table)"
# Every point measured CPU: the named processes' and the machine's time per write, and the client's, all > 0.
for r in "${ROWS[@]}"; do
  IFS='|' read -r s c _ _ _ _ cpu _ <<<"$r"
  [[ -s $cpu ]] && jq -e '.total_us_per_write > 0 and .machine_us_per_write > 0 and
    ([.processes[] | select(.name == "client") | .us_per_write] | length == 1 and .[0] > 0)' "$cpu" >/dev/null ||
    die "$s, $c client(s): no CPU per write measured (${cpu:-no file}: $(cat "$cpu" 2>/dev/null))"
done
exit 0
