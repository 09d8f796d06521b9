#!/usr/bin/env bash
# Install every build/test dependency (Debian 12) and fetch the Kafka jars.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git clang-format
  # libraries
  librdkafka-dev libpq-dev libssl-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  libtomlplusplus-dev catch2 libpg-query-dev libedit-dev libjemalloc-dev
  # klusterctl proxy: the event loop (standalone asio)
  libasio-dev
  # the node's /metrics endpoint
  libcpp-httplib-dev
  # test services
  postgresql-15 postgresql-client-15 openjdk-17-jre-headless maven
  # the MariaDB adapter (Connector/C) and its test servers (scripts/mariadb.sh)
  libmariadb-dev mariadb-server mariadb-client
  # used by scripts/*.sh
  procps iproute2 util-linux coreutils findutils passwd ca-certificates
  # tests/docs/docs_test.sh (the man page check)
  groff-base
  # bench/compare.sh: the peers it measures Kluster against, and reading bench load's JSON
  pgpool2 jq
  # tests/docs/docs_test.sh (the fish completion runs in fish) and tests/package (the .deb: cpack's
  # shlibdeps, man -w)
  fish dpkg-dev file man-db
  # tests/examples/compose_test.py
  python3 python3-yaml
  # tests/fuzz (libFuzzer with ASan/UBSan needs clang and its runtime)
  clang-14 libclang-rt-14-dev
)

usage() {
  cat <<'EOF'
Usage: scripts/setup.sh [--no-kafka]

Installs the build and test dependencies with apt-get (as root, or through
sudo; nothing is done when all are installed), then fetches the Kafka broker
jars into .kafka/lib (scripts/kafka.sh fetch) unless --no-kafka is given.
EOF
}

FETCH_KAFKA=1
while (($#)); do
  case $1 in
    --no-kafka) FETCH_KAFKA=""; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  if [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) != ii* ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" </dev/null
fi

if [[ -n $FETCH_KAFKA ]]; then
  "$KLUSTER_REPO_ROOT/scripts/kafka.sh" fetch
fi
