import { seededRandom } from '../../core/random';
import { matchesFilters, type SearchFilters } from '../../core/search/filters';
import { distort, type ClipartItem } from '../../benchmarks/lib/clipart';
import { startClipartCatalog, startPipeline, type Pipeline } from './pipeline-helpers';

jest.setTimeout(180_000);

const BRANDS = ['acme', 'globex', 'initech'];
const SIZES = ['S', 'M', 'L', 'XL'];

describe('POST /v1/search against real Elasticsearch with the built-in models', () => {
  let p: Pipeline;
  let catalog: Awaited<ReturnType<typeof startClipartCatalog>>;
  let items: ClipartItem[];
  let photos: Map<string, Buffer>;
  const products = new Map<string, { price: number; sizes: string[]; available: boolean; brand: string; category: string }>();

  beforeAll(async () => {
    catalog = await startClipartCatalog({ perCategory: 3, seed: 11, size: 480 });
    ({ items, photos } = catalog);
    p = await startPipeline();
    const random = seededRandom(5);
    const events = items.map((item, i) => {
      const attributes = {
        price: Math.round(random() * 20000) / 100,
        sizes: SIZES.filter(() => random() < 0.5),
        available: random() < 0.6,
        brand: BRANDS[i % BRANDS.length]!,
        category: item.category,
      };
      products.set(item.id, attributes);
      return { id: `s-${i}`, type: 'product.upsert', version: 1, product: { id: item.id, title: item.id, image_url: catalog.urlOf(item.id), currency: 'EUR', ...attributes, ...(attributes.sizes.length ? {} : { sizes: undefined }) } };
    });
    expect((await p.post({ events })).status).toBe(202);
    await p.waitFor(async () => {
      const states = await Promise.all(items.map(async (item) => (await p.get(`/v1/products/${encodeURIComponent(item.id)}/status`)).body.state));
      return states.every((s) => s === 'indexed');
    }, 150_000);
  });

  afterAll(async () => {
    await p.close();
    catalog.close();
  });

  it('a distorted photo of a catalog item finds that item first', async () => {
    const random = seededRandom(3);
    let first = 0;
    const tried = items.filter((_, i) => i % 4 === 0);
    for (const item of tried) {
      const query = await distort(item.file, photos.get(item.id)!, 'rotate', random);
      const response = await p.search({ image_base64: query.toString('base64'), k: 5 });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ query: { models: ['efficientnet-lite0', 'colour-texture'] }, timings_ms: { total: expect.any(Number) }, request_id: expect.any(String) });
      expect(['good', 'weak', 'none']).toContain(response.body.match);
      if (response.body.results[0]?.id === item.id) first++;
    }
    expect(first).toBe(tried.length);
  });

  it('similar to a product: never the product itself; scores are similarities in 0..1, best first', async () => {
    const id = items[0]!.id;
    const response = await p.search({ product_id: id, k: 10 });
    expect(response.status).toBe(200);
    const ids = response.body.results.map((r: { id: string }) => r.id);
    expect(ids).not.toContain(id);
    const scores = response.body.results.map((r: { score: number }) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    for (const score of scores) expect(score).toBeGreaterThanOrEqual(0);
    for (const score of scores) expect(score).toBeLessThanOrEqual(1);
    expect(response.body.results[0].product).toHaveProperty('price');
  });

  it('randomised filters: no result ever violates a filter, and pre-filtering returns min(k, matching)', async () => {
    const random = seededRandom(99);
    for (let round = 0; round < 30; round++) {
      const filters: SearchFilters = {};
      if (random() < 0.7) {
        const low = Math.round(random() * 150);
        filters.price = { gte: low, lte: low + 20 + Math.round(random() * 100) };
      }
      if (random() < 0.5) filters.sizes = [SIZES[Math.floor(random() * SIZES.length)]!];
      if (random() < 0.5) filters.available = random() < 0.5;
      if (random() < 0.3) filters.brand = [BRANDS[round % BRANDS.length]!];
      const k = 5;
      const response = await p.search({ product_id: items[round % items.length]!.id, k, filters, facets: true });
      expect(response.status).toBe(200);
      for (const result of response.body.results) expect(matchesFilters(products.get(result.id)!, filters)).toBe(true);
      const matching = [...products.entries()].filter(([id, product]) => id !== items[round % items.length]!.id && matchesFilters(product, filters)).length;
      expect(response.body.results).toHaveLength(Math.min(k, matching));
      expect(response.body.facets).toHaveProperty('brand');
    }
  });

  it('every bad input gets its documented 4xx', async () => {
    const vector1280 = Array.from({ length: 1280 }, (_, i) => Math.sin(i));
    const cases: Array<[unknown, number, string]> = [
      [{ k: 5 }, 400, 'invalid_query_source'],
      [{ product_id: 'x', vector: [1] }, 400, 'invalid_query_source'],
      [{ product_id: 'x', k: '10' }, 400, 'invalid_request'],
      [{ product_id: 'x', k: 1000 }, 400, 'invalid_request'],
      [{ product_id: 'x', filters: { price: { gte: 50, lte: 10 } } }, 400, 'invalid_request'],
      [{ product_id: 'x', filters: { script: 'doc' } }, 400, 'invalid_request'],
      [{ product_id: 'x', colour: 'red' }, 400, 'invalid_request'],
      [{ vector: [0.1, 0.2, 0.3] }, 400, 'vector_length_mismatch'],
      [{ product_id: 'no-such-product' }, 404, 'product_not_found'],
      [{ image_base64: Buffer.from('not an image at all').toString('base64') }, 415, 'unsupported_image'],
      [{ image_base64: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8]).toString('base64') }, 422, 'corrupt_image'],
      [{ image_base64: '!!!not base64!!!' }, 400, 'invalid_base64'],
      [{ image_url: 'http://169.254.169.254/latest/meta-data/' }, 422, 'fetch_blocked_address'],
      [{ image_url: 'http://10.0.0.1/a.jpg' }, 422, 'fetch_blocked_address'],
      [{ vector: vector1280, mode: 'exact' }, 501, 'exact_search_unavailable'],
      [{ vector: vector1280, models: { 'no-such-model': 1 } }, 400, 'unknown_model'],
    ];
    for (const [body, status, code] of cases) {
      const response = await p.search(body);
      expect({ body, status: response.status, code: response.body?.error?.code }).toEqual({ body, status, code });
    }
    expect((await p.search('{not json')).body.error.code).toBe('invalid_json');
    const ok = await p.search({ vector: vector1280, k: 3 });
    expect(ok.status).toBe(200);
    expect(ok.body.query.models).toEqual(['efficientnet-lite0']);
  });

  it('multipart upload: a file part "image" and an optional JSON part "query"', async () => {
    const item = items[1]!;
    const query = await distort(item.file, photos.get(item.id)!, 'jpeg40', seededRandom(8));
    const form = new FormData();
    form.append('image', new Blob([query], { type: 'image/jpeg' }), 'photo.jpg');
    form.append('query', JSON.stringify({ k: 3, crop: 'auto' }));
    const response = await fetch(`${p.apiUrl}/v1/search`, { method: 'POST', body: form });
    const body: any = await response.json();
    expect(response.status).toBe(200);
    expect(body.results[0].id).toBe(item.id);
    expect(body.results).toHaveLength(3);

    const big = new FormData();
    big.append('image', new Blob([Buffer.alloc(p.config.image.maxBytes + 10)]), 'big.jpg');
    const tooBig = await fetch(`${p.apiUrl}/v1/search`, { method: 'POST', body: big });
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as any).error.code).toBe('image_too_large');

    const noImage = new FormData();
    noImage.append('query', '{}');
    expect(((await (await fetch(`${p.apiUrl}/v1/search`, { method: 'POST', body: noImage })).json()) as any).error.code).toBe('invalid_query_source');
    const badQuery = new FormData();
    badQuery.append('image', new Blob([query]), 'q.jpg');
    badQuery.append('query', '{"k": 0}');
    expect(((await (await fetch(`${p.apiUrl}/v1/search`, { method: 'POST', body: badQuery })).json()) as any).error.code).toBe('invalid_request');
    const text = await fetch(`${p.apiUrl}/v1/search`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
  });

  it('a malformed multipart body is a 400 invalid_multipart, a file part of another name a 400 invalid_query_source', async () => {
    const raw = async (contentType: string, body: string) => {
      const response = await fetch(`${p.apiUrl}/v1/search`, { method: 'POST', headers: { 'content-type': contentType }, body });
      return { status: response.status, code: ((await response.json()) as any).error?.code };
    };
    const part = (name: string) => `--XX\r\nContent-Disposition: form-data; name="${name}"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\nabc`;
    expect(await raw('multipart/form-data', 'no boundary')).toEqual({ status: 400, code: 'invalid_multipart' });
    expect(await raw('multipart/form-data; boundary=XX', part('image'))).toEqual({ status: 400, code: 'invalid_multipart' });
    expect(await raw('multipart/form-data; boundary=XX', '--XX\r\nGarbage\r\n\r\nabc\r\n--XX--\r\n')).toEqual({ status: 400, code: 'invalid_multipart' });
    expect(await raw('multipart/form-data; boundary=XX', `${part('photo')}\r\n--XX--\r\n`)).toEqual({ status: 400, code: 'invalid_query_source' });
  });

  it('GET /v1/products/:id/similar takes the same options as query parameters', async () => {
    const id = items[2]!.id;
    const filters = encodeURIComponent(JSON.stringify({ available: true }));
    const response = await p.get(`/v1/products/${encodeURIComponent(id)}/similar?k=4&facets=true&filters=${filters}`);
    expect(response.status).toBe(200);
    expect(response.body.results.length).toBeLessThanOrEqual(4);
    for (const result of response.body.results) expect(products.get(result.id)!.available).toBe(true);
    expect(response.body.facets).toHaveProperty('price');
    expect((await p.get(`/v1/products/${encodeURIComponent(id)}/similar?k=many`)).body.error.code).toBe('invalid_request');
    expect((await p.get(`/v1/products/${encodeURIComponent(id)}/similar?filters=notjson`)).body.error.code).toBe('invalid_request');
    expect((await p.get('/v1/products/nope/similar')).status).toBe(404);
  });
});
