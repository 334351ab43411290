import { Redis, type RedisOptions } from 'ioredis';
import { DependencyUnavailableError, StartupError } from './errors';

export type { Redis };

/**
 * - `worker`: BullMQ workers block on Redis and must ride out outages, so `maxRetriesPerRequest: null` and commands
 *   wait in the offline queue while reconnecting.
 * - `producer`: the API enqueues while a client waits, so it fails fast: no offline queue, one retry per request,
 *   and the caller answers 503 at once instead of hanging.
 */
export type RedisRole = 'worker' | 'producer';

const reconnect = (times: number): number => Math.min(100 * 2 ** Math.min(times, 6), 5_000);

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

export function createRedisConnection(url: string, role: RedisRole): Redis {
  const redis = new Redis(url, { ...redisOptions(role), lazyConnect: true });
  // ioredis reports every failed reconnect as an 'error' event; without a listener Node would treat it as fatal.
  redis.on('error', () => undefined);
  return redis;
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

/** Connects at start-up; a StartupError naming the URL (without its password) when Redis never answers. */
export async function connectRedis(redis: Redis, url: string, deadlineMs = 15_000): Promise<void> {
  const safeUrl = url.replace(/\/\/[^@/]*@/, '//***@');
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      if (redis.status === 'wait' || redis.status === 'end') await redis.connect();
      await checkRedis(redis);
      return;
    } catch (error) {
      if (Date.now() >= until) throw new StartupError('redis_unreachable', `Redis at ${safeUrl} is unreachable (${(error as Error).message})`, error);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
