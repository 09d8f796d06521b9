#!/usr/bin/env bash
# Start/stop the services the tests need: Kafka (DIR/kafka), PostgreSQL (DIR/pg) and MariaDB (DIR/mariadb).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCRIPTS=$KLUSTER_REPO_ROOT/scripts

usage() {
  cat <<'EOF'
Usage: scripts/services.sh up DIR [--brokers N] [--pg N] [--mariadb N] [--heap SIZE] [--proxied] [--sasl-ssl]
       scripts/services.sh down DIR

up    stops anything an earlier run left in DIR, then starts N Kafka brokers
      (default 1) in DIR/kafka and N PostgreSQL instances (default 3, with
      --fast durability settings; 0: none) in DIR/pg and N MariaDB servers (default 0,
      --fast; scripts/mariadb.sh; the second runs with other defaults for every
      session setting Kluster pins, --different 2) in DIR/mariadb, in parallel,
      and writes DIR/env:
        KLUSTER_TEST_BROKERS=127.0.0.1:p1[,...]
        KLUSTER_TEST_PG_URLS=url1 url2 url3   (space separated, not quoted)
        KLUSTER_TEST_MARIADB_URLS=mariadb://kluster@127.0.0.1:PORT/kluster ...
        KLUSTER_TEST_SERVICES_DIR=DIR
      plus DIR/env.sh (the same as quoted `export` lines, for `source`).
      --proxied: the brokers get a listener for TCP proxies (scripts/kafka.sh
      start --proxied), used by the fault tests to cut a node off from Kafka.
      --sasl-ssl: the brokers also listen on SASL_SSL (scripts/kafka.sh start
      --sasl-ssl); DIR/env then also has KLUSTER_TEST_SASL_SSL_BROKERS,
      KLUSTER_TEST_SASL_CA (the CA's PEM file), KLUSTER_TEST_SASL_USER and
      KLUSTER_TEST_SASL_PASSWORD_FILE.
      If anything fails, stops what it started and exits non-zero.
down  stops everything in DIR (safe to repeat, and when DIR does not exist).
EOF
}

CMD=${1:-}
case $CMD in
  -h | --help | help) usage; exit 0 ;;
  up | down) ;;
  *) usage >&2; exit 2 ;;
esac
shift
(($#)) || die "DIR is required"
DIR=$(abspath "$1")
shift
BROKERS=1
PGS=3
MARIADBS=0
HEAP=512m
PROXIED=()
SASL_SSL=()
while (($#)); do
  case $1 in
    --brokers) BROKERS=${2:?--brokers needs a value}; shift 2 ;;
    --brokers=*) BROKERS=${1#--brokers=}; shift ;;
    --pg) PGS=${2:?--pg needs a value}; shift 2 ;;
    --pg=*) PGS=${1#--pg=}; shift ;;
    --mariadb) MARIADBS=${2:?--mariadb needs a value}; shift 2 ;;
    --mariadb=*) MARIADBS=${1#--mariadb=}; shift ;;
    --heap) HEAP=${2:?--heap needs a value}; shift 2 ;;
    --heap=*) HEAP=${1#--heap=}; shift ;;
    --proxied) PROXIED=(--proxied); shift ;;
    --sasl-ssl) SASL_SSL=(--sasl-ssl); shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done

down() {
  local rc=0
  "$SCRIPTS/kafka.sh" stop --dir "$DIR/kafka" || rc=1
  "$SCRIPTS/pg.sh" stop --dir "$DIR/pg" || rc=1
  "$SCRIPTS/mariadb.sh" stop --dir "$DIR/mariadb" || rc=1
  rm -f "$DIR/env" "$DIR/env.sh"
  return "$rc"
}

if [[ $CMD == down ]]; then
  [[ -d $DIR ]] || exit 0
  down
  log "services in $DIR stopped"
  exit 0
fi

# ---- up ----
t0=$(now_s)
mkdir -p "$DIR"
# Marker so CI can find and stop service dirs left behind by an aborted ctest.
printf '%s\n' "created by scripts/services.sh; stop with: scripts/services.sh down $DIR" >"$DIR/.kluster-services"
down >/dev/null 2>&1 || true

# PostgreSQL (and MariaDB) come up in the background while Kafka starts.
pg_pid=""
if ((PGS > 0)); then
  "$SCRIPTS/pg.sh" start --dir "$DIR/pg" --count "$PGS" --fast >"$DIR/pg.out" 2>"$DIR/pg.err" &
  pg_pid=$!
fi
mdb_pid=""
if ((MARIADBS > 0)); then
  "$SCRIPTS/mariadb.sh" start --dir "$DIR/mariadb" --count "$MARIADBS" --fast --different 2 >"$DIR/mariadb.out" 2>"$DIR/mariadb.err" &
  mdb_pid=$!
fi
krc=0
"$SCRIPTS/kafka.sh" start --dir "$DIR/kafka" --brokers "$BROKERS" --heap "$HEAP" "${PROXIED[@]}" "${SASL_SSL[@]}" \
  >"$DIR/kafka.out" 2>"$DIR/kafka.err" || krc=$?
prc=0
[[ -z $pg_pid ]] || wait "$pg_pid" || prc=$?
mrc=0
[[ -z $mdb_pid ]] || wait "$mdb_pid" || mrc=$?

if ((krc != 0 || prc != 0 || mrc != 0)); then
  ((krc == 0)) || { log "Kafka failed:"; cat "$DIR/kafka.err" >&2; }
  ((prc == 0)) || { log "PostgreSQL failed:"; cat "$DIR/pg.err" >&2; }
  ((mrc == 0)) || { log "MariaDB failed:"; cat "$DIR/mariadb.err" >&2; }
  down >/dev/null 2>&1 || true
  die "services did not start (see $DIR)"
fi

brokers=$(<"$DIR/kafka/bootstrap")
urls=()
((PGS == 0)) || mapfile -t urls <"$DIR/pg/urls"
mdb_urls=()
((MARIADBS == 0)) || mapfile -t mdb_urls <"$DIR/mariadb/urls"
{
  printf 'KLUSTER_TEST_BROKERS=%s\n' "$brokers"
  printf 'KLUSTER_TEST_PG_URLS=%s\n' "${urls[*]}"
  printf 'KLUSTER_TEST_MARIADB_URLS=%s\n' "${mdb_urls[*]}"
  printf 'KLUSTER_TEST_SERVICES_DIR=%s\n' "$DIR"
  if ((${#SASL_SSL[@]})); then
    printf 'KLUSTER_TEST_SASL_SSL_BROKERS=%s\n' "$(<"$DIR/kafka/sasl-ssl-bootstrap")"
    printf 'KLUSTER_TEST_SASL_CA=%s\n' "$DIR/kafka/tls/ca.pem"
    printf 'KLUSTER_TEST_SASL_USER=%s\n' "$(<"$DIR/kafka/tls/user")"
    printf 'KLUSTER_TEST_SASL_PASSWORD_FILE=%s\n' "$DIR/kafka/tls/password"
  fi
} >"$DIR/env.tmp"
{
  printf 'export KLUSTER_TEST_BROKERS=%q\n' "$brokers"
  printf 'export KLUSTER_TEST_PG_URLS=%q\n' "${urls[*]}"
  printf 'export KLUSTER_TEST_MARIADB_URLS=%q\n' "${mdb_urls[*]}"
  printf 'export KLUSTER_TEST_SERVICES_DIR=%q\n' "$DIR"
} >"$DIR/env.sh"
mv "$DIR/env.tmp" "$DIR/env"
log "Kafka ($BROKERS broker(s)), PostgreSQL ($PGS instance(s)) and MariaDB ($MARIADBS server(s)) up in $(($(now_s) - t0))s"
cat "$DIR/env"
