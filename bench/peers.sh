# Sourced by bench/compare.sh: the setups of the peers Kluster is compared with, each driven by pgbench through
# compare.sh's `peer`: direct (one PostgreSQL), syncrep (a primary and two synchronous standbys, ANY 2,
# remote_apply) and pgpool (pgpool-II native replication over three servers). Uses compare.sh's variables and
# helpers (WORK, PIDS, CPU_PIDS, CLIENTS, ROWS, new_pg, write_pg_conf, start_pg, pg_pid, wait_for_sql, psql_at,
# pgbench_point, checkpoint, kv_digest, stop_everything, log, die).

# peer SETUP PORT DIGEST_PORTS...: every client count against PORT, the copies compared after each.
peer() {
  local setup=$1 port=$2 c total=0
  shift 2
  for c in $CLIENTS; do
    checkpoint "$@"
    log "$setup: pgbench -M ${PGBENCH_MODE:-simple}, $c client(s), ${DURATION}s"
    pgbench_point "$setup" "$port" "$c"
    total=$((total + TXNS))
    check_copies "$total" "$@"
    ROWS+=("$setup|$c|$TPS|$P50|$P99|$CHECK|$CPU_FILE|-")
  done
}

# check_copies ROWS DIGEST_PORTS...: sets CHECK to what comparing the servers' kv tables says (every copy the
# same, holding the ROWS rows that pgbench counted).
check_copies() {
  local total=$1 p d first=""
  shift
  CHECK=""
  sleep_until_same "$@"
  for p in "$@"; do
    d=$(kv_digest "$p")
    [[ -n $first ]] || first=$d
    [[ $d == "$first" ]] || CHECK="copies DIFFER"
  done
  [[ ${first%% *} == "$total" ]] || CHECK="${CHECK:+$CHECK; }rows ${first%% *}, pgbench counted $total"
  CHECK=${CHECK:-$# copies identical, ${first%% *} rows}
}

# Standbys apply asynchronously after remote_apply has returned for every commit: nothing to wait for, but a
# digest taken while a late WAL record is replayed would differ; give them a moment, bounded.
sleep_until_same() {
  local deadline=$(($(now_s) + 10)) a b p same
  while :; do
    same=1 a=""
    for p in "$@"; do
      b=$(kv_digest "$p")
      [[ -n $a ]] || a=$b
      [[ $b == "$a" ]] || same=""
    done
    [[ -n $same ]] && return 0
    (($(now_s) < deadline)) || return 0
    sleep 0.2
  done
}

setup_direct() {
  local port
  new_pg "$WORK/direct/pg"
  port=$PORT
  CPU_PIDS=("pg=$(pg_pid "$WORK/direct/pg")")
  create_kv "$port"
  peer direct "$port" "$port"
  stop_everything
}

setup_syncrep() {
  local primary s port ports=()
  new_pg "$WORK/syncrep/primary" "synchronous_standby_names = 'ANY 2 (s1, s2)'" "synchronous_commit = remote_apply"
  primary=$PORT
  for s in s1 s2; do
    as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres -D "$WORK/syncrep/$s" -X stream -c fast \
      >"$WORK/syncrep/$s.basebackup.log" 2>&1 || die "pg_basebackup for $s failed"
    as_pg touch "$WORK/syncrep/$s/standby.signal"
    port=$(pick_port)
    write_pg_conf "$WORK/syncrep/$s" "$port" \
      "primary_conninfo = 'host=127.0.0.1 port=$primary user=postgres application_name=$s'"
    start_pg "$WORK/syncrep/$s"
    ports+=("$port")
  done
  local deadline=$(($(now_s) + 60))
  until [[ $(psql_at "$primary" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state IN ('sync', 'quorum')") == 2 ]]; do
    (($(now_s) < deadline)) || die "syncrep: the two standbys did not become synchronous within 60 s"
    sleep 0.2
  done
  CPU_PIDS=("pg-primary=$(pg_pid "$WORK/syncrep/primary")" "pg-s1=$(pg_pid "$WORK/syncrep/s1")"
    "pg-s2=$(pg_pid "$WORK/syncrep/s2")")
  create_kv "$primary"
  peer syncrep "$primary" "$primary" "${ports[@]}"
  stop_everything
}

setup_pgpool() {
  if ! command -v pgpool >/dev/null; then
    log "installing Debian's pgpool2"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgpool2 \
      >"$WORK/apt-pgpool2.log" 2>&1 </dev/null || die "could not install pgpool2 (see $WORK/apt-pgpool2.log)"
  fi
  # The package may start its own service; it is not ours and is left alone (it listens elsewhere).
  local i ports=() pool pcp dir=$WORK/pgpool
  for i in 0 1 2; do
    new_pg "$dir/b$i"
    ports+=("$PORT")
    create_kv "${ports[i]}"
  done
  pool=$(pick_port)
  pcp=$(pick_port)
  {
    cat <<EOF
backend_clustering_mode = 'native_replication'
listen_addresses = '127.0.0.1'
port = $pool
socket_dir = '$dir'
pcp_listen_addresses = '127.0.0.1'
pcp_port = $pcp
pcp_socket_dir = '$dir'
wd_ipc_socket_dir = '$dir'
pid_file_name = '$dir/pgpool.pid'
logdir = '$dir'
log_min_messages = warning
enable_pool_hba = off
pool_passwd = ''
num_init_children = $((MAX_CLIENTS + 4))
max_pool = 1
connection_cache = on
load_balance_mode = off
replicate_select = off
insert_lock = off
health_check_period = 0
sr_check_period = 0
use_watchdog = off
memory_cache_enabled = off
EOF
    for i in 0 1 2; do
      printf "backend_hostname%s = '127.0.0.1'\nbackend_port%s = %s\nbackend_weight%s = 1\n" "$i" "$i" "${ports[i]}" "$i"
      printf "backend_flag%s = 'DISALLOW_TO_FAILOVER'\n" "$i"
    done
  } | as_pg tee "$dir/pgpool.conf" >/dev/null
  as_pg touch "$dir/pcp.conf"
  if ((EUID == 0)); then
    setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --init-groups -- \
      pgpool -n -D -f "$dir/pgpool.conf" -F "$dir/pcp.conf" >"$dir/pgpool.log" 2>&1 &
  else
    pgpool -n -D -f "$dir/pgpool.conf" -F "$dir/pcp.conf" >"$dir/pgpool.log" 2>&1 &
  fi
  PIDS+=("$!")
  CPU_PIDS=("pgpool=$!")
  for i in 0 1 2; do CPU_PIDS+=("pg$((i + 1))=$(pg_pid "$dir/b$i")"); done
  wait_for_sql "$pool" pgpool "$dir/pgpool.log" 60
  peer pgpool "$pool" "${ports[@]}"
  stop_everything
}
