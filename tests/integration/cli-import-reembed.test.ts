import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startImageServer, startPipeline, type Pipeline } from './pipeline-helpers';

jest.setTimeout(120_000);
const root = path.resolve(__dirname, '..', '..');

/** Runs the CLI without blocking this process (whose image server the CLI fetches from). */
async function cli(p: Pipeline, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'lookalike.js'), ...args], {
    env: { ...process.env, LOG_LEVEL: 'silent', INDEX_ALIAS: p.config.index.alias, QUEUE_PREFIX: p.config.redis.queuePrefix, FETCH_ALLOWED_HOSTS: '127.0.0.1', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stdout, stderr, summary: JSON.parse(stdout.trim().split('\n').pop() || 'null') };
}

let images: Awaited<ReturnType<typeof startImageServer>>;
let dir: string;
beforeAll(async () => {
  images = await startImageServer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-import-'));
});
afterAll(async () => {
  await images.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('lookalike import', () => {
  let p: Pipeline;
  beforeEach(async () => {
    p = await startPipeline();
  });
  afterEach(async () => {
    await p.close();
  });

  it('JSONL: reports bad rows by line number, enqueues the rest, and resumes instead of starting over', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ id: `j-${i}`, title: `J ${i}`, price: i, image_url: `${images.url}/img/${200 + i}.jpg` }));
    lines[3] = '{"id": "j-3", "price": "free", "image_url": "http://127.0.0.1/x.jpg"}';
    lines[7] = '{not json';
    const file = path.join(dir, 'catalog.jsonl');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const first = await cli(p, ['import', file]);
    expect(first.status).toBe(1);
    expect(first.summary).toMatchObject({ rows: 12, enqueued: 10, invalid: 2, resumed_after_line: null });
    expect(first.stderr).toContain(`${file}:4: price:`);
    expect(first.stderr).toContain(`${file}:8: not valid JSON`);
    await p.waitFor(async () => (await p.get('/v1/products/j-11/status')).body.state === 'indexed' && (await p.get('/v1/products/j-0/status')).body.state === 'indexed');
    expect((await p.get('/v1/products/j-3/status')).body.state).toBe('unknown');
    const again = await cli(p, ['import', file]);
    expect(again.summary).toMatchObject({ enqueued: 0, resumed_after_line: 12 });
    expect((await cli(p, ['import', file, '--restart'])).summary).toMatchObject({ enqueued: 10 });
  });

  it('CSV with sizes, availability and quoted fields', async () => {
    const file = path.join(dir, 'catalog.csv');
    fs.writeFileSync(file, [
      'id,title,brand,category,color,sizes,price,currency,available,image_url',
      `c-1,"Shirt, blue",acme,shirts,blue,S|M|L,19.99,EUR,yes,${images.url}/img/301.jpg`,
      `c-2,Shoe,globex,shoes,red,,49,EUR,no,${images.url}/img/302.jpg`,
      `c-3,Bad,acme,shoes,red,,12,euro,true,${images.url}/img/303.jpg`,
    ].join('\n'));
    const result = await cli(p, ['import', file]);
    expect(result.summary).toMatchObject({ rows: 3, enqueued: 2, invalid: 1 });
    expect(result.stderr).toContain(`${file}:4: currency:`);
    await p.waitFor(async () => (await p.get('/v1/products/c-2/status')).body.state === 'indexed' && (await p.get('/v1/products/c-1/status')).body.state === 'indexed');
    const doc = await p.deps.es.get<Record<string, unknown>>({ index: p.config.index.alias, id: 'c-1' });
    expect(doc._source).toMatchObject({ title: 'Shirt, blue', sizes: ['S', 'M', 'L'], price: 19.99, available: true });
  });
});

/**
 * Searches the API over and over with the photo of r-0 until `stop()`, noting for each search where the alias
 * pointed when it started (the alias never points back, so a search started after the swap was answered by the new
 * version). A search "answers" when it is a 200 whose results are the six products once each, r-0 first.
 */
function keepSearching(p: Pipeline) {
  const searches: Array<{ aliasAtStart: string | null; ok: boolean; detail?: unknown }> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const aliasAtStart = await p.deps.indexManager.currentIndex();
      const response = await p.search({ image_url: `${images.url}/img/400.jpg`, k: 10, models: { 'colour-texture': 1 } }).catch((error: unknown) => ({ status: 0, body: String(error) }));
      const ids: string[] = response.status === 200 ? response.body.results.map((result: { id: string }) => result.id) : [];
      const ok = ids[0] === 'r-0' && ids.length === 6 && new Set(ids).size === 6;
      searches.push({ aliasAtStart, ok, ...(ok ? {} : { detail: { status: response.status, ids, body: response.status === 200 ? undefined : response.body } }) });
    }
  })();
  return {
    searches,
    async stop() {
      running = false;
      await loop;
      return searches;
    },
  };
}

describe('lookalike reembed', () => {
  it('adds a model in place (background jobs) and builds a new index version on request, while search keeps answering', async () => {
    // A catalog indexed with colour-texture only.
    const p = await startPipeline({ MODELS: 'colour-texture' });
    const both = { MODELS: 'colour-texture,efficientnet-lite0' };
    let searching: ReturnType<typeof keepSearching> | undefined;
    try {
      await p.post({ events: Array.from({ length: 6 }, (_, i) => ({ id: `r${i}`, type: 'product.upsert', version: 1, product: { id: `r-${i}`, image_url: `${images.url}/img/${400 + i}.jpg` } })) });
      await p.waitFor(async () => (await Promise.all([0, 5].map(async (i) => (await p.get(`/v1/products/r-${i}/status`)).body.state))).every((s) => s === 'indexed'));
      await p.deps.es.indices.refresh({ index: p.config.index.alias });
      searching = keepSearching(p);
      const inPlace = await cli(p, ['reembed', '--model', 'efficientnet-lite0'], both);
      expect(inPlace.status).toBe(0);
      expect(inPlace.summary).toMatchObject({ model: 'efficientnet-lite0', mode: 'in_place', scanned: 6, enqueued: 6 });
      // An indexer with both models works the re-embed queue.
      const q = await startPipeline({ ...both, INDEX_ALIAS: p.config.index.alias, QUEUE_PREFIX: p.config.redis.queuePrefix });
      try {
        await p.waitFor(async () => {
          const docs = await p.deps.es.search({ index: p.config.index.alias, size: 0, query: { exists: { field: 'embeddings.efficientnet-lite0' } } });
          return (docs.hits.total as { value: number }).value === 6;
        }, 60_000);
      } finally {
        await q.close({ keepData: true });
      }
      const before = await p.deps.indexManager.currentIndex();
      const rebuilt = await cli(p, ['reembed', '--model', 'colour-texture', '--new-index'], both);
      expect(rebuilt.status).toBe(0);
      expect(rebuilt.summary).toMatchObject({ mode: 'new_index', from: before, copied: 6, without_vector: 0 });
      expect(await p.deps.indexManager.currentIndex()).toBe(rebuilt.summary.to);
      // Searches ran from before the first command until some were answered by the new version.
      await p.waitFor(async () => searching!.searches.some((search) => search.aliasAtStart === rebuilt.summary.to), 30_000);
      const searches = await searching.stop();
      expect(searches.filter((search) => !search.ok)).toEqual([]);
      expect(searches.filter((search) => search.aliasAtStart === before).length).toBeGreaterThan(2);
      const search = await p.deps.es.search({ index: p.config.index.alias, size: 0, query: { bool: { filter: [{ exists: { field: 'embeddings.colour-texture' } }, { exists: { field: 'embeddings.efficientnet-lite0' } }] } } });
      expect((search.hits.total as { value: number }).value).toBe(6);
    } finally {
      await searching?.stop();
      await p.close();
    }
  });
});
