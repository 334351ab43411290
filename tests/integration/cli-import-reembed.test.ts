import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { embeddedByQuery } from '../../core/search/photos';
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
    const first = await cli(p, ['import', file, '--version', '5']);
    expect(first.status).toBe(1);
    expect(first.summary).toMatchObject({ version: 5, rows: 12, enqueued: 10, invalid: 2, older_than_catalog: 0, resumed_after_line: null });
    expect(first.stderr).toContain(`${file}:4: price:`);
    expect(first.stderr).toContain(`${file}:8: not valid JSON`);
    await p.waitFor(async () => (await p.get('/v1/products/j-11/status')).body.state === 'indexed' && (await p.get('/v1/products/j-0/status')).body.state === 'indexed');
    expect((await p.get('/v1/products/j-3/status')).body.state).toBe('unknown');
    const again = await cli(p, ['import', file, '--version', '5']);
    expect(again.summary).toMatchObject({ enqueued: 0, resumed_after_line: 12 });
    expect((await cli(p, ['import', file, '--version', '5', '--restart'])).summary).toMatchObject({ enqueued: 10 });
  });

  it('CSV with sizes, availability and quoted fields', async () => {
    const file = path.join(dir, 'catalog.csv');
    fs.writeFileSync(file, [
      'id,title,brand,category,color,sizes,price,currency,available,image_url,version',
      `c-1,"Shirt, blue",acme,shirts,blue,S|M|L,19.99,EUR,yes,${images.url}/img/301.jpg,3`,
      `c-2,Shoe,globex,shoes,red,,49,EUR,no,${images.url}/img/302.jpg,4`,
      `c-3,Bad,acme,shoes,red,,12,euro,true,${images.url}/img/303.jpg,4`,
    ].join('\n'));
    const result = await cli(p, ['import', file]);
    expect(result.summary).toMatchObject({ rows: 3, enqueued: 2, invalid: 1 });
    expect(result.stderr).toContain(`${file}:4: currency:`);
    await p.waitFor(async () => (await p.get('/v1/products/c-2/status')).body.state === 'indexed' && (await p.get('/v1/products/c-1/status')).body.state === 'indexed');
    const doc = await p.deps.es.get<Record<string, unknown>>({ index: p.config.index.alias, id: 'c-1' });
    expect(doc._source).toMatchObject({ title: 'Shirt, blue', sizes: ['S', 'M', 'L'], price: 19.99, available: true });
    // A catalog column and signals.<name> columns: the same id in another catalog is another product.
    const other = path.join(dir, 'store-a.csv');
    fs.writeFileSync(other, ['id,catalog,signals.popularity,signals.margin,image_url,version', `c-1,store-a,0.5,,${images.url}/img/304.jpg,1`].join('\n'));
    expect((await cli(p, ['import', other])).summary).toMatchObject({ rows: 1, enqueued: 1, invalid: 0 });
    await p.waitFor(async () => (await p.get('/v1/products/c-1/status?catalog=store-a')).body.state === 'indexed');
    const inA = await p.deps.es.get<Record<string, unknown>>({ index: p.config.index.alias, id: 'store-a c-1' });
    expect(inA._source).toMatchObject({ id: 'c-1', catalog: 'store-a', signals: { popularity: 0.5 } });
    expect((await p.get('/v1/products/c-1/status')).body).toMatchObject({ catalog: 'default', version: 3 });
  });
  it('refuses to start when the rows carry no version and none is given, and says how to choose (exit 2)', async () => {
    const file = path.join(dir, 'unversioned.jsonl');
    fs.writeFileSync(file, `${JSON.stringify({ id: 'u-1', image_url: `${images.url}/img/401.jpg` })}\n`);
    const result = await cli(p, ['import', file]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('no --version was given');
    expect(result.stderr).toContain('--version 0');
    expect(await p.queue.count()).toBe(0);
    expect((await p.get('/v1/products/u-1/status')).body.state).toBe('unknown');
  });

  it('a webhook counting 1, 2, 3 … after an import at version 0 wins; rows older than the catalog are counted and shown', async () => {
    const file = path.join(dir, 'versioned.jsonl');
    const row = (id: string, n: number, version?: number) => JSON.stringify({ id, title: id, image_url: `${images.url}/img/${n}.jpg`, ...(version !== undefined ? { version } : {}) });
    fs.writeFileSync(file, [row('v-1', 411), row('v-2', 412, 9)].join('\n'));
    expect((await cli(p, ['import', file, '--version', '0'])).summary).toMatchObject({ enqueued: 2, older_than_catalog: 0 });
    await p.waitFor(async () => (await p.get('/v1/products/v-2/status')).body.state === 'indexed' && (await p.get('/v1/products/v-1/status')).body.state === 'indexed');
    expect((await p.get('/v1/products/v-1/status')).body.version).toBe(0);
    expect((await p.get('/v1/products/v-2/status')).body.version).toBe(9);
    // The catalog's own webhook, version 1, changes v-1 …
    expect((await p.post({ id: 'w-1', type: 'product.upsert', version: 1, product: { id: 'v-1', title: 'renamed', image_url: `${images.url}/img/411.jpg` } })).status).toBe(202);
    await p.waitFor(async () => (await p.get('/v1/products/v-1/status')).body.version === 1);
    // … and an import of an export taken before that change is counted as older than the catalog and ignored,
    // visibly.
    const earlier = path.join(dir, 'earlier.jsonl');
    fs.writeFileSync(earlier, [JSON.stringify({ id: 'v-1', title: 'before the change', image_url: `${images.url}/img/411.jpg` }), row('v-3', 413)].join('\n'));
    const again = await cli(p, ['import', earlier, '--version', '0']);
    expect(again.summary).toMatchObject({ enqueued: 2, older_than_catalog: 1 });
    expect(again.stderr).toMatch(/1 rows are older than the version the catalog holds.*v-1 \(line 1: version 0, catalog 1\)/);
    await p.waitFor(async () => (await p.get('/v1/products/v-1/status')).body.last_ignored !== null);
    const status = (await p.get('/v1/products/v-1/status')).body;
    expect(status).toMatchObject({ state: 'indexed', version: 1, last_ignored: { version: 0, reason: 'stale', event_id: expect.stringMatching(/^import-/) } });
    const doc = await p.deps.es.get<Record<string, unknown>>({ index: p.config.index.alias, id: 'v-1' });
    expect(doc._source).toMatchObject({ title: 'renamed', source_version: 1 });
  });

  it('a row without a version in a file whose rows carry theirs is reported by line', async () => {
    const file = path.join(dir, 'mixed.jsonl');
    fs.writeFileSync(file, [JSON.stringify({ id: 'm-1', version: 2, image_url: `${images.url}/img/421.jpg` }), JSON.stringify({ id: 'm-2', image_url: `${images.url}/img/422.jpg` }), JSON.stringify({ id: 'm-3', version: -1, image_url: `${images.url}/img/423.jpg` })].join('\n'));
    const result = await cli(p, ['import', file]);
    expect(result.status).toBe(1);
    expect(result.summary).toMatchObject({ rows: 3, enqueued: 1, invalid: 2 });
    expect(result.stderr).toContain(`${file}:2: version: missing`);
    expect(result.stderr).toContain(`${file}:3: version:`);
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
          const docs = await p.deps.es.search({ index: p.config.index.alias, size: 0, query: embeddedByQuery('efficientnet-lite0') });
          return (docs.hits.total as { value: number }).value === 6;
        }, 60_000);
        // Each photo got the model's region descriptor with its vector. A photo embedded before descriptors were
        // stored (one stripped of it here) is found by the next run, alone, and the indexers add it.
        const regionsOf = async (id: string) => ((await p.deps.es.get({ index: p.config.index.alias, id, _source_includes: ['photos.regions'] } as never)) as { _source: { photos?: Array<{ regions?: Record<string, string> }> } })._source.photos?.[0]?.regions?.['efficientnet-lite0'];
        await p.waitFor(async () => (await Promise.all([0, 5].map(async (i) => typeof (await regionsOf(`r-${i}`)) === 'string'))).every(Boolean), 30_000);
        const full = (await p.deps.es.get({ index: p.config.index.alias, id: 'r-2', _source_exclude_vectors: false } as never)) as { _source: { photos: Array<Record<string, unknown>> } };
        await p.deps.es.index({ index: p.config.index.alias, id: 'r-2', document: { ...full._source, photos: full._source.photos.map(({ regions: _regions, ...photo }) => photo) }, refresh: true });
        const filling = await cli(p, ['reembed', '--model', 'efficientnet-lite0'], both);
        expect(filling.summary).toMatchObject({ mode: 'in_place', scanned: 6, enqueued: 1 });
        await p.waitFor(async () => typeof (await regionsOf('r-2')) === 'string', 60_000);
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
      const search = await p.deps.es.search({ index: p.config.index.alias, size: 0, query: { bool: { filter: [embeddedByQuery('colour-texture'), embeddedByQuery('efficientnet-lite0')] } } });
      expect((search.hits.total as { value: number }).value).toBe(6);
    } finally {
      await searching?.stop();
      await p.close();
    }
  });
});
