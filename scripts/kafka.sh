#!/usr/bin/env bash
# Throwaway Apache Kafka (KRaft) brokers on 127.0.0.1 for development and tests.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSION=${KLUSTER_KAFKA_VERSION:-4.1.1}
# Tried in order when KAFKA_VERSION cannot be resolved.
KAFKA_FALLBACK_VERSIONS=(4.1.0 4.0.1 4.0.0)
KAFKA_HOME=${KLUSTER_KAFKA_HOME:-$KLUSTER_REPO_ROOT/.kafka}
KAFKA_LIB=$KAFKA_HOME/lib
KAFKA_POM=$KLUSTER_REPO_ROOT/scripts/kafka/pom.xml
READY_TIMEOUT=${KLUSTER_KAFKA_READY_TIMEOUT:-90}
STOP_TIMEOUT=${KLUSTER_KAFKA_STOP_TIMEOUT:-20}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

usage() {
  cat <<EOF
Usage: scripts/kafka.sh COMMAND [OPTIONS]

Commands:
  fetch                         resolve the Kafka $KAFKA_VERSION jars from Maven Central
                                into $KAFKA_LIB (skipped when already there)
  start --dir DIR [--brokers N] [--heap SIZE] [--proxied] [--sasl-ssl]
                                start N (default 1) KRaft brokers (broker+controller)
                                on free 127.0.0.1 ports, wait until they answer, print
                                the bootstrap list (also written to DIR/bootstrap)
                                --proxied: each broker also listens on a PROXIED
                                listener (port in brokerK/proxied-port) that advertises
                                127.0.0.1:brokerK/proxy-port, where a test's TCP proxy
                                listens: clients bootstrapped through the proxies talk
                                to every broker through them (DIR/proxy-bootstrap)
                                --sasl-ssl: each broker also listens on a SASL_SSL
                                listener (PLAIN or SCRAM-SHA-512 over TLS): a throwaway CA and
                                broker certificate in DIR/tls (ca.pem), one SCRAM user
                                (DIR/tls/user, DIR/tls/password, mode 0600), its
                                bootstrap list in DIR/sasl-ssl-bootstrap
  stop --dir DIR                stop every broker of DIR (safe to repeat)
  status --dir DIR              show the brokers of DIR; exit 0 only if all answer
  stop-broker --dir DIR K [--kill]
                                stop broker K (1-based; SIGTERM, or SIGKILL with --kill)
  start-broker --dir DIR K      restart broker K on its old port and data, wait for it
  topics --dir DIR ARGS...      run Kafka's TopicCommand against DIR's brokers
  tool CLASS ARGS...            run a Java class from the Kafka classpath

Files in DIR: bootstrap, cluster-id, brokerK/{server.properties,server.log,pid,port,data/}.
Environment: KLUSTER_KAFKA_VERSION, KLUSTER_KAFKA_READY_TIMEOUT (s, default 90),
KLUSTER_KAFKA_STOP_TIMEOUT (s, default 20), JAVA_HOME, KLUSTER_KAFKA_JVM_OPTS: JVM
flags appended to the defaults (-XX:+UseSerialGC -XX:TieredStopAtLevel=1, tuned for
startup; e.g. '-XX:TieredStopAtLevel=4' for benchmarks, '-XX:-UseSerialGC -XX:+UseG1GC').
KLUSTER_KAFKA_BROKER_PROPS: server.properties lines appended to each broker's (they win),
e.g. $'num.network.threads=1\nnum.io.threads=2'.
EOF
}

# ---------------------------------------------------------------- fetch ----

fetch_stamp() { printf 'requested=%s pom=%s\n' "$KAFKA_VERSION" "$(sha256sum <"$KAFKA_POM" | cut -c1-16)"; }

is_fetched() {
  [[ -f $KAFKA_LIB/.stamp && $(<"$KAFKA_LIB/.stamp") == "$(fetch_stamp)" ]]
}

cmd_fetch() {
  (($# == 0)) || die "fetch takes no arguments"
  mkdir -p "$KAFKA_HOME"
  # Serialise concurrent fetches; the subshell closes fd 9 so no child keeps it.
  (
    flock 9
    if is_fetched; then
      log "Kafka $(<"$KAFKA_LIB/.version") already in $KAFKA_LIB"
      exit 0
    fi
    command -v mvn >/dev/null || die "mvn not found (run scripts/setup.sh)"
    local tmp v ok="" tried=()
    tmp=$(mktemp -d "$KAFKA_HOME/fetch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    for v in "$KAFKA_VERSION" "${KAFKA_FALLBACK_VERSIONS[@]}"; do
      [[ " ${tried[*]-} " == *" $v "* ]] && continue
      tried+=("$v")
      log "resolving Kafka $v from Maven Central ..."
      if mvn -B -q -f "$KAFKA_POM" -Dkafka.version="$v" \
        dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$tmp/lib" >"$tmp/mvn.log" 2>&1 </dev/null &&
        compgen -G "$tmp/lib/kafka_2.13-$v.jar" >/dev/null; then
        ok=$v
        break
      fi
      log "Kafka $v failed:"
      tail -n 20 "$tmp/mvn.log" >&2 || true
      rm -rf "${tmp:?}/lib"
    done
    [[ -n $ok ]] || die "could not resolve any Kafka version (${tried[*]})"
    printf '%s\n' "$ok" >"$tmp/lib/.version"
    fetch_stamp >"$tmp/lib/.stamp"
    rm -rf "$KAFKA_LIB"
    mv "$tmp/lib" "$KAFKA_LIB"
    log "Kafka $ok: $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars in $KAFKA_LIB"
  ) 9>"$KAFKA_HOME/.lock"
}

ensure_fetched() {
  is_fetched || cmd_fetch
  command -v "$JAVA" >/dev/null || die "java not found (run scripts/setup.sh)"
  local ver
  ver=$("$JAVA" -XX:-UsePerfData -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
  [[ -z $ver || $ver -ge 17 ]] || die "Kafka 4 needs Java 17+, $JAVA is Java $ver (set JAVA_HOME)"
}

# --------------------------------------------------------------- broker ----

# new_cluster_id: a random Kafka Uuid (22 chars of URL-safe base64) that does
# not start with '-' (the CLI would read it as an option).
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id != -* && ${#id} == 22 ]] && break
  done
  printf '%s' "$id"
}

# api_versions_ok PORT: send a Kafka ApiVersions v0 request and check that the
# reply carries our correlation id and error code 0 (NONE).
api_versions_ok() {
  local out
  # shellcheck disable=SC2016 # the inner script expands its own \$1
  out=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    # size=17, api_key=18 (ApiVersions), api_version=0, correlation_id="KLST",
    # client_id="kluster"
    printf "\x00\x00\x00\x11\x00\x12\x00\x00KLST\x00\x07kluster" >&3
    head -c 10 <&3 | od -An -tx1 | tr -d " \n"
  ' _ "$1" 2>/dev/null) || return 1
  [[ $out =~ ^[0-9a-f]{8}4b4c53540000$ ]]
}

broker_dir() { printf '%s/broker%s' "$DIR" "$1"; }
broker_ids() {
  local d
  for d in "$DIR"/broker*/; do
    [[ -f $d/server.properties ]] || continue
    d=${d%/}
    printf '%s\n' "${d##*/broker}"
  done | sort -n
}
broker_needle() { printf '%s/server.properties' "$(broker_dir "$1")"; }
broker_pid() {
  local f
  f=$(broker_dir "$1")/pid
  [[ -s $f ]] && cat "$f"
  return 0
}
broker_running() { pid_running "$(broker_pid "$1")" "$(broker_needle "$1")"; }

write_log4j() {
  cat >"$1" <<'EOF'
# Generated by scripts/kafka.sh: everything to stdout (redirected to server.log).
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

write_tools_log4j() {
  cat >"$1" <<'EOF'
# Generated by scripts/kafka.sh: command-line tools log warnings to stderr.
status = warn
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
EOF
}

tools_java() {
  local cfg=$KAFKA_HOME/log4j2-tools.properties
  [[ -f $cfg ]] || write_tools_log4j "$cfg"
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$cfg" \
    -cp "$KAFKA_LIB/*" "$@"
}

# write_broker_config K N PORT CPORT VOTERS
write_broker_config() {
  local k=$1 n=$2 port=$3 cport=$4 voters=$5 bdir rf isr
  local listeners advertised protocols
  bdir=$(broker_dir "$k")
  rf=$n
  isr=$((n >= 3 ? 2 : 1))
  mkdir -p "$bdir/data"
  printf '%s\n' "$port" >"$bdir/port"
  printf '%s\n' "$cport" >"$bdir/controller-port"
  listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
  advertised=PLAINTEXT://127.0.0.1:$port
  protocols=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
  if [[ -n $PROXIED ]]; then
    local xport aport
    xport=$(pick_port)
    aport=$(pick_port)
    printf '%s\n' "$xport" >"$bdir/proxied-port"
    printf '%s\n' "$aport" >"$bdir/proxy-port"
    listeners+=,PROXIED://127.0.0.1:$xport
    advertised+=,PROXIED://127.0.0.1:$aport
    protocols+=,PROXIED:PLAINTEXT
  fi
  local tls=""
  if [[ -n $SASL_SSL ]]; then
    local sport
    sport=$(pick_port)
    printf '%s\n' "$sport" >"$bdir/sasl-ssl-port"
    listeners+=,SASL_SSL://127.0.0.1:$sport
    advertised+=,SASL_SSL://127.0.0.1:$sport
    protocols+=,SASL_SSL:SASL_SSL
    tls="
# SASL_SSL listener over TLS (certificates from DIR/tls): PLAIN, and SCRAM-SHA-512 (user created by format
# --add-scram). librdkafka before 2.6.1 (Debian 12 has 2.0.2) fails SCRAM against Kafka 4: use PLAIN there.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$(<"$DIR/tls/user")=\"$(<"$DIR/tls/password")\";
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$DIR/tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$DIR/tls/ca.pem
ssl.endpoint.identification.algorithm=https"
  fi
  cat >"$bdir/server.properties" <<EOF
# Generated by scripts/kafka.sh: throwaway KRaft broker for development/tests.
node.id=$k
process.roles=broker,controller
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=$advertised
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=$protocols
log.dirs=$bdir/data

# Topics: explicit creation only, small defaults.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr

# Fast and small: no rebalance delay, few threads, small cleaner buffer. One network thread and two request
# handlers cost the broker about a fifth less CPU per write than two and four on a 2-core machine shared with the
# nodes and databases (docs/operations.md, "Kafka brokers").
group.initial.rebalance.delay.ms=0
num.network.threads=1
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=8388608
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
$tls
${KLUSTER_KAFKA_BROKER_PROPS:+
# KLUSTER_KAFKA_BROKER_PROPS (a later line wins over an earlier one)
$KLUSTER_KAFKA_BROKER_PROPS}
EOF
}

# make_tls DIR: a throwaway CA, a broker certificate for 127.0.0.1/localhost signed by it (PEM, the key
# unencrypted in PKCS#8 as Kafka's PEM keystore wants), and a SCRAM user with a random password.
make_tls() {
  local d=$1
  rm -rf "$d"
  mkdir -p "$d"
  chmod 700 "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kluster test CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/broker.key" -out "$d/broker.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/san.ext"
  openssl x509 -req -in "$d/broker.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/san.ext" -out "$d/broker.crt" 2>/dev/null
  { openssl pkcs8 -topk8 -nocrypt -in "$d/broker.key"; cat "$d/broker.crt" "$d/ca.pem"; } >"$d/broker.pem"
  printf 'kluster\n' >"$d/user"
  (umask 077 && openssl rand -hex 16 >"$d/password")
}

# write_java_args K HEAP: the JVM command line of broker K, one arg per line.
write_java_args() {
  local k=$1 heap=$2 bdir
  bdir=$(broker_dir "$k")
  local -a extra=()
  read -r -a extra <<<"${KLUSTER_KAFKA_JVM_OPTS:-}"
  {
    printf '%s\n' "-Xmx$heap" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -XX:+ExitOnOutOfMemoryError -XX:-UsePerfData -Djava.awt.headless=true \
      "-Dlog4j2.configurationFile=$DIR/log4j2.properties" "-Dkafka.logs.dir=$bdir"
    ((${#extra[@]} == 0)) || printf '%s\n' "${extra[@]}"
    printf '%s\n' -cp "$KAFKA_LIB/*" kafka.Kafka "$bdir/server.properties"
  } >"$bdir/java.args"
}

format_storage() { # K CLUSTER_ID
  local bdir
  bdir=$(broker_dir "$1")
  local -a scram=()
  [[ -z $SASL_SSL ]] || scram=(--add-scram "SCRAM-SHA-512=[name=\"$(<"$DIR/tls/user")\",password=\"$(<"$DIR/tls/password")\"]")
  tools_java kafka.tools.StorageTool format --cluster-id "$2" \
    --config "$bdir/server.properties" --ignore-formatted "${scram[@]}" >"$bdir/format.log" 2>&1
}

# launch_broker K: start broker K in the background (own session, no tty,
# output appended to server.log) and record its pid.
launch_broker() {
  local k=$1 bdir i
  bdir=$(broker_dir "$k")
  local -a args
  mapfile -t args <"$bdir/java.args"
  rm -f "$bdir/pid"
  # bash writes its own pid, then execs java: the pid file names the JVM.
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$bdir/pid" "$JAVA" "${args[@]}" \
    </dev/null >>"$bdir/server.log" 2>&1 &
  for ((i = 0; i < 100; i++)); do
    [[ -s $bdir/pid ]] && return 0
    sleep 0.05
  done
  die "broker $k did not start (no pid file)"
}

log_size() { if [[ -f $1 ]]; then stat -c %s "$1"; else echo 0; fi; }

# wait_ready TIMEOUT K:OFFSET...: wait until every broker K has logged
# "Kafka Server started" after byte OFFSET of its server.log and answers an
# ApiVersions request. Returns 0 when all are ready, 2 when one died because
# its port was taken, 1 on other failures (log tails are printed).
wait_ready() {
  local timeout=$1 deadline spec k off bdir pending
  shift
  deadline=$(($(now_s) + timeout))
  local -a todo=("$@")
  while :; do
    pending=()
    for spec in "${todo[@]}"; do
      k=${spec%%:*}
      off=${spec#*:}
      bdir=$(broker_dir "$k")
      if ! broker_running "$k"; then
        log "broker $k exited during startup; last lines of $bdir/server.log:"
        tail -c +"$((off + 1))" "$bdir/server.log" | tail -n 30 >&2
        if tail -c +"$((off + 1))" "$bdir/server.log" | grep -qE 'Address already in use|BindException'; then
          return 2
        fi
        return 1
      fi
      if tail -c +"$((off + 1))" "$bdir/server.log" | grep -q 'Kafka Server started' &&
        api_versions_ok "$(<"$bdir/port")"; then
        continue
      fi
      pending+=("$spec")
    done
    ((${#pending[@]})) || return 0
    if (($(now_s) >= deadline)); then
      for spec in "${pending[@]}"; do
        k=${spec%%:*}
        log "broker $k not ready after ${timeout}s; last lines of $(broker_dir "$k")/server.log:"
        tail -n 30 "$(broker_dir "$k")/server.log" >&2 || true
      done
      return 1
    fi
    todo=("${pending[@]}")
    sleep 0.25
  done
}

# port_list FILE: 127.0.0.1:<port in brokerK/FILE> of every broker, comma-separated.
port_list() {
  local k list=""
  for k in $(broker_ids); do
    list+=${list:+,}127.0.0.1:$(<"$(broker_dir "$k")/$1")
  done
  printf '%s' "$list"
}

bootstrap_list() { port_list port; }
sasl_ssl_bootstrap_list() { port_list sasl-ssl-port; }

proxy_bootstrap_list() {
  local k list=""
  for k in $(broker_ids); do
    [[ -f $(broker_dir "$k")/proxy-port ]] || return 0
    list+=${list:+,}127.0.0.1:$(<"$(broker_dir "$k")/proxy-port")
  done
  printf '%s' "$list"
}

stop_all() {
  local k pid
  local -a pids=()
  for k in $(broker_ids); do
    pid=$(broker_pid "$k")
    [[ -n $pid ]] && pids+=("$pid")
  done
  # Every JVM's command line contains DIR (its server.properties path).
  ((${#pids[@]} == 0)) || stop_pids "$STOP_TIMEOUT" "$DIR/broker" "${pids[@]}"
  for k in $(broker_ids); do rm -f "$(broker_dir "$k")/pid"; done
}

# try_start N HEAP: one attempt at a fresh cluster in DIR. Returns like wait_ready.
try_start() {
  local n=$1 heap=$2 k cid voters=""
  local -a ports=() cports=() specs=() fpids=()
  rm -rf "$DIR"/broker* "$DIR/bootstrap" "$DIR/proxy-bootstrap" "$DIR/sasl-ssl-bootstrap" "$DIR/cluster-id"
  write_log4j "$DIR/log4j2.properties"
  [[ -z $SASL_SSL ]] || make_tls "$DIR/tls"
  cid=$(new_cluster_id)
  printf '%s\n' "$cid" >"$DIR/cluster-id"
  for ((k = 1; k <= n; k++)); do
    ports[k]=$(pick_port)
    cports[k]=$(pick_port)
    voters+=${voters:+,}$k@127.0.0.1:${cports[k]}
  done
  for ((k = 1; k <= n; k++)); do
    write_broker_config "$k" "$n" "${ports[k]}" "${cports[k]}" "$voters"
    write_java_args "$k" "$heap"
  done
  for ((k = 1; k <= n; k++)); do
    format_storage "$k" "$cid" &
    fpids[k]=$!
  done
  for ((k = 1; k <= n; k++)); do
    if ! wait "${fpids[k]}"; then
      log "formatting storage of broker $k failed:"
      cat "$(broker_dir "$k")/format.log" >&2
      return 1
    fi
  done
  for ((k = 1; k <= n; k++)); do
    launch_broker "$k"
    specs+=("$k:0")
  done
  wait_ready "$READY_TIMEOUT" "${specs[@]}"
}

# ------------------------------------------------------------- commands ----

DIR=""
parse_dir_opts() { # sets DIR, N_BROKERS, HEAP, KILL, POSITIONAL
  N_BROKERS=1
  HEAP=512m
  KILL=""
  PROXIED=""
  SASL_SSL=""
  POSITIONAL=()
  while (($#)); do
    case $1 in
      --dir) DIR=${2:?--dir needs a value}; shift 2 ;;
      --dir=*) DIR=${1#--dir=}; shift ;;
      --brokers) N_BROKERS=${2:?--brokers needs a value}; shift 2 ;;
      --brokers=*) N_BROKERS=${1#--brokers=}; shift ;;
      --heap) HEAP=${2:?--heap needs a value}; shift 2 ;;
      --heap=*) HEAP=${1#--heap=}; shift ;;
      --kill) KILL=1; shift ;;
      --proxied) PROXIED=1; shift ;;
      --sasl-ssl) SASL_SSL=1; shift ;;
      -h | --help) usage; exit 0 ;;
      -*) die "unknown option $1" ;;
      *) POSITIONAL+=("$1"); shift ;;
    esac
  done
  [[ -n $DIR ]] || die "--dir DIR is required"
  DIR=$(abspath "$DIR")
}

cmd_start() {
  parse_dir_opts "$@"
  ((${#POSITIONAL[@]} == 0)) || die "unexpected argument ${POSITIONAL[0]}"
  [[ $N_BROKERS =~ ^[1-9]$ ]] || die "--brokers must be 1..9"
  [[ $HEAP =~ ^[0-9]+[kKmMgG]$ ]] || die "--heap must look like 512m"
  ensure_fetched
  mkdir -p "$DIR"
  local k attempt rc t0
  for k in $(broker_ids); do
    broker_running "$k" && die "broker $k of $DIR is running; run: scripts/kafka.sh stop --dir $DIR"
  done
  t0=$(now_s)
  for attempt in 1 2 3; do
    rc=0
    try_start "$N_BROKERS" "$HEAP" || rc=$?
    ((rc == 0)) && break
    stop_all
    ((rc == 2)) || die "Kafka did not start (logs in $DIR)"
    log "port clash, retrying with new ports (attempt $attempt)"
  done
  ((rc == 0)) || die "Kafka did not start (logs in $DIR)"
  bootstrap_list >"$DIR/bootstrap"
  printf '\n' >>"$DIR/bootstrap"
  if [[ -n $PROXIED ]]; then
    proxy_bootstrap_list >"$DIR/proxy-bootstrap"
    printf '\n' >>"$DIR/proxy-bootstrap"
  fi
  if [[ -n $SASL_SSL ]]; then
    sasl_ssl_bootstrap_list >"$DIR/sasl-ssl-bootstrap"
    printf '\n' >>"$DIR/sasl-ssl-bootstrap"
  fi
  log "$N_BROKERS broker(s) ready in $(($(now_s) - t0))s (Kafka $(<"$KAFKA_LIB/.version"), logs in $DIR)"
  cat "$DIR/bootstrap"
}

cmd_stop() {
  parse_dir_opts "$@"
  [[ -d $DIR ]] || return 0
  stop_all
}

cmd_status() {
  parse_dir_opts "$@"
  local k bad=0 port state any=0
  for k in $(broker_ids); do
    any=1
    port=$(<"$(broker_dir "$k")/port")
    if ! broker_running "$k"; then
      state=stopped
      bad=1
    elif api_versions_ok "$port"; then
      state="running, answers (pid $(broker_pid "$k"))"
    else
      state="running, not answering (pid $(broker_pid "$k"))"
      bad=1
    fi
    printf 'broker%s 127.0.0.1:%s %s\n' "$k" "$port" "$state"
  done
  if ((!any)); then
    printf 'no brokers in %s\n' "$DIR"
    return 1
  fi
  [[ -f $DIR/bootstrap ]] && printf 'bootstrap %s\n' "$(<"$DIR/bootstrap")"
  return "$bad"
}

single_broker_arg() {
  ((${#POSITIONAL[@]} == 1)) || die "expected one broker number"
  K=${POSITIONAL[0]}
  [[ $K =~ ^[0-9]+$ && -f $(broker_dir "$K")/server.properties ]] || die "no broker $K in $DIR"
}

cmd_stop_broker() {
  parse_dir_opts "$@"
  single_broker_arg
  local pid
  pid=$(broker_pid "$K")
  if broker_running "$K"; then
    if [[ -n $KILL ]]; then
      kill -KILL "$pid"
      while pid_running "$pid"; do sleep 0.05; done
    else
      stop_pids "$STOP_TIMEOUT" "$(broker_needle "$K")" "$pid"
    fi
    log "broker $K stopped"
  fi
  rm -f "$(broker_dir "$K")/pid"
}

cmd_start_broker() {
  parse_dir_opts "$@"
  single_broker_arg
  ensure_fetched
  broker_running "$K" && die "broker $K is already running"
  local off t0 rc=0
  t0=$(now_s)
  off=$(log_size "$(broker_dir "$K")/server.log")
  launch_broker "$K"
  wait_ready "$READY_TIMEOUT" "$K:$off" || rc=$?
  if ((rc != 0)); then
    stop_pids "$STOP_TIMEOUT" "$(broker_needle "$K")" "$(broker_pid "$K")"
    die "broker $K did not come back"
  fi
  log "broker $K ready in $(($(now_s) - t0))s"
}

cmd_topics() {
  local -a pass=()
  while (($#)); do
    case $1 in
      --dir) DIR=${2:?--dir needs a value}; shift 2 ;;
      *) pass+=("$1"); shift ;;
    esac
  done
  [[ -n $DIR ]] || die "--dir DIR is required"
  DIR=$(abspath "$DIR")
  ensure_fetched
  tools_java org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$(bootstrap_list)" "${pass[@]}"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    fetch) cmd_fetch "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    stop-broker) cmd_stop_broker "$@" ;;
    start-broker) cmd_start_broker "$@" ;;
    topics) cmd_topics "$@" ;;
    tool)
      ensure_fetched
      tools_java "$@"
      ;;
    -h | --help | help) usage ;;
    "") usage >&2; exit 2 ;;
    *) die "unknown command '$cmd' (see --help)" ;;
  esac
}

main "$@"
