# bench/compare.sh's proxy-modes setup (issue 27), sourced by it: pgbench -M simple and -M prepared through the proxy
# on one cluster. Uses compare.sh's functions (start_proxy, pgbench_point, batch_totals, check_copies...).

# run_proxy_modes DIR BIN SUFFIX NODE_PORTS...: BIN's proxy in front of the running cluster (its nodes run BIN too),
# pgbench through it with -M simple (the values spliced into the SQL: every text new) and -M prepared (one text,
# its values bound), alternating simple, prepared, prepared, simple at each client count, half the duration each.
# Rows "proxy-simple" and "proxy-prepared", with SUFFIX ("-before": " (before)") for --before's cluster.
run_proxy_modes() {
  local dir=$1 bin=$2 suffix=$3 tag="" pport total=0 c half mode tps1 cpu1 stps scpu prow b0 b1 b2 b3
  shift 3
  [[ -z $suffix ]] || tag=" (before)"
  start_proxy "$dir" "$bin"
  pport=$PPORT
  export PSQL_DB=kluster
  if ((WARMUP > 0)); then
    log "proxy-modes$tag: warming up, pgbench -M prepared then -M simple, $MAX_CLIENTS client(s), ${WARMUP}s each (not measured)"
    for mode in prepared simple; do
      PGBENCH_MODE=$mode pgbench_point "proxy-$mode-warmup" "$pport" "$MAX_CLIENTS" "$WARMUP"
      total=$((total + TXNS))
    done
  fi
  half=$(((DURATION + 1) / 2))
  for c in $CLIENTS; do
    checkpoint "$@"
    log "proxy-modes$tag: pgbench -M simple, prepared, prepared, simple; $c client(s), ${half}s each"
    b0=$(batch_totals)
    PGBENCH_MODE=simple pgbench_point "proxy-simple$suffix" "$pport" "$c" "$half"
    stps=$TPS scpu=$CPU_FILE
    total=$((total + TXNS))
    b1=$(batch_totals)
    PGBENCH_MODE=prepared pgbench_point "proxy-prepared$suffix" "$pport" "$c" "$half"
    tps1=$TPS cpu1=$CPU_FILE total=$((total + TXNS))
    PGBENCH_MODE=prepared pgbench_point "proxy-prepared$suffix" "$pport" "$c" "$half" # percentiles: of both halves
    total=$((total + TXNS))
    python3 "$CPU_PY" merge "$dir/prepared-c$c.cpu.json" "$cpu1" "$CPU_FILE"
    prow="$(mean "$tps1" "$TPS" 1)|$P50|$P99"
    b2=$(batch_totals)
    PGBENCH_MODE=simple pgbench_point "proxy-simple$suffix" "$pport" "$c" "$half"
    total=$((total + TXNS))
    python3 "$CPU_PY" merge "$dir/simple-c$c.cpu.json" "$scpu" "$CPU_FILE"
    b3=$(batch_totals)
    check_copies "$total" "$@"
    ROWS+=("proxy-simple$tag|$c|$(mean "$stps" "$TPS" 1)|$P50|$P99|$CHECK|$dir/simple-c$c.cpu.json|$(mean_batch "$b0" "$b1" "$b2" "$b3")")
    ROWS+=("proxy-prepared$tag|$c|$prow|$CHECK|$dir/prepared-c$c.cpu.json|$(mean_batch "$b1" "$b2")")
  done
  unset PSQL_DB
}
