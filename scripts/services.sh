#!/usr/bin/env bash
# Elasticsearch and Redis for development, tests and the demo: `services.sh up|down|status`.
#
# - up is idempotent: a service that already answers is used as it is, and one is started only when needed.
# - When ES_URL / REDIS_URL are set, those services are used and nothing is started (a user's docker compose,
#   a cloud cluster). Otherwise Elasticsearch listens on 127.0.0.1:${ES_PORT:-9200}, Redis on 127.0.0.1:${REDIS_PORT:-6379}.
# - down stops only what up started (it keeps a marker per service under .cache/services/), optionally only the
#   services named: `services.sh down redis`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ES_VERSION=9.5.4
ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip"
ES_ZIP_SHA256=d9b0c28e08e499f6510b52ad66ec4bf9cdceab97cc28b3456989b8744b896934
ES_PORT="${ES_PORT:-9200}"
ES_HEAP="${ES_HEAP:-1g}"
ES_USER="${ES_USER:-lookalike-es}"
REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_AOF="${REDIS_AOF:-no}"
STATE_DIR="$CACHE_DIR/services"
M2_REPO="${MAVEN_REPO:-$HOME/.m2/repository}"

# ---------- Java ----------

# Major version of the JDK at $1, from its `release` file (or `java -version`).
jdk_major() {
  local v=""
  [ -f "$1/release" ] && v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release")
  [ -z "$v" ] && [ -x "$1/bin/java" ] && v=$("$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  echo "${v:-0}"
}

# The JDK Elasticsearch runs on: ES_JAVA_HOME when set, else the newest JDK >= 21 under /usr/lib/jvm (JVM_DIR).
pick_java() {
  if [ -n "${ES_JAVA_HOME:-}" ]; then
    [ "$(jdk_major "$ES_JAVA_HOME")" -ge 21 ] || die "ES_JAVA_HOME=$ES_JAVA_HOME is not a JDK 21 or newer (Elasticsearch $ES_VERSION needs Java 21+)"
    echo "$ES_JAVA_HOME"; return
  fi
  local best="" best_v=0 dir v
  for dir in "${JVM_DIR:-/usr/lib/jvm}"/*/; do
    dir="${dir%/}"; [ -L "$dir" ] && continue; [ -x "$dir/bin/java" ] || continue
    v=$(jdk_major "$dir")
    if [ "$v" -ge 21 ] && [ "$v" -gt "$best_v" ]; then best="$dir"; best_v="$v"; fi
  done
  [ -n "$best" ] || die "no JDK 21 or newer found under ${JVM_DIR:-/usr/lib/jvm} (Elasticsearch $ES_VERSION needs Java 21+); install one or set ES_JAVA_HOME"
  echo "$best"
}

# ---------- Elasticsearch ----------

es_zip() {
  local zip="$M2_REPO/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip"
  if [ ! -f "$zip" ]; then
    command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Elasticsearch $ES_VERSION from Maven Central"
    log "fetching Elasticsearch $ES_VERSION from Maven Central"
    mvn -q -B dependency:get -Dartifact="$ES_ARTIFACT" -Dtransitive=false >&2 || die "could not fetch $ES_ARTIFACT from Maven Central"
  fi
  [ "$(sha256_of "$zip")" = "$ES_ZIP_SHA256" ] || die "checksum mismatch for $zip (expected $ES_ZIP_SHA256); delete it and retry"
  echo "$zip"
}

# Where the node lives. Under .cache/ unless the service user cannot reach it (a checkout under /root, say).
es_base() {
  if is_root && ! runuser -u "$ES_USER" -- test -x "$CACHE_DIR" 2>/dev/null; then
    echo "/var/lib/lookalike/elasticsearch"
  else
    echo "$CACHE_DIR/elasticsearch"
  fi
}

ensure_es_user() {
  is_root || return 0
  id -u "$ES_USER" >/dev/null 2>&1 && return 0
  log "creating system user $ES_USER to run Elasticsearch (it refuses to run as root)"
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER" \
    || die "could not create system user $ES_USER"
}

es_url() { echo "http://127.0.0.1:$ES_PORT"; }
es_ready() { http_ok "$(es_url)/_cluster/health" 2; }

es_up() {
  if [ -n "${ES_URL:-}" ]; then
    http_ok "$ES_URL/_cluster/health" 5 || die "ES_URL=$ES_URL does not answer GET /_cluster/health"
    log "Elasticsearch: using $ES_URL"; return
  fi
  if es_ready; then log "Elasticsearch: already answering on $(es_url)"; return; fi
  local java zip base home conf
  java=$(pick_java); zip=$(es_zip)
  ensure_es_user
  # Create the cache first: es_base asks whether the service user can reach it.
  mkdir -p "$CACHE_DIR"; chmod 755 "$CACHE_DIR"
  base=$(es_base); home="$base/elasticsearch-$ES_VERSION"; conf="$base/config"
  if [ ! -x "$home/bin/elasticsearch" ]; then
    log "unpacking Elasticsearch $ES_VERSION into $base"
    mkdir -p "$base"; rm -rf "$home.tmp"; mkdir -p "$home.tmp"
    unzip -q "$zip" -d "$home.tmp"; mv "$home.tmp/elasticsearch-$ES_VERSION" "$home"; rm -rf "$home.tmp"
  fi
  mkdir -p "$conf" "$base/data" "$base/logs" "$base/tmp"
  cp -rn "$home/config/." "$conf/"
  cat > "$conf/elasticsearch.yml" <<YML
# Written by scripts/services.sh: a single-node development cluster on loopback, security off.
cluster.name: lookalike-dev
node.name: lookalike-dev-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $((ES_PORT + 100))
path.data: $base/data
path.logs: $base/logs
xpack.security.enabled: false
action.destructive_requires_name: false
# A write to a missing index fails instead of creating one without the catalog mapping.
action.auto_create_index: false
cluster.routing.allocation.disk.threshold_enabled: false
YML
  printf -- '-Xms%s\n-Xmx%s\n' "$ES_HEAP" "$ES_HEAP" > "$conf/jvm.options.d/heap.options"
  local run=()
  if is_root; then
    chown -R "$ES_USER:" "$base"
    chmod 755 "$(dirname "$base")" 2>/dev/null || true
    run=(runuser -u "$ES_USER" --)
  fi
  log "starting Elasticsearch $ES_VERSION on $(es_url) (Java $(jdk_major "$java"), heap $ES_HEAP)"
  "${run[@]}" env ES_JAVA_HOME="$java" ES_PATH_CONF="$conf" ES_TMPDIR="$base/tmp" \
    "$home/bin/elasticsearch" -d -p "$base/es.pid" >/dev/null 2>"$base/logs/startup.err" \
    || die "Elasticsearch did not start: $(tail -n 3 "$base/logs/startup.err" | tr '\n' ' ') (see $base/logs)"
  mkdir -p "$STATE_DIR"; echo "$base/es.pid" > "$STATE_DIR/elasticsearch.started"
  local i
  for i in $(seq 1 120); do
    if http_ok "$(es_url)/_cluster/health?wait_for_status=yellow&timeout=1s" 3; then
      log "Elasticsearch ready after ${i}s"; return
    fi
    sleep 1
  done
  die "Elasticsearch did not become ready in 120 s (see $base/logs/lookalike-dev.log)"
}

es_down() {
  local marker="$STATE_DIR/elasticsearch.started" pidfile pid
  [ -f "$marker" ] || { log "Elasticsearch: not started by this script, left alone"; return; }
  pidfile=$(cat "$marker")
  if [ -f "$pidfile" ] && pid=$(cat "$pidfile") && kill -0 "$pid" 2>/dev/null; then
    log "stopping Elasticsearch (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$marker"
}

# ---------- Redis ----------

redis_up() {
  if [ -n "${REDIS_URL:-}" ]; then log "Redis: using $REDIS_URL"; return; fi
  ensure_debian_packages redis-server
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    log "Redis: already answering on 127.0.0.1:$REDIS_PORT"
    local policy
    policy=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" config get maxmemory-policy | tail -1)
    [ "$policy" = noeviction ] || log "warning: Redis maxmemory-policy is $policy; BullMQ needs noeviction"
    return
  fi
  local dir="$CACHE_DIR/redis"; mkdir -p "$dir" "$STATE_DIR"
  log "starting Redis on 127.0.0.1:$REDIS_PORT (appendonly $REDIS_AOF)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --dir "$dir" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --maxmemory-policy noeviction \
    --appendonly "$REDIS_AOF" --save '' >/dev/null || die "Redis did not start (see $dir/redis.log)"
  echo "$dir/redis.pid" > "$STATE_DIR/redis.started"
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return
    sleep 0.2
  done
  die "Redis did not answer on 127.0.0.1:$REDIS_PORT (see $dir/redis.log)"
}

redis_down() {
  local marker="$STATE_DIR/redis.started"
  [ -f "$marker" ] || { log "Redis: not started by this script, left alone"; return; }
  log "stopping Redis"
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -f "$marker"
}

status() {
  if es_ready; then echo "elasticsearch: up ($(es_url))"; else echo "elasticsearch: down"; fi
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then echo "redis: up"; else echo "redis: down"; fi
}

# `down` stops both, or only the services named after it (`down elasticsearch redis`).
stop_named() {
  [ $# -eq 0 ] && set -- elasticsearch redis
  local name
  for name in "$@"; do
    case "$name" in
      elasticsearch) es_down ;;
      redis) redis_down ;;
      *) die "unknown service $name (elasticsearch, redis)" ;;
    esac
  done
}

case "${1:-}" in
  up) ensure_debian_packages curl unzip; es_up; redis_up ;;
  down) shift; stop_named "$@" ;;
  status) status ;;
  *) echo "usage: $0 up | down [elasticsearch] [redis] | status" >&2; exit 2 ;;
esac
