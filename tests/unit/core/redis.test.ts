import { loadConfig } from '../../../core/config';
import { createRedisConnection, describeRedis } from '../../../core/redis';

describe('createRedisConnection', () => {
  it('connects to REDIS_URL without Sentinels', () => {
    const redis = createRedisConnection(loadConfig({ REDIS_URL: 'redis://:secret@10.0.0.5:6390/2' }).redis, 'producer');
    expect(redis.options).toMatchObject({ host: '10.0.0.5', port: 6390, db: 2, password: 'secret', enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    expect(redis.options.sentinels).toBeFalsy();
    redis.disconnect();
  });

  it('asks the Sentinels for the primary, keeps each role’s retry policy, and reconnects on READONLY (a demoted primary)', () => {
    const config = loadConfig({ REDIS_URL: 'redis://:secret@127.0.0.1:6379/1', REDIS_SENTINELS: '127.0.0.1:26379,127.0.0.1:26380', REDIS_SENTINEL_NAME: 'queues', REDIS_SENTINEL_PASSWORD: 'watch' }).redis;
    const producer = createRedisConnection(config, 'producer');
    const worker = createRedisConnection(config, 'worker');
    for (const redis of [producer, worker]) {
      expect(redis.options).toMatchObject({ sentinels: [{ host: '127.0.0.1', port: 26379 }, { host: '127.0.0.1', port: 26380 }], name: 'queues', sentinelPassword: 'watch', password: 'secret', db: 1, failoverDetector: true });
    }
    expect(producer.options).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    expect(worker.options.maxRetriesPerRequest).toBeNull();
    const readonly = new Error("READONLY You can't write against a read only replica.");
    // The worker resends the command (READONLY means it did not run); the producer fails it and answers 503.
    expect(worker.options.reconnectOnError!(readonly)).toBe(2);
    expect(producer.options.reconnectOnError!(readonly)).toBe(1);
    expect(producer.options.reconnectOnError!(new Error('ERR wrong number of arguments'))).toBe(false);
    producer.disconnect();
    worker.disconnect();
  });

  it('says where Redis is without its password', () => {
    expect(describeRedis({ url: 'redis://user:secret@10.0.0.5:6379' })).toBe('redis://***@10.0.0.5:6379');
    expect(describeRedis(loadConfig({ REDIS_SENTINELS: '10.0.0.7:26379,10.0.0.8:26379' }).redis)).toBe('lookalike through the Sentinels 10.0.0.7:26379,10.0.0.8:26379');
  });
});
