import { productOnBackground } from '../fixtures/images';
import { createLookalikeClient, LookalikeError, type LookalikeClient, type UpsertEvent } from '../../clients/typescript/src';
import { SECRET, startImageServer, startPipeline, upsert, type Pipeline } from './pipeline-helpers';

jest.setTimeout(120_000);

/**
 * The TypeScript client (clients/typescript) against the real API in-process: every route it wraps, each answer
 * also checked against the OpenAPI document (validate-responses.setup.ts sees the client's requests too).
 */

const KEY = 'client-key-0123456789';

/** What a call rejected with, as the fields a caller backs off on. */
async function refusal(call: Promise<unknown>): Promise<{ code: string; status: number; requestId: string | undefined; retryAfterSeconds: number | undefined }> {
  const error = await call.then(() => null, (e: unknown) => e);
  if (!(error instanceof LookalikeError)) throw new Error(`expected a LookalikeError, got ${String(error)}`);
  return { code: error.code, status: error.status, requestId: error.requestId, retryAfterSeconds: error.retryAfterSeconds };
}

describe('the TypeScript client against the API', () => {
  let p: Pipeline;
  let images: Awaited<ReturnType<typeof startImageServer>>;
  let client: LookalikeClient;
  const photo = async (n: number) => Buffer.from(await (await fetch(`${images.url}/img/${n}.jpg`)).arrayBuffer());

  beforeAll(async () => {
    images = await startImageServer();
    p = await startPipeline({ API_KEYS: `${KEY}:search+webhook`, RATE_LIMIT_PER_S: '0' });
    client = createLookalikeClient({ baseUrl: p.apiUrl, apiKey: KEY, webhookSecrets: SECRET });
    const events = [1, 2, 3].map((n) => upsert(`sku-${n}`, 1, `${images.url}/img/${n}.jpg`, { price: n * 10 }));
    expect(await client.sendCatalogEvents({ events: events as UpsertEvent[] })).toEqual({ accepted: 3, duplicates: 0 });
    await p.waitFor(async () => (await Promise.all([1, 2, 3].map((n) => client.productStatus(`sku-${n}`)))).every((status) => status.state === 'indexed'));
  });
  afterAll(async () => {
    await p?.close();
    await images?.close();
  });

  it('sends signed catalog webhooks: a replay is all duplicates, and one event works as well as a batch', async () => {
    const replay = [1, 2, 3].map((n) => upsert(`sku-${n}`, 1, `${images.url}/img/${n}.jpg`, { price: n * 10 }));
    expect(await client.sendCatalogEvents({ events: replay as UpsertEvent[] })).toEqual({ accepted: 0, duplicates: 3 });
    expect(await client.sendCatalogEvents({ id: 'gone-1', type: 'product.delete', version: 1, product_id: 'never-there' })).toEqual({ accepted: 1, duplicates: 0 });
  });

  it('reads a product’s status', async () => {
    expect(await client.productStatus('sku-2')).toEqual({ id: 'sku-2', catalog: 'default', state: 'indexed', version: 1, models: ['colour-texture', 'efficientnet-lite0'], last_error: null, last_ignored: null });
    expect((await client.productStatus('nobody')).state).toBe('unknown');
  });

  it('searches by an uploaded photo (bytes or a Blob, with options in the query part)', async () => {
    const bytes = await photo(2);
    const byBytes = await client.searchByPhoto(bytes, { k: 2, facets: true });
    expect(byBytes.results.map((result) => result.id)[0]).toBe('sku-2');
    expect(byBytes.results).toHaveLength(2);
    expect(byBytes.facets?.brand).toEqual([{ value: 'acme', count: 3 }]);
    const byBlob = await client.searchByPhoto(new Blob([bytes], { type: 'image/jpeg' }), { filters: { price: { gte: 25 } } });
    expect(byBlob.results.map((result) => result.id)).toEqual(['sku-3']);
    expect((await client.searchByPhoto(await productOnBackground())).results.length).toBeGreaterThan(0);
  });

  it('searches by base64, by image URL, by product and by vector', async () => {
    const base64 = (await photo(3)).toString('base64');
    expect((await client.searchByBase64(base64, { k: 1 })).results[0]!.id).toBe('sku-3');
    expect((await client.searchByBase64(`data:image/jpeg;base64,${base64}`, { k: 1 })).results[0]!.id).toBe('sku-3');
    expect((await client.searchByImageUrl(`${images.url}/img/1.jpg`, { k: 1 })).results[0]!.id).toBe('sku-1');
    const byProduct = await client.searchByProduct('sku-1', { k: 5 });
    expect(byProduct.results.map((result) => result.id).sort()).toEqual(['sku-2', 'sku-3']);

    const stored = (await p.deps.es.get({ index: p.config.index.alias, id: 'sku-2', _source_exclude_vectors: false } as never)) as { _source: { vectors: Record<string, number[]> } };
    const byVector = await client.searchByVector(stored._source.vectors['colour-texture']!, { k: 1 });
    expect(byVector.results[0]!.id).toBe('sku-2');
    expect(byVector.query.models).toEqual(['colour-texture']);
  });

  it('finds similar products, its options (filters and models as JSON) as query parameters', async () => {
    const similar = await client.similar('sku-1', { k: 5, filters: { price: { lte: 20 } }, models: { 'colour-texture': 1 }, facets: true });
    expect(similar.results.map((result) => result.id)).toEqual(['sku-2']);
    expect(similar.query.models).toEqual(['colour-texture']);
    expect(similar.facets).toBeDefined();
  });

  it('rejects with a LookalikeError carrying the code, status and request id', async () => {
    expect(await refusal(client.similar('no-such-sku', {}, { requestId: 'client-test-1' }))).toEqual({ code: 'product_not_found', status: 404, requestId: 'client-test-1', retryAfterSeconds: undefined });
    expect(await refusal(client.productStatus('has space'))).toMatchObject({ code: 'invalid_product_id', status: 400 });
    expect(await refusal(client.searchByVector([0.1, 0.2, 0.3]))).toMatchObject({ code: 'vector_length_mismatch', status: 400 });
    expect(await refusal(client.sendCatalogEvents({ events: [] }, { secrets: 'not-the-secret' }))).toMatchObject({ code: 'signature_mismatch', status: 401 });
    expect(await refusal(client.sendCatalogEvents({ events: [] }, { timestamp: Math.floor(Date.now() / 1000) - 3600 }))).toMatchObject({ code: 'signature_expired', status: 401 });
    const keyless = createLookalikeClient({ baseUrl: p.apiUrl });
    expect(await refusal(keyless.productStatus('sku-1'))).toMatchObject({ code: 'api_key_missing', status: 401 });
    await expect(keyless.sendCatalogEvents({ events: [] })).rejects.toThrow(/needs a webhook secret/);
  });

  it('reaches every other route through the typed openapi-fetch client', async () => {
    const { data } = await client.api.GET('/healthz');
    expect(data).toEqual({ status: 'ok' });
  });
});

describe('the TypeScript client when the API asks to back off', () => {
  it('rate_limited: 429 with retryAfterSeconds', async () => {
    const p = await startPipeline({ RATE_LIMIT_PER_S: '1', RATE_LIMIT_BURST: '1' }, { startWorker: false });
    try {
      const client = createLookalikeClient({ baseUrl: p.apiUrl });
      const outcomes = await Promise.all([1, 2, 3].map(() => refusal(client.similar('no-such-sku'))));
      const limited = outcomes.filter((outcome) => outcome.code === 'rate_limited');
      expect(limited.length).toBeGreaterThanOrEqual(1);
      for (const outcome of limited) expect(outcome).toMatchObject({ status: 429, retryAfterSeconds: expect.any(Number) });
      expect(limited[0]!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(limited[0]!.requestId).toMatch(/\S/);
    } finally {
      await p.close();
    }
  });

  it('overloaded: 503 with retryAfterSeconds', async () => {
    const p = await startPipeline({ SEARCH_CONCURRENCY: '1', SEARCH_QUEUE: '0', SEARCH_QUEUE_WAIT_MS: '1000', RATE_LIMIT_PER_S: '0' }, { startWorker: false });
    try {
      const client = createLookalikeClient({ baseUrl: p.apiUrl });
      const image = await productOnBackground({ width: 640, height: 480 });
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => client.searchByPhoto(image).then(() => null, (error: unknown) => error)));
      const refused = outcomes.filter((outcome): outcome is LookalikeError => outcome instanceof LookalikeError);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(outcomes.filter((outcome) => outcome !== null && !(outcome instanceof LookalikeError))).toEqual([]);
      for (const error of refused) expect({ code: error.code, status: error.status, retryAfterSeconds: error.retryAfterSeconds }).toEqual({ code: 'overloaded', status: 503, retryAfterSeconds: 1 });
    } finally {
      await p.close();
    }
  });
});
