import { checkRedis, connectRedis, createRedisConnection } from '../../core/redis';
import { DependencyUnavailableError, StartupError } from '../../core/errors';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Nothing listens on port 1 of loopback: a connection attempt is refused at once.
const deadUrl = 'redis://127.0.0.1:1';

describe('Redis connections', () => {
  it('connects both roles to the real Redis', async () => {
    for (const role of ['producer', 'worker'] as const) {
      const redis = createRedisConnection({ url: redisUrl }, role);
      await connectRedis(redis, { url: redisUrl }, 5_000);
      await checkRedis(redis);
      expect(await redis.get('lookalike-test-missing-key')).toBeNull();
      redis.disconnect();
    }
  });

  it('a producer fails fast while Redis is down: an error at once, not a hang', async () => {
    const redis = createRedisConnection({ url: deadUrl }, 'producer');
    void redis.connect().catch(() => undefined);
    const started = Date.now();
    await expect(checkRedis(redis, 3_000)).rejects.toBeInstanceOf(DependencyUnavailableError);
    await expect(redis.set('k', 'v')).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(3_500);
    redis.disconnect();
  });

  it('names the unreachable URL, without its password, at start-up', async () => {
    const url = 'redis://user:secret@127.0.0.1:1';
    const redis = createRedisConnection({ url }, 'worker');
    const attempt = connectRedis(redis, { url }, 1_000);
    await expect(attempt).rejects.toBeInstanceOf(StartupError);
    await expect(connectRedis(redis, { url }, 500)).rejects.toThrow(/redis:\/\/\*\*\*@127\.0\.0\.1:1 is unreachable/);
    redis.disconnect();
  });
});
