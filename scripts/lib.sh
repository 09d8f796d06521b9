# shellcheck shell=bash
# Helpers shared by scripts/*.sh. Source it; it does nothing by itself.

KLUSTER_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KLUSTER_REPO_ROOT

log() { printf '%s: %s\n' "${KLUSTER_LOG_TAG:-$(basename "$0")}" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# now_s: seconds since the epoch (integer).
now_s() { printf '%(%s)T' -1; }

# abspath PATH: absolute form of PATH (PATH need not exist).
abspath() {
  case $1 in
    /*) printf '%s' "$1" ;;
    *) printf '%s/%s' "$PWD" "$1" ;;
  esac
}

# port_in_use PORT: true if any TCP socket on this host (IPv4 or IPv6, any
# state) uses PORT. Reads /proc so it needs neither ss nor netstat. It also
# matches remote ports, which only makes it more careful.
port_in_use() {
  local hex
  hex=$(printf ':%04X ' "$1")
  grep -qF -- "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# pick_port: print a free TCP port. Candidates are drawn at random below the
# kernel's ephemeral range (so outgoing connections never take them), skipping
# ports in use and ports handed out by any kluster script in the last 10 min
# (an atomic mkdir reservation in $KLUSTER_PORT_DIR), so two scripts running
# at once do not pick the same port before either binds it.
pick_port() {
  local resdir=${KLUSTER_PORT_DIR:-${TMPDIR:-/tmp}/kluster-ports}
  local eph_lo eph_hi lo hi p i
  read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range || {
    eph_lo=32768
    eph_hi=60999
  }
  lo=20000
  hi=$((eph_lo - 1))
  if ((hi - lo < 2000)); then # odd ephemeral range: use what lies above it
    lo=$((eph_hi + 1))
    hi=65000
  fi
  ((hi - lo >= 1000)) || die "no usable port range (ephemeral range $eph_lo-$eph_hi)"
  if mkdir -p "$resdir" 2>/dev/null; then chmod 1777 "$resdir" 2>/dev/null || true; fi
  find "$resdir" -mindepth 1 -maxdepth 1 -mmin +10 -exec rm -rf {} + 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    p=$((lo + (((RANDOM << 15) | RANDOM) % (hi - lo + 1))))
    port_in_use "$p" && continue
    mkdir "$resdir/$p" 2>/dev/null || continue
    printf '%s\n' "$p"
    return 0
  done
  die "could not find a free TCP port in $lo-$hi"
}

# port_accepts PORT: true if 127.0.0.1:PORT accepts a TCP connection.
port_accepts() {
  # shellcheck disable=SC2016
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# pid_running PID [NEEDLE]: true if PID is alive (not a zombie) and, when
# NEEDLE is given, its command line contains NEEDLE (guards against PID reuse).
pid_running() {
  local pid=$1 needle=${2-} state cmd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(<"/proc/$pid/stat") 2>/dev/null || return 1
  state=${state##*) }
  state=${state%% *}
  [[ -n $state && $state != Z && $state != X ]] || return 1
  if [[ -n $needle ]]; then
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$needle"* ]] || return 1
  fi
  return 0
}

# stop_pids TIMEOUT_S NEEDLE PID...: SIGTERM every PID whose command line
# contains NEEDLE, wait up to TIMEOUT_S for all of them, then SIGKILL the rest.
stop_pids() {
  local timeout=$1 needle=$2 pid deadline alive
  shift 2
  local -a pids=()
  for pid in "$@"; do
    pid_running "$pid" "$needle" && pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  deadline=$(($(now_s) + timeout))
  while :; do
    alive=()
    for pid in "${pids[@]}"; do
      pid_running "$pid" "$needle" && alive+=("$pid")
    done
    ((${#alive[@]})) || return 0
    if (($(now_s) >= deadline)); then
      log "still running after ${timeout}s, sending SIGKILL to ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 0.2
      return 0
    fi
    sleep 0.1
  done
}

# as_root CMD...: run CMD as root (directly, or through sudo).
as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# ---- Throwaway database servers (scripts/pg.sh, scripts/mariadb.sh) ----
# The sourcing script sets DIR (where its servers live), MAX_SOCKET_PATH_LEN and:
#   SERVER_USER      the system user the servers run as when started by root (created when missing)
#   INSTANCE_PREFIX  the name of an instance's directory before its number (pg1, mdb1, ...)
#   SOCKET_SUFFIX    how many characters a socket path adds to an instance's base directory
#   BASE_TMP_NAME    the name of the /tmp directory used when DIR does not suit
#   STOP_MODES       the stop modes of stop-instance, as a regex alternation (fast|immediate)
# and parse_opts (its --dir and the like).
RUN_USER=""
# setup_run_user: RUN_USER is the invoking user, or SERVER_USER when root.
setup_run_user() {
  if ((EUID != 0)); then
    RUN_USER=$(id -un)
    return
  fi
  RUN_USER=$SERVER_USER
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

# owned_dir PATH: create PATH owned by RUN_USER.
owned_dir() {
  mkdir -p "$1"
  ((EUID != 0)) || chown "$RUN_USER:" "$1"
}

# base_dir: where the instances live: DIR, or the /tmp directory in DIR/base.
base_dir() {
  if [[ -f $DIR/base ]]; then cat "$DIR/base"; else printf '%s' "$DIR"; fi
}

# instance_ids: the numbers of the instances set up under base_dir, in order.
instance_ids() {
  local base d
  base=$(base_dir)
  for d in "$base/$INSTANCE_PREFIX"*/; do
    [[ -f $d/port ]] || continue
    d=${d%/}
    printf '%s\n' "${d##*/"$INSTANCE_PREFIX"}"
  done | sort -n
}

# choose_base: pick DIR itself when RUN_USER can write there and socket paths
# stay short, else a fresh directory under /tmp (recorded in DIR/base).
choose_base() {
  rm -f "$DIR/base"
  local probe=$DIR/.probe.$$
  owned_dir "$probe"
  local ok=1
  as_user test -w "$probe" || ok=0
  rmdir "$probe"
  ((${#DIR} + SOCKET_SUFFIX <= MAX_SOCKET_PATH_LEN)) || ok=0
  if ((ok)); then
    printf '%s' "$DIR"
    return
  fi
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/$BASE_TMP_NAME.XXXXXX")
  chmod 755 "$tmp"
  ((EUID != 0)) || chown "$RUN_USER:" "$tmp"
  printf '%s\n' "$tmp" >"$DIR/base"
  log "using $tmp for the servers ($RUN_USER cannot use $DIR, or it is too long)"
  printf '%s' "$tmp"
}

# instance_arg ARGS...: sets K (the instance) and MODE from `K [--mode M]` after --dir.
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
  [[ $MODE =~ ^($STOP_MODES)$ ]] || die "--mode must be one of ${STOP_MODES//|/, }"
  [[ $K =~ ^[0-9]+$ && -f $(base_dir)/$INSTANCE_PREFIX$K/port ]] || die "no instance $K in $DIR"
}
