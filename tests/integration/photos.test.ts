import { startImageServer, startPipeline, upsert, upsertPhotos, type Pipeline } from './pipeline-helpers';

/**
 * Several photos per product, end to end: webhook → indexer (each photo embedded once) → search (one result per
 * product, `matched_image` naming the photo) → status (per photo).
 */

jest.setTimeout(120_000);

let images: Awaited<ReturnType<typeof startImageServer>>;
let p: Pipeline;
beforeAll(async () => {
  images = await startImageServer();
  p = await startPipeline();
});
afterAll(async () => {
  await p.close();
  await images.close();
});

const img = (n: number | string) => `${images.url}/img/${n}.jpg`;
const statusOf = async (id: string) => (await p.get(`/v1/products/${encodeURIComponent(id)}/status`)).body;
async function indexedAt(id: string, version: number): Promise<void> {
  await p.waitFor(async () => { const s = await statusOf(id); return s.version === version && (s.state === 'indexed' || s.state === 'failed'); });
  expect(await statusOf(id)).toMatchObject({ state: 'indexed', version, last_error: null });
}

async function stored(id: string): Promise<any> {
  const doc = (await p.deps.es.get({ index: p.config.index.alias, id, _source_exclude_vectors: false } as never)) as { _source: unknown };
  return doc._source;
}

/** A search by one of the image server's photos, trimmed as the indexer trims catalog photos. */
const searchBy = async (url: string, extra: Record<string, unknown> = {}) => (await p.search({ image_url: url, crop: 'trim', k: 10, ...extra })).body;
const fetchesSince = (before: number) => images.requests.slice(before);

describe('several photos per product', () => {
  beforeAll(async () => {
    const others = [210, 211, 212, 213, 214].map((n) => upsert(`single-${n}`, 1, img(n)));
    expect((await p.post({ events: [upsertPhotos('multi', 1, [img(201), img(202), img(203)]), ...others] })).status).toBe(202);
    for (const id of ['multi', ...[210, 211, 212, 213, 214].map((n) => `single-${n}`)]) await indexedAt(id, 1);
  });

  it('finds a product through its second photo: one result for the product, matched_image 1, its photos listed', async () => {
    const body = await searchBy(img(202));
    expect(body.results[0]).toMatchObject({ id: 'multi', matched_image: 1, product: { images: [img(201), img(202), img(203)], image_url: img(201) } });
    expect(body.results[0].score).toBeGreaterThan(0.99);
    // One result per product, whichever of its photos match.
    expect(body.results.filter((result: { id: string }) => result.id === 'multi')).toHaveLength(1);
    expect((await searchBy(img(203))).results[0]).toMatchObject({ id: 'multi', matched_image: 2 });
    expect((await searchBy(img(212))).results[0]).toMatchObject({ id: 'single-212', matched_image: 0, product: { images: [img(212)], image_url: img(212) } });
  });

  it('keeps filters pre-filters and returns k products whenever k match', async () => {
    const filtered = await searchBy(img(202), { filters: { brand: ['acme'] }, k: 6 });
    expect(filtered.results.map((r: { id: string }) => r.id).sort()).toEqual(['multi', 'single-210', 'single-211', 'single-212', 'single-213', 'single-214']);
    expect((await searchBy(img(202), { filters: { brand: ['nobody'] } })).results).toEqual([]);
  });

  it('reports each photo in the status', async () => {
    const models = ['colour-texture', 'efficientnet-lite0'];
    expect(await statusOf('multi')).toMatchObject({
      state: 'indexed',
      version: 1,
      models,
      photos: [img(201), img(202), img(203)].map((url) => ({ url, state: 'indexed', models, error: null })),
    });
  });

  it('a price change with the same photos is a partial update: nothing fetched, nothing embedded', async () => {
    const before = await stored('multi');
    const fetches = images.requests.length;
    await p.post(upsertPhotos('multi', 2, [img(201), img(202), img(203)], { price: 99 }));
    await indexedAt('multi', 2);
    const after = await stored('multi');
    expect(after.price).toBe(99);
    expect(fetchesSince(fetches)).toEqual([]);
    expect(after.photos.map((photo: any) => photo.embeddings['efficientnet-lite0'].embedded_at)).toEqual(before.photos.map((photo: any) => photo.embeddings['efficientnet-lite0'].embedded_at));
  });

  it('a removed photo leaves the index; the photos kept are neither fetched nor embedded again, a new one only is', async () => {
    const before = await stored('multi');
    const fetches = images.requests.length;
    await p.post(upsertPhotos('multi', 3, [img(201), img(203), img(204)]));
    await indexedAt('multi', 3);
    expect(fetchesSince(fetches)).toEqual(['/img/204.jpg']);
    const after = await stored('multi');
    expect(after.images).toEqual([img(201), img(203), img(204)]);
    expect(after.photos.map((photo: any) => photo.hash)).toEqual([before.photos[0].hash, before.photos[2].hash, expect.any(String)]);
    expect(after.photos[1].embeddings['efficientnet-lite0'].embedded_at).toBe(before.photos[2].embeddings['efficientnet-lite0'].embedded_at);
    // The removed photo no longer matches: the product comes back (if at all) through another photo, far below.
    const body = await searchBy(img(202));
    const multi = body.results.find((result: { id: string }) => result.id === 'multi');
    expect(multi === undefined || multi.score < 0.99).toBe(true);
    expect((await searchBy(img(204))).results[0]).toMatchObject({ id: 'multi', matched_image: 2 });
    expect((await searchBy(img(203))).results[0]).toMatchObject({ id: 'multi', matched_image: 1 });
  });

  it('a photo that fails is recorded on that photo, and the product stays searchable through the others', async () => {
    await p.post(upsertPhotos('partly', 1, [img(230), `${images.url}/missing.jpg`]));
    await indexedAt('partly', 1);
    const status = await statusOf('partly');
    expect(status).toMatchObject({ state: 'indexed', last_error: null });
    expect(status.photos).toEqual([
      { url: img(230), state: 'indexed', models: ['colour-texture', 'efficientnet-lite0'], error: null },
      { url: `${images.url}/missing.jpg`, state: 'failed', models: [], error: expect.stringContaining('fetch_not_found') },
    ]);
    expect((await searchBy(img(230))).results[0]).toMatchObject({ id: 'partly', matched_image: 0 });
  });

  it('similar to a product with several photos: by its main photo, never itself', async () => {
    const body = (await p.search({ product_id: 'multi', k: 5 })).body;
    expect(body.results.length).toBeGreaterThan(0);
    expect(body.results.map((r: { id: string }) => r.id)).not.toContain('multi');
  });

  it('refuses more than 10 photos and a photo listed twice, each with its code', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => img(300 + i));
    expect(await p.post(upsertPhotos('too-many', 1, eleven))).toMatchObject({ status: 400, body: { error: { code: 'too_many_images' } } });
    expect(await p.post(upsertPhotos('twice', 1, [img(301), img(302), img(301)]))).toMatchObject({ status: 400, body: { error: { code: 'duplicate_images', message: expect.stringContaining('appears twice') } } });
    expect(await p.post({ ...upsertPhotos('both', 1, [img(301)]), product: { id: 'both', images: [img(301)], image_url: img(301) } })).toMatchObject({ status: 400, body: { error: { code: 'invalid_event' } } });
  });
});
