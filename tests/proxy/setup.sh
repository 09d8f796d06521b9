#!/usr/bin/env bash
# Installs the PostgreSQL drivers the proxy's driver tests use, from their registries, into DIR (a build
# directory; nothing is committed): Python psycopg 3 (a venv), Node.js pg. Idempotent.
# Usage: tests/proxy/setup.sh DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:?usage: setup.sh DIR}
mkdir -p "$dir"

if [[ ! -f $dir/python/.done || $here/python/requirements.txt -nt $dir/python/.done ]]; then
  rm -rf "$dir/python"
  python3 -m venv "$dir/python"
  "$dir/python/bin/pip" install -q --disable-pip-version-check -r "$here/python/requirements.txt"
  touch "$dir/python/.done"
fi

if [[ ! -f $dir/node/.done || $here/node/package.json -nt $dir/node/.done ]]; then
  rm -rf "$dir/node"
  mkdir -p "$dir/node"
  cp "$here/node/package.json" "$dir/node/"
  (cd "$dir/node" && npm install --silent --no-audit --no-fund >/dev/null)
  touch "$dir/node/.done"
fi
