#!/usr/bin/env bash
# Installs the Debian packages the in-scene dev set is made of (benchmarks/lib/scene-sources.ts): photos of isolated
# objects (tuxpaint-stamps-default) and photo wallpapers for backgrounds. Idempotent; used by npm run bench:localization.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_debian_packages tuxpaint-stamps-default lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds plasma-workspace-wallpapers
