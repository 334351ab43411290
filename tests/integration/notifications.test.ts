import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Queue } from 'bullmq';
import { QUEUES } from '../../core/jobs';
import { notificationBodySchema, type NotificationEvent } from '../../core/notifications/notification';
import { verifySignature } from '../../core/webhook-signature';
import { remove, startImageServer, startPipeline, upsert, type Pipeline } from './pipeline-helpers';

/**
 * Notifications end to end: the in-process pipeline (API + indexer) against the real Elasticsearch and Redis, and a
 * receiver on loopback that verifies every signature as a user's receiver would (docs/notifications.md).
 */
jest.setTimeout(120_000);

const NOTIFY_SECRET = 'notify-secret-for-tests';

interface Receiver {
  url: string;
  /** Each notification that arrived: its raw body, and its events once the signature verified. */
  received: Array<{ body: Buffer; signature: string; events: NotificationEvent[] }>;
  events(): NotificationEvent[];
  /** What the receiver answers next: `fail` requests answer 503 first. */
  failNext(count: number): void;
  close(): Promise<void>;
}

/** A receiver on `host` (and `port`, 0: any); it answers 401 to a notification whose signature does not verify. */
async function startReceiver(host = '127.0.0.1', port = 0): Promise<Receiver> {
  const received: Receiver['received'] = [];
  let failures = 0;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (failures > 0) {
        failures--;
        return void response.writeHead(503).end();
      }
      const body = Buffer.concat(chunks);
      const signature = String(request.headers['lookalike-signature']);
      try {
        verifySignature(signature, body, { secrets: [NOTIFY_SECRET], toleranceSeconds: 300 });
      } catch {
        return void response.writeHead(401).end();
      }
      const parsed = notificationBodySchema.parse(JSON.parse(body.toString()));
      received.push({ body, signature, events: 'events' in parsed ? parsed.events : [parsed] });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}/hooks/lookalike`,
    received,
    events: () => received.flatMap((r) => r.events),
    failNext: (count) => void (failures = count),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const notifyEnv = (url: string, extra: Record<string, string> = {}) => ({ NOTIFY_URL: url, NOTIFY_SECRET, NOTIFY_BACKOFF_MS: '100', NOTIFY_BATCH_WAIT_MS: '50', ...extra });

async function counted(p: Pipeline, outcome: 'sent' | 'retried' | 'failed'): Promise<number> {
  const metric = await p.metrics.notifications.get();
  return metric.values.filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
}

let images: Awaited<ReturnType<typeof startImageServer>>;
beforeAll(async () => {
  images = await startImageServer();
});
afterAll(async () => {
  await images.close();
});

describe('a receiver that is up', () => {
  let receiver: Receiver;
  let p: Pipeline;
  beforeAll(async () => {
    receiver = await startReceiver();
    p = await startPipeline(notifyEnv(receiver.url));
  });
  afterAll(async () => {
    await p.close();
    await receiver.close();
  });

  it('gets a signed product.indexed when a product is indexed, and product.deleted when it is deleted', async () => {
    expect((await p.post(upsert('n-1', 3, `${images.url}/img/1.jpg`))).status).toBe(202);
    await p.waitFor(async () => receiver.events().some((e) => e.product_id === 'n-1'));
    expect(receiver.events().filter((e) => e.product_id === 'n-1')).toEqual([{ type: 'product.indexed', product_id: 'n-1', catalog: 'default', version: 3, at: expect.any(String) }]);
    expect((await p.get('/v1/products/n-1/status')).body.state).toBe('indexed');

    expect((await p.post(remove('n-1', 4))).status).toBe(202);
    await p.waitFor(async () => receiver.events().some((e) => e.product_id === 'n-1' && e.type === 'product.deleted'));
    expect(receiver.events().find((e) => e.type === 'product.deleted')).toMatchObject({ product_id: 'n-1', version: 4, catalog: 'default' });
    // The receiver holds an event as soon as it arrives; the sender counts it once the receiver's answer is back.
    await p.waitFor(async () => (await counted(p, 'sent')) >= 2);
    expect(await counted(p, 'sent')).toBeGreaterThanOrEqual(2);
    // Ids are per catalog: a product of another catalog is named with its catalog.
    expect((await p.post(upsert('n-1', 1, `${images.url}/img/2.jpg`, { catalog: 'store-a' }, 'e-store-a-n-1'))).status).toBe(202);
    await p.waitFor(async () => receiver.events().some((e) => e.product_id === 'n-1' && e.catalog === 'store-a'));
    expect(receiver.events().filter((e) => e.catalog === 'store-a')).toEqual([{ type: 'product.indexed', product_id: 'n-1', catalog: 'store-a', version: 1, at: expect.any(String) }]);
  });

  it('gets product.failed, with the reason, for a product that cannot be indexed', async () => {
    expect((await p.post(upsert('n-bad', 1, `${images.url}/missing.jpg`))).status).toBe(202);
    await p.waitFor(async () => receiver.events().some((e) => e.product_id === 'n-bad'));
    expect(receiver.events().filter((e) => e.product_id === 'n-bad')).toEqual([
      { type: 'product.failed', product_id: 'n-bad', catalog: 'default', version: 1, at: expect.any(String), error: expect.stringMatching(/^fetch_not_found: /) },
    ]);
  });

  it('gets several products that finish together as one { events } notification', async () => {
    const ids = ['b-1', 'b-2', 'b-3', 'b-4', 'b-5'];
    const before = receiver.received.length;
    expect((await p.post({ events: ids.map((id, i) => upsert(id, 1, `${images.url}/img/${20 + i}.jpg`)) })).status).toBe(202);
    await p.waitFor(async () => ids.every((id) => receiver.events().some((e) => e.product_id === id)));
    const batches = receiver.received.slice(before).filter((r) => r.events.some((e) => ids.includes(e.product_id)));
    // Catalog batches index them (the worker may take the first job alone before the others arrive); the events of
    // each catalog batch leave together as one { events } notification.
    expect(batches.length).toBeLessThan(ids.length);
    expect(batches.some((b) => 'events' in JSON.parse(b.body.toString()) && b.events.length > 1)).toBe(true);
    expect(batches.flatMap((b) => b.events.map((e) => e.product_id)).sort()).toEqual(ids);
  });
});

describe('a receiver that fails', () => {
  it('gets the notification after retries with backoff', async () => {
    const receiver = await startReceiver();
    const p = await startPipeline(notifyEnv(receiver.url));
    try {
      receiver.failNext(3);
      expect((await p.post(upsert('r-1', 1, `${images.url}/img/2.jpg`))).status).toBe(202);
      await p.waitFor(async () => receiver.events().some((e) => e.product_id === 'r-1'));
      expect((await p.get('/v1/products/r-1/status')).body.state).toBe('indexed');
      // Counted once the receiver's answer is back, a moment after the receiver holds the event.
      await p.waitFor(async () => (await counted(p, 'sent')) >= 1);
      expect(await counted(p, 'retried')).toBe(3);
      expect(await counted(p, 'sent')).toBe(1);
    } finally {
      await p.close();
      await receiver.close();
    }
  });

  it('down across an indexer restart: the notification waits in Redis and arrives once the receiver is up', async () => {
    // A port nobody listens on now: the receiver is down.
    const placeholder = await startReceiver();
    const port = Number(new URL(placeholder.url).port);
    await placeholder.close();
    const url = `http://127.0.0.1:${port}/hooks/lookalike`;
    const first = await startPipeline(notifyEnv(url, { NOTIFY_BACKOFF_MS: '500', NOTIFY_ATTEMPTS: '20' }));
    const shared = { INDEX_ALIAS: first.config.index.alias, QUEUE_PREFIX: first.config.redis.queuePrefix };
    let second: Pipeline | undefined;
    let receiver: Receiver | undefined;
    try {
      expect((await first.post(upsert('s-1', 1, `${images.url}/img/3.jpg`))).status).toBe(202);
      // Indexing does not wait for the receiver.
      await first.waitFor(async () => (await first.get('/v1/products/s-1/status')).body.state === 'indexed');
      await first.waitFor(async () => (await counted(first, 'retried')) >= 1);
      await first.close({ keepData: true });

      second = await startPipeline(notifyEnv(url, { ...shared, NOTIFY_BACKOFF_MS: '500', NOTIFY_ATTEMPTS: '20' }));
      receiver = await startReceiver('127.0.0.1', port);
      await second.waitFor(async () => receiver!.events().some((e) => e.product_id === 's-1'), 60_000);
      expect(receiver.events()).toEqual([expect.objectContaining({ type: 'product.indexed', product_id: 's-1', version: 1 })]);
      expect(await counted(second, 'sent')).toBe(1);
    } finally {
      await (second ?? first).close();
      await receiver?.close();
    }
  });
});

describe('a receiver on a private address that FETCH_ALLOWED_HOSTS does not list', () => {
  // 127.0.0.2 is loopback like 127.0.0.1, but only 127.0.0.1 (the image server) is allowed.
  it('is refused at send: indexing goes on, nothing is sent, the notification fails without retries', async () => {
    const receiver = await startReceiver('127.0.0.2');
    const p = await startPipeline(notifyEnv(receiver.url, { FETCH_ALLOWED_HOSTS: '127.0.0.1' }));
    const queue = new Queue(QUEUES.notifications, { connection: p.deps.redis, prefix: p.config.redis.queuePrefix });
    try {
      expect((await p.post(upsert('x-1', 1, `${images.url}/img/4.jpg`))).status).toBe(202);
      await p.waitFor(async () => (await p.get('/v1/products/x-1/status')).body.state === 'indexed');
      await p.waitFor(async () => (await queue.getFailedCount()) === 1);
      const [failed] = await queue.getFailed();
      expect(failed!.failedReason).toMatch(/^fetch_blocked_address: the notification host 127\.0\.0\.2 resolves to a loopback address/);
      expect(failed!.attemptsMade).toBe(1);
      expect(await counted(p, 'failed')).toBe(1);
      expect(await counted(p, 'retried')).toBe(0);
      expect(receiver.received).toHaveLength(0);
    } finally {
      await queue.close();
      await p.close();
      await receiver.close();
    }
  });

  it('is refused at start: the indexer exits with one line naming NOTIFY_URL (built code: npm run build)', () => {
    const root = path.resolve(__dirname, '..', '..');
    const env = { ...process.env, LOG_LEVEL: 'silent', NOTIFY_URL: 'http://127.0.0.2:9/hooks', NOTIFY_SECRET, FETCH_ALLOWED_HOSTS: '127.0.0.1', ES_URL: 'http://127.0.0.1:1' };
    const result = spawnSync(process.execPath, [path.join(root, 'dist', 'indexer', 'main.js')], { env, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^indexer: notify_url_blocked: NOTIFY_URL: the notification host 127\.0\.0\.2 resolves to a loopback address/)]);
  });
});
