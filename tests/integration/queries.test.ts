import { startImageServer, startPipeline, upsert, type Pipeline } from './pipeline-helpers';

jest.setTimeout(180_000);

/** Reusable queries (`query_id`) and paging (`cursor`) against the real services. */
describe('query_id: a search run again, and paged', () => {
  let p: Pipeline;
  let images: Awaited<ReturnType<typeof startImageServer>>;
  let photo: string;
  const N = 60;
  const ids = (body: { results: Array<{ id: string }> }) => body.results.map((r) => r.id);

  beforeAll(async () => {
    images = await startImageServer();
    p = await startPipeline({ QUERY_TTL_S: '600' });
    const events = Array.from({ length: N }, (_, i) => upsert(`q-${i}`, 1, `${images.url}/img/${i}.jpg`, { brand: i % 2 === 0 ? 'even' : 'odd', price: i }));
    expect((await p.post({ events })).status).toBe(202);
    // The status records directly (60 parallel HTTP polls race keep-alive closes on a loaded machine).
    await p.waitFor(async () => (await Promise.all(Array.from({ length: N }, async (_, i) => (await p.status.get(`q-${i}`))?.state))).every((s) => s === 'indexed'), 150_000);
    photo = Buffer.from(await (await fetch(`${images.url}/img/7.jpg`)).arrayBuffer()).toString('base64');
  });

  afterAll(async () => {
    await p.close();
    await images.close();
  });

  it('a photo search answers a query_id; its embeddings, never the photo, are kept for QUERY_TTL_S', async () => {
    const first = await p.search({ image_base64: photo, crop: 'trim', k: 5 });
    expect(first.status).toBe(200);
    expect(first.body.query_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids(first.body)[0]).toBe('q-7');
    const key = `${p.config.redis.queuePrefix}:query:${first.body.query_id}`;
    const ttl = await p.deps.redis.ttl(key);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    // What is kept: the record and one Float32 vector per model; nothing the size of a photo.
    const fields = await p.deps.redis.hgetallBuffer(key);
    expect(Object.keys(fields).sort()).toEqual(['meta', 'v:colour-texture', 'v:efficientnet-lite0']);
    expect(fields['v:efficientnet-lite0']!.length).toBe(1280 * 4);
    expect(fields['v:colour-texture']!.length).toBe(288 * 4);
    expect(JSON.parse(fields.meta!.toString())).toEqual({ catalog: 'default', crop: first.body.query.crop });
    // Run again with other filters: no new upload, the same query.
    const again = await p.search({ query_id: first.body.query_id, k: 5, filters: { brand: ['odd'] } });
    expect(again.status).toBe(200);
    expect(again.body.query_id).toBe(first.body.query_id);
    expect(ids(again.body)[0]).toBe('q-7');
    expect(again.body.results.every((r: { product: { brand: string } }) => r.product.brand === 'odd')).toBe(true);
    const even = await p.search({ query_id: first.body.query_id, k: 5, filters: { brand: ['even'] } });
    expect(ids(even.body)).not.toContain('q-7');
    expect(even.body.results).toHaveLength(5);
  });

  it('pages with next_cursor: no repeats and no gaps against one search with the combined k, to the end', async () => {
    const first = await p.search({ image_base64: photo, crop: 'trim', k: 10, filters: { price: { lte: 50 } } });
    const queryId = first.body.query_id;
    const shown = [...ids(first.body)];
    let cursor = first.body.next_cursor;
    for (const k of [15, 20]) {
      expect(cursor).toEqual(expect.any(String));
      const page = await p.search({ query_id: queryId, cursor, k });
      expect(page.status).toBe(200);
      expect(page.body.results).toHaveLength(k);
      // The cursor carries the search's options: the filters still hold.
      for (const result of page.body.results) expect(result.product.price).toBeLessThanOrEqual(50);
      expect(page.body.match).toBe(first.body.match);
      shown.push(...ids(page.body));
      cursor = page.body.next_cursor;
    }
    const combined = await p.search({ query_id: queryId, k: 45, filters: { price: { lte: 50 } } });
    expect(shown).toEqual(ids(combined.body));
    expect(new Set(shown).size).toBe(45);
    // 51 products cost at most 50: one page of 6 left, and then no cursor.
    const last = await p.search({ query_id: queryId, cursor, k: 10 });
    expect(ids(last.body)).toHaveLength(6);
    expect(last.body.next_cursor).toBeNull();
    expect(new Set([...shown, ...ids(last.body)]).size).toBe(51);
  });

  it('a box or objects need the photo again; a cursor takes only query_id and k; a made-up cursor is refused; objects are not steered', async () => {
    const first = await p.search({ image_base64: photo, crop: 'trim', k: 3 });
    const queryId = first.body.query_id;
    expect((await p.search({ query_id: queryId, box: { left: 0, top: 0, width: 50, height: 50 } })).body.error.code).toBe('query_needs_photo');
    expect((await p.search({ query_id: queryId, objects: true })).body.error.code).toBe('query_needs_photo');
    expect((await p.search({ query_id: queryId, cursor: first.body.next_cursor, filters: { brand: ['odd'] } })).body.error.code).toBe('invalid_request');
    expect((await p.search({ cursor: first.body.next_cursor })).body.error.code).toBe('invalid_query_source');
    expect((await p.search({ query_id: queryId, cursor: 'bm90LWEtY3Vyc29y' })).body.error.code).toBe('invalid_cursor');
    expect((await p.search({ query_id: queryId, image_base64: photo })).body.error.code).toBe('invalid_query_source');
    // Steering one search per object by the same products is refused; one region (a box, the photo) is steered.
    const steeredObjects = await p.search({ image_base64: photo, objects: true, unlike: [{ product_id: first.body.results[0].id }] });
    expect({ status: steeredObjects.status, code: steeredObjects.body.error?.code }).toEqual({ status: 400, code: 'steering_with_objects' });
    expect((await p.search({ image_base64: photo, crop: 'trim', unlike: [{ product_id: first.body.results[0].id }] })).status).toBe(200);
  });

  it('an expired or unknown query_id is a 404 query_expired', async () => {
    const first = await p.search({ vector: Array.from({ length: 288 }, (_, i) => Math.sin(i)), models: { 'colour-texture': 1 }, k: 3 });
    expect((await p.search({ query_id: first.body.query_id, k: 3 })).status).toBe(200);
    await p.deps.redis.pexpire(`${p.config.redis.queuePrefix}:query:${first.body.query_id}`, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await p.search({ query_id: first.body.query_id })).toMatchObject({ status: 404, body: { error: { code: 'query_expired' } } });
    expect((await p.search({ query_id: '00000000-0000-4000-8000-000000000000' })).body.error.code).toBe('query_expired');
    expect((await p.search({ query_id: 'not-a-query' })).body.error.code).toBe('query_expired');
  });

  it('steering: like pulls the query towards products and kept queries, unlike pushes away and leaves the results', async () => {
    const seven = await p.search({ image_base64: photo, crop: 'trim', k: 5 });
    expect(ids(seven.body)[0]).toBe('q-7');
    const lessLikeThis = await p.search({ query_id: seven.body.query_id, k: 5, unlike: [{ product_id: 'q-7' }] });
    expect(lessLikeThis.status).toBe(200);
    expect(ids(lessLikeThis.body)).not.toContain('q-7');
    // Towards another product: with weight 3 it outweighs the photo.
    const liked = await p.search({ query_id: seven.body.query_id, k: 5, like: [{ product_id: 'q-20', weight: 3 }] });
    expect(ids(liked.body)[0]).toBe('q-20');
    // Towards another kept query (a photo of q-20).
    const twenty = Buffer.from(await (await fetch(`${images.url}/img/20.jpg`)).arrayBuffer()).toString('base64');
    const other = await p.search({ image_base64: twenty, crop: 'trim', k: 1 });
    expect(ids((await p.search({ query_id: seven.body.query_id, k: 5, like: [{ query_id: other.body.query_id, weight: 3 }] })).body)[0]).toBe('q-20');
    // Weight 0 changes nothing.
    expect(ids((await p.search({ query_id: seven.body.query_id, k: 5, like: [{ product_id: 'q-20', weight: 0 }] })).body)).toEqual(ids(seven.body));
    // Steering travels with the cursor.
    const page = await p.search({ query_id: lessLikeThis.body.query_id, cursor: lessLikeThis.body.next_cursor, k: 50 });
    expect(ids(page.body)).not.toContain('q-7');
    // Mistakes: a vector of no model's length, a query that cancels itself, unknown things.
    expect((await p.search({ query_id: seven.body.query_id, like: [{ vector: [1, 2, 3] }] })).body.error.code).toBe('vector_length_mismatch');
    expect((await p.search({ query_id: seven.body.query_id, unlike: [{ query_id: seven.body.query_id, weight: 1 }] })).body.error.code).toBe('invalid_vector');
    expect((await p.search({ query_id: seven.body.query_id, like: [{ product_id: 'no-such' }] })).body.error.code).toBe('product_not_found');
    expect((await p.search({ query_id: seven.body.query_id, like: [{ product_id: 'q-1', vector: [1] }] })).body.error.code).toBe('invalid_request');
    // On the similar route too, as JSON parameters.
    const similar = await p.get(`/v1/products/q-5/similar?k=5&unlike=${encodeURIComponent(JSON.stringify([{ product_id: 'q-6' }]))}`);
    expect(similar.status).toBe(200);
    expect(ids(similar.body)).not.toContain('q-6');
    // Steering by a kept query that expired, or a vector of no model's length, on the similar route: documented codes.
    expect((await p.get(`/v1/products/q-5/similar?like=${encodeURIComponent(JSON.stringify([{ query_id: '00000000-0000-4000-8000-000000000000' }]))}`)).body.error.code).toBe('query_expired');
    expect((await p.get(`/v1/products/q-5/similar?unlike=${encodeURIComponent(JSON.stringify([{ vector: [1, 2] }]))}`)).body.error.code).toBe('vector_length_mismatch');
    // Steering a photo search directly (localization chooses the region by the photo alone).
    const direct = await p.search({ image_base64: photo, k: 5, unlike: [{ product_id: 'q-7' }] });
    expect(direct.status).toBe(200);
    expect(ids(direct.body)).not.toContain('q-7');
  });

  it('a product query keeps only the product id: run again after the product is deleted, it is not found', async () => {
    const first = await p.search({ product_id: 'q-3', k: 3 });
    const fields = await p.deps.redis.hgetallBuffer(`${p.config.redis.queuePrefix}:query:${first.body.query_id}`);
    expect(Object.keys(fields)).toEqual(['meta']);
    expect(ids((await p.search({ query_id: first.body.query_id, k: 3 })).body)).toEqual(ids(first.body));
    expect((await p.post({ id: 'del-q-3', type: 'product.delete', version: 2, product_id: 'q-3' })).status).toBe(202);
    await p.waitFor(async () => (await p.get('/v1/products/q-3/status')).body.state === 'deleted');
    expect((await p.search({ query_id: first.body.query_id })).body.error.code).toBe('product_not_found');
    // Nothing of it is left to find: its document is a bare tombstone (no attributes, image or vectors, until the
    // sweep removes it), no kept query brings it back, and nothing can steer by it.
    const tombstone = (await p.deps.es.get({ index: p.config.index.alias, id: 'q-3', _source_exclude_vectors: false } as never)) as { _source: Record<string, unknown> };
    expect(Object.keys(tombstone._source).sort()).toEqual(['catalog', 'deleted', 'deleted_at', 'id', 'indexed_at', 'source_version', 'updated_at']);
    const photoOf3 = Buffer.from(await (await fetch(`${images.url}/img/3.jpg`)).arrayBuffer()).toString('base64');
    const kept = await p.search({ image_base64: photoOf3, crop: 'trim', k: 100 });
    expect(ids(kept.body)).not.toContain('q-3');
    expect(ids((await p.search({ query_id: kept.body.query_id, k: 100 })).body)).not.toContain('q-3');
    expect((await p.search({ query_id: kept.body.query_id, like: [{ product_id: 'q-3' }] })).body.error.code).toBe('product_not_found');
  });
});

describe('business ranking after the verdict: boost, pin, bury, max_per_brand, dedupe, explain', () => {
  let p: Pipeline;
  let images: Awaited<ReturnType<typeof startImageServer>>;
  let photo: string;
  const ids = (body: { results: Array<{ id: string }> }) => body.results.map((r) => r.id);

  beforeAll(async () => {
    images = await startImageServer();
    p = await startPipeline();
    const events = Array.from({ length: 30 }, (_, i) => upsert(`r-${i}`, 1, `${images.url}/img/${i}.jpg`, { brand: `brand-${i % 3}`, title: `Product ${i}` }));
    // The same photo as r-7, another listing of it.
    events.push(upsert('r-7-copy', 1, `${images.url}/img/7.jpg`, { brand: 'brand-1', title: 'Product 7 again' }));
    expect((await p.post({ events })).status).toBe(202);
    await p.waitFor(async () => (await Promise.all(events.map(async (e) => (await p.status.get((e.product as { id: string }).id))?.state))).every((s) => s === 'indexed'), 150_000);
    // Signals arrive with a later event: a partial update, nothing is embedded again.
    const fetches = images.requests.length;
    const popular = [20, 21, 22].map((i) => upsert(`r-${i}`, 2, `${images.url}/img/${i}.jpg`, { brand: `brand-${i % 3}`, title: `Product ${i}`, signals: { popularity: 1, margin: 0.5 } }));
    expect((await p.post({ events: popular })).status).toBe(202);
    await p.waitFor(async () => (await Promise.all([20, 21, 22].map(async (i) => p.status.get(`r-${i}`)))).every((s) => s?.version === 2 && s.state === 'indexed'));
    expect(images.requests.length).toBe(fetches);
    photo = Buffer.from(await (await fetch(`${images.url}/img/7.jpg`)).arrayBuffer()).toString('base64');
  });

  afterAll(async () => {
    await p.close();
    await images.close();
  });

  it('boosts reorder the results but never the verdict, which reads the similarities alone', async () => {
    const plain = await p.search({ image_base64: photo, crop: 'trim', k: 5 });
    expect(ids(plain.body).slice(0, 2).sort()).toEqual(['r-7', 'r-7-copy']);
    const boosted = await p.search({ query_id: plain.body.query_id, k: 5, boost: [{ signal: 'popularity', weight: 5 }], explain: true });
    expect(ids(boosted.body).slice(0, 3).sort()).toEqual(['r-20', 'r-21', 'r-22']);
    expect(boosted.body.match).toBe(plain.body.match);
    const first = boosted.body.results[0];
    expect(first.product.signals).toEqual({ popularity: 1, margin: 0.5 });
    expect(first.explain).toEqual({ similarity: expect.any(Number), boosts: { popularity: 5 }, pinned: false, buried: false, score: expect.any(Number) });
    expect(first.explain.score).toBeCloseTo(first.explain.similarity + 5);
    // Scores stay similarities: the best similarity is still the photo's product, whatever the order.
    expect(Math.max(...boosted.body.results.map((r: { score: number }) => r.score))).toBeLessThanOrEqual(plain.body.results[0].score);
    // Something the catalog has nothing like stays "none", however it is boosted.
    const nothing = await p.search({ vector: Array.from({ length: 288 }, (_, i) => (i % 2 ? 1 : -1)), models: { 'colour-texture': 1 }, k: 5 });
    const nothingBoosted = await p.search({ query_id: nothing.body.query_id, k: 5, boost: [{ signal: 'popularity', weight: 10 }] });
    expect(nothingBoosted.body.match).toBe(nothing.body.match);
  });

  it('pin puts products first in the order given, bury last; max_per_brand and dedupe thin the results', async () => {
    const plain = await p.search({ image_base64: photo, crop: 'trim', k: 31 });
    const pinned = await p.search({ query_id: plain.body.query_id, k: 5, pin: ['r-29', 'r-28', 'no-such'], bury: ['r-7'] });
    expect(ids(pinned.body).slice(0, 2)).toEqual(['r-29', 'r-28']);
    expect(ids(pinned.body)).not.toContain('r-7');
    const all = await p.search({ query_id: plain.body.query_id, k: 31, bury: ['r-7'] });
    expect(ids(all.body).at(-1)).toBe('r-7');
    const diverse = await p.search({ query_id: plain.body.query_id, k: 31, max_per_brand: 2 });
    expect(diverse.body.results).toHaveLength(6);
    const brands = diverse.body.results.map((r: { product: { brand: string } }) => r.product.brand);
    for (const brand of new Set(brands)) expect(brands.filter((b: string) => b === brand)).toHaveLength(2);
    // The same photo listed twice folds into the better-ranked listing.
    expect(ids(plain.body)).toEqual(expect.arrayContaining(['r-7', 'r-7-copy']));
    const folded = await p.search({ query_id: plain.body.query_id, k: 31, dedupe: true });
    expect(ids(folded.body).filter((id: string) => id.startsWith('r-7'))).toEqual(['r-7']);
    expect(folded.body.results).toHaveLength(30);
  });

  it('pages of a business ranking: no repeats, and together the ranking of one search with the combined k', async () => {
    const rules = { boost: [{ signal: 'margin', weight: 0.2 }], max_per_brand: 8, bury: ['r-0'] };
    const first = await p.search({ image_base64: photo, crop: 'trim', k: 5, ...rules });
    const second = await p.search({ query_id: first.body.query_id, cursor: first.body.next_cursor, k: 7 });
    const combined = await p.search({ query_id: first.body.query_id, k: 12, ...rules });
    expect([...ids(first.body), ...ids(second.body)]).toEqual(ids(combined.body));
    // Pinned and buried results page too: the cursor keeps the tier of the last result shown.
    const tiered = { pin: ['r-29', 'r-28', 'r-27'], bury: ['r-7', 'r-8'] };
    const top = await p.search({ query_id: first.body.query_id, k: 2, ...tiered });
    const rest = await p.search({ query_id: first.body.query_id, cursor: top.body.next_cursor, k: 29 });
    const everything = await p.search({ query_id: first.body.query_id, k: 31, ...tiered });
    expect([...ids(top.body), ...ids(rest.body)]).toEqual(ids(everything.body));
    expect(ids(everything.body).slice(0, 3)).toEqual(['r-29', 'r-28', 'r-27']);
    expect(ids(everything.body).slice(-2).sort()).toEqual(['r-7', 'r-8']);
    // Also on the similar route, as parameters.
    const similar = await p.get(`/v1/products/r-7/similar?k=3&pin=${encodeURIComponent('["r-1"]')}&max_per_brand=1&explain=true`);
    expect(similar.status).toBe(200);
    expect(ids(similar.body)[0]).toBe('r-1');
    expect(similar.body.results[0].explain.pinned).toBe(true);
  });
});
