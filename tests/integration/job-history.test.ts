import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../core/config';
import { defaultJobOptions, trimJobHistory } from '../../core/jobs';
import { connectRedis, createRedisConnection } from '../../core/redis';
import { testConfig } from './helpers';

jest.setTimeout(60_000);

/**
 * Finished jobs keep their payload (a product's data) in Redis: completed ones briefly, failed ones longer for
 * inspection, both bounded in count and age, and removed by age even on a queue where nothing else finishes.
 */
describe('job history', () => {
  let config: Config;
  let queue: Queue;
  let worker: Worker;
  let connection: ReturnType<typeof createRedisConnection>;
  let workerConnection: ReturnType<typeof createRedisConnection>;

  beforeAll(async () => {
    config = testConfig({ JOB_COMPLETED_TTL_S: '1', JOB_FAILED_TTL_S: '4', JOB_HISTORY: '3', JOB_ATTEMPTS: '1' });
    connection = createRedisConnection(config.redis, 'worker');
    await connectRedis(connection, config.redis);
    queue = new Queue('history', { connection, prefix: config.redis.queuePrefix, defaultJobOptions: defaultJobOptions(config.worker) });
    worker = new Worker(
      'history',
      async (job) => {
        if (job.data.fail) throw new UnrecoverableError('image_not_found: a reason kept for inspection');
        return 'ok';
      },
      { connection: (workerConnection = createRedisConnection(config.redis, 'worker')), prefix: config.redis.queuePrefix },
    );
  });

  afterAll(async () => {
    await worker?.close();
    await queue?.obliterate({ force: true });
    await queue?.close();
    connection?.disconnect();
    workerConnection?.disconnect();
  });

  const finished = async (count: number) => {
    for (let i = 0; i < 100; i++) {
      const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait');
      if ((counts.completed ?? 0) + (counts.failed ?? 0) >= count && !counts.active && !counts.wait) return counts;
      await sleep(100);
    }
    throw new Error('jobs did not finish');
  };

  it('keeps at most JOB_HISTORY of each', async () => {
    await queue.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'upsert', data: { product: { id: `p-${i}`, title: 'private' }, fail: i % 2 === 1 } })));
    await finished(4);
    const counts = await queue.getJobCounts('completed', 'failed');
    expect(counts.completed).toBeLessThanOrEqual(3);
    expect(counts.failed).toBe(2);
  });

  it('on a busy queue, a job that completes removes those completed more than JOB_COMPLETED_TTL_S before', async () => {
    await queue.obliterate({ force: true });
    await queue.add('upsert', { product: { id: 'first', title: 'private' } });
    await finished(1);
    await sleep(1_500);
    await queue.add('upsert', { product: { id: 'second', title: 'private' } });
    await finished(1);
    await sleep(200);
    expect((await queue.getCompleted()).map((job) => job.data.product.id)).toEqual(['second']);
  });

  it('removes completed jobs after JOB_COMPLETED_TTL_S and failed ones after JOB_FAILED_TTL_S, with nothing else finishing', async () => {
    await queue.obliterate({ force: true });
    await queue.add('upsert', { product: { id: 'deleted-later', title: 'private' } });
    await queue.add('upsert', { product: { id: 'broken', title: 'private' }, fail: true });
    await finished(2);
    await sleep(1_500);
    // BullMQ's own ages act only when another job finishes: nothing did, so both are still there.
    expect(await queue.getJobCounts('completed', 'failed')).toEqual({ completed: 1, failed: 1 });
    expect(await trimJobHistory(queue, config.worker)).toEqual({ completed: 1, failed: 0 });
    const [failed] = await queue.getFailed();
    expect(failed!.failedReason).toMatch(/image_not_found/);
    await sleep(3_000);
    expect(await trimJobHistory(queue, config.worker)).toEqual({ completed: 0, failed: 1 });
    expect(await queue.getJobCounts('completed', 'failed')).toEqual({ completed: 0, failed: 0 });
  });
});
