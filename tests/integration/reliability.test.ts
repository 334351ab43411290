import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertEachWrittenOnce, countIndexed, readIndexingLog, startIndexer, type IndexedDocument } from './indexer-processes';
import { startImageServer, startPipeline, upsert } from './pipeline-helpers';

/**
 * Reliability against the real services: a worker killed with SIGKILL mid-batch, Redis restarted, Elasticsearch
 * unreachable for a while. Each run ends with every product indexed at its newest version, each document written
 * exactly once (its `_version`, which counts every write of a document, is 1).
 */
jest.setTimeout(180_000);

let images: Awaited<ReturnType<typeof startImageServer>>;
beforeAll(async () => {
  images = await startImageServer();
});
afterAll(async () => {
  await images.close();
});

interface Lifetime {
  pid: number;
  from: number;
  to: number;
}

/**
 * Writing is idempotent (every write is conditional on what was read), embedding is not: a job is delivered again
 * when its worker dies (and when its lock expires, which a starved process lets happen), and a delivery that finds
 * the product not yet written embeds it again, legitimately. What must hold, per product: each worker embedded it at
 * most as many times as it took its job; the worker that wrote it (the one alive when its stored `embedded_at` was
 * set) embedded it; no worker started after that one embedded it. Returns the violations.
 */
function checkEmbeddings(documents: IndexedDocument[], workers: Lifetime[], indexingLog: string): string[] {
  const count = new Map<string, number>();
  const bump = (key: string) => count.set(key, (count.get(key) ?? 0) + 1);
  const productOfImage = new Map(documents.map((document) => [document.imageHash, document.id]));
  for (const { what, pid, subject } of readIndexingLog(indexingLog)) {
    bump(`${what} ${pid} ${what === 'embedded' ? productOfImage.get(subject) ?? subject : subject}`);
  }
  const problems: string[] = [];
  for (const document of documents) {
    const writer = workers.findIndex((worker) => worker.from <= document.embeddedAt && document.embeddedAt <= worker.to);
    if (writer < 0) problems.push(`${document.id}: embedded_at is in no worker's lifetime`);
    workers.forEach((worker, position) => {
      const took = count.get(`took ${worker.pid} ${document.id}`) ?? 0;
      const embedded = count.get(`embedded ${worker.pid} ${document.id}`) ?? 0;
      const most = position > writer ? 0 : took;
      const least = position === writer ? 1 : 0;
      if (embedded > most || embedded < least) {
        problems.push(`${document.id}: worker ${position}${position === writer ? ' (its writer)' : ''} took its job ${took} times and embedded it ${embedded} times`);
      }
    });
  }
  return problems;
}

it('kill -9 of a worker mid-batch, several times: each product written exactly once; embedded by its writer, at most once each time a worker took its job, never by a later worker', async () => {
  const p = await startPipeline({}, { startWorker: false });
  const indexingLog = path.join(os.tmpdir(), `lookalike-indexing-${p.config.index.alias}.log`);
  const workers: Lifetime[] = [];
  const children: ChildProcess[] = [];
  try {
    const ids = Array.from({ length: 120 }, (_, i) => `k-${i}`);
    expect((await p.post({ events: ids.map((id, i) => upsert(id, 1, `${images.url}/img/${500 + i}.jpg`)) })).status).toBe(202);
    for (let round = 0; round < 3; round++) {
      const from = Date.now();
      const child = startIndexer(p, {}, indexingLog);
      children.push(child);
      const before = await countIndexed(p, 1);
      // Let it get into the work, then kill it without warning.
      await p.waitFor(async () => (await countIndexed(p, 1)) > before, 60_000);
      await sleep(300);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      workers.push({ pid: child.pid!, from, to: Date.now() });
    }
    expect(await countIndexed(p, 1)).toBeLessThan(ids.length);
    const from = Date.now();
    const last = startIndexer(p, {}, indexingLog);
    children.push(last);
    await p.waitFor(async () => (await countIndexed(p, 1)) === ids.length, 120_000);
    await p.waitFor(async () => (await p.queue.getJobCountByTypes('waiting', 'active', 'delayed')) === 0, 30_000);
    workers.push({ pid: last.pid!, from, to: Date.now() });
    const documents = await assertEachWrittenOnce(p, ids, 1);
    // Each product has an image of its own, so an image's embeddings are that product's.
    expect(new Set(documents.map((document) => document.imageHash)).size).toBe(ids.length);
    expect(checkEmbeddings(documents, workers, indexingLog)).toEqual([]);
    expect(await p.queue.getJobCountByTypes('failed')).toBe(0);
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await p.close();
    fs.rmSync(indexingLog, { force: true });
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
    await assertEachWrittenOnce(p, [...first, ...second], 1);
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
    await assertEachWrittenOnce(p, ids, 1);
  } finally {
    await p.close();
    await proxy.close().catch(() => undefined);
  }
});
