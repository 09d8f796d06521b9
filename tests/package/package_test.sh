#!/usr/bin/env bash
# Checks of what `cmake --install` and `cpack -G DEB` produce (the ctest install.tree and package.deb).
#
#   tests/package/package_test.sh install BUILD_DIR   cmake --install into a temporary prefix: every file is
#                                                     there, the binary runs, man finds each page, systemd
#                                                     accepts the unit
#   tests/package/package_test.sh deb BUILD_DIR       cpack -G DEB: the package's fields and files, its
#                                                     dependencies (dpkg-shlibdeps) resolvable by apt, unpacked
#                                                     and installed into a scratch dpkg root, run from there
#
# The .deb is never installed into this machine's own /usr: CI and developers share it, and a test that
# changes the system's packages could break the next run. `apt-get install --simulate ./klusterctl_*.deb`
# checks against the real system that apt would accept it; `dpkg --root` installs it for real into a root of
# its own (with --force-depends, as that root has no other packages).
set -euo pipefail

CHECK=${1:-}
BUILD=${2:-}
[[ -n $CHECK && -f $BUILD/CMakeCache.txt ]] || {
  sed -n '2,12p' "$0" >&2
  exit 2
}
BUILD=$(cd "$BUILD" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

# The files every installation has, relative to the prefix.
EXPECTED=(
  bin/klusterctl
  share/man/man1/klusterctl.1
  share/man/man1/klusterctl-exec.1
  share/man/man1/klusterctl-node-run.1
  share/bash-completion/completions/klusterctl
  share/zsh/vendor-completions/_klusterctl
  share/fish/vendor_completions.d/klusterctl.fish
  share/doc/klusterctl/examples/node1.toml
  share/doc/klusterctl/examples/prometheus.yml
  share/doc/klusterctl/examples/grafana/kluster.json
  share/doc/klusterctl/README.md
  share/doc/klusterctl/docs/configuration.md
  share/doc/klusterctl/docs/proxy.md
  lib/systemd/system/kluster-node@.service
)

# Runs the installed binary and man against ROOT/PREFIX.
check_tree() { # PREFIX_DIR
  local prefix=$1 f version page
  for f in "${EXPECTED[@]}"; do [[ -e $prefix/$f ]] || fail "$f was not installed"; done
  version=$("$prefix/bin/klusterctl" --version) || fail "the installed klusterctl does not run"
  [[ $version == *"$(sed -n 's/^project(kluster VERSION \([0-9.]*\).*/\1/p' "$SOURCE/CMakeLists.txt")"* ]] ||
    fail "klusterctl --version printed '$version'"
  # One page per command the binary has, each found by man.
  local pages
  pages=$(cd "$prefix/share/man/man1" && ls klusterctl-*.1 | wc -l)
  ((pages >= 10)) || fail "only $pages per-command man pages were installed"
  for page in klusterctl klusterctl-exec klusterctl-node-run; do
    f=$(MANPATH=$prefix/share/man man -w "$page") || fail "man -w $page found nothing in $prefix/share/man"
    [[ $f == "$prefix"/share/man/man1/* ]] || fail "man -w $page found $f, not the installed page"
  done
  grep -q "^ExecStart=$2/klusterctl node run --config /etc/kluster/%i.toml\$" \
    "$prefix/lib/systemd/system/kluster-node@.service" || fail "the unit does not run $2/klusterctl"
}

SOURCE=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt")

install_tree() {
  cmake --install "$BUILD" --prefix "$TMP/prefix" >"$TMP/install.log" || {
    cat "$TMP/install.log" >&2
    fail "cmake --install failed"
  }
  check_tree "$TMP/prefix" "$TMP/prefix/bin"
  # systemd accepts the unit (an instance of it, as systemctl would start it).
  if command -v systemd-analyze >/dev/null; then
    cp "$TMP/prefix/lib/systemd/system/kluster-node@.service" "$TMP/kluster-node@node1.service"
    # (It checks the unit's Documentation= pages with man: point man at the installed ones.)
    MANPATH=$TMP/prefix/share/man systemd-analyze verify "$TMP/kluster-node@node1.service" >"$TMP/verify.log" 2>&1 || {
      cat "$TMP/verify.log" >&2
      fail "systemd-analyze verify rejects the unit"
    }
    # Only what it says about this unit counts (other units installed on the machine may draw warnings).
    if grep 'kluster-node' "$TMP/verify.log" | grep -v -e 'Failed to .*/etc/kluster' | grep -q .; then
      cat "$TMP/verify.log" >&2
      fail "systemd-analyze verify warns about the unit"
    fi
    echo "systemd-analyze verify accepts the unit"
  else
    echo "systemd-analyze is not installed: the unit was not verified"
  fi
  echo "cmake --install put ${#EXPECTED[@]} kinds of file in place; the installed klusterctl and man pages work"
}

deb() {
  (cd "$TMP" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TMP/out" >"$TMP/cpack.log" 2>&1) || {
    cat "$TMP/cpack.log" >&2
    fail "cpack -G DEB failed"
  }
  local debs=("$TMP"/out/klusterctl_*.deb)
  [[ ${#debs[@]} == 1 && -f ${debs[0]} ]] || fail "cpack made no klusterctl_*.deb: $(ls "$TMP/out")"
  local pkg=${debs[0]} depends
  dpkg-deb --info "$pkg" >"$TMP/info"
  grep -q '^ Package: klusterctl$' "$TMP/info" || fail "the package is not named klusterctl"
  depends=$(dpkg-deb -f "$pkg" Depends)
  # dpkg-shlibdeps found the libraries the binary links to.
  for lib in librdkafka++1 libpq5 libpg-query libc6 libstdc++6 libcpp-httplib; do
    grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
  done
  dpkg-deb --contents "$pkg" >"$TMP/contents"
  for f in "${EXPECTED[@]}"; do
    grep -q " \./usr/$f\$" "$TMP/contents" || fail "the package does not contain /usr/$f"
  done
  # Unpacked, it runs from where it landed, and man finds its pages there.
  dpkg -x "$pkg" "$TMP/root"
  check_tree "$TMP/root/usr" /usr/bin
  # apt would install it on this system: its dependencies resolve (nothing is changed: --simulate).
  apt-get install --simulate --no-install-recommends "$pkg" >"$TMP/apt.log" 2>&1 || {
    cat "$TMP/apt.log" >&2
    fail "apt-get install --simulate refuses the package"
  }
  # dpkg installs it into a root of its own and lists its files as installed.
  mkdir -p "$TMP/dpkgroot/var/lib/dpkg/updates" "$TMP/dpkgroot/var/lib/dpkg/info"
  : >"$TMP/dpkgroot/var/lib/dpkg/status"
  dpkg --root="$TMP/dpkgroot" --force-depends --force-not-root --log=/dev/null -i "$pkg" >"$TMP/dpkg.log" 2>&1 || {
    cat "$TMP/dpkg.log" >&2
    fail "dpkg -i into a scratch root failed"
  }
  dpkg --root="$TMP/dpkgroot" -s klusterctl | grep -q '^Status: install ok installed$' ||
    fail "dpkg does not list klusterctl as installed in the scratch root"
  "$TMP/dpkgroot/usr/bin/klusterctl" --version >/dev/null || fail "klusterctl installed by dpkg does not run"
  echo "$(basename "$pkg"): Depends: $depends"
  echo "the package has every file, apt accepts it, dpkg installs it into a scratch root, and it runs"
}

case $CHECK in
  install) install_tree ;;
  deb) deb ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
