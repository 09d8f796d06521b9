#!/usr/bin/env bash
# Throwaway MariaDB servers on 127.0.0.1 for development and tests (the MariaDB counterpart of pg.sh).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STOP_TIMEOUT=${KLUSTER_MARIADB_STOP_TIMEOUT:-30}
START_TIMEOUT=${KLUSTER_MARIADB_START_TIMEOUT:-60}
# A unix socket path (DIR/mdbNN/mariadb.sock) must stay below 108 bytes.
MAX_SOCKET_PATH_LEN=103

usage() {
  cat <<EOF
Usage: scripts/mariadb.sh COMMAND --dir DIR [OPTIONS]

Commands:
  start --dir DIR [--count N] [--fast]
                    create and start N (default 1) MariaDB servers, each on a free
                    127.0.0.1 port (unix socket DIR/mdbK/mariadb.sock), with a user
                    'kluster' (no password, every privilege) and a database 'kluster';
                    print one URL per line (also DIR/urls):
                    mariadb://kluster@127.0.0.1:PORT/kluster
                    --fast: no flush at commit (innodb_flush_log_at_trx_commit=0,
                    no doublewrite), for throwaway data
  stop --dir DIR    stop every server of DIR (SIGTERM by pid; safe to repeat)
  status --dir DIR  show the servers of DIR; exit 0 only if all accept connections
  stop-instance --dir DIR K [--mode fast|immediate]
                    stop server K only (fast: SIGTERM, a clean shutdown; immediate:
                    SIGKILL, a crash)
  start-instance --dir DIR K
                    start server K again on its port and data, wait until it answers

The servers run with what Kluster relies on: InnoDB, innodb_autoinc_lock_mode=0
(AUTO_INCREMENT values drawn in statement order), utf8mb4, time zone +00:00,
strict sql_mode, no binary log, skip-name-resolve; no option file of the host
is read (--no-defaults). Files in DIR: urls, mdbK/{port,url,my.cnf,server.log,
mariadbd.pid,data/}. When run as root the servers run as the
'${KLUSTER_MARIADB_USER:-mysql}' user (KLUSTER_MARIADB_USER); if that user cannot
reach DIR, or DIR is too long for a unix socket path, the servers live in a
directory under /tmp recorded in DIR/base.
Environment: KLUSTER_MARIADB_USER, KLUSTER_MARIADB_BINDIR (mariadbd's directory).
EOF
}

DIR=""
COUNT=1
FAST=""
parse_opts() {
  while (($#)); do
    case $1 in
      --dir) DIR=${2:?--dir needs a value}; shift 2 ;;
      --dir=*) DIR=${1#--dir=}; shift ;;
      --count) COUNT=${2:?--count needs a value}; shift 2 ;;
      --count=*) COUNT=${1#--count=}; shift ;;
      --fast) FAST=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown argument $1" ;;
    esac
  done
  [[ -n $DIR ]] || die "--dir DIR is required"
  DIR=$(abspath "$DIR")
}

MARIADBD=""
find_binaries() {
  local d
  for d in ${KLUSTER_MARIADB_BINDIR:-} /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
    if [[ -x $d/mariadbd ]]; then
      MARIADBD=$d/mariadbd
      break
    fi
  done
  [[ -n $MARIADBD ]] || die "mariadbd not found (run scripts/setup.sh; or set KLUSTER_MARIADB_BINDIR)"
  command -v mariadb-install-db >/dev/null || die "mariadb-install-db not found (run scripts/setup.sh)"
  command -v mariadb-admin >/dev/null || die "mariadb-admin not found (run scripts/setup.sh)"
}

# The unprivileged user that owns and runs the servers (mariadbd refuses to run as root without --user).
RUN_USER=""
setup_run_user() {
  if ((EUID != 0)); then
    RUN_USER=$(id -un)
    return
  fi
  RUN_USER=${KLUSTER_MARIADB_USER:-mysql}
  if ! id -u "$RUN_USER" >/dev/null 2>&1; then
    log "creating system user $RUN_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$RUN_USER"
  fi
}

# as_user CMD...: run CMD as RUN_USER (with a neutral working directory).
as_user() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$RUN_USER" -- "$@")
  else
    "$@"
  fi
}

owned_dir() {
  mkdir -p "$1"
  ((EUID != 0)) || chown "$RUN_USER:" "$1"
}

base_dir() {
  if [[ -f $DIR/base ]]; then cat "$DIR/base"; else printf '%s' "$DIR"; fi
}

instance_ids() {
  local base d
  base=$(base_dir)
  for d in "$base"/mdb*/; do
    [[ -f $d/port ]] || continue
    d=${d%/}
    printf '%s\n' "${d##*/mdb}"
  done | sort -n
}

# server_pid IDIR: pid of the running mariadbd of instance dir IDIR, if any.
server_pid() {
  local pid
  [[ -f $1/mariadbd.pid ]] || return 1
  pid=$(head -n 1 "$1/mariadbd.pid" 2>/dev/null) || return 1
  pid_running "$pid" "$1/my.cnf" || return 1
  printf '%s' "$pid"
}

choose_base() {
  rm -f "$DIR/base"
  local probe=$DIR/.probe.$$
  owned_dir "$probe"
  local ok=1
  as_user test -w "$probe" || ok=0
  rmdir "$probe"
  ((${#DIR} + 25 <= MAX_SOCKET_PATH_LEN)) || ok=0
  if ((ok)); then
    printf '%s' "$DIR"
    return
  fi
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/kluster-mariadb.XXXXXX")
  chmod 755 "$tmp"
  ((EUID != 0)) || chown "$RUN_USER:" "$tmp"
  printf '%s\n' "$tmp" >"$DIR/base"
  log "using $tmp for the servers ($RUN_USER cannot use $DIR, or it is too long)"
  printf '%s' "$tmp"
}

write_config() { # IDIR PORT
  local idir=$1 port=$2
  cat >"$idir/my.cnf" <<EOF
# Generated by scripts/mariadb.sh: throwaway server for development/tests.
[mariadbd]
datadir = $idir/data
socket = $idir/mariadb.sock
pid-file = $idir/mariadbd.pid
log-error = $idir/server.log
port = $port
bind-address = 127.0.0.1
skip-name-resolve
# What Kluster relies on (docs/mariadb.md): AUTO_INCREMENT values drawn one statement at a time, in order.
default-storage-engine = InnoDB
innodb_autoinc_lock_mode = 0
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
default-time-zone = '+00:00'
sql_mode = STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_CREATE_USER
skip-log-bin
# Small and quiet.
max_connections = 200
innodb_buffer_pool_size = 64M
innodb_log_file_size = 48M
performance_schema = OFF
innodb_use_native_aio = OFF
skip-external-locking
EOF
  if [[ -n $FAST ]]; then
    cat >>"$idir/my.cnf" <<'EOF'
# --fast: throwaway data, durability off.
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = OFF
sync_binlog = 0
EOF
  fi
  ((EUID != 0)) || chown "$RUN_USER:" "$idir/my.cnf"
}

# wait_ready IDIR PID: until the server answers on its socket, it dies, or START_TIMEOUT passes.
wait_ready() {
  local idir=$1 pid=$2 deadline
  deadline=$(($(now_s) + START_TIMEOUT))
  while (($(now_s) < deadline)); do
    if mariadb-admin --no-defaults --socket="$idir/mariadb.sock" -u kluster --connect-timeout=2 ping \
      >/dev/null 2>&1; then
      return 0
    fi
    pid_running "$pid" || return 1
    sleep 0.2
  done
  return 1
}

# launch IDIR: start mariadbd in the background (detached), wait until it answers.
launch() {
  local idir=$1 pid
  as_user touch "$idir/server.log"
  rm -f "$idir/mariadbd.pid"
  if ((EUID == 0)); then
    (cd / && exec setsid runuser -u "$RUN_USER" -- "$MARIADBD" --defaults-file="$idir/my.cnf" \
      </dev/null >>"$idir/mariadbd.out" 2>&1) &
  else
    (cd / && exec setsid "$MARIADBD" --defaults-file="$idir/my.cnf" </dev/null >>"$idir/mariadbd.out" 2>&1) &
  fi
  pid=$!
  wait_ready "$idir" "$pid"
}

start_instance() { # K TEMPLATE
  local k=$1 template=$2 base idir port url
  base=$(base_dir)
  idir=$base/mdb$k
  owned_dir "$idir"
  cp -a "$template" "$idir/data"
  for _ in 1 2 3 4 5; do
    port=$(pick_port)
    printf '%s\n' "$port" >"$idir/port"
    write_config "$idir" "$port"
    if launch "$idir"; then
      url="mariadb://kluster@127.0.0.1:$port/kluster"
      printf '%s\n' "$url" >"$idir/url"
      if ! mariadb --no-defaults -h 127.0.0.1 -P "$port" -u kluster -N -e 'SELECT 1' kluster >/dev/null; then
        log "server $k started but $url does not answer"
        return 1
      fi
      [[ $DIR == "$base" ]] || ln -sfn "$idir" "$DIR/mdb$k"
      return 0
    fi
    local pid
    if pid=$(server_pid "$idir"); then stop_pids "$STOP_TIMEOUT" "$idir/my.cnf" "$pid"; fi
    if grep -qE "Can't start server: Bind|Address already in use|Do you already have another" "$idir/server.log"; then
      log "port $port taken, retrying server $k"
      : >"$idir/server.log"
      continue
    fi
    log "server $k failed to start:"
    tail -n 30 "$idir/mariadbd.out" "$idir/server.log" >&2 || true
    return 1
  done
  log "server $k: no free port after 5 attempts"
  return 1
}

cmd_start() {
  parse_opts "$@"
  [[ $COUNT =~ ^[1-9][0-9]?$ ]] || die "--count must be 1..99"
  local base k t0
  find_binaries
  setup_run_user
  mkdir -p "$DIR"
  for k in $(instance_ids); do
    if server_pid "$(base_dir)/mdb$k" >/dev/null; then
      die "server $k of $DIR is running; run: scripts/mariadb.sh stop --dir $DIR"
    fi
  done
  t0=$(now_s)
  base=$(base_dir)
  if [[ $base != "$DIR" ]]; then rm -rf "$base"; fi
  rm -rf "$DIR"/mdb[0-9]* "$DIR/template" "$DIR/urls" "$DIR/base"
  base=$(choose_base)

  # One mariadb-install-db, copied per server. root is reachable through the unix socket by the user that runs
  # the servers; 'kluster' (no password, loopback only by bind-address, every privilege) is what the URLs use.
  owned_dir "$base/template"
  cat >"$base/init.sql" <<'EOF'
CREATE DATABASE IF NOT EXISTS kluster CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
-- Bootstrap runs without the grant system (no CREATE USER): the rows that CREATE USER ... GRANT ALL would write.
INSERT INTO mysql.global_priv (Host, User, Priv) VALUES
  ('%', 'kluster', '{"access":18446744073709551615}'),
  ('localhost', 'kluster', '{"access":18446744073709551615}');
EOF
  chmod 644 "$base/init.sql"
  if ! as_user mariadb-install-db --no-defaults --datadir="$base/template" --skip-test-db \
    --auth-root-authentication-method=socket --auth-root-socket-user="$RUN_USER" \
    --extra-file="$base/init.sql" --user="$RUN_USER" >"$base/install-db.log" 2>&1; then
    cat "$base/install-db.log" >&2
    die "mariadb-install-db failed"
  fi

  for ((k = 1; k <= COUNT; k++)); do
    if ! start_instance "$k" "$base/template"; then
      cmd_stop --dir "$DIR"
      die "MariaDB did not start (logs in $base/mdb$k)"
    fi
  done
  : >"$DIR/urls"
  for ((k = 1; k <= COUNT; k++)); do cat "$base/mdb$k/url" >>"$DIR/urls"; done
  log "$COUNT server(s) ready in $(($(now_s) - t0))s (logs in $base/mdbK/server.log)"
  cat "$DIR/urls"
}

cmd_stop() {
  parse_opts "$@"
  [[ -d $DIR ]] || return 0
  local base k pid
  base=$(base_dir)
  local -a left=()
  for k in $(instance_ids); do
    pid=$(server_pid "$base/mdb$k") || continue
    left+=("$pid")
  done
  # SIGTERM: mariadbd shuts down cleanly (rolls back, flushes InnoDB).
  ((${#left[@]} == 0)) || stop_pids "$STOP_TIMEOUT" "$base/mdb" "${left[@]}"
}

cmd_status() {
  parse_opts "$@"
  local base k port pid bad=0 any=0
  base=$(base_dir)
  for k in $(instance_ids); do
    any=1
    port=$(<"$base/mdb$k/port")
    if ! pid=$(server_pid "$base/mdb$k"); then
      printf 'mdb%s 127.0.0.1:%s stopped\n' "$k" "$port"
      bad=1
    elif mariadb-admin --no-defaults -h 127.0.0.1 -P "$port" -u kluster --connect-timeout=3 ping >/dev/null 2>&1; then
      printf 'mdb%s %s running, accepts connections (pid %s)\n' "$k" "$(<"$base/mdb$k/url")" "$pid"
    else
      printf 'mdb%s 127.0.0.1:%s running, not accepting connections (pid %s)\n' "$k" "$port" "$pid"
      bad=1
    fi
  done
  if ((!any)); then
    printf 'no servers in %s\n' "$DIR"
    return 1
  fi
  return "$bad"
}

instance_arg() {
  K=""
  MODE=fast
  local -a rest=()
  while (($#)); do
    case $1 in
      --mode) MODE=${2:?--mode needs a value}; shift 2 ;;
      --mode=*) MODE=${1#--mode=}; shift ;;
      --dir) rest+=("$1" "${2:?--dir needs a value}"); shift 2 ;;
      --dir=*) rest+=("$1"); shift ;;
      *) [[ -z $K ]] || die "unexpected argument $1"; K=$1; shift ;;
    esac
  done
  parse_opts "${rest[@]}"
  [[ $MODE =~ ^(fast|immediate)$ ]] || die "--mode must be fast or immediate"
  [[ $K =~ ^[0-9]+$ && -f $(base_dir)/mdb$K/port ]] || die "no server $K in $DIR"
}

cmd_stop_instance() {
  instance_arg "$@"
  local idir pid
  idir=$(base_dir)/mdb$K
  pid=$(server_pid "$idir") || return 0
  if [[ $MODE == immediate ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    while pid_running "$pid"; do sleep 0.05; done
  else
    stop_pids "$STOP_TIMEOUT" "$idir/my.cnf" "$pid"
  fi
  log "server $K stopped ($MODE)"
}

cmd_start_instance() {
  instance_arg "$@"
  local idir
  idir=$(base_dir)/mdb$K
  find_binaries
  setup_run_user
  server_pid "$idir" >/dev/null && die "server $K is already running"
  launch "$idir" || { tail -n 30 "$idir/server.log" >&2; die "server $K did not start"; }
  log "server $K started ($(<"$idir/url"))"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    stop-instance) cmd_stop_instance "$@" ;;
    start-instance) cmd_start_instance "$@" ;;
    -h | --help | help) usage ;;
    "") usage >&2; exit 2 ;;
    *) die "unknown command '$cmd' (see --help)" ;;
  esac
}

main "$@"
