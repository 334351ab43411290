#!/usr/bin/env bash
# Shared helpers for the set-up and services scripts. Sourced, never run.

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${LOOKALIKE_CACHE_DIR:-$ROOT_DIR/.cache}"
export ROOT_DIR CACHE_DIR

log() { printf '[lookalike] %s\n' "$*" >&2; }
# One clear line and a non-zero exit: what every set-up failure looks like.
die() { printf '[lookalike] error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Installs Debian packages that are missing (root only; otherwise says what to install).
ensure_debian_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! is_root; then
    die "missing Debian packages: ${missing[*]} (install them with: sudo apt-get install ${missing[*]})"
  fi
  log "installing Debian packages: ${missing[*]}"
  if [ -z "${LOOKALIKE_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null || die "apt-get update failed"
    export LOOKALIKE_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# Succeeds when an HTTP GET of $1 answers 2xx within $2 seconds (default 2).
http_ok() { curl -fsS -o /dev/null --max-time "${2:-2}" "$1" 2>/dev/null; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
