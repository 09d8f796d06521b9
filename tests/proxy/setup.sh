#!/usr/bin/env bash
# Installs the PostgreSQL drivers the proxy's driver tests use, from their registries, into DIR (a build
# directory; nothing is committed): Python psycopg 3 and asyncpg (a venv), Node.js pg, Go pgx v5 (built
# from tests/proxy/go with the Go module proxy), Java pgjdbc (from Maven Central; the test compiled with
# javac). Each part is redone when its inputs change. Usage: tests/proxy/setup.sh DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:?usage: setup.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pgjdbc_version=42.7.4
go=$(command -v go || echo /usr/local/go/bin/go)

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

# Go: the module cache and build cache stay in DIR; go.sum pins what the module proxy serves.
if [[ ! -x $dir/go/pgx_test || -n $(find "$here/go" -newer "$dir/go/pgx_test" -type f) ]]; then
  mkdir -p "$dir/go"
  (cd "$here/go" && GOPATH=$dir/go/path GOMODCACHE=$dir/go/path/mod GOCACHE=$dir/go/cache GOFLAGS=-modcacherw \
    GOTOOLCHAIN=local "$go" build -o "$dir/go/pgx_test" .)
fi

# Java: the driver jar from Maven Central (a local repository in DIR) as java/postgresql.jar, the test
# compiled with javac.
if [[ $(cat "$dir/java/.version" 2>/dev/null) != "$pgjdbc_version" ]]; then
  rm -rf "$dir/java"
  mkdir -p "$dir/java"
  mvn -q -B -Dmaven.repo.local="$dir/java/m2" dependency:copy -Dartifact=org.postgresql:postgresql:$pgjdbc_version \
    -Dmdep.stripVersion=true -DoutputDirectory="$dir/java" >"$dir/java/mvn.log" 2>&1 ||
    { cat "$dir/java/mvn.log" >&2; exit 1; }
  echo "$pgjdbc_version" >"$dir/java/.version"
fi
if [[ ! -f $dir/java/classes/JdbcTest.class || $here/java/JdbcTest.java -nt $dir/java/classes/JdbcTest.class ]]; then
  mkdir -p "$dir/java/classes"
  javac -d "$dir/java/classes" -cp "$dir/java/postgresql.jar" "$here/java/JdbcTest.java"
fi
