#!/usr/bin/env bash
# Installs k6 (the load generator of `npm run bench:load`) under .cache/bin when it is missing: built from source
# with `go install` (about 2 minutes the first time), its modules and build cache kept under .cache/go. Idempotent;
# prints the binary's path on stdout. K6_BIN, when set, names a k6 to use instead.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

K6_VERSION=v1.8.1
K6_BIN_DIR="$CACHE_DIR/bin"
K6="$K6_BIN_DIR/k6"

if [ -n "${K6_BIN:-}" ]; then
  [ -x "$K6_BIN" ] || die "K6_BIN=$K6_BIN is not an executable"
  echo "$K6_BIN"; exit 0
fi

# The version is checked, not only the file: a cached k6 from an older pin is rebuilt.
if [ -x "$K6" ] && "$K6" version 2>/dev/null | grep -q "k6 ${K6_VERSION}"; then
  echo "$K6"; exit 0
fi

command -v go >/dev/null || die "Go is needed to build k6 $K6_VERSION (go install go.k6.io/k6@$K6_VERSION); install Go 1.24+ or set K6_BIN"
mkdir -p "$K6_BIN_DIR" "$CACHE_DIR/go"
log "building k6 $K6_VERSION with go install (about 2 minutes, once; cached in $K6_BIN_DIR)"
# -modcacherw: Go writes its module cache read-only by default, which would make .cache/ hard to delete.
GOBIN="$K6_BIN_DIR" GOPATH="$CACHE_DIR/go" GOCACHE="$CACHE_DIR/go/build-cache" GOFLAGS=-modcacherw GOTOOLCHAIN=local \
  go install "go.k6.io/k6@$K6_VERSION" >&2 || die "go install go.k6.io/k6@$K6_VERSION failed"
[ -x "$K6" ] || die "go install finished but $K6 is missing"
# The build cache (about 600 MB) only speeds up building the same k6 again, which the cached binary makes unneeded;
# the module cache stays, so a new pin downloads only what changed.
rm -rf "$CACHE_DIR/go/build-cache"
echo "$K6"
