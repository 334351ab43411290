import { signatureHeader } from '../../core/webhook-signature';
import { SECRET, startPipeline, upsert, type Pipeline } from './pipeline-helpers';

jest.setTimeout(60_000);

const SEARCH_KEY = 'search-key-0123456789';
const WEBHOOK_KEY = 'webhook-key-0123456789';
const ADMIN_KEY = 'admin-key-0123456789ab';
const vector = Array.from({ length: 288 }, (_, i) => Math.cos(i));

describe('API keys with scopes, rate limits and metrics', () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await startPipeline(
      { API_KEYS: `${SEARCH_KEY}:search,${WEBHOOK_KEY}:webhook,${ADMIN_KEY}:admin`, RATE_LIMIT_PER_S: '1', RATE_LIMIT_BURST: '3' },
      { startWorker: false },
    );
  });
  afterAll(async () => {
    await p.close();
  });

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
  });
});
