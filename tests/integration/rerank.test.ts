import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { decodeRegions, REGION_DIMS } from '../../core/rerank/regions';
import { RERANK_DEPTH } from '../../core/rerank/rescore';
import { STAMP_DIR, busyBackdrop, stampCatalogPhoto, stampId, stampScene, type Box } from '../fixtures/stamps';
import { startPipeline, upsert, type Pipeline } from './pipeline-helpers';

/**
 * The precision stage (`rerank`), end to end: the indexer stores each photo's region descriptor beside its vectors;
 * a photo search with `rerank: true` re-scores its first results by how well each matched photo's cells are found in
 * the query photo, which puts a whole item above close-ups of its parts (the hard negatives of issue 13).
 *
 * The catalog: real object photos (tuxpaint stamps) on white, and as other products three close-ups of each
 * (a corner, the opposite corner, the centre, enlarged to a product photo). The query: the object photographed on a
 * busy backdrop, searched by the box around it (what the shopper drew; no localization).
 */

jest.setTimeout(180_000);

/** Objects whose close-ups the hybrid already ranks below the whole item, and one whose centre close-up it ranks first. */
const CLEAR = ['clothes/button.png', 'clothes/t_shirt.png', 'symbols/clockface.png'];
const FIXED = 'plants/flowers/chemparathi.png';
const STAMPS = [...CLEAR, FIXED];
const PARTS = [
  { name: 'corner', fx: 0, fy: 0, share: 0.55 },
  { name: 'far-corner', fx: 1, fy: 1, share: 0.55 },
  { name: 'centre', fx: 0.5, fy: 0.5, share: 0.5 },
];

/** A close-up of a part of the stamp: a box of `share` of its size at (fx, fy) of the free room, as a product photo. */
async function closeupPhoto(stamp: string, part: (typeof PARTS)[number]): Promise<Buffer> {
  const { data, info } = await sharp(fs.readFileSync(path.join(STAMP_DIR, stamp))).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const width = Math.round(info.width * part.share);
  const height = Math.round(info.height * part.share);
  const region = { left: Math.round((info.width - width) * part.fx), top: Math.round((info.height - height) * part.fy), width, height };
  const enlarged = await sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).extract(region).resize(550, 550, { fit: 'inside' }).png().toBuffer();
  return sharp({ create: { width: 640, height: 640, channels: 3, background: '#ffffff' } }).composite([{ input: enlarged, gravity: 'centre' }]).jpeg({ quality: 90 }).toBuffer();
}

let p: Pipeline;
let server: http.Server;
let base: string;
const queries = new Map<string, { jpeg: Buffer; box: Box }>();
const photoUrl = (id: string) => `${base}/${id}.jpg`;

beforeAll(async () => {
  const photos = new Map<string, Buffer>();
  const backdrop = await busyBackdrop();
  for (const stamp of STAMPS) {
    const id = stampId(stamp);
    photos.set(id, await stampCatalogPhoto(stamp));
    for (const part of PARTS) photos.set(`${id}-${part.name}`, await closeupPhoto(stamp, part));
    const scene = await stampScene(backdrop, [{ stamp, label: '', left: 170, top: 70, width: 300 }]);
    const truth = scene.truth[0]!;
    const box = { left: Math.max(0, truth.left - 10), top: Math.max(0, truth.top - 10), width: 0, height: 0 };
    box.width = Math.min(640 - box.left, truth.width + 20);
    box.height = Math.min(480 - box.top, truth.height + 20);
    queries.set(id, { jpeg: scene.jpeg, box });
  }
  server = http.createServer((request, response) => {
    const photo = photos.get((request.url ?? '').slice(1, -'.jpg'.length));
    if (!photo) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The server's default on (RERANK_DEFAULT), to test what a search that does not say `rerank` does then.
  p = await startPipeline({ RERANK_DEFAULT: 'true' });
  const ids = [...photos.keys()];
  expect((await p.post({ events: ids.map((id) => upsert(id, 1, photoUrl(id))) })).status).toBe(202);
  await p.waitFor(async () => {
    const states = await Promise.all(ids.map(async (id) => (await p.get(`/v1/products/${id}/status`)).body?.state));
    return states.every((state) => state === 'indexed');
  });
});
afterAll(async () => {
  await p?.close();
  server?.closeAllConnections();
  server?.close();
});

const search = async (id: string, extra: Record<string, unknown> = {}) => {
  const query = queries.get(id)!;
  return p.search({ image_base64: query.jpeg.toString('base64'), box: query.box, k: 16, ...extra });
};
const scoreOf = (results: Array<{ id: string; score: number }>, id: string) => results.find((result) => result.id === id)?.score ?? Number.NaN;

describe('re-ranking (rerank)', () => {
  it('stores a region descriptor with each photo: 49 cells of the feature map', async () => {
    const doc = (await p.deps.es.get({ index: p.config.index.alias, id: stampId(CLEAR[0]!), _source_includes: ['photos.regions'] } as never)) as { _source: { photos: Array<{ regions: Record<string, string> }> } };
    const descriptor = decodeRegions(doc._source.photos[0]!.regions['efficientnet-lite0']!);
    expect(descriptor).toMatchObject({ cells: 49, dims: REGION_DIMS });
    // Never shown to clients: the status lists photos without it.
    expect(JSON.stringify((await p.get(`/v1/products/${stampId(CLEAR[0]!)}/status`)).body)).not.toContain('regions');
  });

  it('puts the whole item above its close-ups, further ahead than the hybrid does', async () => {
    for (const stamp of CLEAR) {
      const id = stampId(stamp);
      const plain = await search(id, { rerank: false });
      const reranked = await search(id, { rerank: true });
      expect(reranked.status).toBe(200);
      expect(reranked.body.results[0].id).toBe(id);
      expect(reranked.body.timings_ms.rerank).toBeGreaterThan(0);
      expect(plain.body.timings_ms.rerank).toBeUndefined();
      // The close-ups lose more to the whole item once their cells are compared: the gap to the best close-up widens.
      const gap = (results: Array<{ id: string; score: number }>) => scoreOf(results, id) - Math.max(...PARTS.map((part) => scoreOf(results, `${id}-${part.name}`)));
      expect(gap(reranked.body.results)).toBeGreaterThan(gap(plain.body.results));
      // The verdict reads the search's own similarities, not the re-scored ones.
      expect(reranked.body.match).toBe(plain.body.match);
    }
  });

  it('ranks the whole item first where the hybrid ranked its close-up first', async () => {
    const id = stampId(FIXED);
    const plain = (await search(id, { rerank: false })).body.results;
    const reranked = (await search(id, { rerank: true })).body.results;
    expect(plain[0].id).toBe(`${id}-centre`);
    expect(reranked[0].id).toBe(id);
  });

  it('keeps one order for paging: the next page continues the re-scored ranking', async () => {
    const id = stampId(CLEAR[1]!);
    const all = (await search(id, { rerank: true, k: 16 })).body.results.map((result: { id: string }) => result.id);
    const first = (await search(id, { rerank: true, k: 6 })).body;
    const second = (await p.search({ query_id: first.query_id, cursor: first.next_cursor, k: 10 })).body;
    expect([...first.results, ...second.results].map((result: { id: string }) => result.id)).toEqual(all);
    // Past the re-scored head: the order holds across it.
    expect(all.length).toBeGreaterThan(RERANK_DEPTH);
  });

  it('runs a kept query again with rerank, and a product query with its photo', async () => {
    const id = stampId(CLEAR[2]!);
    const first = (await search(id, { rerank: true })).body;
    const again = (await p.search({ query_id: first.query_id, rerank: true, k: 16 })).body;
    expect(again.results.map((result: { id: string }) => result.id)).toEqual(first.results.map((result: { id: string }) => result.id));
    // A query kept from a search without rerank kept no regions: it says so.
    const plain = (await search(id, { rerank: false })).body;
    const refused = await p.search({ query_id: plain.query_id, rerank: true });
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'rerank_unavailable' } } });
    expect(refused.body.error.message).toContain('searched with rerank');
    const similar = await p.search({ product_id: `${id}-centre`, rerank: true, k: 5 });
    expect(similar.status).toBe(200);
    expect(similar.body.results.map((result: { id: string }) => result.id)).not.toContain(`${id}-centre`);
    expect(similar.body.timings_ms.rerank).toBeGreaterThan(0);
  });

  it('re-ranks a localized photo search (crop "localize")', async () => {
    const id = stampId(CLEAR[0]!);
    const runs = jest.spyOn(p.embedder, 'embedRegions');
    const body = (await p.search({ image_base64: queries.get(id)!.jpeg.toString('base64'), crop: 'localize', rerank: true, k: 5 })).body;
    expect(body.results[0].id).toBe(id);
    expect(body.timings_ms.rerank).toBeGreaterThan(0);
    // The candidates are ranked by the int8 copy as without rerank (LOCALIZE_SCORER=int8, the default); the chosen
    // region's descriptor comes from the model's own run of it (the cascade's), never from the copy's map: the same
    // region as without rerank, re-scored.
    const options = runs.mock.calls.map((call) => call[2] ?? {});
    runs.mockRestore();
    expect(options.some((o) => o.quantized === true && o.onMap === undefined)).toBe(true);
    expect(options.filter((o) => o.quantized === true).every((o) => o.onMap === undefined)).toBe(true);
    expect(options.some((o) => !o.quantized && o.onMap !== undefined)).toBe(true);
    const ranked = (answer: { results: Array<{ id: string; score: number }> }) => answer.results.map((result) => [result.id, result.score]);
    const plain = (await p.search({ image_base64: queries.get(id)!.jpeg.toString('base64'), crop: 'localize', rerank: false, k: 5 })).body;
    expect(body.query.crop).toEqual(plain.query.crop);
    expect(ranked(body)).not.toEqual(ranked(plain));
    // With one model (each candidate searched in full), and with `objects` (every chosen region re-scored).
    const oneModel = (await p.search({ image_base64: queries.get(id)!.jpeg.toString('base64'), crop: 'localize', rerank: true, models: { 'efficientnet-lite0': 1 }, k: 5 })).body;
    const oneModelPlain = (await p.search({ image_base64: queries.get(id)!.jpeg.toString('base64'), crop: 'localize', rerank: false, models: { 'efficientnet-lite0': 1 }, k: 5 })).body;
    expect(oneModel.timings_ms.rerank).toBeGreaterThan(0);
    expect(oneModel.query.crop).toEqual(oneModelPlain.query.crop);
    expect(ranked(oneModel)).not.toEqual(ranked(oneModelPlain));
    const objects = (await p.search({ image_base64: queries.get(id)!.jpeg.toString('base64'), crop: 'localize', rerank: true, objects: true, k: 5 })).body;
    const objectsPlain = (await p.search({ image_base64: queries.get(id)!.jpeg.toString('base64'), crop: 'localize', rerank: false, objects: true, k: 5 })).body;
    expect(objects.objects.length).toBe(objectsPlain.objects.length);
    objects.objects.forEach((object: { results: Array<{ id: string; score: number }> }, i: number) => expect(ranked(object)).not.toEqual(ranked(objectsPlain.objects[i])));
  });

  it('answers 409 for a product whose photo was embedded before descriptors were stored', async () => {
    const id = `${stampId(CLEAR[2]!)}-corner`;
    const doc = (await p.deps.es.get({ index: p.config.index.alias, id, _source_exclude_vectors: false } as never)) as { _source: { photos: Array<Record<string, unknown>> } };
    const photos = doc._source.photos.map(({ regions: _regions, ...photo }) => photo);
    await p.deps.es.index({ index: p.config.index.alias, id, document: { ...doc._source, photos }, refresh: true });
    expect(await p.search({ product_id: id, rerank: true })).toMatchObject({ status: 409, body: { error: { code: 'rerank_unavailable' } } });
    // Not asked for, the stage is skipped quietly where it cannot run.
    const byDefault = await p.search({ product_id: id });
    expect(byDefault.status).toBe(200);
    expect(byDefault.body.timings_ms.rerank).toBeUndefined();
    // Searches that meet it as a candidate still answer, and keep it among the results.
    const reranked = (await search(stampId(CLEAR[2]!), { rerank: true })).body;
    expect(reranked.results.map((result: { id: string }) => result.id)).toContain(id);
  });

  it('refuses rerank where there are no regions to compare: 400 rerank_unavailable', async () => {
    const vector = await p.search({ vector: new Array(1280).fill(0.01), rerank: true });
    expect(vector).toMatchObject({ status: 400, body: { error: { code: 'rerank_unavailable' } } });
    const colourOnly = await search(stampId(CLEAR[0]!), { rerank: true, models: { 'colour-texture': 1 } });
    expect(colourOnly).toMatchObject({ status: 400, body: { error: { code: 'rerank_unavailable' } } });
    // With RERANK_DEFAULT on, the same searches not saying `rerank` run without the stage.
    const vectorByDefault = await p.search({ vector: new Array(1280).fill(0.01) });
    expect(vectorByDefault.status).toBe(200);
    expect(vectorByDefault.body.timings_ms.rerank).toBeUndefined();
    const colourByDefault = await search(stampId(CLEAR[0]!), { models: { 'colour-texture': 1 } });
    expect(colourByDefault.status).toBe(200);
    expect(colourByDefault.body.timings_ms.rerank).toBeUndefined();
    // A photo search that does not say: re-ranked.
    expect((await search(stampId(CLEAR[0]!))).body.timings_ms.rerank).toBeGreaterThan(0);
  });
});
