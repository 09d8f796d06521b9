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
