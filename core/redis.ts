import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config';
import { DependencyUnavailableError, StartupError } from './errors';

export type { Redis };
/** Where Redis is: `url` alone, or through Sentinels (REDIS_SENTINELS). */
export type RedisTarget = Pick<Config['redis'], 'url'> & { sentinel?: Config['redis']['sentinel'] };

/**
 * - `worker`: BullMQ workers block on Redis and must ride out outages, so `maxRetriesPerRequest: null` and commands
 *   wait in the offline queue while reconnecting.
 * - `producer`: the API enqueues while a client waits, so it fails fast: no offline queue, one retry per request,
 *   and the caller answers 503 at once instead of hanging.
 */
export type RedisRole = 'worker' | 'producer';

const reconnect = (times: number): number => Math.min(100 * 2 ** Math.min(times, 6), 5_000);
/** While a failover runs the Sentinels name the old primary for a few seconds: ask them again soon. */
const reconnectThroughSentinels = (times: number): number => Math.min(100 * times, 1_000);

export function redisOptions(role: RedisRole): RedisOptions {
  if (role === 'worker') {
    return { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: reconnect, connectionName: 'lookalike-worker' };
  }
  return {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    enableReadyCheck: true,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    retryStrategy: reconnect,
    connectionName: 'lookalike-producer',
  };
}

/**
 * With Sentinels, the connection asks them for the primary (ioredis `sentinels` + `name`) on every (re)connect, checks
 * the role of the node it reached, and listens for the Sentinels' switch to a new primary (`failoverDetector`). A
 * write answered READONLY reached a former primary that is now a replica: reconnect, which asks the Sentinels again;
 * a worker resends the command (READONLY means it did not run), a producer fails it and its caller answers 503.
 */
function sentinelOptions(sentinel: NonNullable<RedisTarget['sentinel']>, role: RedisRole): RedisOptions {
  return {
    sentinels: sentinel.hosts,
    name: sentinel.name,
    ...(sentinel.password ? { sentinelPassword: sentinel.password } : {}),
    failoverDetector: true,
    retryStrategy: reconnectThroughSentinels,
    sentinelRetryStrategy: reconnectThroughSentinels,
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? (role === 'worker' ? 2 : 1) : false),
  };
}

/** A connection for `role`: to REDIS_URL, or through the Sentinels when REDIS_SENTINELS is set. Not connected yet. */
export function createRedisConnection(config: RedisTarget, role: RedisRole): Redis {
  const options = { ...redisOptions(role), ...(config.sentinel ? sentinelOptions(config.sentinel, role) : {}), lazyConnect: true };
  const redis = new Redis(config.url, options);
  // ioredis reports every failed reconnect as an 'error' event; without a listener Node would treat it as fatal.
  redis.on('error', () => undefined);
  return redis;
}

/** Where Redis is, for messages: the URL without its password, or the Sentinels and the primary's name. */
export function describeRedis(config: RedisTarget): string {
  if (config.sentinel) return `${config.sentinel.name} through the Sentinels ${config.sentinel.hosts.map((h) => `${h.host}:${h.port}`).join(',')}`;
  return config.url.replace(/\/\/[^@/]*@/, '//***@');
}

/** Readiness: a PING within `timeoutMs`. */
export async function checkRedis(redis: Redis, timeoutMs = 2_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    throw new DependencyUnavailableError('redis_unavailable', `Redis is unavailable (${(error as Error).message})`, error);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects at start-up; a StartupError naming where Redis was looked for (without a password) when it never answers. */
export async function connectRedis(redis: Redis, config: RedisTarget, deadlineMs = 15_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      if (redis.status === 'wait' || redis.status === 'end') await redis.connect();
      await checkRedis(redis);
      return;
    } catch (error) {
      if (Date.now() >= until) throw new StartupError('redis_unreachable', `Redis at ${describeRedis(config)} is unreachable (${(error as Error).message})`, error);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
