#!/usr/bin/env bash
# Redis for scripts/services.sh (sourced by it, never run): `redis_up`, `redis_down`, `redis_status`.
#
# - Default: one Redis on 127.0.0.1:${REDIS_PORT:-6379}, AOF as REDIS_AOF says (default no).
# - REDIS_SENTINEL=1: a primary on REDIS_PORT (default 6380 in this mode, beside a plain Redis on 6379), a replica on
#   REDIS_PORT + 1, and three Sentinels on REDIS_SENTINEL_PORT… (default 26379…) watching them as
#   REDIS_SENTINEL_NAME (default lookalike), quorum 2, the primary declared down after 2 s without an answer. AOF is
#   on for both. Their state lives under REDIS_SENTINEL_DIR (default .cache/redis-sentinel-<REDIS_PORT>). An
#   instance started again after a failover joins as a replica of whichever primary the Sentinels name.

REDIS_SENTINEL="${REDIS_SENTINEL:-0}"
if [ "$REDIS_SENTINEL" = 1 ]; then REDIS_PORT="${REDIS_PORT:-6380}"; else REDIS_PORT="${REDIS_PORT:-6379}"; fi
REDIS_AOF="${REDIS_AOF:-no}"
REDIS_SENTINEL_PORT="${REDIS_SENTINEL_PORT:-26379}"
REDIS_SENTINEL_NAME="${REDIS_SENTINEL_NAME:-lookalike}"
REDIS_SENTINEL_DIR="${REDIS_SENTINEL_DIR:-$CACHE_DIR/redis-sentinel-$REDIS_PORT}"
SENTINEL_COUNT=3
SENTINEL_QUORUM=2
SENTINEL_DOWN_AFTER_MS=2000
SENTINEL_FAILOVER_TIMEOUT_MS=10000

redis_answers() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }

redis_wait() {
  for _ in $(seq 1 50); do
    redis_answers "$1" && return
    sleep 0.2
  done
  die "Redis did not answer on 127.0.0.1:$1 (see $2)"
}

redis_up() {
  if [ "$REDIS_SENTINEL" = 1 ]; then sentinel_up; return; fi
  if [ -n "${REDIS_URL:-}" ]; then log "Redis: using $REDIS_URL"; return; fi
  ensure_debian_packages redis-server
  if redis_answers "$REDIS_PORT"; then
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
  redis_wait "$REDIS_PORT" "$dir/redis.log"
}

redis_down() {
  if [ "$REDIS_SENTINEL" = 1 ]; then sentinel_down; return; fi
  local marker="$STATE_DIR/redis.started"
  [ -f "$marker" ] || { log "Redis: not started by this script, left alone"; return; }
  log "stopping Redis"
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -f "$marker"
}

redis_status() {
  if [ "$REDIS_SENTINEL" = 1 ]; then sentinel_status; return; fi
  if redis_answers "$REDIS_PORT"; then echo "redis: up"; else echo "redis: down"; fi
}

# ---------- Sentinel ----------

sentinel_ports() { seq "$REDIS_SENTINEL_PORT" $((REDIS_SENTINEL_PORT + SENTINEL_COUNT - 1)); }
sentinel_hosts() { sentinel_ports | sed 's/^/127.0.0.1:/' | paste -sd, -; }
sentinel_marker() { echo "$STATE_DIR/redis-sentinel-$REDIS_PORT.started"; }

# "host port" of the primary as the first Sentinel that answers names it; empty when none answers.
sentinel_primary() {
  local port answer
  for port in $(sentinel_ports); do
    answer=$(redis-cli -h 127.0.0.1 -p "$port" sentinel get-master-addr-by-name "$REDIS_SENTINEL_NAME" 2>/dev/null | paste -sd' ' -)
    if [[ "$answer" =~ ^[0-9.]+\ [0-9]+$ ]]; then echo "$answer"; return; fi
  done
}

sentinel_remember() {
  local marker; marker=$(sentinel_marker)
  grep -qxF "$1" "$marker" 2>/dev/null || echo "$1" >> "$marker"
}

sentinel_start_sentinels() {
  local port dir
  for port in $(sentinel_ports); do
    redis_answers "$port" && continue
    dir="$REDIS_SENTINEL_DIR/sentinel-$port"; mkdir -p "$dir"
    # Sentinel rewrites its file with what it learns (the current primary, the epoch): write it only once.
    if [ ! -f "$dir/sentinel.conf" ]; then
      cat > "$dir/sentinel.conf" <<CONF
port $port
bind 127.0.0.1
daemonize yes
dir $dir
pidfile $dir/sentinel.pid
logfile $dir/sentinel.log
sentinel monitor $REDIS_SENTINEL_NAME 127.0.0.1 $REDIS_PORT $SENTINEL_QUORUM
sentinel down-after-milliseconds $REDIS_SENTINEL_NAME $SENTINEL_DOWN_AFTER_MS
sentinel failover-timeout $REDIS_SENTINEL_NAME $SENTINEL_FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $REDIS_SENTINEL_NAME 1
CONF
    fi
    log "starting Redis Sentinel on 127.0.0.1:$port"
    redis-sentinel "$dir/sentinel.conf" >/dev/null || die "Sentinel did not start (see $dir/sentinel.log)"
    sentinel_remember "$dir/sentinel.pid"
    redis_wait "$port" "$dir/sentinel.log"
  done
}

# Starts the data instance on port $1 unless it answers: the primary the Sentinels name, or a replica of it.
sentinel_start_instance() {
  local port="$1" dir="$REDIS_SENTINEL_DIR/redis-$1" primary role
  redis_answers "$port" && return
  mkdir -p "$dir"
  primary=$(sentinel_primary)
  # Before any failover the Sentinels name REDIS_PORT, which is where the primary starts.
  [ -n "$primary" ] || primary="127.0.0.1 $REDIS_PORT"
  if [ "$primary" = "127.0.0.1 $port" ]; then role="replicaof no one"; else role="replicaof $primary"; fi
  cat > "$dir/redis.conf" <<CONF
bind 127.0.0.1
port $port
daemonize yes
dir $dir
pidfile $dir/redis.pid
logfile $dir/redis.log
maxmemory-policy noeviction
appendonly yes
appendfsync everysec
save ""
$role
CONF
  log "starting Redis on 127.0.0.1:$port (${role/replicaof no one/primary}, appendonly yes)"
  redis-server "$dir/redis.conf" >/dev/null || die "Redis did not start (see $dir/redis.log)"
  sentinel_remember "$dir/redis.pid"
  redis_wait "$port" "$dir/redis.log"
}

sentinel_up() {
  if [ -n "${REDIS_SENTINELS:-}" ]; then log "Redis: using the Sentinels $REDIS_SENTINELS"; return; fi
  ensure_debian_packages redis-server redis-sentinel
  mkdir -p "$REDIS_SENTINEL_DIR" "$STATE_DIR"
  sentinel_start_sentinels
  sentinel_start_instance "$REDIS_PORT"
  sentinel_start_instance $((REDIS_PORT + 1))
  # Ready when the replica's link to the primary is up: until then a write cannot be acknowledged by a replica.
  local primary replica synced=""
  for _ in $(seq 1 100); do
    primary=$(sentinel_primary)
    if [ -n "$primary" ]; then
      for replica in "$REDIS_PORT" $((REDIS_PORT + 1)); do
        [ "$replica" = "${primary#* }" ] && continue
        redis-cli -h 127.0.0.1 -p "$replica" info replication 2>/dev/null | grep -q 'master_link_status:up' && synced=1
      done
    fi
    [ -n "$synced" ] && break
    sleep 0.2
  done
  [ -n "$synced" ] || die "the Redis replica did not sync with the primary in 20 s (see $REDIS_SENTINEL_DIR)"
  log "Redis with Sentinel ready: primary $(sentinel_primary | tr ' ' ':')"
  log "REDIS_SENTINELS=$(sentinel_hosts) REDIS_SENTINEL_NAME=$REDIS_SENTINEL_NAME"
}

sentinel_down() {
  local marker pidfile pid pids=()
  marker=$(sentinel_marker)
  [ -f "$marker" ] || { log "Redis with Sentinel: not started by this script, left alone"; return; }
  while read -r pidfile; do
    if [ -f "$pidfile" ] && pid=$(cat "$pidfile") && kill -0 "$pid" 2>/dev/null; then pids+=("$pid"); fi
  done < "$marker"
  if [ ${#pids[@]} -gt 0 ]; then
    log "stopping Redis and its Sentinels (pid ${pids[*]})"
    kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 50); do
      local alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 0.2
    done
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -9 "$pid"; done
  fi
  rm -f "$marker"
}

sentinel_status() {
  local port up=0 primary
  for port in $(sentinel_ports); do redis_answers "$port" && up=$((up + 1)); done
  primary=$(sentinel_primary)
  if [ -n "$primary" ] && redis_answers "${primary#* }"; then
    echo "redis: up (primary ${primary/ /:} as named by $up of $SENTINEL_COUNT Sentinels)"
  elif [ "$up" -gt 0 ]; then
    echo "redis: degraded (no primary answers; $up of $SENTINEL_COUNT Sentinels answer)"
  else
    echo "redis: down"
  fi
  for port in "$REDIS_PORT" $((REDIS_PORT + 1)); do
    if redis_answers "$port"; then
      echo "redis 127.0.0.1:$port: up ($(redis-cli -h 127.0.0.1 -p "$port" role 2>/dev/null | head -1))"
    else
      echo "redis 127.0.0.1:$port: down"
    fi
  done
}
