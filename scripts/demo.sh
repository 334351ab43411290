#!/usr/bin/env bash
# `npm run demo`: set-up, services (Redis with AOF), then the demo catalog, API and indexer (scripts/demo.ts).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
bash scripts/setup.sh
REDIS_AOF=yes bash scripts/services.sh up
exec npx tsx scripts/demo.ts "$@"
