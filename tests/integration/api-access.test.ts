import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createApp } from '../../api/app';
import { bodyLimits } from '../../api/middleware/request-body';
import type { Config } from '../../core/config';
import { createRateLimiter } from '../../core/rate-limiter';
import { connectRedis, createRedisConnection, redisOptions } from '../../core/redis';
import { signatureHeader } from '../../core/webhook-signature';
import { SECRET, startPipeline, upsert, type Pipeline } from './pipeline-helpers';
import { jsonImage, multipartImage, rawUpload, type UploadOutcome } from '../fixtures/raw-upload';

jest.setTimeout(60_000);

const SEARCH_KEY = 'search-key-0123456789';
const WEBHOOK_KEY = 'webhook-key-0123456789';
const ADMIN_KEY = 'admin-key-0123456789ab';
/** Keys of their own for the tests below, so that no test starts with another's spent limit. */
const SHARED_KEY = 'shared-key-0123456789a';
const UPLOAD_KEY = 'upload-key-0123456789a';
const CHUNKED_KEY = 'chunked-key-0123456789';
const MiB = 1024 * 1024;
const vector = Array.from({ length: 288 }, (_, i) => Math.cos(i));

describe('API keys with scopes, rate limits and metrics', () => {
  let p: Pipeline;
  const closers: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    const searchKeys = [SEARCH_KEY, SHARED_KEY, UPLOAD_KEY, CHUNKED_KEY].map((key) => `${key}:search`).join(',');
    p = await startPipeline(
      { API_KEYS: `${searchKeys},${WEBHOOK_KEY}:webhook,${ADMIN_KEY}:admin`, RATE_LIMIT_PER_S: '1', RATE_LIMIT_BURST: '3' },
      { startWorker: false },
    );
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await p.close();
  });

  /**
   * Another API process beside the pipeline's, on the same Redis and QUEUE_PREFIX: its own app, its own rate limiter
   * over `redis` (by default a connection of its own), with `change` applied to the configuration.
   */
  const startReplica = async (change: (config: Config) => Config = (config) => config, redis?: Redis) => {
    const config = change(p.config);
    let connection = redis;
    if (!connection) {
      connection = createRedisConnection(config.redis, 'producer');
      await connectRedis(connection, config.redis);
      const own = connection;
      closers.push(() => own.disconnect());
    }
    const server = createApp({ ...p.appDeps, config, rateLimiter: createRateLimiter(config, connection) }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    closers.push(() => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const port = (server.address() as AddressInfo).port;
    return { port, url: `http://127.0.0.1:${port}`, config };
  };
  const withApi = (api: Partial<Config['api']>, image: Partial<Config['image']> = {}) => (config: Config): Config => ({
    ...config,
    api: { ...config.api, ...api },
    image: { ...config.image, ...image },
  });
  /** A search that passes the limiter and then fails fast (no such product): only the limiter decides 429. */
  const similar = async (url: string, headers: Record<string, string> = {}) => (await fetch(`${url}/v1/products/no-such-product/similar`, { headers })).status;

  const call = async (path: string, init: RequestInit & { key?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key) headers.set('authorization', `Bearer ${init.key}`);
    const response = await fetch(`${p.apiUrl}${path}`, { ...init, headers });
    return { status: response.status, headers: response.headers, body: (await response.text().then((t) => { try { return JSON.parse(t); } catch { return t; } })) as any };
  };
  const search = (key?: string) => call('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vector, models: { 'colour-texture': 1 } }), ...(key ? { key } : {}) });

  it('each route asks for its scope; admin has them all; health is public', async () => {
    expect((await search()).body.error.code).toBe('api_key_missing');
    expect((await search('not-a-valid-key-000000')).body.error.code).toBe('api_key_invalid');
    expect((await search(WEBHOOK_KEY)).status).toBe(403);
    expect((await search(ADMIN_KEY)).status).toBe(200);
    const body = JSON.stringify(upsert('k-1', 1, 'http://127.0.0.1/a.jpg'));
    const webhook = (key: string) => call('/v1/webhooks/catalog', { method: 'POST', key, body, headers: { 'lookalike-signature': signatureHeader([SECRET], body) } });
    expect((await webhook(SEARCH_KEY)).body.error.code).toBe('api_key_scope');
    expect((await webhook(WEBHOOK_KEY)).status).toBe(202);
    expect((await call('/v1/products/k-1/status', { key: WEBHOOK_KEY })).body.state).toBe('queued');
    expect((await call('/healthz')).status).toBe(200);
    expect((await call('/metrics')).status).toBe(401);
  });

  it('asks for a key exactly where the OpenAPI document says a route needs one', async () => {
    const spec = (await call('/openapi.json')).body;
    for (const [route, operations] of Object.entries<any>(spec.paths)) {
      for (const [method, operation] of Object.entries<any>(operations)) {
        const response = await call(route.replace('{id}', 'k-1'), { method: method.toUpperCase() });
        expect({ route, method, code: response.status === 401 ? response.body.error.code : 'no key asked for' }).toEqual({ route, method, code: operation.security ? 'api_key_missing' : 'no key asked for' });
      }
    }
  });

  it('limits each client to its rate with a burst, answering 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const response = await search(SEARCH_KEY);
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get('retry-after');
        expect(response.body.error.code).toBe('rate_limited');
      }
    }
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(4);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it('exposes latency per route and stage, errors by code, and queue depth', async () => {
    const metrics = (await call('/metrics', { key: ADMIN_KEY })).body as string;
    expect(metrics).toMatch(/lookalike_http_request_duration_seconds_count\{[^}]*route="\/v1\/search"/);
    expect(metrics).toMatch(/lookalike_search_stage_seconds_count\{[^}]*stage="search"/);
    expect(metrics).toMatch(/lookalike_http_errors_total\{[^}]*code="api_key_missing"/);
    expect(metrics).toMatch(/lookalike_queue_jobs\{[^}]*state="waiting"/);
    // Requests refused before routing (no key for a product's status) never label a series with their raw path.
    expect((await call('/v1/products/raw-path-product-1/status')).status).toBe(401);
    const after = (await call('/metrics', { key: ADMIN_KEY })).body as string;
    expect(after).not.toContain('raw-path-product-1');
    expect(after).toMatch(/lookalike_http_request_duration_seconds_count\{[^}]*route="unrouted"[^}]*status="401"/);
  });

  it('shares one limit between API processes on the same Redis', async () => {
    const replica = await startReplica();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await similar(i % 2 === 0 ? p.apiUrl : replica.url, { authorization: `Bearer ${SHARED_KEY}` }));
    // A burst of 3 for the client, whichever process it reaches; per-process buckets would have let all 6 through.
    expect(statuses.filter((status) => status === 429)).toHaveLength(3);
    expect(statuses.slice(0, 3)).not.toContain(429);
  });

  it('tells clients apart by X-Forwarded-For with TRUST_PROXY set, and ignores it without', async () => {
    const proxied = await startReplica(withApi({ keys: [], trustProxy: ['loopback'] }));
    const direct = await startReplica(withApi({ keys: [], trustProxy: false }));
    for (let i = 0; i < 3; i++) expect(await similar(proxied.url, { 'x-forwarded-for': '203.0.113.1' })).toBe(404);
    expect(await similar(proxied.url, { 'x-forwarded-for': '203.0.113.1' })).toBe(429);
    expect(await similar(proxied.url, { 'x-forwarded-for': '203.0.113.2' })).toBe(404);
    // Not trusted: every request is the socket's address, whatever the header claims.
    for (let i = 0; i < 3; i++) expect(await similar(direct.url, { 'x-forwarded-for': `198.51.100.${i}` })).toBe(404);
    expect(await similar(direct.url, { 'x-forwarded-for': '198.51.100.9' })).toBe(429);
  });

  it('limits each process on its own while Redis is unreachable, and searches keep answering', async () => {
    // The API's producer connection to a port nothing listens on (a short disconnect timeout, for the test's end).
    const dead = new Redis('redis://127.0.0.1:1', { ...redisOptions('producer'), lazyConnect: true, disconnectTimeout: 10 });
    dead.on('error', () => undefined);
    void dead.connect().catch(() => undefined);
    try {
      const replica = await startReplica(withApi({ keys: [] }), dead);
      const started = Date.now();
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push(await similar(replica.url));
      expect(statuses).toEqual([404, 404, 404, 429]);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      dead.disconnect();
    }
  });

  describe('refusing an upload', () => {
    // 1 MiB images; 4 searches per 4 s window for the upload key.
    const limits = withApi({ rateLimitPerSecond: 1, rateLimitBurst: 4 }, { maxBytes: MiB });
    const expectAnswered = (outcome: UploadOutcome, status: number, code: string) => {
      expect({ status: outcome.status, code: outcome.body?.error?.code, requestId: typeof outcome.body?.request_id, error: outcome.error })
        .toEqual({ status, code, requestId: 'string', error: undefined });
    };

    it('answers every refused upload with its status and error, never a reset', async () => {
      const api = await startReplica(limits);
      const multipart = multipartImage(4 * MiB); // 3 MiB over IMAGE_MAX_BYTES
      const json = jsonImage(4 * MiB);
      const upload = (kind: 'json' | 'multipart', key: string | null, close: boolean) => rawUpload({
        port: api.port,
        path: '/v1/search',
        headers: { 'content-type': kind === 'json' ? 'application/json' : multipart.contentType, ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: kind === 'json' ? json : multipart.body,
        close,
      });
      // Within the rate limit the parsers refuse the size: JSON on its Content-Length, multer once the file passes 1 MiB.
      expectAnswered(await upload('json', UPLOAD_KEY, false), 413, 'payload_too_large');
      expectAnswered(await upload('multipart', UPLOAD_KEY, false), 413, 'image_too_large');
      expectAnswered(await upload('json', UPLOAD_KEY, true), 413, 'payload_too_large');
      const closed = await upload('multipart', UPLOAD_KEY, true);
      expectAnswered(closed, 413, 'image_too_large');
      expect(closed.closedByServer).toBe(true);
      // Then 8 at a time, refused before their bodies are read: past the rate limit, or without a key.
      const plan = Array.from({ length: 96 }, (_, i) => ({ kind: i % 2 === 0 ? 'json' as const : 'multipart' as const, key: i % 3 === 0 ? null : UPLOAD_KEY, close: i % 4 < 2 }));
      const outcomes: UploadOutcome[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < plan.length) {
          const { kind, key, close } = plan[next++]!;
          const outcome = await upload(kind, key, close);
          outcomes.push(outcome);
          if (!key) expectAnswered(outcome, 401, 'api_key_missing');
          else if (outcome.status === 429) expectAnswered(outcome, 429, 'rate_limited');
          else expectAnswered(outcome, 413, kind === 'json' ? 'payload_too_large' : 'image_too_large'); // a new window
          // The body was read to its end, so a kept-alive connection stays usable.
          if (!close) expect(outcome.headers.connection).not.toBe('close');
        }
      }));
      expect(outcomes.filter((outcome) => outcome.status === 401)).toHaveLength(32);
      expect(outcomes.filter((outcome) => outcome.status === 429).length).toBeGreaterThan(16);
    }, 30_000);

    it('reads no body past its bound: answers 413 (or its refusal) and closes the connection', async () => {
      const api = await startReplica(limits);
      const bound = bodyLimits(api.config).refusedDrain;
      const jsonHeaders = (key?: string) => ({ 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) });
      // Declared past the bound: refused on the headers, nothing waits for the gigabyte.
      const declared = await rawUpload({ port: api.port, path: '/v1/search', headers: jsonHeaders(CHUNKED_KEY), body: Buffer.alloc(256 * 1024, 0x20), declaredLength: 1024 * MiB, timeoutMs: 5_000 });
      expect([declared.status, declared.body?.error?.code, declared.headers.connection]).toEqual([413, 'payload_too_large', 'close']);
      // Chunked, a gigabyte offered: the JSON parser stops at its limit and would drain the rest; the bound cuts it.
      // Refused before reading (no key): the drain before the answer stops at the bound as well. Past the bound the
      // server answers and closes with the upload unread: a client still writing may see the reset before the answer.
      for (const key of [CHUNKED_KEY, undefined]) {
        const chunked = await rawUpload({ port: api.port, path: '/v1/search', headers: jsonHeaders(key), body: jsonImage(MiB), chunked: { repeat: 1024 }, timeoutMs: 10_000 });
        if (chunked.status === null) expect(chunked.error).toMatch(/^(ECONNRESET|EPIPE)$/);
        else expect([chunked.status, chunked.body?.error?.code, chunked.headers.connection]).toEqual(key ? [413, 'payload_too_large', 'close'] : [401, 'api_key_missing', 'close']);
        // Socket buffers on both sides hold a few MiB more than the server read.
        expect(chunked.bodyBytesWritten).toBeLessThan(bound + 32 * MiB);
      }
    }, 30_000);
  });
});
