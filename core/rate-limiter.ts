import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from './config';
import type { Redis } from './redis';

/** A limiter the API consumes one point from per search; rate-limiter-flexible's, so tests can pass a memory one. */
export type RateLimiter = RateLimiterAbstract;

/**
 * rate-limiter-flexible counts `points` per fixed window of `duration` whole seconds, where RATE_LIMIT_PER_S and
 * RATE_LIMIT_BURST describe a token bucket. The window is the time the burst takes to earn back
 * (⌈burst / perSecond⌉ s, at least 1 s), and it holds at least the burst and at least perSecond × window, so a
 * client gets RATE_LIMIT_BURST at once and RATE_LIMIT_PER_S a second on average; a burst that is not a multiple of
 * the rate is rounded up to one (50/s with a burst of 120: 150 per 3 s).
 */
export function rateLimitWindow(perSecond: number, burst: number): { points: number; duration: number } {
  const duration = Math.max(1, Math.ceil(burst / perSecond));
  return { points: Math.max(burst, perSecond * duration), duration };
}

/**
 * The search rate limit shared by every API process: counters in Redis under `<QUEUE_PREFIX>:rate-limit:<client>`.
 * `redis` is the API's producer connection, which fails fast: while Redis is unreachable (not `ready`) each process
 * counts in memory instead (`insuranceLimiter`), with the same window, so searches keep answering and each process
 * still enforces the limit on its own; the shared counts resume when Redis is back. Null when RATE_LIMIT_PER_S is 0.
 */
export function createRateLimiter(config: Config, redis: Redis): RateLimiter | null {
  const { rateLimitPerSecond, rateLimitBurst } = config.api;
  if (rateLimitPerSecond <= 0) return null;
  const window = rateLimitWindow(rateLimitPerSecond, rateLimitBurst);
  const keyPrefix = `${config.redis.queuePrefix}:rate-limit`;
  return new RateLimiterRedis({
    storeClient: redis,
    keyPrefix,
    ...window,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, ...window }),
  });
}
