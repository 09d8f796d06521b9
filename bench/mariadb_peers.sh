# Sourced by bench/compare.sh (--only mariadb): Kluster on MariaDB against MariaDB's own way of keeping three
# copies, on the same load, in one run:
#   mariadb-semisync  a primary and two replicas (scripts/mariadb.sh --semisync: GTID replication,
#                     rpl_semi_sync_master_enabled, AFTER_SYNC), loaded by `klusterctl bench load --direct`: the
#                     same INSERT as the cluster's requests (its $n bound on the client, as the MariaDB adapter
#                     does), the same closed loop of N clients (a connection each, every INSERT its own transaction),
#                     the same histogram and CPU accounting; the end check reads all three copies
#   kluster-mariadb   Kafka and three nodes with `[database] type = "mariadb"`, each on its own MariaDB server
#                     (scripts/mariadb.sh, three servers), `bench load --wait all`
# Every MariaDB server has the same settings (scripts/mariadb.sh's: InnoDB, innodb_flush_log_at_trx_commit = 1,
# 64 MB buffer pool); the primary also writes its binary log with sync_binlog = 1. Uses compare.sh's variables and
# helpers (WORK, CLIENTS, DURATION, WARMUP, MAX_CLIENTS, KLUSTERCTL, PIDS, CPU_PIDS, CPU_FILE, LOAD_ARGS, ROWS,
# MDB_DIRS, METRICS_PORTS, bench_load, load_row, batch_totals, mean_batch, stop_everything, log, die).

mdb_pid() { head -n 1 "$1/mdb$2/mariadbd.pid"; } # DIR K: server K's mariadbd

# mdb_start DIR COUNT [--semisync]: scripts/mariadb.sh servers in DIR (stopped by stop_everything); sets MDB_URLS.
mdb_start() {
  local dir=$1 count=$2
  shift 2
  MDB_DIRS+=("$dir")
  scripts/mariadb.sh start --dir "$dir" --count "$count" "$@" >"$dir.out" 2>"$dir.err" ||
    { tail -n 20 "$dir.err" >&2; die "MariaDB did not start (see $dir.err)"; }
  mapfile -t MDB_URLS <"$dir/urls"
}

mdb_status() { # PORT VARIABLE: a global status value of the server on PORT
  mariadb --no-defaults -h 127.0.0.1 -P "$1" -u kluster -N -e \
    "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '$2'"
}

setup_mariadb() {
  command -v mariadb >/dev/null || die "the mariadb client is missing (run scripts/setup.sh)"
  mdb_semisync
  mdb_kluster
}

setup_mariadb-semisync() { mdb_semisync; } # the smoke form's: the peer alone

mdb_semisync() {
  local dir=$WORK/mariadb-semisync c out primary no_tx
  mdb_start "$dir" 3 --semisync
  primary=${MDB_URLS[0]##*:}
  primary=${primary%%/*}
  CPU_PIDS=("mdb-primary=$(mdb_pid "$dir" 1)" "mdb-r1=$(mdb_pid "$dir" 2)" "mdb-r2=$(mdb_pid "$dir" 3)")
  METRICS_PORTS=()
  LOAD_ARGS=(--direct "${MDB_URLS[0]}" --direct-replica "${MDB_URLS[1]}" --direct-replica "${MDB_URLS[2]}")
  for c in $CLIENTS; do
    log "mariadb-semisync: bench load --direct, $c client(s), ${DURATION}s"
    out=$dir-c$c.json
    BROKERS="" CLUSTER="" bench_load mariadb-semisync "$c" "$DURATION" "$out"
    ROWS+=("mariadb-semisync|$c|$(load_row "$out")|$CPU_FILE|-")
  done
  LOAD_ARGS=()
  # Every commit waited for a replica's acknowledgement: the primary never fell back to asynchronous replication.
  no_tx=$(mdb_status "$primary" RPL_SEMI_SYNC_MASTER_NO_TX)
  [[ $no_tx == 0 ]] || die "mariadb-semisync: $no_tx commits were not acknowledged by a replica (asynchronous)"
  log "mariadb-semisync: $(mdb_status "$primary" RPL_SEMI_SYNC_MASTER_YES_TX) commits acknowledged, none without"
  stop_everything
}

mdb_kluster() {
  local dir=$WORK/kluster-mariadb i c out b0 mport
  mkdir -p "$dir"
  CLUSTER=compare$RANDOM
  KAFKA_DIR=$dir/kafka
  KLUSTER_KAFKA_JVM_OPTS="-XX:TieredStopAtLevel=4 ${KLUSTER_KAFKA_JVM_OPTS:-}" \
    scripts/kafka.sh start --dir "$KAFKA_DIR" >"$dir/kafka.out" 2>"$dir/kafka.err" ||
    { cat "$dir/kafka.err" >&2; die "Kafka did not start"; }
  BROKERS=$(<"$KAFKA_DIR/bootstrap")
  "$KLUSTERCTL" init --brokers "$BROKERS" --cluster "$CLUSTER" >/dev/null
  mdb_start "$dir/mdb" 3
  CPU_PIDS=("broker=$(<"$KAFKA_DIR/broker1/pid")")
  METRICS_PORTS=()
  for i in 1 2 3; do
    CPU_PIDS+=("mdb$i=$(mdb_pid "$dir/mdb" "$i")")
    mport=$(pick_port)
    METRICS_PORTS+=("$mport")
    printf '[cluster]\nname = "%s"\nbrokers = "%s"\n\n[node]\nid = "node%s"\n\n[database]\ntype = "mariadb"\nurl = "%s"\n\n[metrics]\naddress = "127.0.0.1:%s"\n' \
      "$CLUSTER" "$BROKERS" "$i" "${MDB_URLS[i - 1]}" "$mport" >"$dir/node$i.toml"
    "$KLUSTERCTL" node run --config "$dir/node$i.toml" >"$dir/node$i.log" 2>&1 &
    PIDS+=("$!")
    CPU_PIDS+=("node$i=$!")
  done
  local deadline=$(($(now_s) + 90))
  until "$KLUSTERCTL" exec --brokers "$BROKERS" --cluster "$CLUSTER" --to ALL --wait 3 --timeout 3s -o json \
    "SELECT 1" >/dev/null 2>&1; do
    for i in 1 2 3; do
      kill -0 "${PIDS[-$i]}" 2>/dev/null || { tail -n 20 "$dir"/node*.log >&2; die "a node exited"; }
    done
    (($(now_s) < deadline)) || die "the three nodes did not become active within 90 s (see $dir/node*.log)"
    sleep 0.5
  done
  if ((WARMUP > 0)); then
    log "kluster-mariadb: warming up, bench load, $MAX_CLIENTS client(s), ${WARMUP}s (not measured)"
    bench_load kluster-mariadb "$MAX_CLIENTS" "$WARMUP" "$dir/warmup.json"
  fi
  for c in $CLIENTS; do
    log "kluster-mariadb: bench load, $c client(s), ${DURATION}s, --wait all"
    out=$dir/load-c$c.json
    b0=$(batch_totals)
    bench_load kluster-mariadb "$c" "$DURATION" "$out"
    ROWS+=("kluster-mariadb|$c|$(load_row "$out")|$CPU_FILE|$(mean_batch "$b0" "$(batch_totals)")")
  done
  stop_everything
}
