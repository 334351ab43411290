import type { AddressInfo } from 'node:net';
import { createApp } from '../../api/app';
import { createCatalogQueue } from '../../core/jobs';
import { createRedisConnection } from '../../core/redis';
import { StatusStore } from '../../core/status-store';
import { signatureHeader } from '../../core/webhook-signature';
import { remove, startImageServer, startPipeline, upsert, SECRET, type Pipeline } from './pipeline-helpers';

jest.setTimeout(90_000);

let images: Awaited<ReturnType<typeof startImageServer>>;
beforeAll(async () => {
  images = await startImageServer();
});
afterAll(async () => {
  await images.close();
});

async function stored(p: Pipeline, id: string): Promise<any> {
  const doc = await p.deps.es.get({ index: p.config.index.alias, id, _source_exclude_vectors: false } as never).catch(() => null);
  return (doc as { _source?: unknown } | null)?._source ?? null;
}

const pending = (p: Pipeline): Promise<number> => p.queue.getJobCountByTypes('waiting', 'active', 'delayed', 'prioritized');

const statusOf = async (p: Pipeline, id: string) => (await p.get(`/v1/products/${encodeURIComponent(id)}/status`)).body;

describe('catalog pipeline: webhook → queue → batched embedding → Elasticsearch', () => {
  let p: Pipeline;
  beforeEach(async () => {
    p = await startPipeline();
  });
  afterEach(async () => {
    await p.close();
  });

  it('indexes new products with both models, and a price/stock change is a partial update that never re-embeds', async () => {
    const events = Array.from({ length: 20 }, (_, i) => upsert(`sku-${i}`, 1, `${images.url}/img/${i}.jpg`));
    expect(await p.post({ events })).toEqual({ status: 202, body: { accepted: 20, duplicates: 0 } });
    expect((await statusOf(p, 'sku-3')).state).toMatch(/queued|indexed/);
    await p.waitFor(async () => (await statusOf(p, 'sku-19')).state === 'indexed' && (await statusOf(p, 'sku-0')).state === 'indexed');
    const first = await stored(p, 'sku-7');
    expect(first).toMatchObject({ id: 'sku-7', price: 10, available: true, source_version: 1 });
    expect(first.vectors['efficientnet-lite0']).toHaveLength(1280);
    expect(first.vectors['colour-texture']).toHaveLength(288);
    expect(await statusOf(p, 'sku-7')).toEqual({ id: 'sku-7', catalog: 'default', state: 'indexed', version: 1, models: ['colour-texture', 'efficientnet-lite0'], last_error: null, last_ignored: null });

    const fetchesBefore = images.requests.length;
    expect((await p.post(upsert('sku-7', 2, `${images.url}/img/7.jpg`, { price: 7.5, available: false }))).status).toBe(202);
    await p.waitFor(async () => { const s = await statusOf(p, 'sku-7'); return s.version === 2 && s.state === 'indexed'; });
    const updated = await stored(p, 'sku-7');
    expect(updated).toMatchObject({ price: 7.5, available: false, source_version: 2 });
    expect(updated.embeddings['efficientnet-lite0'].embedded_at).toBe(first.embeddings['efficientnet-lite0'].embedded_at);
    expect(images.requests.length).toBe(fetchesBefore); // not even fetched
    const events2 = await p.registry.getSingleMetricAsString('lookalike_indexer_events_total');
    expect(events2).toMatch(/kind="upsert",outcome="updated"[^\n]* 1/);
    // Freshness was measured.
    expect(await p.registry.getSingleMetricAsString('lookalike_freshness_seconds')).toMatch(/lookalike_freshness_seconds_count\{[^}]*kind="upsert"[^}]*\} 20/);
  });

  it('two products with the same photo are embedded once (keyed by content hash and model version)', async () => {
    await p.post(upsert('a', 1, `${images.url}/img/42.jpg`));
    await p.waitFor(async () => (await statusOf(p, 'a')).state === 'indexed');
    await p.post(upsert('b', 1, `${images.url}/img/42.jpg?variant=b`));
    await p.waitFor(async () => (await statusOf(p, 'b')).state === 'indexed');
    const [a, b] = [await stored(p, 'a'), await stored(p, 'b')];
    expect(b.image_hash).toBe(a.image_hash);
    expect(b.vectors['efficientnet-lite0']).toEqual(a.vectors['efficientnet-lite0']);
    expect(b.embeddings['efficientnet-lite0'].embedded_at).toBe(b.embeddings['colour-texture'].embedded_at);
  });

  it('replayed and out-of-order events: the final state is the newest event, also across deletes', async () => {
    const url = (n: number) => `${images.url}/img/${n}.jpg`;
    // Versions 3, 1, 2, then 3 again (a replay with a new event id): only 3 counts.
    for (const event of [upsert('x', 3, url(3), { price: 3 }), upsert('x', 1, url(1), { price: 1 }), upsert('x', 2, url(2), { price: 2 }), upsert('x', 3, url(3), { price: 3 }, 'again')]) {
      expect((await p.post(event)).status).toBe(202);
    }
    await p.waitFor(async () => (await pending(p)) === 0);
    expect(await stored(p, 'x')).toMatchObject({ price: 3, source_version: 3, image_url: url(3) });
    // A delete (v5) then a late upsert (v4): the tombstone keeps it deleted.
    await p.post(remove('x', 5));
    await p.waitFor(async () => (await statusOf(p, 'x')).state === 'deleted');
    await p.post(upsert('x', 4, url(4), { price: 4 }));
    await p.waitFor(async () => (await p.queue.getJobCountByTypes('completed')) >= 6 && (await pending(p)) === 0);
    expect(await stored(p, 'x')).toMatchObject({ deleted: true, source_version: 5 });
    // Ignored, and visibly so: the status names the event and why.
    expect(await statusOf(p, 'x')).toMatchObject({ state: 'deleted', version: 5, models: [], last_ignored: { event_id: 'e-x-4', version: 4, reason: 'tombstoned' } });
    // A newer upsert brings it back.
    await p.post(upsert('x', 6, url(6), { price: 6 }));
    await p.waitFor(async () => { const s = await statusOf(p, 'x'); return s.version === 6 && s.state === 'indexed'; });
    const revived = await stored(p, 'x');
    expect(revived).toMatchObject({ price: 6, source_version: 6 });
    expect(revived.deleted).toBeUndefined();
  });

  it('an event older than what the index holds is ignored, counted as stale, and shown in the status', async () => {
    await p.post(upsert('old', 3, `${images.url}/img/33.jpg`, { price: 3 }));
    await p.waitFor(async () => (await statusOf(p, 'old')).state === 'indexed');
    expect((await statusOf(p, 'old')).last_ignored).toBeNull();
    expect((await p.post(upsert('old', 2, `${images.url}/img/32.jpg`, { price: 2 }))).status).toBe(202);
    await p.waitFor(async () => (await statusOf(p, 'old')).last_ignored !== null);
    expect(await statusOf(p, 'old')).toMatchObject({ state: 'indexed', version: 3, last_ignored: { event_id: 'e-old-2', version: 2, reason: 'stale' } });
    expect(await stored(p, 'old')).toMatchObject({ price: 3, source_version: 3 });
    expect(await p.registry.getSingleMetricAsString('lookalike_indexer_events_total')).toMatch(/kind="upsert",outcome="stale"[^\n]*\} 1$/m);
  });

  it('a failure it cannot record in the status is logged and counted, not swallowed', async () => {
    const set = p.status.set.bind(p.status);
    p.status.set = async (id, state, version, error) => (state === 'failed' ? Promise.reject(new Error('Connection is closed.')) : set(id, state, version, error));
    await p.post(upsert('unrecorded', 1, `${images.url}/missing.jpg`));
    await p.waitFor(async () => (await p.queue.getFailedCount()) === 1);
    await p.waitFor(async () => /state="failed"[^\n]*\} 1$/m.test(await p.registry.getSingleMetricAsString('lookalike_indexer_status_write_failures_total')));
  });

  it('a bad item fails alone, with its reason: 404 image, corrupt image, and a document Elasticsearch refuses', async () => {
    // Sabotage one document on its way into the bulk request: an undeclared field, refused by the strict mapping.
    const write = p.store.write.bind(p.store);
    p.store.write = async (actions) => write(actions.map((a) => (a.id === 'refused' && a.op !== 'delete' && a.op !== 'update' ? { ...a, document: { ...a.document, bogus: 1 } } : a)));
    const events = [
      upsert('good-1', 1, `${images.url}/img/101.jpg`),
      upsert('missing', 1, `${images.url}/missing.jpg`),
      upsert('corrupt', 1, `${images.url}/corrupt.jpg`),
      upsert('refused', 1, `${images.url}/img/102.jpg`),
      upsert('good-2', 1, `${images.url}/img/103.jpg`),
      upsert('private', 1, 'http://10.1.2.3/a.jpg'),
    ];
    expect((await p.post({ events })).body).toEqual({ accepted: 6, duplicates: 0 });
    await p.waitFor(async () => {
      const states = await Promise.all(['good-1', 'good-2', 'missing', 'corrupt', 'refused', 'private'].map(async (id) => (await statusOf(p, id)).state));
      return states.every((s) => s === 'indexed' || s === 'failed');
    });
    expect((await statusOf(p, 'good-1')).state).toBe('indexed');
    expect((await statusOf(p, 'good-2')).state).toBe('indexed');
    expect(await statusOf(p, 'missing')).toMatchObject({ state: 'failed', last_error: expect.stringContaining('fetch_not_found') });
    expect(await statusOf(p, 'corrupt')).toMatchObject({ state: 'failed', last_error: expect.stringContaining('corrupt_image') });
    expect(await statusOf(p, 'refused')).toMatchObject({ state: 'failed', last_error: expect.stringContaining('strict_dynamic_mapping_exception') });
    expect(await statusOf(p, 'private')).toMatchObject({ state: 'failed', last_error: expect.stringContaining('fetch_blocked_address') });
    // Permanent failures are not retried: each went to the failed set after one attempt, with its reason.
    const failed = await p.queue.getFailed();
    expect(failed).toHaveLength(4);
    for (const job of failed) expect(job.attemptsMade).toBe(1);
  });
});

describe('webhook security and validation', () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await startPipeline({}, { startWorker: false });
  });
  afterAll(async () => {
    await p.close();
  });

  const body = JSON.stringify(upsert('sec', 1, 'http://127.0.0.1/a.jpg'));
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    { name: 'missing', header: '', code: 'signature_missing' },
    { name: 'malformed', header: 'garbage', code: 'signature_malformed' },
    { name: 'wrong length', header: `t=${now()},v1=abcd`, code: 'signature_malformed' },
    { name: 'no timestamp', header: `v1=${'a'.repeat(64)}`, code: 'signature_malformed' },
    { name: 'forged (unknown secret)', header: signatureHeader(['not-the-secret'], body), code: 'signature_mismatch' },
    { name: 'stale', header: signatureHeader([SECRET], body, now() - 3600), code: 'signature_expired' },
    { name: 'from the future', header: signatureHeader([SECRET], body, now() + 3600), code: 'signature_expired' },
  ])('$name signature → 401 $code', async ({ header, code }) => {
    const response = await p.post(body, { header });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ error: { code } });
  });

  it('a tampered body → 401 signature_mismatch', async () => {
    const header = signatureHeader([SECRET], body);
    const tampered = body.replace('"version":1', '"version":9');
    expect(await p.post(tampered, { header })).toMatchObject({ status: 401, body: { error: { code: 'signature_mismatch' } } });
  });

  it('accepts any of several secrets (rotation) and several v1 values', async () => {
    const rotating = await startPipeline({ WEBHOOK_SECRETS: 'old-secret,new-secret' }, { startWorker: false });
    try {
      const event = JSON.stringify(upsert('rot', 1, 'http://127.0.0.1/a.jpg'));
      expect((await rotating.post(event, { header: signatureHeader(['old-secret'], event) })).status).toBe(202);
      const two = JSON.stringify(upsert('rot', 2, 'http://127.0.0.1/a.jpg'));
      expect((await rotating.post(two, { header: signatureHeader(['unknown', 'new-secret'], two) })).status).toBe(202);
    } finally {
      await rotating.close();
    }
  });

  it('a replayed event id is answered 202 and enqueues nothing', async () => {
    const event = upsert('replay', 1, 'http://127.0.0.1/a.jpg', {}, 'evt-replay');
    expect((await p.post(event)).body).toEqual({ accepted: 1, duplicates: 0 });
    expect((await p.post(event)).body).toEqual({ accepted: 0, duplicates: 1 });
    expect((await p.post({ events: [event, upsert('replay2', 1, 'http://127.0.0.1/b.jpg', {}, 'evt-2'), upsert('replay2', 1, 'http://127.0.0.1/b.jpg', {}, 'evt-2')] })).body).toEqual({ accepted: 1, duplicates: 2 });
    expect(await p.queue.getJobCountByTypes('waiting')).toBe(2);
  });

  it('validation errors name the event and the field', async () => {
    const events = [upsert('ok', 1, 'http://127.0.0.1/a.jpg'), { ...upsert('bad', 1, 'http://127.0.0.1/a.jpg'), product: { id: 'bad', price: 'cheap', image_url: 'ftp://x/y', colour: 'red' } }];
    const response = await p.post({ events });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalid_event');
    expect(response.body.error.message).toMatch(/events\.1\.product\.price/);
    expect(response.body.error.message).toMatch(/events\.1\.product\.image_url/);
    expect(response.body.error.message).toMatch(/events\.1\.product: Unrecognized key: "colour"/);
    expect((await p.post('{not json')).body.error.code).toBe('invalid_json');
    expect((await p.post({ events: Array.from({ length: 501 }, (_, i) => upsert(`p${i}`, 1, 'http://127.0.0.1/a.jpg')) })).body.error.code).toBe('too_many_events');
    expect((await p.post({ id: 'e', type: 'product.rename', version: 1 })).status).toBe(400);
  });

  it('a body over the limit → 413', async () => {
    const small = await startPipeline({ WEBHOOK_MAX_BYTES: '1000' }, { startWorker: false });
    try {
      const big = JSON.stringify({ events: Array.from({ length: 20 }, (_, i) => upsert(`p${i}`, 1, 'http://127.0.0.1/a.jpg')) });
      expect((await small.post(big)).status).toBe(413);
    } finally {
      await small.close();
    }
  });

  it('503 at once (never a hang, never a 202) while Redis is unreachable', async () => {
    // An API whose Redis is down: its producer connection points at a port nothing listens on.
    const dead = createRedisConnection({ url: 'redis://127.0.0.1:1' }, 'producer');
    void dead.connect().catch(() => undefined);
    const queue = createCatalogQueue(dead, p.config);
    queue.on('error', () => undefined);
    const app = createApp({ ...p.appDeps, redis: dead, catalogQueue: queue, status: new StatusStore(dead, p.config.redis.queuePrefix) });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const raw = JSON.stringify(upsert('down', 1, 'http://127.0.0.1/a.jpg'));
      const started = Date.now();
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/webhooks/catalog`, {
        method: 'POST',
        headers: { 'lookalike-signature': signatureHeader([SECRET], raw) },
        body: raw,
      });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { code: 'queue_unavailable' } });
      expect(Date.now() - started).toBeLessThan(3_500);
    } finally {
      server.closeAllConnections();
      server.close();
      dead.disconnect();
    }
  });

  it('with REDIS_WAIT_REPLICAS, 503 (never a 202) when Redis has fewer replicas to hold the event', async () => {
    // The shared development Redis has no replica: an event it holds alone would be lost with it.
    const waiting = await startPipeline({ REDIS_WAIT_REPLICAS: '1' }, { startWorker: false });
    try {
      const started = Date.now();
      const response = await waiting.post(upsert('unreplicated', 1, 'http://127.0.0.1/a.jpg'));
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({ error: { code: 'queue_unavailable', message: expect.stringContaining('0 of 1 Redis replica(s) acknowledged') } });
      expect(Date.now() - started).toBeLessThan(3_500);
    } finally {
      await waiting.close();
    }
  });
});

describe('the OpenAPI document', () => {
  it('describes the routes the API serves, and the webhook error codes it answers', async () => {
    const p = await startPipeline({}, { startWorker: false });
    try {
      const { status, body: spec } = await p.get('/openapi.json');
      expect(status).toBe(200);
      expect(spec.openapi).toBe('3.1.0');
      for (const route of Object.keys(spec.paths)) {
        const path = route.replace('{id}', 'sku-1');
        const method = Object.keys(spec.paths[route])[0];
        if (method !== 'get') continue;
        const response = await p.get(path);
        expect({ route, code: response.body?.error?.code }).not.toEqual({ route, code: 'route_not_found' });
      }
      const described = JSON.stringify(spec.paths['/v1/webhooks/catalog'].post.responses);
      for (const code of ['signature_missing', 'signature_malformed', 'signature_expired', 'signature_mismatch', 'invalid_event', 'too_many_events', 'queue_unavailable', 'payload_too_large']) {
        expect(described).toContain(code);
      }
      expect(Object.keys(spec.components.schemas.Product.properties)).toEqual(['id', 'catalog', 'title', 'brand', 'category', 'color', 'sizes', 'price', 'currency', 'available', 'signals', 'image_url']);
    } finally {
      await p.close();
    }
  });
});
