#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, idempotently: Debian packages, node_modules (the project's and
# the TypeScript client's), the compiled code, and (from the embedding engine on) the built-in models. Reused by
# `npm test`, `npm run demo` and .ci/run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

# openclipart-png: public-domain drawings for the dev set, the demo catalog and tests with real images.
# tuxpaint-stamps-default: photos of objects (a mug, a camera, cars, a dog, a person) for the detector's tests.
# chromium: the page test drives it headless (playwright-core, no browser download).
# redis-sentinel, haproxy: the failover tests run Redis behind Sentinel and two APIs behind HAProxy.
ensure_debian_packages curl unzip redis-server redis-sentinel haproxy openclipart-png tuxpaint-stamps-default chromium

# node_modules: `npm ci` when missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2 || die "npm ci failed"
fi

# The TypeScript client (clients/typescript) is a package of its own, with its own lock file; its tests run in
# `npm test` (the generated types' check, and the client against the API). Same rule: `npm ci` when missing or stale.
client=clients/typescript
if [ ! -f $client/node_modules/.package-lock.json ] || [ $client/package-lock.json -nt $client/node_modules/.package-lock.json ]; then
  log "installing the TypeScript client's node modules (npm ci in $client)"
  (cd $client && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $client"
fi

log "compiling TypeScript"
npm run -s build >&2 || die "TypeScript build failed"

if [ -x scripts/build-models.sh ]; then
  bash scripts/build-models.sh
fi
