#!/usr/bin/env bash
# Set up and run a local Kluster: Kafka (1 broker), 3 PostgreSQL instances (or one MariaDB server), 3 nodes, and a
# short demo.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF2'
Usage: scripts/local-cluster.sh [up|down|status] [--dir DIR] [--nodes N] [--db postgresql|mariadb]
                                [--no-setup] [--no-demo]

up (default): installs what is missing (scripts/setup.sh), builds klusterctl (build-release/),
  starts Kafka and N PostgreSQL servers on free loopback ports, creates the cluster's topics,
  starts N nodes in the background and runs a small demo. Prints how to talk to it.
  --db mariadb: the nodes run on MariaDB instead (one server, one database per node;
  docs/mariadb.md says what works).
down:   stops the nodes, Kafka and PostgreSQL started in DIR (default .services/local).
status: shows what runs.
EOF2
}

ACTION=up
DIR=.services/local
NODES=3
DB=postgresql
SETUP=1
DEMO=1
while (($#)); do
  case $1 in
    up | down | status) ACTION=$1; shift ;;
    --dir) DIR=${2:?}; shift 2 ;;
    --nodes) NODES=${2:?}; shift 2 ;;
    --db) DB=${2:?}; shift 2 ;;
    --no-setup) SETUP=""; shift ;;
    --no-demo) DEMO=""; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[[ $DB == postgresql || $DB == mariadb ]] || die "--db must be postgresql or mariadb"
cd "$KLUSTER_REPO_ROOT"
DIR=$(abspath "$DIR")
BIN="$KLUSTER_REPO_ROOT/build-release/src/klusterctl"
CLUSTER=kluster

stop_nodes() {
  local f pid
  for f in "$DIR"/node*.pid; do
    [[ -e $f ]] || continue
    pid=$(<"$f")
    if pid_running "$pid" klusterctl; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do pid_running "$pid" klusterctl || break; sleep 0.1; done
      pid_running "$pid" klusterctl && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

case $ACTION in
  down)
    stop_nodes
    [[ -d $DIR ]] && bash scripts/services.sh down "$DIR" || true
    log "stopped everything in $DIR"
    exit 0
    ;;
  status)
    for f in "$DIR"/node*.pid; do
      [[ -e $f ]] || continue
      n=$(basename "$f" .pid)
      if pid_running "$(<"$f")" klusterctl; then echo "$n: running (pid $(<"$f"))"; else echo "$n: stopped"; fi
    done
    bash scripts/kafka.sh status --dir "$DIR/kafka" || true
    [[ ! -d $DIR/pg ]] || bash scripts/pg.sh status --dir "$DIR/pg" || true
    [[ ! -d $DIR/mariadb ]] || bash scripts/mariadb.sh status --dir "$DIR/mariadb" || true
    exit 0
    ;;
esac

[[ -n $SETUP ]] && scripts/setup.sh
log "building klusterctl (build-release/)"
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLUSTER_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"${KLUSTER_JOBS:-2}" --target klusterctl

stop_nodes
mkdir -p "$DIR"
if [[ $DB == mariadb ]]; then
  bash scripts/services.sh up "$DIR" --pg 0 --mariadb 1
else
  bash scripts/services.sh up "$DIR" --pg "$NODES"
fi
# shellcheck disable=SC1091
source "$DIR/env.sh"
BROKERS=$KLUSTER_TEST_BROKERS
if [[ $DB == mariadb ]]; then
  # One server, one database per node.
  URLS=()
  for ((i = 1; i <= NODES; i++)); do
    mariadb --no-defaults -h 127.0.0.1 -P "$(<"$DIR/mariadb/mdb1/port")" -u kluster \
      -e "CREATE DATABASE IF NOT EXISTS kluster_node$i"
    URLS+=("${KLUSTER_TEST_MARIADB_URLS%/*}/kluster_node$i")
  done
else
  read -r -a URLS <<<"$KLUSTER_TEST_PG_URLS"
fi

"$BIN" init --brokers "$BROKERS" --cluster "$CLUSTER"
for ((i = 1; i <= NODES; i++)); do
  cat >"$DIR/node$i.toml" <<EOF2
[cluster]
name = "$CLUSTER"
brokers = "$BROKERS"

[node]
id = "node$i"

[database]
type = "$DB"
url = "${URLS[$((i - 1))]}"
EOF2
  nohup "$BIN" node run --config "$DIR/node$i.toml" >"$DIR/node$i.log" 2>&1 &
  echo $! >"$DIR/node$i.pid"
  log "node$i started (pid $!, log $DIR/node$i.log)"
done

export KLUSTER_BROKERS=$BROKERS KLUSTER_CLUSTER=$CLUSTER
# Wait until every node is a live member: exec --wait all then waits for all of them.
deadline=$(($(now_s) + 60))
until out=$("$BIN" exec --to ALL --wait all --timeout 5s -o json "SELECT 1 AS ready" 2>/dev/null) &&
  [[ $(grep -c '"nodeId"' <<<"$out") -eq $NODES ]]; do
  (($(now_s) < deadline)) || die "the nodes did not all answer within 60 s; see $DIR/node*.log"
  sleep 0.5
done

if [[ -n $DEMO && $DB == mariadb ]]; then
  run() { printf '\n$ klusterctl exec %s\n' "$*"; "$BIN" exec -o table "$@"; }
  run --to ALL --wait all "CREATE TABLE IF NOT EXISTS person (id VARCHAR(36) PRIMARY KEY, name VARCHAR(100) NOT NULL, born DATE)"
  run --to ALL --wait all "DELETE FROM person"
  run --to ALL --wait all "INSERT INTO person VALUES ('053caa8f-952a-4a3f-8c5d-3eac6e40f133', 'Jan Klaassen', '1970-01-01')"
  run --to ALL --wait all -p 9b6c2a5e-0d3e-4d8e-9a55-3c9e0c1e7a21 -p "Donald Duck" "INSERT INTO person VALUES (\$1, \$2, NULL)"
  run --to ONE "SELECT name, born FROM person ORDER BY name"
elif [[ -n $DEMO ]]; then
  run() { printf '\n$ klusterctl exec %s\n' "$*"; "$BIN" exec -o table "$@"; }
  run --to ALL --wait all "CREATE TABLE IF NOT EXISTS person (id uuid PRIMARY KEY, name text NOT NULL, born date)"
  run --to ALL --wait all "INSERT INTO person VALUES ('053caa8f-952a-4a3f-8c5d-3eac6e40f133', 'Jan Klaassen', '1970-01-01') ON CONFLICT DO NOTHING"
  run --to ALL --wait all -p 9b6c2a5e-0d3e-4d8e-9a55-3c9e0c1e7a21 -p "Donald Duck" \
    "INSERT INTO person VALUES (\$1, \$2, NULL) ON CONFLICT DO NOTHING"
  run --to ONE "SELECT name, born FROM person ORDER BY name"
fi

cat <<EOF2

Kluster is running: $NODES nodes, cluster '$CLUSTER', Kafka at $BROKERS.
  export KLUSTER_BROKERS=$BROKERS KLUSTER_CLUSTER=$CLUSTER
  $BIN exec --to ALL --wait all "INSERT ..."      # every node, in order
  $BIN exec --to ONE "SELECT ..."                 # one node, read-only
Node logs: $DIR/node*.log      Stop everything: scripts/local-cluster.sh down
EOF2
