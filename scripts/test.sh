#!/usr/bin/env bash
# `npm test`: set-up, services, type check, lint, unit tests, then integration tests against the real Elasticsearch,
# Redis and ONNX Runtime. Services this script starts are stopped at the end; ones already running are left alone.
# Extra arguments go to jest (e.g. `npm test -- tests/unit/core`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

bash scripts/setup.sh

# The services that are down now are the ones this run starts, and stops again (unless KEEP_SERVICES is set).
was_down=$(bash scripts/services.sh status 2>/dev/null | sed -n 's/^\([a-z]*\): down$/\1/p' | tr '\n' ' ')
bash scripts/services.sh up
if [ -n "$was_down" ] && [ -z "${KEEP_SERVICES:-}" ]; then
  # shellcheck disable=SC2086
  trap "bash scripts/services.sh down $was_down" EXIT
fi

log "type check"
npm run -s typecheck
log "lint"
npm run -s lint
results="$CACHE_DIR/test-results"; mkdir -p "$results"; rm -f "$results"/*.json
log "unit tests"
npx jest --selectProjects unit --json --outputFile="$results/unit.json" "$@"
log "integration tests"
npx jest --selectProjects integration --runInBand --json --outputFile="$results/integration.json" "$@"

# One closing line for both projects.
node -e '
  const fs = require("node:fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const file of process.argv.slice(1)) {
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$results/unit.json" "$results/integration.json"

# The load suite's smoke run (benchmarks/load.ts, docs/load.md): every request kind through k6 against a small stack
# of its own (ports 18290–18292, its own index and Redis keys, deleted afterwards), results under .cache/load/results.
# Measured on 2 cores: 20–30 s; the first time also builds k6 into .cache/bin (2–4 min) and the photo pools (~40 s).
log "load smoke test (k6)"
npm run -s bench:load -- --scenario smoke --duration 15s --per-category 2 --alias "load-smoke-$$" \
  --api-port 18290 --image-port 18291 --indexer-port 18292 --drop-index
