/**
 * Search latency at catalog sizes of 10k and 100k products: a 640 px JPEG uploaded to the real API process
 * (multipart, the default hybrid models, autocrop, kNN), p50/p95/p99 per stage (decode, embed, search, total as the
 * API reports them, and the client's wall time). Side by side in the same run, in a shuffled order, the same query
 * vectors are searched in Elasticsearch directly with the very code the API runs (core/search/catalog-search.ts: two
 * requests for the hybrid), which gives the API's overhead: wall time − decode − embed − direct time, per query.
 *
 * The catalog: the dev set's real catalog photos (embedded here) plus synthetic products around them, each vector a
 * real one with Gaussian noise (cosine 0.55…0.95 to its source, per model), so that the index has the clusters
 * and the dimensions of a real catalog. Attributes are random (brand, category, colour, sizes, price, availability).
 *
 * The API is measured once per set of Node flags (`--api-node-flags`, ";"-separated, "" = none): first as it is
 * started in production (`npm run api`'s flags and environment, as the Dockerfile has them: scripts/service-command.ts),
 * then with no flags (V8's concurrent GC threads then compete with ONNX Runtime and Elasticsearch for the 2 cores).
 *
 * Photos of products in scenes (the localization dev set, benchmarks/lib/scenes.ts: `--scenes` of its single- and
 * multi-object photos) are sent too, as the API answers them by default (localization), with `objects: true`, and
 * with `crop: "trim"` (the search before localization), after the main measurement, with the first set of flags.
 *
 * usage: npm run bench:search-latency -- [--sizes 10000,100000] [--queries 400] [--scenes 200] [--photos 1] [--force-merge] [--api-node-flags '--single-threaded-gc --max-semi-space-size=2;']
 * (services up: npm run services:up; the API runs from dist/: npm run build)
 */
import type { Client } from '@elastic/elasticsearch';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { loadConfig, type HybridCandidates } from '../core/config';
import { createEmbedder } from '../core/embedding/embedder';
import { createLogger } from '../core/logger';
import { createProgress } from '../core/progress';
import { seededRandom, shuffle } from '../core/random';
import { buildFilterClauses, catalogFilter, type SearchFilters } from '../core/search/filters';
import { DEFAULT_CATALOG } from '../core/catalog';
import { hybridCandidates, searchCatalog } from '../core/search/catalog-search';
import { startApi, multipart, type ApiProcess } from './lib/api-process';
import { benchProduct, createBenchIndex, request } from './lib/bench-index';
import { buildDevSet } from './lib/devset';
import { buildSceneDevSet } from './lib/scenes';
import { descriptorsAt, embedAll, row } from './lib/embed';
import { gaussian, nearProduct } from './lib/synthetic-vectors';
import { fixed, latencyStats, writeResult, type LatencyStats } from './lib/report';
import { forceMerge } from './lib/es-monitor';
import { splitFilters } from './lib/knn-measure';
import { serviceCommand } from '../scripts/service-command';

const root = path.resolve(__dirname, '..');
const stamp = Date.now().toString(36);
const alias = `bench-search-${stamp}`;
const apiPort = 18081;
const api = `http://127.0.0.1:${apiPort}`;

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1]! : fallback;
}
const sizes = argument('sizes', '10000,100000').split(',').map(Number);
const queryCount = Number(argument('queries', '400'));
const sceneCount = Number(argument('scenes', '200'));
/**
 * Photos per product (issue 13: products have several). The first photo of a real product is its real photo; the
 * others, and every photo of a synthetic product, are the real product's vectors plus noise (another view of it).
 */
const photoCount = Number(argument('photos', '1'));
/** Force-merge the index to one segment after the load (Elasticsearch's tuning after a bulk load; docs/scaling.md). */
const mergeAfterLoad = process.argv.includes('--force-merge');
/** Node flags to start the API with, one run each, separated by ";" ("" = none). */
const nodeFlags = argument('api-node-flags', `${serviceCommand('api').args.slice(0, -1).join(' ')};`).split(';');

/** The filtered variant: about 13 % of the catalog passes (price ≤ 100: 32 %, in stock: 80 %, size M: 50 %). */
const FILTERS: SearchFilters = { price: { lte: 100 }, available: true, sizes: ['M'] };

interface Sample {
  wall: number;
  decode: number;
  localize?: number;
  embed: number;
  search: number;
  total: number;
  /** No plain background to trim, asked whole first and searched whole (not localized): the response's crop is null. */
  whole?: boolean;
}

type Stats = LatencyStats;
type Summary = ReturnType<typeof summarise>;
const stats = latencyStats;

/** Scene photos, by how they are asked: the default (localization), objects: true, crop: "trim" (no localization). */
const SCENE_KINDS = { scene: {}, scene_objects: { objects: true }, scene_trim: { crop: 'trim' } } as const;
type SceneKind = keyof typeof SCENE_KINDS;

function summariseScenes(samples: Sample[]) {
  return {
    wall: stats(samples.map((s) => s.wall)),
    decode: stats(samples.map((s) => s.decode)),
    localize: stats(samples.map((s) => s.localize ?? 0)),
    embed: stats(samples.map((s) => s.embed)),
    search: stats(samples.map((s) => s.search)),
    api_total: stats(samples.map((s) => s.total)),
  };
}

/** Per query, Elasticsearch alone: as the API searches, with the catalog filter, and with candidates from every model. */
interface Direct {
  direct: number;
  directCatalog: number;
  directAll: number;
  /** The same requests with each filter clause its own entry of the kNN filter list (filtered queries only). */
  directSplit: number;
}

function summarise(samples: Array<Sample & Direct>) {
  const overhead = samples.map((s) => s.wall - s.decode - s.embed - s.direct);
  return {
    wall: stats(samples.map((s) => s.wall)),
    decode: stats(samples.map((s) => s.decode)),
    embed: stats(samples.map((s) => s.embed)),
    search: stats(samples.map((s) => s.search)),
    api_total: stats(samples.map((s) => s.total)),
    direct_es: stats(samples.map((s) => s.direct)),
    direct_es_catalog: stats(samples.map((s) => s.directCatalog)),
    direct_es_all_candidates: stats(samples.map((s) => s.directAll)),
    direct_es_split: stats(samples.map((s) => s.directSplit)),
    overhead_ms: stats(overhead),
    /** Photos that the API localized (searched region by region: docs/search.md, "Localization"). */
    localized: samples.filter((s) => (s.localize ?? 0) > 0).length,
    /** Photos asked whole first and searched whole, and the search stage of those and of the trimmed photos. */
    asked_whole: samples.filter((s) => s.whole).length,
    search_asked_whole: stats(samples.filter((s) => s.whole).map((s) => s.search)),
    search_trimmed: stats(samples.filter((s) => !s.whole && !((s.localize ?? 0) > 0)).map((s) => s.search)),
    /** The API's own share of the end-to-end time: mean overhead over mean wall time. */
    overhead_share: overhead.reduce((a, b) => a + b, 0) / samples.reduce((a, s) => a + s.wall, 0),
  };
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', INDEX_ALIAS: alias });
  const logger = createLogger(config);
  const modelIds = config.models.ids;
  const weights = config.search.weights;
  const devset = await buildDevSet(path.join(root, '.cache', 'devset'), { perCategory: 100, queryItems: 300, seed: 7 });
  const random = seededRandom(11);

  // Queries: dev-set photos (every distortion) as the 640 px JPEGs a client sends.
  const picked = shuffle(devset.queries, random).slice(0, queryCount);
  const progress = createProgress('queries: 640 px JPEGs');
  const uploads: Buffer[] = [];
  for (const query of picked) {
    uploads.push(await sharp(query.photo).resize(640, 640, { fit: 'inside' }).jpeg({ quality: 85 }).toBuffer());
    progress.update(uploads.length, picked.length);
  }
  progress.done();
  const sceneSet = sceneCount > 0 ? await buildSceneDevSet(path.join(root, '.cache', 'scenes'), { single: 600, multi: 200, seed: 11 }) : undefined;
  const sceneUploads: Buffer[] = [];
  for (const query of shuffle(sceneSet?.queries ?? [], random).slice(0, sceneCount)) {
    sceneUploads.push(await sharp(query.photo).resize(640, 640, { fit: 'inside' }).jpeg({ quality: 85 }).toBuffer());
  }

  const embedder = await createEmbedder(config, logger);
  const dims = Object.fromEntries(embedder.models.map((m) => [m.id, m.dims]));
  // With their region descriptors, as the indexer stores them (the precision stage's): they weigh in every product's
  // `_source`, which every read of a hit's stored fields decompresses (its `_id` too: core/search/catalog-search.ts).
  const catalogDescriptors: Record<string, string[]> = {};
  const catalogVectors = await embedAll(embedder, devset.catalog.map((item) => item.photo), 'auto', 'catalog photos: embed', catalogDescriptors);
  const queryVectors = await embedAll(embedder, uploads, 'auto', 'queries: embed');
  await embedder.close();

  const bench = await createBenchIndex(config, logger);
  const { es } = bench;
  const heapBytes = Object.values((await es.nodes.stats({ metric: 'jvm' })).nodes).reduce((most, node) => Math.max(most, node.jvm?.mem?.heap_max_in_bytes ?? 0), 0);
  let child: ApiProcess | undefined;
  const results: Array<{ products: number; node_flags: string; load_seconds: number; merge_seconds?: number; segments: number; queries: number; plain: Summary; filtered: Summary; vector: Summary; scenes?: Record<SceneKind, ReturnType<typeof summariseScenes>> }> = [];
  try {
    // Beyond the real photos, each product is a real one's vectors plus noise.
    const noise = gaussian(random);
    const document = (i: number) => {
      const real = i < devset.catalog.length;
      const base = real ? i : Math.floor(random() * devset.catalog.length);
      const first = real ? Object.fromEntries(modelIds.map((id) => [id, Array.from(row(catalogVectors[id]!, dims[id]!, base))])) : nearProduct(catalogVectors, dims, base, random, noise);
      const vectors = [first, ...Array.from({ length: photoCount - 1 }, () => nearProduct(catalogVectors, dims, base, random, noise))];
      // Every photo carries its source's descriptors: the size of a real photo's.
      const regions = descriptorsAt(catalogDescriptors, base);
      return benchProduct(i, devset.catalog[base]!, vectors, random, vectors.map(() => regions));
    };

    const env = { ...process.env, LOG_LEVEL: 'warn', INDEX_ALIAS: alias, QUEUE_PREFIX: alias, API_PORT: String(apiPort), API_HOST: '127.0.0.1', RATE_LIMIT_PER_S: '0' };
    for (const size of sizes) {
      const loadSeconds = await bench.fill(size, document, `catalog: index to ${size}`);
      // Measure a settled index, as a catalog is between bulk loads: wait until no merge runs.
      for (;;) {
        const merges = (await es.indices.stats({ index: bench.index, metric: 'merge' }))._all.primaries?.merges?.current ?? 0;
        if (merges === 0) break;
        await sleep(1000);
      }
      const mergeSeconds = mergeAfterLoad ? await forceMerge(es, bench.index, `catalog: force merge at ${size}`) : undefined;
      const segments = (await es.cat.segments({ index: bench.index, format: 'json' })) as unknown[];

      // The API once per set of Node flags, each measured the same way.
      for (const flags of nodeFlags) {
        const server = await startApi(env, flags.split(' ').filter(Boolean));
        child = server;

        const upload = async (q: number, filters?: SearchFilters): Promise<Sample> => {
          // Without the precision stage (on by server default): the table sets the search against Elasticsearch run
          // directly, and issue 13's 60 ms is a target without it (its cost: benchmarks/results/rerank.md).
          const form = multipart(uploads[q]!, { rerank: false, ...(filters ? { filters } : {}) });
          const { ms, body } = await request(`${api}/v1/search`, 'POST', form.headers, form.body);
          const t = body.timings_ms as Omit<Sample, 'wall'>;
          return { wall: ms, ...t, whole: (body.query as { crop: unknown }).crop === null && !((t.localize ?? 0) > 0) };
        };
        // A raw-vector query (JSON): the first model alone.
        const vectorQuery = async (q: number): Promise<Sample> => {
          const body = JSON.stringify({ vector: Array.from(row(queryVectors[modelIds[0]!]!, dims[modelIds[0]!]!, q)), models: { [modelIds[0]!]: 1 } });
          const { ms, body: answer } = await request(`${api}/v1/search`, 'POST', { 'content-type': 'application/json' }, body);
          return { wall: ms, ...(answer.timings_ms as Omit<Sample, 'wall'>) };
        };
        // Which models propose the hybrid's candidates: as the API chooses them (HYBRID_CANDIDATES), unless told.
        const direct = async (q: number, filters?: SearchFilters, models: string[] = modelIds, catalog = false, candidates: HybridCandidates = hybridCandidates(config.search.hybridCandidates, buildFilterClauses(filters).length > 0), client: Client = es): Promise<number> => {
          // The same code as the API (one request, or two for the hybrid) with the official client, as the API uses it.
          const started = performance.now();
          const { hits } = await searchCatalog(client, alias, {
            vectors: Object.fromEntries(models.map((id) => [id, Array.from(row(queryVectors[id]!, dims[id]!, q))])),
            weights,
            size: 10,
            candidates,
            // With `catalog`, the default catalog's filter first, as the API sends it when the index holds several.
            filters: [...(catalog ? [catalogFilter(DEFAULT_CATALOG)] : []), ...buildFilterClauses(filters)],
            mode: 'knn',
            facets: false,
          });
          return hits.length > 0 ? performance.now() - started : NaN;
        };

        const unjoined = splitFilters(es);
        // Warm-up: the first requests load graphs into the page cache and JIT the API's code paths.
        for (let q = 0; q < 40; q++) {
          await upload(q % uploads.length);
          await direct(q % uploads.length);
          await direct(q % uploads.length, undefined, modelIds, false, 'all');
        }

        const plain: Array<Sample & Direct> = [];
        const filtered: Array<Sample & Direct> = [];
        const vector: Array<Sample & Direct> = [];
        const order = shuffle(Array.from({ length: uploads.length * 3 }, (_, n) => n), random);
        const bar = createProgress(`search at ${size}`);
        for (const n of order) {
          const q = n % uploads.length;
          const kind = n < uploads.length ? plain : n < 2 * uploads.length ? filtered : vector;
          const filters = kind === filtered ? FILTERS : undefined;
          const viaApi = () => (kind === vector ? vectorQuery(q) : upload(q, filters));
          const viaEs = () => direct(q, filters, kind === vector ? modelIds.slice(0, 1) : modelIds);
          // The API and each direct way in a random order, so that none always finds the caches warmer.
          let sample: Sample | undefined;
          const times = { direct: NaN, directCatalog: NaN, directAll: NaN, directSplit: NaN };
          const ways = [
            async () => void (sample = await viaApi()),
            async () => void (times.direct = await viaEs()),
            async () => void (times.directCatalog = await direct(q, filters, kind === vector ? modelIds.slice(0, 1) : modelIds, true)),
            // Candidates from every model (HYBRID_CANDIDATES=all); NaN for one model (no candidates step).
            async () => void (times.directAll = kind === vector ? NaN : await direct(q, filters, modelIds, false, 'all')),
            // The filter clauses joined to the photos one by one, as before 2026-12-07 (filtered queries only).
            async () => void (times.directSplit = kind === filtered ? await direct(q, filters, modelIds, false, undefined, unjoined) : NaN),
          ];
          for (const way of shuffle(ways, random)) await way();
          kind.push({ ...sample!, ...times });
          bar.update(plain.length + filtered.length + vector.length, order.length);
        }
        bar.done();

        let scenes: Record<SceneKind, ReturnType<typeof summariseScenes>> | undefined;
        if (flags === nodeFlags[0] && sceneUploads.length > 0) {
          const kinds = Object.keys(SCENE_KINDS) as SceneKind[];
          const samples = Object.fromEntries(kinds.map((kind) => [kind, [] as Sample[]])) as Record<SceneKind, Sample[]>;
          const sceneOrder = shuffle(Array.from({ length: sceneUploads.length * kinds.length }, (_, n) => n), random);
          const sceneBar = createProgress(`scene photos at ${size}`);
          for (const n of sceneOrder) {
            const kind = kinds[Math.floor(n / sceneUploads.length)]!;
            const form = multipart(sceneUploads[n % sceneUploads.length]!, { rerank: false, ...SCENE_KINDS[kind] });
            const { ms, body } = await request(`${api}/v1/search`, 'POST', form.headers, form.body);
            samples[kind].push({ wall: ms, ...(body.timings_ms as Omit<Sample, 'wall'>) });
            sceneBar.update(kinds.reduce((done, k) => done + samples[k].length, 0), sceneOrder.length);
          }
          sceneBar.done();
          scenes = Object.fromEntries(kinds.map((kind) => [kind, summariseScenes(samples[kind])])) as Record<SceneKind, ReturnType<typeof summariseScenes>>;
        }

        results.push({ products: size, node_flags: flags, load_seconds: loadSeconds, ...(mergeSeconds !== undefined ? { merge_seconds: mergeSeconds } : {}), segments: segments.length, queries: uploads.length, plain: summarise(plain), filtered: summarise(filtered), vector: summarise(vector), ...(scenes ? { scenes } : {}) });
        process.stderr.write(`${size} ${flags}: ${JSON.stringify(results.at(-1))}\n`);
        await server.stop();
        child = undefined;
      }
    }
  } finally {
    await child?.stop();
    await bench.drop();
  }

  // The main tables: the API as it is started by default (the first set of flags); the others in a table of their own.
  const main = results.filter((r) => r.node_flags === nodeFlags[0]);
  const others = results.filter((r) => r.node_flags !== nodeFlags[0]);
  const line = (label: string, pick: (s: Summary) => Stats, digits = 1) =>
    `| ${label} | ${main.map((r) => ['plain', 'filtered'].map((k) => { const s = pick(r[k as 'plain' | 'filtered']); return `${fixed(s.p50, digits)} / ${fixed(s.p95, digits)} / ${fixed(s.p99, digits)}`; }).join(' | ')).join(' | ')} |`;
  const header = main.map((r) => `${r.products.toLocaleString('en')}: no filter | ${r.products.toLocaleString('en')}: filtered`).join(' | ');
  const markdown = `# Search latency: a 640 px JPEG upload at ${main.map((r) => r.products.toLocaleString('en')).join(' and ')} products${photoCount > 1 ? ` × ${photoCount} photos` : ''}

The real API process (\`${Object.entries(serviceCommand('api').env).map(([name, value]) => `${name}=${value} `).join('')}node ${nodeFlags[0]} dist/api/main.js\`, as \`npm run api\` and the Dockerfile start it;
multipart upload without the precision stage (\`rerank: false\`), hybrid ${modelIds.join(' + ')} with weights ${modelIds.map((id) => `${id} ${weights[id]}`).join(' / ')}, autocrop, kNN k = 10, default num_candidates 100, ${config.vectors.defaults.type}) against
Elasticsearch 9.5.4 (1 shard, heap ${fixed(heapBytes / 2 ** 30, 1)} GiB), sequential requests from one client on loopback. Everything on one
${os.cpus().length}-core machine. ${uploads.length} different dev-set query photos (every distortion), each sent without filters and
with \`${JSON.stringify(FILTERS)}\` (about 13 % of the catalog passes: price ≤ 100 32 %, in stock 80 %, size M 50 %), in shuffled order.

Milliseconds, p50 / p95 / p99:

| stage | ${header} |
| --- | ${main.map(() => '--- | ---').join(' | ')} |
${line('decode (+ autocrop)', (s) => s.decode)}
${line('embed (both models)', (s) => s.embed)}
${line('search (API → Elasticsearch, 2 requests)', (s) => s.search)}
${line('total in the API (arrival → response)', (s) => s.api_total)}
${line('**end to end (client)**', (s) => s.wall)}
${line('Elasticsearch direct, same requests', (s) => s.direct_es)}
${line('Elasticsearch direct with the catalog filter (an index of several catalogs)', (s) => s.direct_es_catalog)}
${line('Elasticsearch direct, candidates from every model (`HYBRID_CANDIDATES=all`; the unfiltered search before 2026-12-07)', (s) => s.direct_es_all_candidates)}
${line('Elasticsearch direct, each filter clause joined to the photos on its own (the filtered search before 2026-12-07)', (s) => s.direct_es_split)}
${line('API overhead (end to end − decode − embed − direct)', (s) => s.overhead_ms)}

API overhead as a share of the end-to-end time, p50 overhead ÷ p50 end to end, and mean ÷ mean (where the tails
weigh in): ${main.map((r) => `${r.products.toLocaleString('en')}: ${fixed((100 * r.plain.overhead_ms.p50) / r.plain.wall.p50, 1)} % and ${fixed(100 * r.plain.overhead_share, 1)} % (filtered: ${fixed((100 * r.filtered.overhead_ms.p50) / r.filtered.wall.p50, 1)} % and ${fixed(100 * r.filtered.overhead_share, 1)} %)`).join('; ')}.

Photos the API localized (no plain background to trim, and not known clearly enough whole: docs/search.md,
"Localization"), of ${uploads.length}: ${main.map((r) => `${r.products.toLocaleString('en')}: ${r.plain.localized} without filters, ${r.filtered.localized} filtered`).join('; ')}. The rest were trimmed, or
asked whole first and searched whole; "Elasticsearch direct" is the final search alone. Of those asked whole and
searched whole, ${main.map((r) => `${r.products.toLocaleString('en')}: ${r.plain.asked_whole} without filters (search stage p50 / p95 ${fixed(r.plain.search_asked_whole.p50, 1)} / ${fixed(r.plain.search_asked_whole.p95, 1)} ms, the trimmed photos' ${fixed(r.plain.search_trimmed.p50, 1)} / ${fixed(r.plain.search_trimmed.p95, 1)}), ${r.filtered.asked_whole} filtered (${fixed(r.filtered.search_asked_whole.p50, 1)} / ${fixed(r.filtered.search_asked_whole.p95, 1)} ms, trimmed ${fixed(r.filtered.search_trimmed.p50, 1)} / ${fixed(r.filtered.search_trimmed.p95, 1)})`).join('; ')}: the question asked whole
is the main model's nearest without filters, which a search without filters takes as its candidates (docs/search.md).

A raw-vector query (JSON \`vector\`, ${modelIds[0]} alone: one request, no image work) against the same search run
directly, milliseconds p50 / p95 / p99:

| products | API end to end | Elasticsearch direct | API overhead | share |
| --- | --- | --- | --- | --- |
${main.map((r) => `| ${r.products.toLocaleString('en')} | ${[r.vector.wall, r.vector.direct_es, r.vector.overhead_ms].map((s) => `${fixed(s.p50, 1)} / ${fixed(s.p95, 1)} / ${fixed(s.p99, 1)}`).join(' | ')} | ${fixed(100 * r.vector.overhead_share, 1)} % |`).join('\n')}

${
  others.length > 0
    ? `The API started with other Node flags (same index, same queries, right after the run above; "none" = plain \`node\`),
no filter:

| products | Node flags | end to end | API overhead | overhead share (p50; mean) |
| --- | --- | --- | --- | --- |
${others.map((r) => `| ${r.products.toLocaleString('en')} | ${r.node_flags ? `\`${r.node_flags}\`` : 'none'} | ${[r.plain.wall, r.plain.overhead_ms].map((s) => `${fixed(s.p50, 1)} / ${fixed(s.p95, 1)} / ${fixed(s.p99, 1)}`).join(' | ')} | ${fixed((100 * r.plain.overhead_ms.p50) / r.plain.wall.p50, 1)} %; ${fixed(100 * r.plain.overhead_share, 1)} % |`).join('\n')}

`
    : ''
}Targets: end-to-end p95 ≤ 60 ms at 100,000 products; API overhead ≤ 10 %.
${sceneTable(main, sceneUploads.length)}
| products | load time | ${mergeAfterLoad ? 'force merge | ' : ''}segments |
| --- | --- | ${mergeAfterLoad ? '--- | ' : ''}--- |
${main.map((r) => `| ${r.products.toLocaleString('en')} | ${fixed(r.load_seconds, 0)} s | ${r.merge_seconds !== undefined ? `${fixed(r.merge_seconds, 0)} s | ` : ''}${r.segments} |`).join('\n')}

The catalog beyond the ${devset.catalog.length} real dev-set photos is synthetic: each product's vectors are a real product's vectors
plus Gaussian noise (cosine 0.55 – 0.95 to the source), so the index has the dimensions and the clustered shape of a
real catalog without embedding 100,000 images on 2 cores. Every photo carries its source photo's region descriptors
(the precision stage's, about 8.5 KB a photo in \`_source\`, as the indexer stores them), which every read of a
hit's stored fields decompresses, its \`_id\` too (before 2026-12-07's last run the synthetic photos carried none).${photoCount > 1 ? ` Each product has ${photoCount} photos (nested in its document, as the indexer writes \`images\`): a real product's first is its real photo, every other photo is its source's vectors plus noise as above (another view of it); ${(photoCount * main[0]!.products).toLocaleString('en')} photo vectors per model at ${main[0]!.products.toLocaleString('en')} products.` : ''} "Elasticsearch direct" runs the code the API runs
(core/search/catalog-search.ts: for the hybrid, the candidates request and the fusion request; one request for one
model) with the same query vectors and the official client, as the API does; the overhead is everything else the API
does: HTTP and multipart parsing, validation, the response. The index holds one catalog, so the API leaves the
catalog filter out (core/search/catalog-scope.ts), as "Elasticsearch direct" does; the row "with the catalog filter"
is what every search would cost with it (an index of several catalogs); the row "candidates from every model" asks each model for the hybrid's candidates, as the API does for a search with filters; without filters it asks the model weighted most alone (\`HYBRID_CANDIDATES=auto\`, docs/search.md); the row "each filter clause joined to the photos on its own" sends the filtered requests as the API sent them before 2026-12-07, every filter clause an entry of its own in each kNN clause's filter list, which Elasticsearch joins from products to their photos one by one, where now one \`bool\` of them is joined once (core/search/filters.ts). The load client is node:http with keep-alive.
`;
  const photosArgument = `${photoCount > 1 ? ` --photos ${photoCount}` : ''}${mergeAfterLoad ? ' --force-merge' : ''}`;
  writeResult(`search-latency${photoCount > 1 ? `-${photoCount}-photos` : ''}${mergeAfterLoad ? '-merged' : ''}`, `npm run bench:search-latency -- --sizes ${sizes.join(',')} --queries ${queryCount} --scenes ${sceneCount}${photosArgument} --api-node-flags '${nodeFlags.join(';')}'`, { index_type: config.vectors.defaults.type, weights, filters: FILTERS, photos_per_product: photoCount, results }, markdown);
  process.stdout.write(markdown);
}

/** The scene photos' table: per catalog size and way of asking, the stages and the end-to-end time. */
function sceneTable(rows: Array<{ products: number; scenes?: Record<SceneKind, ReturnType<typeof summariseScenes>> }>, count: number): string {
  const measured = rows.filter((r) => r.scenes);
  if (measured.length === 0) return '';
  const label: Record<SceneKind, string> = { scene: 'default (localization)', scene_objects: '`objects: true`', scene_trim: '`crop: "trim"` (before localization)' };
  const cell = (s: Stats) => `${fixed(s.p50, 1)} / ${fixed(s.p95, 1)} / ${fixed(s.p99, 1)}`;
  const lines = measured.flatMap((r) =>
    (Object.keys(label) as SceneKind[]).map((kind) => {
      const s = r.scenes![kind];
      return `| ${r.products.toLocaleString('en')} | ${label[kind]} | ${[s.decode, s.localize, s.embed, s.search, s.api_total].map(cell).join(' | ')} | **${cell(s.wall)}** |`;
    }),
  );
  return `
Photos of products in scenes (issue 11): ${count} photos of the localization dev set (one product beside a distractor, or
2–3 products, on real background photos; benchmarks/results/localization-research.md), 640 px JPEG uploads, each
sent three ways in shuffled order. The products of these photos are not in this catalog: what is measured is the
work (localization, the regions' embeddings and searches), not recall. Milliseconds, p50 / p95 / p99:

| products | asked | decode | localize | embed (all regions) | search (msearch) | total in the API | end to end |
| --- | --- | --- | --- | --- | --- | --- | --- |
${lines.join('\n')}

Targets (issue 11): end-to-end p95 ≤ 60 ms at 100,000 products without \`objects\`, ≤ 120 ms with it.
`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
