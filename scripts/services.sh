#!/usr/bin/env bash
# Elasticsearch and Redis for development, tests and the demo: `services.sh up|down [service…]|status`.
#
# - up is idempotent: a service that already answers is used as it is, and one is started only when needed.
# - When ES_URL / REDIS_URL (or REDIS_SENTINELS) are set, those services are used and nothing is started (a user's
#   docker compose, a cloud cluster). Otherwise Elasticsearch listens on 127.0.0.1:${ES_PORT:-9200}, Redis on
#   127.0.0.1:${REDIS_PORT:-6379}.
# - ES_NODES=3: a cluster of three nodes on HTTP ports ES_PORT… and transport ports ES_TRANSPORT_PORT… (default
#   ES_PORT + 100…); REDIS_SENTINEL=1: a Redis primary, a replica and three Sentinels (scripts/services-redis.sh).
# - down stops only what up started (it keeps a marker per service under .cache/services/), optionally only the
#   services named: `services.sh down redis`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ES_VERSION=9.5.4
ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip"
ES_ZIP_SHA256=d9b0c28e08e499f6510b52ad66ec4bf9cdceab97cc28b3456989b8744b896934
ES_NODES="${ES_NODES:-1}"
ES_PORT="${ES_PORT:-9200}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-$((ES_PORT + 100))}"
ES_HEAP="${ES_HEAP:-1g}"
ES_USER="${ES_USER:-lookalike-es}"
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

# ---------- Elasticsearch: nodes and their directories ----------
#
# ES_NODES nodes on loopback form one cluster: node i (1-based) serves HTTP on ES_PORT + i - 1 and transport on
# ES_TRANSPORT_PORT + i - 1. The default single node (ES_NODES=1, ES_PORT=9200) lives in the base directory as it
# always has; any other layout keeps each node's config, data and logs under ES_CLUSTER_DIR (default
# <base>/clusters/<ES_PORT>-<ES_NODES>), so a cluster on other ports never shares a data directory with another.

es_default_layout() { [ "$ES_NODES" = 1 ] && [ "$ES_PORT" = 9200 ] && [ -z "${ES_CLUSTER_DIR:-}" ]; }
es_cluster_dir() { if es_default_layout; then echo "$1"; else echo "${ES_CLUSTER_DIR:-$1/clusters/$ES_PORT-$ES_NODES}"; fi; }
es_node_dir() { if es_default_layout; then echo "$1"; else echo "$(es_cluster_dir "$1")/node-$2"; fi; }
es_cluster_name() { if es_default_layout; then echo lookalike-dev; else echo "lookalike-dev-$ES_PORT-$ES_NODES"; fi; }
es_node_name() { if es_default_layout; then echo lookalike-dev-1; else echo "$(es_cluster_name)-$1"; fi; }
es_http_port() { echo $((ES_PORT + $1 - 1)); }
es_transport_port() { echo $((ES_TRANSPORT_PORT + $1 - 1)); }
es_url() { echo "http://127.0.0.1:$(es_http_port "${1:-1}")"; }
# Every node's URL, comma-separated: what ES_URL should be for the processes that use this cluster.
es_urls() { local i urls=(); for i in $(seq 1 "$ES_NODES"); do urls+=("$(es_url "$i")"); done; (IFS=,; echo "${urls[*]}"); }
# One marker per cluster (by its first HTTP port), listing the pid file of every node `up` started.
es_marker() { if [ "$ES_PORT" = 9200 ]; then echo "$STATE_DIR/elasticsearch.started"; else echo "$STATE_DIR/elasticsearch-$ES_PORT.started"; fi; }

# The name of the cluster that node $1's HTTP port answers for; empty when nothing answers there. (The node's own
# view: it needs no elected master, unlike _cluster/health.)
es_node_cluster() {
  curl -fsS --max-time 2 "$(es_url "$1")/_nodes/_local?filter_path=cluster_name" 2>/dev/null | sed -n 's/.*"cluster_name":"\([^"]*\)".*/\1/p' || true
}
es_ready() { http_ok "$(es_url)/_cluster/health" 2; }

es_validate() {
  [[ "$ES_NODES" =~ ^[1-9]$ ]] || die "ES_NODES=$ES_NODES: give a number of nodes from 1 to 9"
  [[ "$ES_PORT" =~ ^[0-9]+$ && "$ES_TRANSPORT_PORT" =~ ^[0-9]+$ ]] || die "ES_PORT and ES_TRANSPORT_PORT must be port numbers"
  local http_last=$((ES_PORT + ES_NODES - 1)) transport_last=$((ES_TRANSPORT_PORT + ES_NODES - 1))
  if [ "$ES_TRANSPORT_PORT" -le "$http_last" ] && [ "$ES_PORT" -le "$transport_last" ]; then
    die "HTTP ports $ES_PORT-$http_last overlap transport ports $ES_TRANSPORT_PORT-$transport_last; set ES_TRANSPORT_PORT"
  fi
}

# Writes node $2's configuration under its directory; $1 is the base directory.
es_write_config() {
  local base="$1" i="$2" dir conf seeds masters j
  dir=$(es_node_dir "$base" "$i"); conf="$dir/config"
  mkdir -p "$conf" "$dir/data" "$dir/logs" "$dir/tmp"
  cp -rn "$base/elasticsearch-$ES_VERSION/config/." "$conf/"
  {
    if [ "$ES_NODES" = 1 ]; then
      echo "# Written by scripts/services.sh: a single-node development cluster on loopback, security off."
    else
      echo "# Written by scripts/services.sh: node $i of a $ES_NODES-node development cluster on loopback, security off."
    fi
    echo "cluster.name: $(es_cluster_name)"
    echo "node.name: $(es_node_name "$i")"
    if [ "$ES_NODES" = 1 ]; then
      echo "discovery.type: single-node"
    else
      seeds=(); masters=()
      for j in $(seq 1 "$ES_NODES"); do seeds+=("\"127.0.0.1:$(es_transport_port "$j")\""); masters+=("\"$(es_node_name "$j")\""); done
      echo "discovery.seed_hosts: [$(IFS=,; echo "${seeds[*]}")]"
      # Only for the very first start (a node with no cluster state yet): Elasticsearch warns about, and may be
      # misled by, bootstrap settings left on nodes of a cluster that already formed.
      if [ ! -d "$dir/data/_state" ]; then echo "cluster.initial_master_nodes: [$(IFS=,; echo "${masters[*]}")]"; fi
    fi
    cat <<YML
network.host: 127.0.0.1
http.port: $(es_http_port "$i")
transport.port: $(es_transport_port "$i")
path.data: $dir/data
path.logs: $dir/logs
xpack.security.enabled: false
action.destructive_requires_name: false
# A write to a missing index fails instead of creating one without the catalog mapping.
action.auto_create_index: false
cluster.routing.allocation.disk.threshold_enabled: false
YML
  } > "$conf/elasticsearch.yml"
  printf -- '-Xms%s\n-Xmx%s\n' "$ES_HEAP" "$ES_HEAP" > "$conf/jvm.options.d/heap.options"
}

# Starts node $3 (Java home $1, base directory $2) in the background of Elasticsearch's own daemon mode.
es_start_node() {
  local java="$1" base="$2" i="$3" dir run=()
  dir=$(es_node_dir "$base" "$i")
  is_root && run=(runuser -u "$ES_USER" --)
  "${run[@]}" env ES_JAVA_HOME="$java" ES_PATH_CONF="$dir/config" ES_TMPDIR="$dir/tmp" \
    "$base/elasticsearch-$ES_VERSION/bin/elasticsearch" -d -p "$dir/es.pid" >/dev/null 2>"$dir/logs/startup.err" \
    || die "Elasticsearch node $i did not start: $(tail -n 3 "$dir/logs/startup.err" | tr '\n' ' ') (see $dir/logs)"
}

es_up() {
  if [ -n "${ES_URL:-}" ]; then
    local url
    for url in ${ES_URL//,/ }; do
      if http_ok "${url%/}/_cluster/health" 5; then log "Elasticsearch: using $ES_URL"; return; fi
    done
    die "ES_URL=$ES_URL: no node answers GET /_cluster/health"
  fi
  es_validate
  # The default single node uses whatever answers on its port, as it always has.
  if [ "$ES_NODES" = 1 ] && es_ready; then log "Elasticsearch: already answering on $(es_url)"; return; fi
  local expected i missing=() answering
  expected=$(es_cluster_name)
  for i in $(seq 1 "$ES_NODES"); do
    answering=$(es_node_cluster "$i")
    if [ -z "$answering" ]; then missing+=("$i")
    elif [ "$answering" != "$expected" ]; then
      die "$(es_url "$i") answers for cluster $answering, not $expected; choose other ports (ES_PORT, ES_TRANSPORT_PORT)"
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Elasticsearch: already answering on $(es_urls)"; es_wait_ready; return
  fi
  local java zip base home
  java=$(pick_java); zip=$(es_zip)
  ensure_es_user
  # Create the cache first: es_base asks whether the service user can reach it.
  mkdir -p "$CACHE_DIR"; chmod 755 "$CACHE_DIR"
  base=$(es_base); home="$base/elasticsearch-$ES_VERSION"
  if [ ! -x "$home/bin/elasticsearch" ]; then
    log "unpacking Elasticsearch $ES_VERSION into $base"
    mkdir -p "$base"; rm -rf "$home.tmp"; mkdir -p "$home.tmp"
    unzip -q "$zip" -d "$home.tmp"; mv "$home.tmp/elasticsearch-$ES_VERSION" "$home"; rm -rf "$home.tmp"
  fi
  for i in "${missing[@]}"; do es_write_config "$base" "$i"; done
  if is_root; then
    chown -R "$ES_USER:" "$base" "$(es_cluster_dir "$base")"
    chmod 755 "$(dirname "$base")" 2>/dev/null || true
  fi
  mkdir -p "$STATE_DIR"
  local marker pids=() pid
  marker=$(es_marker)
  log "starting Elasticsearch $ES_VERSION node(s) ${missing[*]} of $ES_NODES on $(es_urls) (Java $(jdk_major "$java"), heap $ES_HEAP each)"
  # In parallel: a node of a new cluster waits for the others before it reports having started.
  for i in "${missing[@]}"; do
    es_start_node "$java" "$base" "$i" & pids+=($!)
    grep -qxF "$(es_node_dir "$base" "$i")/es.pid" "$marker" 2>/dev/null || echo "$(es_node_dir "$base" "$i")/es.pid" >> "$marker"
  done
  for pid in "${pids[@]}"; do wait "$pid" || exit 1; done
  es_wait_ready
  [ "$ES_NODES" = 1 ] || log "ES_URL=$(es_urls)"
}

# Waits until the cluster has every node and every primary shard (yellow or better).
es_wait_ready() {
  local i
  for i in $(seq 1 180); do
    if http_ok "$(es_url)/_cluster/health?wait_for_status=yellow&wait_for_nodes=$ES_NODES&timeout=1s" 3; then
      log "Elasticsearch ready after ${i}s"; return
    fi
    sleep 1
  done
  die "Elasticsearch did not become ready with $ES_NODES node(s) in 180 s (see the logs under $(es_cluster_dir "$(es_base)"))"
}

es_down() {
  local marker pidfile pid pids=()
  marker=$(es_marker)
  [ -f "$marker" ] || { log "Elasticsearch: not started by this script, left alone"; return; }
  while read -r pidfile; do
    if [ -f "$pidfile" ] && pid=$(cat "$pidfile") && kill -0 "$pid" 2>/dev/null; then pids+=("$pid"); fi
  done < "$marker"
  if [ ${#pids[@]} -gt 0 ]; then
    log "stopping Elasticsearch (pid ${pids[*]})"
    kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 60); do
      local alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 1
    done
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -9 "$pid"; done
  fi
  rm -f "$marker"
}

es_status() {
  if [ "$ES_NODES" = 1 ]; then
    if es_ready; then echo "elasticsearch: up ($(es_url))"; else echo "elasticsearch: down"; fi
    return
  fi
  local i up=0 health="" lines=() url
  for i in $(seq 1 "$ES_NODES"); do
    if [ -n "$(es_node_cluster "$i")" ]; then lines+=("elasticsearch node $i: up ($(es_url "$i"))"); up=$((up + 1))
    else lines+=("elasticsearch node $i: down ($(es_url "$i"))"); fi
  done
  for url in $(es_urls | tr ',' ' '); do
    health=$( (curl -fsS --max-time 3 "$url/_cluster/health?timeout=1s" 2>/dev/null || true) \
      | sed -n 's/.*"status":"\([a-z]*\)".*"number_of_nodes":\([0-9]*\).*/\1, \2 nodes in the cluster/p' || true)
    [ -n "$health" ] && break
  done
  if [ "$up" = 0 ]; then echo "elasticsearch: down"
  else echo "elasticsearch: $([ "$up" = "$ES_NODES" ] && echo up || echo degraded) ($up of $ES_NODES nodes answer; ${health:-no elected master})"; fi
  printf '%s\n' "${lines[@]}"
}

# ---------- Redis (scripts/services-redis.sh) ----------

source "$(dirname "${BASH_SOURCE[0]}")/services-redis.sh"

status() {
  es_status
  redis_status
}

# The services named after `up` / `down`, or both.
for_named() {
  local verb="$1" name; shift
  [ $# -eq 0 ] && set -- elasticsearch redis
  for name in "$@"; do
    case "$name" in
      elasticsearch) "es_$verb" ;;
      redis) "redis_$verb" ;;
      *) die "unknown service $name (elasticsearch, redis)" ;;
    esac
  done
}

case "${1:-}" in
  up) shift; ensure_debian_packages curl unzip; for_named up "$@" ;;
  down) shift; for_named down "$@" ;;
  status) status ;;
  *) echo "usage: $0 up [elasticsearch] [redis] | down [elasticsearch] [redis] | status" >&2; exit 2 ;;
esac
