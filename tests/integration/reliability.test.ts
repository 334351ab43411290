import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startImageServer, startPipeline, upsert, type Pipeline } from './pipeline-helpers';

/**
 * Reliability against the real services: a worker killed with SIGKILL mid-batch, Redis restarted, Elasticsearch
 * unreachable for a while. Each run ends with every product indexed exactly once, at its newest version.
 */
jest.setTimeout(180_000);
const root = path.resolve(__dirname, '..', '..');

let images: Awaited<ReturnType<typeof startImageServer>>;
beforeAll(async () => {
  images = await startImageServer();
});
afterAll(async () => {
  await images.close();
});

function startIndexer(p: Pipeline, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [path.join(root, 'dist', 'indexer', 'main.js')], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      INDEX_ALIAS: p.config.index.alias,
      QUEUE_PREFIX: p.config.redis.queuePrefix,
      REDIS_URL: p.config.redis.url,
      ES_URL: p.config.elasticsearch.url,
      FETCH_ALLOWED_HOSTS: '127.0.0.1',
      INDEXER_PORT: '0',
      JOB_LOCK_MS: '2000',
      JOB_BACKOFF_MS: '200',
      BATCH_MAX_ITEMS: '8',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function countIndexed(p: Pipeline, version: number): Promise<number> {
  await p.deps.es.indices.refresh({ index: p.config.index.alias });
  const response = await p.deps.es.count({
    index: p.config.index.alias,
    query: { bool: { filter: [{ term: { source_version: version } }, { exists: { field: 'embeddings.efficientnet-lite0' } }, { exists: { field: 'embeddings.colour-texture' } }] } },
  });
  return response.count;
}

async function assertAllIndexedOnce(p: Pipeline, ids: string[], version: number): Promise<void> {
  expect((await p.deps.es.count({ index: p.config.index.alias })).count).toBe(ids.length);
  expect(await countIndexed(p, version)).toBe(ids.length);
  for (const id of [ids[0]!, ids[Math.floor(ids.length / 2)]!, ids[ids.length - 1]!]) {
    expect((await p.get(`/v1/products/${id}/status`)).body).toMatchObject({ state: 'indexed', version });
  }
}

it('kill -9 of a worker in the middle of a batch, several times: every product ends indexed exactly once', async () => {
  const p = await startPipeline({}, { startWorker: false });
  const children: ChildProcess[] = [];
  try {
    const ids = Array.from({ length: 120 }, (_, i) => `k-${i}`);
    expect((await p.post({ events: ids.map((id, i) => upsert(id, 1, `${images.url}/img/${500 + i}.jpg`)) })).status).toBe(202);
    for (let round = 0; round < 3; round++) {
      const child = startIndexer(p);
      children.push(child);
      const before = await countIndexed(p, 1);
      // Let it get into the work, then kill it without warning.
      await p.waitFor(async () => (await countIndexed(p, 1)) > before, 60_000);
      await sleep(300);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    expect(await countIndexed(p, 1)).toBeLessThan(ids.length);
    const last = startIndexer(p);
    children.push(last);
    await p.waitFor(async () => (await countIndexed(p, 1)) === ids.length, 120_000);
    await p.waitFor(async () => (await p.queue.getJobCountByTypes('waiting', 'active', 'delayed')) === 0, 30_000);
    await assertAllIndexedOnce(p, ids, 1);
    expect(await p.queue.getJobCountByTypes('failed')).toBe(0);
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await p.close();
  }
});

it('Redis restarted during a run: API and worker recover by themselves and nothing is lost', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-redis-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const startRedis = () =>
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  let redis = startRedis();
  await sleep(500);
  const p = await startPipeline({ REDIS_URL: `redis://127.0.0.1:${port}` }, { startWorker: false });
  const child = startIndexer(p);
  try {
    const first = Array.from({ length: 30 }, (_, i) => `r-${i}`);
    expect((await p.post({ events: first.map((id, i) => upsert(id, 1, `${images.url}/img/${700 + i}.jpg`)) })).status).toBe(202);
    await p.waitFor(async () => (await countIndexed(p, 1)) > 0, 60_000);
    redis.kill('SIGTERM');
    await new Promise((resolve) => redis.once('exit', resolve));
    // While Redis is down the API says so at once; nothing is accepted that could be lost.
    const down = await p.post(upsert('r-down', 1, `${images.url}/img/799.jpg`));
    expect(down.status).toBe(503);
    await sleep(1500);
    redis = startRedis();
    const second = Array.from({ length: 30 }, (_, i) => `r-${30 + i}`);
    await p.waitFor(async () => (await p.post({ events: second.map((id, i) => upsert(id, 1, `${images.url}/img/${730 + i}.jpg`)) })).status === 202, 30_000);
    await p.waitFor(async () => (await countIndexed(p, 1)) === 60, 120_000);
    await assertAllIndexedOnce(p, [...first, ...second], 1);
  } finally {
    child.kill('SIGKILL');
    await p.close().catch(() => undefined);
    redis.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A TCP proxy to Elasticsearch that can be cut (connections refused and dropped) and restored. */
async function startProxy(target: URL): Promise<{ url: string; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = async () => {
    server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server!.address() as net.AddressInfo).port;
  };
  const cut = async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise((resolve) => server!.close(resolve));
  };
  await listen();
  return { url: `http://127.0.0.1:${port}`, cut, restore: listen, close: cut };
}

it('Elasticsearch unreachable for a while: jobs retry with backoff and succeed afterwards', async () => {
  const proxy = await startProxy(new URL(process.env.ES_URL ?? 'http://127.0.0.1:9200'));
  const p = await startPipeline({ ES_URL: proxy.url, ES_MAX_RETRIES: '0', ES_REQUEST_TIMEOUT_MS: '2000', JOB_BACKOFF_MS: '300', JOB_ATTEMPTS: '10' });
  try {
    await proxy.cut();
    const ids = Array.from({ length: 20 }, (_, i) => `es-${i}`);
    expect((await p.post({ events: ids.map((id, i) => upsert(id, 1, `${images.url}/img/${900 + i}.jpg`)) })).status).toBe(202);
    await p.waitFor(async () => /outcome="retry"/.test(await p.registry.getSingleMetricAsString('lookalike_indexer_events_total')), 30_000);
    await sleep(2000);
    await proxy.restore();
    await p.waitFor(async () => (await p.get(`/v1/products/es-19/status`)).body.state === 'indexed' && (await p.get(`/v1/products/es-0/status`)).body.state === 'indexed', 90_000);
    await p.waitFor(async () => (await p.queue.getJobCountByTypes('waiting', 'active', 'delayed')) === 0, 60_000);
    await assertAllIndexedOnce(p, ids, 1);
  } finally {
    await p.close();
    await proxy.close().catch(() => undefined);
  }
});
