import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { failureWindow, recordMeasurement, steadyStream } from './failover-helpers';
import { startImageServer, startPipeline, upsert } from './pipeline-helpers';
import { services } from './service-clusters';

/**
 * Redis behind Sentinel, started with `REDIS_SENTINEL=1 scripts/services.sh up redis` on ports and in a directory of
 * the test's own: a primary, a replica (AOF on both) and three Sentinels. The API and the indexer connect through the
 * Sentinels; the primary is killed with SIGKILL while webhooks arrive. They follow the new primary by themselves, no
 * event answered 202 is lost, and meanwhile webhooks are refused at once with 503 `queue_unavailable`.
 */
jest.setTimeout(180_000);

const base = 21_000 + Math.floor(Math.random() * 8_000);
const sentinelPorts = [base + 10, base + 11, base + 12];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-sentinel-'));
const env = { REDIS_SENTINEL: '1', REDIS_PORT: String(base), REDIS_SENTINEL_PORT: String(sentinelPorts[0]), REDIS_SENTINEL_DIR: dir };

/** The primary's port as the first answering Sentinel names it. */
async function primaryPort(): Promise<number | null> {
  for (const port of sentinelPorts) {
    const sentinel = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    sentinel.on('error', () => undefined);
    try {
      await sentinel.connect();
      const answer = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', 'lookalike')) as [string, string] | null;
      if (answer) return Number(answer[1]);
    } catch {
      // ask the next Sentinel
    } finally {
      sentinel.disconnect();
    }
  }
  return null;
}

/** Whether the instance on `port` is a replica whose link to its primary is up. */
async function isSyncedReplica(port: number): Promise<boolean> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const info = await redis.info('replication');
    return /role:slave/.test(info) && /master_link_status:up/.test(info);
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

beforeAll(async () => {
  await services(['up', 'redis'], env, 60_000);
}, 90_000);

afterAll(async () => {
  await services(['down', 'redis'], env, 60_000);
  fs.rmSync(dir, { recursive: true, force: true });
});

it('the primary killed while webhooks arrive: API and indexer follow the new primary, no accepted event is lost, and meanwhile webhooks get 503 queue_unavailable at once', async () => {
  const images = await startImageServer();
  const p = await startPipeline({ REDIS_SENTINELS: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','), REDIS_SENTINEL_NAME: 'lookalike', RATE_LIMIT_PER_S: '0' });
  try {
    expect(p.config.redis.waitReplicas).toBe(1);
    expect(await isSyncedReplica(base + 1)).toBe(true);
    // Every event is a new product with the same photo: embedded once, then reused by its content hash.
    const accepted: string[] = [];
    const stream = steadyStream(async (n) => {
      const response = await p.post(upsert(`f-${n}`, 1, `${images.url}/img/1500.jpg`));
      if (response.status === 202) accepted.push(`f-${n}`);
      return { ok: response.status === 202, detail: response.status === 202 ? '202' : `${response.status} ${response.body?.error?.code}: ${response.body?.error?.message}` };
    }, 100);
    await sleep(2_000);

    const primary = await primaryPort();
    expect(primary).toBe(base);
    const killedAt = Date.now();
    process.kill(Number(fs.readFileSync(path.join(dir, `redis-${base}`, 'redis.pid'), 'utf8')), 'SIGKILL');
    await p.waitFor(async () => (await primaryPort()) === base + 1, 30_000);
    const promotedAt = Date.now();
    // The old primary comes back as a replica of the new one (services.sh asks the Sentinels which is primary).
    await services(['up', 'redis'], env, 60_000);
    await p.waitFor(() => isSyncedReplica(base), 30_000);
    const replicatedAt = Date.now();
    await sleep(3_000);
    await stream.stop();

    const outcomes = stream.outcomes;
    // (Requests that were under way when the primary died may fail like the later ones.)
    expect(outcomes.filter((outcome) => outcome.at + outcome.ms < killedAt && !outcome.ok)).toEqual([]);
    // Refused at once, never hung, never a 500: every request answered within the ingest deadline.
    expect(outcomes.filter((outcome) => !outcome.ok && !outcome.detail.startsWith('503 queue_unavailable:'))).toEqual([]);
    expect(Math.max(...outcomes.map((outcome) => outcome.ms))).toBeLessThan(4_000);
    // Accepted again once the new primary has its replica back.
    const settled = outcomes.filter((outcome) => outcome.at > replicatedAt + 1_000);
    expect(settled.length).toBeGreaterThan(5);
    expect(settled.every((outcome) => outcome.ok)).toBe(true);

    // Every event answered 202 is indexed: the indexer followed the new primary, and nothing accepted was lost.
    await p.waitFor(async () => {
      await p.deps.es.indices.refresh({ index: p.config.index.alias });
      return (await p.deps.es.count({ index: p.config.index.alias, query: { ids: { values: accepted } } })).count === accepted.length;
    }, 90_000);
    expect(await p.queue.getJobCountByTypes('failed')).toBe(0);
    expect((await p.get(`/v1/products/${accepted[accepted.length - 1]}/status`)).body).toMatchObject({ state: 'indexed', version: 1 });

    recordMeasurement('redis-primary-failure', {
      webhooks: failureWindow(outcomes, killedAt),
      secondsToPromotion: (promotedAt - killedAt) / 1000,
      secondsToReplicaBack: (replicatedAt - killedAt) / 1000,
      accepted: accepted.length,
    });
  } finally {
    // After a failover the cleanup may meet a connection still on its way to the new primary: never hide the result.
    await p.close().catch(() => undefined);
    await images.close();
  }
});
