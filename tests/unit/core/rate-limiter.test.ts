import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { loadConfig } from '../../../core/config';
import { createRateLimiter, rateLimitWindow } from '../../../core/rate-limiter';
import { createRedisConnection } from '../../../core/redis';

describe('rateLimitWindow', () => {
  it('maps a rate and a burst onto whole-second windows that allow at least both', () => {
    expect(rateLimitWindow(50, 100)).toEqual({ points: 100, duration: 2 }); // the defaults, exactly
    expect(rateLimitWindow(1, 3)).toEqual({ points: 3, duration: 3 });
    expect(rateLimitWindow(30, 100)).toEqual({ points: 120, duration: 4 }); // the burst rounded up to 4 s of rate
    expect(rateLimitWindow(50, 10)).toEqual({ points: 50, duration: 1 }); // a burst below the rate: a second's worth
  });
});

describe('createRateLimiter', () => {
  it('is off at RATE_LIMIT_PER_S=0', () => {
    expect(createRateLimiter(loadConfig({ RATE_LIMIT_PER_S: '0' }), createRedisConnection({ url: 'redis://127.0.0.1:1' }, 'producer'))).toBeNull();
  });

  it('keeps its counters in Redis under QUEUE_PREFIX, and counts in memory while Redis is not ready', async () => {
    // A connection that was never opened: not ready, as while Redis is down.
    const redis = createRedisConnection({ url: 'redis://127.0.0.1:1' }, 'producer');
    const limiter = createRateLimiter(loadConfig({ QUEUE_PREFIX: 'shop-7', RATE_LIMIT_PER_S: '2', RATE_LIMIT_BURST: '4' }), redis)!;
    expect(limiter).toBeInstanceOf(RateLimiterRedis);
    expect(limiter.getKey('ip:10.0.0.1')).toBe('shop-7:rate-limit:ip:10.0.0.1');
    expect(redis.status).toBe('wait');
    for (let i = 0; i < 4; i++) await expect(limiter.consume('ip:10.0.0.1')).resolves.toBeInstanceOf(RateLimiterRes);
    const rejection = await limiter.consume('ip:10.0.0.1').catch((error: unknown) => error);
    expect(rejection).toBeInstanceOf(RateLimiterRes);
    expect((rejection as RateLimiterRes).msBeforeNext).toBeGreaterThan(1_000);
    await expect(limiter.consume('ip:10.0.0.2')).resolves.toBeInstanceOf(RateLimiterRes);
    expect(redis.status).toBe('wait');
  });
});
