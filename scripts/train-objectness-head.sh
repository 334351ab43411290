#!/usr/bin/env bash
# Reproduces the objectness head (models/builtin/objectness/objectness-head.{bin,json}; core/localization/objectness.ts):
# composes its training scenes from sources disjoint from the dev sets (benchmarks/lib/objectness-sources.ts), two
# seeded shards in parallel (~20 min on 2 busy cores), then trains the head with numpy (~2 min) and rewrites the
# manifest with the new weights' sha256. Deterministic for a given machine (same seeds, same packages); the committed
# weights are the ones the measurements in benchmarks/results/ used.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"

SCENES="${SCENES:-800}"
bash scripts/install-scene-sources.sh
ensure_debian_packages ukui-wallpapers openclipart-png
venv="$CACHE_DIR/venv"
[ -x "$venv/bin/python" ] || die "$venv is missing: run npm run setup first (it builds the model-build virtualenv)"
# The plain dev set's catalog is read so that its drawings are left out of training.
[ -f "$CACHE_DIR/devset/pc100-q300-s7/devset.json" ] || die "the plain dev set is missing: run npm run bench:localization once first"
pids=()
for seed in 101 102; do
  npx tsx benchmarks/objectness-training-set.ts --scenes "$SCENES" --seed "$seed" & pids+=("$!")
done
for pid in "${pids[@]}"; do wait "$pid"; done
"$venv/bin/python" models/train_objectness_head.py models/builtin/objectness/objectness-head.json \
  "$CACHE_DIR/objectness/n$SCENES-seed101" "$CACHE_DIR/objectness/n$SCENES-seed102"
