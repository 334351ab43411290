import { documentId } from '../../core/catalog';
import { signatureHeader } from '../../core/webhook-signature';
import { SECRET, startImageServer, startPipeline, upsert, type Pipeline } from './pipeline-helpers';

jest.setTimeout(120_000);

/**
 * Catalogs as a security boundary: a key bound to store-a tries every route and parameter to see, change or count a
 * product of store-b (or of the default catalog), and never does.
 */
const KEY_A = 'key-store-a-0123456789';
const KEY_B = 'key-store-b-0123456789';
const KEY_AB = 'key-store-ab-012345678';
const ADMIN = 'key-admin-0123456789ab';
const vector = Array.from({ length: 288 }, (_, i) => Math.cos(i / 3));
const ct = { 'colour-texture': 1 };

const inCatalog = (catalog: string, id: string, version: number, image: string, extra: Record<string, unknown> = {}) => upsert(id, version, image, { catalog, ...extra }, `e-${catalog}-${id}-${version}`);

describe('catalogs: products, searches and keys bound to catalogs', () => {
  let p: Pipeline;
  let images: Awaited<ReturnType<typeof startImageServer>>;

  const call = async (path: string, init: RequestInit & { key?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key) headers.set('authorization', `Bearer ${init.key}`);
    const response = await fetch(`${p.apiUrl}${path}`, { ...init, headers });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as any };
  };
  const search = (key: string, body: Record<string, unknown>) => call('/v1/search', { method: 'POST', key, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const webhook = (key: string, body: unknown) => {
    const raw = JSON.stringify(body);
    return call('/v1/webhooks/catalog', { method: 'POST', key, body: raw, headers: { 'content-type': 'application/json', 'lookalike-signature': signatureHeader([SECRET], raw) } });
  };
  const status = (key: string, id: string, query = '') => call(`/v1/products/${id}/status${query}`, { key });
  const catalogsOf = (results: Array<{ product: { catalog: string } }>) => [...new Set(results.map((r) => r.product.catalog))];
  const idsOf = (results: Array<{ id: string }>) => results.map((r) => r.id).sort();

  beforeAll(async () => {
    images = await startImageServer();
    p = await startPipeline({ API_KEYS: `${KEY_A}:search+webhook@store-a,${KEY_B}:search+webhook@store-b,${KEY_AB}:search@store-a|store-b,${ADMIN}:admin` });
    const img = (n: number) => `${images.url}/img/${n}.jpg`;
    const events = [
      inCatalog('store-a', 'a-1', 1, img(1)),
      inCatalog('store-a', 'a-2', 1, img(2)),
      inCatalog('store-a', 'shared', 1, img(3)),
      // store-b's products: another brand, and `shared` is another product with the same id and a newer version.
      inCatalog('store-b', 'b-1', 1, img(11), { brand: 'bee' }),
      inCatalog('store-b', 'b-2', 1, img(12), { brand: 'bee' }),
      inCatalog('store-b', 'shared', 5, img(13), { brand: 'bee' }),
      upsert('d-1', 1, img(21), { brand: 'dee' }),
    ];
    expect((await webhook(ADMIN, { events })).status).toBe(202);
    const keys: Array<[string, string]> = [['a-1', 'store-a'], ['a-2', 'store-a'], ['shared', 'store-a'], ['b-1', 'store-b'], ['b-2', 'store-b'], ['shared', 'store-b'], ['d-1', 'default']];
    await p.waitFor(async () => (await Promise.all(keys.map(async ([id, catalog]) => (await p.status.get(documentId(catalog, id)))?.state))).every((s) => s === 'indexed'), 60_000);
  });

  afterAll(async () => {
    await p.close();
    await images.close();
  });

  it('product ids are per catalog: the same id in two catalogs is two products, each with its own status', async () => {
    expect((await status(ADMIN, 'shared', '?catalog=store-a')).body).toMatchObject({ id: 'shared', catalog: 'store-a', state: 'indexed', version: 1 });
    expect((await status(ADMIN, 'shared', '?catalog=store-b')).body).toMatchObject({ id: 'shared', catalog: 'store-b', state: 'indexed', version: 5 });
    expect((await status(ADMIN, 'shared')).body).toMatchObject({ catalog: 'default', state: 'unknown' });
    const ids = (await p.deps.es.search({ index: p.config.index.alias, size: 20, _source: ['id', 'catalog'] })).hits.hits.map((hit) => hit._id).sort();
    // The default catalog's _id is the product id (as before catalogs); another's is "<catalog> <id>".
    expect(ids).toEqual(['d-1', 'store-a a-1', 'store-a a-2', 'store-a shared', 'store-b b-1', 'store-b b-2', 'store-b shared']);
  });

  it('GET /v1/catalogs lists what a key may search: a bound key its own, never counting another', async () => {
    expect((await call('/v1/catalogs', { key: ADMIN })).body).toEqual({ catalogs: [{ name: 'default', products: 1 }, { name: 'store-a', products: 3 }, { name: 'store-b', products: 3 }] });
    expect((await call('/v1/catalogs', { key: KEY_A })).body).toEqual({ catalogs: [{ name: 'store-a', products: 3 }] });
    expect((await call('/v1/catalogs', { key: KEY_AB })).body).toEqual({ catalogs: [{ name: 'store-a', products: 3 }, { name: 'store-b', products: 3 }] });
  });

  it('a search names its catalog (default "default"), and an unbound key reaches any catalog', async () => {
    const all = await search(ADMIN, { vector, models: ct, k: 20 });
    expect(idsOf(all.body.results)).toEqual(['d-1']);
    const b = await search(ADMIN, { vector, models: ct, k: 20, catalog: 'store-b' });
    expect(idsOf(b.body.results)).toEqual(['b-1', 'b-2', 'shared']);
    expect(catalogsOf(b.body.results)).toEqual(['store-b']);
    // A key bound to several catalogs searches its first by default, and any of them by name.
    expect(catalogsOf((await search(KEY_AB, { vector, models: ct })).body.results)).toEqual(['store-a']);
    expect(catalogsOf((await search(KEY_AB, { vector, models: ct, catalog: 'store-b' })).body.results)).toEqual(['store-b']);
  });

  it("a key bound to store-a never sees a product of store-b through any search route or parameter", async () => {
    const refused = { status: 403, body: { error: { code: 'catalog_forbidden', message: expect.any(String) }, request_id: expect.any(String) } };
    // Its own catalog by default, never another's.
    const own = await search(KEY_A, { vector, models: ct, k: 20, facets: true });
    expect(idsOf(own.body.results)).toEqual(['a-1', 'a-2', 'shared']);
    // Facets count only its catalog's candidates.
    expect(own.body.facets.brand).toEqual([{ value: 'acme', count: 3 }]);
    // Naming another catalog, the default one, or slipping one into the filters.
    expect(await search(KEY_A, { vector, models: ct, catalog: 'store-b' })).toMatchObject(refused);
    expect(await search(KEY_A, { vector, models: ct, catalog: 'default' })).toMatchObject(refused);
    expect((await search(KEY_A, { vector, models: ct, filters: { catalog: ['store-b'] } })).body.error.code).toBe('invalid_request');
    expect(idsOf((await search(KEY_A, { vector, models: ct, filters: { brand: ['bee', 'dee', 'acme'] }, k: 20 })).body.results)).toEqual(['a-1', 'a-2', 'shared']);
    expect((await search(KEY_A, { vector, models: ct, filters: { brand: ['bee'] } })).body.results).toEqual([]);
    // Business rules only reorder what the search found: pinning another catalog's product cannot bring it in.
    const pinned = await search(KEY_A, { vector, models: ct, k: 20, pin: ['b-1', 'd-1', 'shared'], boost: [{ signal: 'popularity', weight: 1 }] });
    expect(idsOf(pinned.body.results)).toEqual(['a-1', 'a-2', 'shared']);
    expect(pinned.body.results[0]).toMatchObject({ id: 'shared', product: { catalog: 'store-a' } });
    // Another catalog's product as the query: not found; the same id finds its own catalog's product.
    expect((await search(KEY_A, { product_id: 'b-1' })).body.error.code).toBe('product_not_found');
    expect((await search(KEY_A, { product_id: 'd-1' })).body.error.code).toBe('product_not_found');
    const shared = await search(KEY_A, { product_id: 'shared', k: 20 });
    expect(idsOf(shared.body.results)).toEqual(['a-1', 'a-2']);
    // Both models (the hybrid's two requests), a photo of a store-b product, and localization's regions.
    const photo = Buffer.from(await (await fetch(`${images.url}/img/11.jpg`)).arrayBuffer()).toString('base64');
    for (const crop of ['trim', 'localize'] as const) {
      const byPhoto = await search(KEY_A, { image_base64: photo, crop, k: 20, objects: crop === 'localize' });
      expect(byPhoto.status).toBe(200);
      expect(catalogsOf(byPhoto.body.results)).toEqual(['store-a']);
      for (const object of byPhoto.body.objects ?? []) expect(catalogsOf(object.results)).toEqual(['store-a']);
    }
    // The similar-products route, by path and by parameter.
    expect((await call('/v1/products/b-1/similar', { key: KEY_A })).body.error.code).toBe('product_not_found');
    expect(await call('/v1/products/b-1/similar?catalog=store-b', { key: KEY_A })).toMatchObject(refused);
    expect(idsOf((await call('/v1/products/shared/similar?k=20', { key: KEY_A })).body.results)).toEqual(['a-1', 'a-2']);
  });

  it("a key bound to store-a cannot run or page a query of store-b's searches: 404 query_expired", async () => {
    const ofB = await search(KEY_B, { vector, models: ct, k: 1 });
    expect(ofB.body.query_id).toEqual(expect.any(String));
    const expired = { status: 404, body: { error: { code: 'query_expired', message: expect.any(String) }, request_id: expect.any(String) } };
    expect(await search(KEY_A, { query_id: ofB.body.query_id })).toMatchObject(expired);
    expect(await search(KEY_A, { query_id: ofB.body.query_id, catalog: 'store-b' })).toMatchObject(expired);
    expect(await search(KEY_A, { query_id: ofB.body.query_id, catalog: 'store-a' })).toMatchObject(expired);
    expect(await search(KEY_A, { query_id: ofB.body.query_id, cursor: ofB.body.next_cursor, k: 5 })).toMatchObject(expired);
    // A query keeps its catalog: even an unbound key cannot move it to another.
    expect(await search(ADMIN, { query_id: ofB.body.query_id, catalog: 'store-a' })).toMatchObject(expired);
    // A's own cursor on B's query_id does not help either.
    const ofA = await search(KEY_A, { vector, models: ct, k: 1 });
    expect(await search(KEY_A, { query_id: ofB.body.query_id, cursor: ofA.body.next_cursor, k: 5 })).toMatchObject(expired);
    // Nor steer with it, nor with store-b's products.
    expect(await search(KEY_A, { query_id: ofA.body.query_id, like: [{ query_id: ofB.body.query_id }] })).toMatchObject(expired);
    expect((await search(KEY_A, { query_id: ofA.body.query_id, unlike: [{ product_id: 'b-1' }] })).body.error.code).toBe('product_not_found');
    // A key bound to both may run it, and stays in store-b.
    const again = await search(KEY_AB, { query_id: ofB.body.query_id, k: 20 });
    expect(idsOf(again.body.results)).toEqual(['b-1', 'b-2', 'shared']);
    const page = await search(KEY_B, { query_id: ofB.body.query_id, cursor: ofB.body.next_cursor, k: 20 });
    expect(catalogsOf(page.body.results)).toEqual(['store-b']);
    expect(page.body.results).toHaveLength(2);
  });

  it('a key bound to store-a never reads nor counts the status of a product of store-b', async () => {
    expect((await status(KEY_A, 'shared')).body).toMatchObject({ catalog: 'store-a', version: 1 });
    expect((await status(KEY_A, 'b-1')).body).toMatchObject({ catalog: 'store-a', state: 'unknown', version: null, models: [] });
    expect((await status(KEY_A, 'b-1', '?catalog=store-b')).body.error.code).toBe('catalog_forbidden');
    expect((await status(KEY_A, 'd-1', '?catalog=default')).body.error.code).toBe('catalog_forbidden');
    expect((await status(KEY_A, 'b-1', '?catalog=Store%20B')).body.error.code).toBe('invalid_catalog');
    expect((await status(KEY_A, 'b-1', '?catalog=store-b&catalog=store-a')).body.error.code).toBe('invalid_catalog');
  });

  it('a key bound to store-a cannot change store-b: webhooks naming it are refused whole, and nothing is enqueued', async () => {
    const before = await p.queue.getJobCounts('waiting', 'active', 'delayed', 'completed');
    const img = `${images.url}/img/40.jpg`;
    const attempts = [
      inCatalog('store-b', 'b-1', 9, img, { price: 1 }),
      { id: 'x-del', type: 'product.delete', version: 9, product_id: 'b-1', catalog: 'store-b' },
      // No catalog named: the default catalog, which the key is not bound to either.
      { id: 'x-del-2', type: 'product.delete', version: 9, product_id: 'd-1' },
      { events: [inCatalog('store-a', 'a-1', 2, img), inCatalog('store-b', 'b-2', 9, img)] },
    ];
    for (const body of attempts) expect((await webhook(KEY_A, body)).body.error.code).toBe('catalog_forbidden');
    expect(await p.queue.getJobCounts('waiting', 'active', 'delayed', 'completed')).toEqual(before);
    // Its own catalog's delete of `shared` leaves store-b's `shared`.
    expect((await webhook(KEY_A, { id: 'del-shared', type: 'product.delete', version: 2, product_id: 'shared', catalog: 'store-a' })).status).toBe(202);
    await p.waitFor(async () => (await status(KEY_A, 'shared')).body.state === 'deleted');
    expect((await status(KEY_B, 'shared')).body).toMatchObject({ state: 'indexed', version: 5 });
    expect(idsOf((await search(KEY_B, { vector, models: ct, k: 20 })).body.results)).toEqual(['b-1', 'b-2', 'shared']);
    // Event ids are per catalog too: store-b reusing store-a's event id is not taken for a duplicate.
    expect((await webhook(KEY_B, { id: 'del-shared', type: 'product.delete', version: 1, product_id: 'nothing', catalog: 'store-b' })).body).toEqual({ accepted: 1, duplicates: 0 });
  });

  it('the tombstone sweep pages through ids that repeat across catalogs, and documents without a catalog', async () => {
    const old = new Date(Date.now() - 3_600_000).toISOString();
    const tombstone = (id: string, catalog?: string) => ({ id, ...(catalog ? { catalog } : {}), deleted: true, deleted_at: old, source_version: 1, updated_at: old, indexed_at: old });
    const operations = [
      ['t-1', tombstone('t-1')],
      ['store-a t-1', tombstone('t-1', 'store-a')],
      ['store-b t-1', tombstone('t-1', 'store-b')],
      ['store-a t-2', tombstone('t-2', 'store-a')],
    ].flatMap(([id, document]) => [{ index: { _index: p.config.index.alias, _id: id as string } }, document as object]);
    await p.deps.es.bulk({ operations, refresh: true });
    // One per page: every page's search_after must tell the three t-1 apart.
    expect(await p.store.sweepTombstones(60, 1)).toEqual({ removed: 4, failed: 0 });
    const left = await p.deps.es.search({ index: p.config.index.alias, size: 20, query: { prefix: { id: 't-' } } });
    expect(left.hits.hits).toEqual([]);
  });

  it('documents written before catalogs (no catalog field) are the default catalog', async () => {
    const d1 = (await p.deps.es.get({ index: p.config.index.alias, id: 'd-1', _source_exclude_vectors: false } as never)) as { _source: Record<string, unknown> };
    const { catalog: _catalog, ...legacy } = d1._source;
    await p.deps.es.index({ index: p.config.index.alias, id: 'legacy-1', document: { ...legacy, id: 'legacy-1' }, refresh: true });
    expect(idsOf((await search(ADMIN, { vector, models: ct, k: 20 })).body.results)).toEqual(['d-1', 'legacy-1']);
    const found = await search(ADMIN, { product_id: 'legacy-1' });
    expect(found.body.results.map((r: { id: string; product: { catalog: string } }) => [r.id, r.product.catalog])).toEqual([['d-1', 'default']]);
    expect(catalogsOf((await search(KEY_A, { vector, models: ct, k: 20 })).body.results)).toEqual(['store-a']);
  });
});
