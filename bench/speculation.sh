# Sourced by bench/compare.sh: the setup "speculation" (issue 24): does an interactive transaction's speculation
# (each statement run on one node in a database transaction that is always rolled back, beside the apply loop, on
# the same PostgreSQL) slow the node's apply loop? On one cluster behind `klusterctl proxy`, at each client count,
# `bench load --wait all` (16 clients, say, of the `multi` workload: an INSERT and an UPDATE of one of 100 hot rows
# per request) runs in four halves, alone (A) and with SPEC_CLIENTS pgbench clients running interactive
# transactions through the proxy beside it (B), in the order A B B A. Their transactions read and update the hot
# rows of the very tables bench load writes and roll back, so every statement is a speculation and nothing is
# committed: BEGIN; SELECT n ... WHERE id = :r; UPDATE ... SET n = n + 1 WHERE id = :r; SELECT n ...; ROLLBACK.
#
# Each half is measured twice: by bench load (writes/s, p50, p99 of its measured time, as a client sees them), and
# inside bench load's measured time, in a window of its own, from the nodes' /metrics (ALL requests applied per
# second, the apply loop's time per request from kluster_apply_duration_seconds, the mean ALL batch, the
# speculations answered per second by outcome), from pg_stat_activity (how often the apply loop, or a speculation,
# waited for a lock) and from /proc (the CPU of every process, the speculating pgbench included, per ALL request
# applied). See bench/README.md.
#
# Uses compare.sh's variables and helpers (KLUSTERCTL, BROKERS, CLUSTER, METRICS_PORTS, CPU_PIDS, PIDS, WORK,
# PGBIN, CPU_PY, psql_at, checkpoint, mean, ratio, log, die).

SPEC_CLIENTS=${SPEC_CLIENTS:-8}
SPEC_WORKLOAD=${SPEC_WORKLOAD:-multi}
SPEC_RATE=${SPEC_RATE:-} # their transactions per second in all (pgbench -R); empty: closed loop
SPEC_HOT_ROWS=100
SPEC_LINES=() # the speculation tables' rows: load|clients|writes/s|each half's|p50|p99|spec_cells|CPU file

# spec_stats FILE: the nodes' /metrics, kept in FILE, summed over the nodes as "ALL ONE_OK ONE_40001 ONE_OTHER
# APPLY_SECONDS APPLY_BATCHES BATCH_REQUESTS BATCHES": requests answered on ALL, speculations (ONE) by outcome, the
# apply loop's time and its batches.
spec_stats() {
  local p
  for p in "${METRICS_PORTS[@]}"; do curl -sf "http://127.0.0.1:$p/metrics" || echo "metrics of port $p missing" >&2; done >"$1"
  awk '/^kluster_requests_total[{]/ && /topic="ALL"/ { all += $NF }
    /^kluster_requests_total[{]/ && /topic="ONE"/ { if (/code="OK"/) ok += $NF; else if (/code="SERIALIZATION_FAILURE"/) ser += $NF; else other += $NF }
    /^kluster_apply_duration_seconds_sum[{ ]/ { as += $NF } /^kluster_apply_duration_seconds_count[{ ]/ { ac += $NF }
    /^kluster_apply_batch_size_sum[{ ]/ { bs += $NF } /^kluster_apply_batch_size_count[{ ]/ { bc += $NF }
    END { printf "%d %d %d %d %.6f %d %d %d\n", all, ok, ser, other, as, ac, bs, bc }' "$1"
}

# spec_locks_watch FILE PORT: every 100 ms until killed, on one node's database server, how many backends wait for a
# lock: "OTHERS|SPECULATIONS" (a speculation's statements carry the comment kluster-speculation; the others waiting
# are the apply loop's: no other writer runs). pg_stat_activity's query of a backend is the statement it runs.
spec_locks_watch() {
  printf '%s\n\\watch 0.1\n' "SELECT count(*) FILTER (WHERE query NOT LIKE '%kluster-speculation%'), count(*) FILTER (WHERE query
    LIKE '%kluster-speculation%') FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = 'kluster';" |
    "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$2" -U postgres -d kluster >"$1" 2>&1
}

now_ns() { date +%s.%N; }
sleep_until() { sleep "$(awk -v t="$1" -v n="$(now_ns)" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')"; }

# spec_half BASE CLIENTS HALF SPECULATE(0|1): one half. bench load writes BASE.json; the window's figures go to
# BASE.stats ("SECONDS" and spec_stats' differences) and BASE.cpu.json (CPU per ALL request applied).
spec_half() {
  local base=$1 c=$2 half=$3 spec=$4 table load pg="" t0 s0 s1 e0 e1 end deadline cpu_args=() p watches=()
  table=spec_$(basename "$base" | tr -c 'a-z0-9\n' _)_$RANDOM
  "$KLUSTERCTL" bench load --brokers "$BROKERS" --cluster "$CLUSTER" --clients "$c" --duration "${half}s" \
    --warmup "${SPEC_WARMUP}s" --wait all --workload "$SPEC_WORKLOAD" --hot-rows "$SPEC_HOT_ROWS" --table "$table" \
    -o json >"$base.json" 2>"$base.err" &
  load=$!
  # bench load created its tables on every node (through ALL, waiting for all) just before its warm-up began: seen
  # by one psql session asking every 50 ms (a psql started for each look lagged by up to half a second here).
  printf "SELECT count(*) FROM pg_class WHERE relname = '%s';\n\\watch 0.05\n" "${table}_hot" |
    "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$SPEC_PG" -U postgres -d kluster >"$base.created" 2>&1 &
  watches=("$!")
  deadline=$(($(now_s) + 60))
  until [[ $(tail -n 1 "$base.created") == 1 ]]; do
    kill -0 "$load" 2>/dev/null || { wait "$load" || true; cat "$base.err" >&2; die "speculation: bench load exited"; }
    kill -0 "${watches[0]}" 2>/dev/null || { cat "$base.created" >&2; die "speculation: psql failed"; }
    (($(now_s) < deadline)) || die "speculation: bench load did not create $table within 60 s"
    sleep 0.02
  done
  t0=$(now_ns)
  kill -TERM "${watches[0]}" 2>/dev/null || true
  wait "${watches[0]}" 2>/dev/null || true
  watches=()
  if ((spec)); then
    sed "s/@T@/$table/g" "$SPEC_DIR/spec.sql" >"$base.sql"
    # -T outlasts bench load: it is stopped when bench load is done (its clients meet the tables' DROP at the end).
    "$PGBIN/pgbench" -n -M prepared -c "$SPEC_CLIENTS" -j "$((SPEC_CLIENTS < 2 ? 1 : 2))" -T $((SPEC_WARMUP + half + 60)) \
      ${SPEC_RATE:+-R "$SPEC_RATE"} --max-tries 10 -f "$base.sql" -h 127.0.0.1 -p "$SPEC_PPORT" -U postgres kluster >"$base.pgbench" 2>&1 &
    pg=$!
    PIDS+=("$pg")
  fi
  # The window: bench load's measured time less SPEC_MARGIN seconds at its start (bench load began its warm-up when
  # its CREATE TABLE was answered by all three nodes, a little after node 1 had it) and SPEC_TAIL at its end (seen
  # up to a poll and a scheduling delay late).
  end=$(awk -v t="$t0" -v w="$SPEC_WARMUP" -v h="$half" -v e="$SPEC_TAIL" 'BEGIN { printf "%.3f", t + w + h - e }')
  sleep_until "$(awk -v t="$t0" -v w="$SPEC_WARMUP" -v m="$SPEC_MARGIN" 'BEGIN { printf "%.3f", t + w + m }')"
  for p in "${CPU_PIDS[@]}" "client=$load" ${pg:+"speculators=$pg"}; do cpu_args+=(--pid "$p"); done
  for p in "${SPEC_PG_PORTS[@]}"; do
    spec_locks_watch "$base.locks-$p" "$p" &
    watches+=("$!")
  done
  e0=$(now_ns)
  s0=$(spec_stats "$base.metrics-0")
  python3 "$CPU_PY" window --out "$base.cpu.json" --until "$end" "${cpu_args[@]}"
  s1=$(spec_stats "$base.metrics-1")
  e1=$(now_ns)
  kill -0 "$load" 2>/dev/null && [[ ! -s $base.json ]] ||
    die "speculation: bench load ended before the window did (its figures would miss it): raise SPEC_TAIL"
  kill -TERM "${watches[@]}" 2>/dev/null || true
  wait "${watches[@]}" 2>/dev/null || true
  wait "$load" || { cat "$base.err" "$base.json" >&2; die "speculation: bench load failed ($base.err)"; }
  if [[ -n $pg ]]; then
    kill -TERM "$pg" 2>/dev/null || true
    wait "$pg" 2>/dev/null || true
    unset 'PIDS[-1]'
    # Errors other than the end's "relation ... does not exist" (bench load dropped its tables) fail the run.
    if grep -i 'error\|abort' "$base.pgbench" | grep -v 'does not exist\|Run was aborted\|results are incomplete' |
      grep -q .; then
      tail -n 20 "$base.pgbench" >&2
      die "speculation: pgbench through the proxy failed (see $base.pgbench)"
    fi
  fi
  # SECONDS, spec_stats' differences, lock samples, those with the apply loop waiting, with speculations waiting.
  awk -v a="$s0" -v b="$s1" -v e0="$e0" -v e1="$e1" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
    printf "%.3f", e1 - e0; for (i = 1; i <= n; i++) printf " %s", y[i] - x[i] }' >"$base.stats"
  cat "${SPEC_PG_PORTS[@]/#/$base.locks-}" | awk -F'|' 'NF == 2 { n++; if ($1 > 0) a++; if ($2 > 0) s++ }
    END { printf " %d %d %d\n", n, a, s }' >>"$base.stats"
  # CPU per ALL request applied (each node answers every one: the nodes' count over three), the requests scaled from
  # the metrics' window to the CPU's, a little shorter (cpu.py's start).
  python3 "$CPU_PY" per-write --writes "$(awk -v c="$(jq .seconds "$base.cpu.json")" '{ printf "%d", $2 / 3 * c / $1 }' \
    "$base.stats")" "$base.cpu.json"
}

# spec_cells STATS...: summed over the halves' .stats files: "ALL applied/s per node|apply µs per request|apply loop
# busy %|mean ALL batch|speculations OK/s|40001/s|other/s|apply loop waiting for a lock|speculations waiting".
spec_cells() {
  cat "$@" | awk '{ for (i = 1; i <= NF; i++) s[i] += $i }
    END { t = s[1]; printf "%.1f|%s|%.0f%%|%s|%.1f|%.1f|%.1f|%s|%s\n", s[2] / 3 / t, (s[2] > 0 ? sprintf("%.0f", s[6] * 1e6 / s[2]) : "-"),
      s[6] * 100 / 3 / t, (s[9] > 0 ? sprintf("%.1f", s[8] / s[9]) : "-"), s[3] / t, s[4] / t, s[5] / t,
      (s[10] > 0 ? sprintf("%.1f%%", s[11] * 100 / s[10]) : "-"), (s[10] > 0 ? sprintf("%.1f%%", s[12] * 100 / s[10]) : "-") }'
}

# spec_row NAME CLIENTS BASES...: compare.sh's row (bench load's means over the halves, their window CPU merged, the
# window's mean batch) and the speculation table's.
spec_row() {
  local name=$1 c=$2 b tps=() p50=0 p99=0 check="3 copies identical, exactly the applied requests (bench load check)"
  shift 2
  for b in "$@"; do
    tps+=("$(jq -r '.throughput * 10 | round / 10' "$b.json")")
    p50=$(awk -v a="$p50" -v b="$(jq .latency.p50_ms "$b.json")" -v n=$# 'BEGIN { printf "%.2f", a + b / n }')
    p99=$(awk -v a="$p99" -v b="$(jq .latency.p99_ms "$b.json")" -v n=$# 'BEGIN { printf "%.2f", a + b / n }')
    jq -e .check.passed "$b.json" >/dev/null || check="CHECK FAILED"
  done
  local cells w
  cells=$(spec_cells "${@/%/.stats}")
  python3 "$CPU_PY" merge "$SPEC_DIR/$name-c$c.cpu.json" "${@/%/.cpu.json}"
  w=$(printf '%s\n' "${tps[@]}" | awk '{ s += $1 } END { printf "%.1f", s / NR }')
  ROWS+=("$name|$c|$w|$p50|$p99|$check|$SPEC_DIR/$name-c$c.cpu.json|$(cut -d'|' -f4 <<<"$cells")")
  SPEC_LINES+=("$name|$c|$w|$(
    IFS=,
    echo "${tps[*]}"
  )|$p50|$p99|$cells|$SPEC_DIR/$name-c$c.cpu.json")
}

# spec_pairs DIR PROXY_PORT ORDER NODE_PORTS...: the halves at every client count of CLIENTS; ORDER is ABBA (a
# measurement) or AB (the smoke form).
spec_pairs() {
  local dir=$1 order=$3 c half i h bases_a=() bases_b=()
  SPEC_PPORT=$2 SPEC_DIR=$dir/speculation SPEC_PG=$4
  shift 3
  SPEC_PG_PORTS=("$@")
  mkdir -p "$SPEC_DIR"
  cat >"$SPEC_DIR/spec.sql" <<EOF
\\set r random(1, $SPEC_HOT_ROWS)
BEGIN;
/* kluster-speculation */ SELECT n FROM @T@_hot WHERE id = :r;
/* kluster-speculation */ UPDATE @T@_hot SET n = n + 1 WHERE id = :r;
/* kluster-speculation */ SELECT n FROM @T@_hot WHERE id = :r;
ROLLBACK;
EOF
  half=$(((DURATION + 1) / 2))
  if [[ -n $SMOKE ]]; then half=2 SPEC_WARMUP=1; else SPEC_WARMUP=2; fi
  SPEC_MARGIN=0.2 SPEC_TAIL=0.6
  local clients=$CLIENTS
  [[ -z $SMOKE ]] || clients=$MAX_CLIENTS
  for c in $clients; do
    checkpoint "$@"
    log "speculation: bench load --workload $SPEC_WORKLOAD, $c client(s), alone (A) and beside $SPEC_CLIENTS speculating pgbench clients${SPEC_RATE:+ at $SPEC_RATE transactions/s} (B), ${half}s each, $order"
    bases_a=() bases_b=()
    for ((i = 0; i < ${#order}; i++)); do
      h=${order:i:1}
      if [[ $h == A ]]; then
        bases_a+=("$SPEC_DIR/alone-c$c-$i")
        spec_half "${bases_a[-1]}" "$c" "$half" 0
      else
        bases_b+=("$SPEC_DIR/beside-c$c-$i")
        spec_half "${bases_b[-1]}" "$c" "$half" 1
      fi
    done
    spec_row alone "$c" "${bases_a[@]}"
    spec_row speculating "$c" "${bases_b[@]}"
    # Every B half must have run speculations: a proxy that refused them all would otherwise pass for no cost.
    [[ $(cat "${bases_b[@]/%/.stats}" | awk '{ s += $3 } END { print s + 0 }') -gt 0 ]] ||
      die "speculation: no speculation answered OK beside bench load at $c client(s) (see $SPEC_DIR)"
  done
}

# spec_transactions DIR PROXY_PORT NODE_PORTS...: what the nodes' settings leave transactions that are the only
# writes: pgbench's TPC-B-like transactions (five statements, each a speculation, then a commit on ALL) through the
# proxy, SPEC_CLIENTS clients, closed loop, for DURATION / 2 seconds, after `pgbench -i` through the proxy. Sets
# SPEC_TX ("TPS|retried %|speculations/s answered OK|budget waits/s").
spec_transactions() {
  local dir=$1 pport=$2 out s0 s1 t0 t1 tps retried
  shift 2
  log "speculation: transactions alone, pgbench -b tpcb-like through the proxy, $SPEC_CLIENTS client(s), $(((DURATION + 1) / 2))s"
  "$PGBIN/pgbench" -i -s 1 -h 127.0.0.1 -p "$pport" -U postgres kluster >"$dir/tpcb-init.out" 2>&1 ||
    { tail -n 20 "$dir/tpcb-init.out" >&2; die "speculation: pgbench -i through the proxy failed"; }
  checkpoint "$@"
  s0=$(spec_stats "$dir/tpcb.metrics-0")
  t0=$(now_ns)
  out=$dir/tpcb.out
  "$PGBIN/pgbench" -n -b tpcb-like -M prepared -c "$SPEC_CLIENTS" -j "$((SPEC_CLIENTS < 2 ? 1 : 2))" \
    -T "$(((DURATION + 1) / 2))" --max-tries 10 -h 127.0.0.1 -p "$pport" -U postgres kluster >"$out" 2>&1 ||
    { tail -n 20 "$out" >&2; die "speculation: pgbench -b tpcb-like through the proxy failed"; }
  t1=$(now_ns)
  s1=$(spec_stats "$dir/tpcb.metrics-1")
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | head -n 1 | awk '{ printf "%.1f", $1 }')
  retried=$(sed -n 's/^number of transactions retried: [0-9]* (\([0-9.]*\)%).*/\1/p' "$out")
  SPEC_TX="$tps|${retried:-0}|$(awk -v a="$s0" -v b="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN { split(a, x, " "); split(b, y, " ")
    printf "%.1f", (y[2] - x[2]) / (t1 - t0) }')|$(spec_budget_waits "$dir/tpcb.metrics-0" "$dir/tpcb.metrics-1" "$t0" "$t1")"
}

# spec_budget_waits METRICS0 METRICS1 T0 T1: the nodes' waits for node.speculation_budget per second between two
# scrapes (spec_stats' files).
spec_budget_waits() {
  awk -v t="$(awk -v a="$3" -v b="$4" 'BEGIN { print b - a }')" '/^kluster_speculation_budget_waits_total[{ ]/ {
    if (FILENAME == ARGV[1]) a += $NF; else b += $NF } END { printf "%.1f", (b - a) / t }' "$1" "$2"
}

# spec_run DIR NODE_PORTS...: the setup on its own: a proxy in front of the running cluster, a warm-up, the pairs.
spec_run() {
  local dir=$1 pport
  shift
  pport=$(pick_port)
  printf '[cluster]\nname = "%s"\nbrokers = "%s"\n\n[proxy]\nlisten = "127.0.0.1:%s"\nwait = "all"\nmax_connections = %s\n' \
    "$CLUSTER" "$BROKERS" "$pport" "$((SPEC_CLIENTS + 8))" >"$dir/proxy.toml"
  "$KLUSTERCTL" proxy --config "$dir/proxy.toml" >"$dir/proxy.log" 2>&1 &
  PIDS+=("$!")
  CPU_PIDS+=("proxy=$!")
  wait_for_sql "$pport" "klusterctl proxy" "$dir/proxy.log" 30
  if ((WARMUP > 0)); then
    log "speculation: warming up, bench load, $MAX_CLIENTS client(s), ${WARMUP}s (not measured)"
    bench_load warmup "$MAX_CLIENTS" "$WARMUP" "$dir/warmup.json"
  fi
  spec_pairs "$dir" "$pport" ABBA "$@"
  spec_transactions "$dir" "$pport" "$@"
}

# spec_table: the speculation tables, Markdown, under compare.sh's tables.
spec_table() {
  local r name c w halves p50 p99 applied us busy batch ok ser other wa ws cpu a s tps retried waits
  printf '\nSpeculative transactions beside the apply loop (the nodes'"'"' node.speculation_yield %s, node.speculation_budget %s):\n' \
    "${KLUSTER_SPECULATION_YIELD:-20ms}" "${KLUSTER_SPECULATION_BUDGET:-0}"
  printf '`bench load --workload %s --wait all` alone and beside %s\n' \
    "$SPEC_WORKLOAD" "$SPEC_CLIENTS${SPEC_RATE:+ (at $SPEC_RATE transactions/s in all, pgbench -R)}"
  printf 'pgbench clients whose transactions (SELECT, UPDATE, SELECT of a hot row of the same tables, ROLLBACK) run as\n'
  printf 'speculations through the proxy; halves in the order alone, speculating, speculating, alone. writes/s (each\n'
  printf 'half'"'"'s, and their mean), p50 and p99: bench load'"'"'s; the rest from a window inside each half: the nodes'"'"' /metrics\n'
  printf '(ALL requests applied per second per node, the apply loop'"'"'s time per request and its share of the time, the mean\n'
  printf 'ALL batch, speculations answered per second by the three nodes), samples of pg_stat_activity every 100 ms (the\n'
  printf 'share of samples in which the apply loop, or a speculation, waited for a lock) and /proc (CPU µs per ALL\n'
  printf 'request applied, by process).\n\n'
  printf '| load | clients | writes/s | halves | p50 ms | p99 ms | ALL applied/s per node | apply µs/request | apply loop busy | apply loop waiting for a lock | mean ALL batch |\n'
  printf '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n'
  for r in "${SPEC_LINES[@]}"; do
    IFS='|' read -r name c w halves p50 p99 applied us busy batch ok ser other wa ws cpu <<<"$r"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$c" "$w" "${halves//,/, }" "$p50" "$p99" \
      "$applied" "$us" "$busy" "$wa" "$batch"
  done
  printf '\n| load | clients | speculations/s OK | 40001/s | other/s | speculations waiting for a lock | CPU µs/write: nodes | database servers | broker | proxy | bench load | speculating pgbench | machine |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
  for r in "${SPEC_LINES[@]}"; do
    IFS='|' read -r name c w halves p50 p99 applied us busy batch ok ser other wa ws cpu <<<"$r"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$c" "$ok" "$ser" "$other" "$ws" "$(jq -r 'def g(f): [.processes[] |
      select(.name | f) | .us_per_write] | if length == 0 then "-" else add | round | tostring end;
      [g(startswith("node")), g(startswith("pg")), g(. == "broker"), g(. == "proxy"), g(. == "client"), g(. == "speculators"),
       (.machine_us_per_write | round | tostring)] | join(" | ")' "$cpu")"
  done
  printf '\nCPU per speculation, µs (what the processes used per second beyond what the writes cost at the alone rows'"'"'\n'
  printf 'CPU per write, over the speculations answered per second):'
  for c in $CLIENTS; do
    a=$(printf '%s\n' "${SPEC_LINES[@]}" | awk -F'|' -v c="$c" '$1 == "alone" && $2 == c')
    s=$(printf '%s\n' "${SPEC_LINES[@]}" | awk -F'|' -v c="$c" '$1 == "speculating" && $2 == c')
    [[ -n $a && -n $s ]] || continue
    printf ' %s client(s): %s;' "$c" "$(jq -rn --slurpfile a "$(cut -d'|' -f16 <<<"$a")" --slurpfile b "$(cut -d'|' -f16 <<<"$s")" \
      --argjson w "$(cut -d'|' -f7 <<<"$s")" --arg n "$(cut -d'|' -f11-13 <<<"$s")" '
      ($n | split("|") | map(tonumber) | add) as $n |
      def g($m; f): [$m[0].processes[] | select(.name | f) | .us_per_write] | add // 0;
      def d(f): if $n > 0 then ((g($b; f) - g($a; f)) * $w / $n | round | tostring) else "-" end;
      "nodes \(d(startswith("node"))), database servers \(d(startswith("pg"))), broker \(d(. == "broker")), proxy \(d(. == "proxy")), pgbench \(d(. == "speculators")), all named but bench load \(d(. != "client"))"')"
  done
  printf '\n\nSpeculating over alone:'
  for c in $CLIENTS; do
    a=$(printf '%s\n' "${SPEC_LINES[@]}" | awk -F'|' -v c="$c" '$1 == "alone" && $2 == c')
    s=$(printf '%s\n' "${SPEC_LINES[@]}" | awk -F'|' -v c="$c" '$1 == "speculating" && $2 == c')
    [[ -n $a && -n $s ]] || continue
    printf ' %s client(s): writes/s %s, ALL applied/s %s, apply µs/request %s;' "$c" "$(ratio "$(cut -d'|' -f3 <<<"$s")" \
      "$(cut -d'|' -f3 <<<"$a")")" "$(ratio "$(cut -d'|' -f7 <<<"$s")" "$(cut -d'|' -f7 <<<"$a")")" \
      "$(ratio "$(cut -d'|' -f8 <<<"$s")" "$(cut -d'|' -f8 <<<"$a")")"
  done
  printf '\n'
  if [[ -n ${SPEC_TX:-} ]]; then
    IFS='|' read -r tps retried ok waits <<<"$SPEC_TX"
    printf '\nTransactions alone (their commits the only writes), pgbench -b tpcb-like -M prepared through the proxy, %s\n' "$SPEC_CLIENTS"
    printf 'clients, --max-tries 10: %s transactions/s, %s%% retried; %s speculations/s answered OK, %s/s waited for the\n' \
      "$tps" "$retried" "$ok" "$waits"
    printf 'budget.\n'
  fi
}
