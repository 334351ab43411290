/**
 * Finding the product in a photo, measured from outside as a shopper's app would (issue 11): the real API process
 * (dist/api/main.js) over a real Elasticsearch index of the scene dev set's catalog (real object photos on white,
 * benchmarks/lib/scenes.ts) plus the plain dev set's 1062 catalog photos (so that a background region has many wrong
 * products to match), embedded here with the service's models. Each scene photo is uploaded as a client sends it
 * (multipart) several ways:
 * - `default`: as the API answers by default (localization);
 * - `crop: "trim"`: the search before localization;
 * - `box`: the true box of the product (+ 5 %), as a shopper would draw it: the ceiling;
 * - `objects: true`: every object (multi-object recall: each placed product is the first result of one object).
 * The plain-background dev set (drawings on white with distortions, its own catalog in a second index) is searched
 * the default way and with trim: localization must not cost it anything.
 *
 * usage: npm run bench:scene-search -- [--single 600] [--multi 200] [--seed 11] [--plain 2100] [--name scene-search] [--port 18082]
 * (the API inherits the environment: e.g. LOCALIZE_MAX_REGIONS=8 measures a cap; --name keeps its results apart)
 * (services up: npm run services:up; the API runs from dist/: npm run build)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../core/config';
import { createEmbedder } from '../core/embedding/embedder';
import type { CropBox } from '../core/image/autocrop';
import { createLogger } from '../core/logger';
import { iou, padBox } from '../core/localization/regions';
import { createProgress } from '../core/progress';
import { seededRandom, shuffle } from '../core/random';
import { benchProduct, createBenchIndex, request, type BenchIndex } from './lib/bench-index';
import { buildDevSet } from './lib/devset';
import { descriptorsAt, embedAll, row } from './lib/embed';
import { fixed, percentile, writeResult } from './lib/report';
import { buildSceneDevSet } from './lib/scenes';
import { serviceScript } from '../scripts/service-command';
import { sampleRss, startApi, type ApiProcess } from './lib/api-process';

const root = path.resolve(__dirname, '..');
const CACHE = path.join(root, '.cache');
const stamp = Date.now().toString(36);

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1]! : fallback;
}
const single = Number(argument('single', '600'));
const multi = Number(argument('multi', '200'));
const seed = Number(argument('seed', '11'));
const plainCount = Number(argument('plain', '2100'));
const name = argument('name', 'scene-search');
/** The API's port: another process listening there would answer instead of ours. */
const apiPort = Number(argument('port', '18082'));
const api = `http://127.0.0.1:${apiPort}`;

interface Answer {
  ms: number;
  results: string[];
  crop: CropBox | null;
  objects: Array<{ box: CropBox; first: string | undefined }>;
  timings: Record<string, number>;
}

function multipart(image: Buffer, query: unknown): { headers: Record<string, string>; body: Buffer } {
  const boundary = `----lookalike${stamp}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="image"; filename="query.jpg"\r\ncontent-type: image/jpeg\r\n\r\n`),
    image,
    Buffer.from(`\r\n--${boundary}\r\ncontent-disposition: form-data; name="query"\r\n\r\n${JSON.stringify(query)}\r\n--${boundary}--\r\n`),
  ]);
  return { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body };
}

async function ask(photo: Buffer, options: Record<string, unknown>): Promise<Answer> {
  const form = multipart(photo, { k: 5, ...options });
  const { ms, body } = await request(`${api}/v1/search`, 'POST', form.headers, form.body);
  if (!Array.isArray(body.results)) throw new Error(`search failed: ${JSON.stringify(body).slice(0, 300)}`);
  const objects = (body.objects as Array<{ box: CropBox; results: Array<{ id: string }> }> | undefined) ?? [];
  return {
    ms,
    results: (body.results as Array<{ id: string }>).map((r) => r.id),
    crop: (body.query as { crop: CropBox | null }).crop,
    objects: objects.map((o) => ({ box: o.box, first: o.results[0]?.id })),
    timings: body.timings_ms as Record<string, number>,
  };
}

/** An API process on `alias`, ready (started as `npm run api` starts it). */
function apiOn(alias: string): Promise<ApiProcess> {
  return startApi({ ...process.env, LOG_LEVEL: 'warn', INDEX_ALIAS: alias, QUEUE_PREFIX: alias, API_PORT: String(apiPort), API_HOST: '127.0.0.1', RATE_LIMIT_PER_S: '0' });
}

type Stats = { p50: number; p95: number };
const stats = (values: number[]): Stats => ({ p50: percentile(values, 50), p95: percentile(values, 95) });

async function main(): Promise<void> {
  const random = seededRandom(seed);
  const scenes = await buildSceneDevSet(path.join(CACHE, 'scenes'), { single, multi, seed });
  const plain = await buildDevSet(path.join(CACHE, 'devset'), { perCategory: 100, queryItems: 300, seed: 7 });
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', INDEX_ALIAS: `bench-scenes-${stamp}` });
  const logger = createLogger(config);
  const embedder = await createEmbedder(config, logger);
  const dims = Object.fromEntries(embedder.models.map((m) => [m.id, m.dims]));
  // The catalog photos' region descriptors too, as the indexer stores them (localization's choice and rerank read them).
  const sceneDescriptors: Record<string, string[]> = {};
  const plainDescriptors: Record<string, string[]> = {};
  const sceneVectors = await embedAll(embedder, scenes.catalog.map((item) => item.photo), 'auto', 'scene catalog: embed', sceneDescriptors);
  const plainVectors = await embedAll(embedder, plain.catalog.map((item) => item.photo), 'auto', 'plain catalog: embed', plainDescriptors);
  await embedder.close();
  const vectorsOf = (matrix: Record<string, Float32Array>, i: number) => Object.fromEntries(Object.keys(dims).map((id) => [id, Array.from(row(matrix[id]!, dims[id]!, i))]));

  // Index 1: the scene catalog and the plain catalog's photos. Index 2: the plain catalog alone.
  const sceneIds = new Map(scenes.catalog.map((item, i) => [item.id, `p${i}`]));
  const plainIds = new Map(plain.catalog.map((item, i) => [item.id, `p${i}`]));
  const indexes: BenchIndex[] = [];
  let server: ApiProcess | undefined;
  let rss = { max: NaN, peak: NaN, last: NaN };
  const rows: Record<string, { recall1: number; recall5: number; iou: number; objects?: number; perQuery?: number; wall: Stats; stages: Record<string, Stats> }> = {};
  const summarise = (name: string, answers: Answer[], hit: (a: Answer, i: number) => { rank: number; iou: number }, objectRecall?: number, perQuery?: number) => {
    const hits = answers.map(hit);
    const stages = Object.fromEntries(['decode', 'localize', 'embed', 'search', 'total'].map((stage) => [stage, stats(answers.map((a) => a.timings[stage] ?? 0))]));
    rows[name] = {
      recall1: hits.filter((h) => h.rank === 0).length / hits.length,
      recall5: hits.filter((h) => h.rank >= 0 && h.rank < 5).length / hits.length,
      iou: hits.reduce((sum, h) => sum + h.iou, 0) / hits.length,
      ...(objectRecall !== undefined ? { objects: objectRecall, perQuery } : {}),
      wall: stats(answers.map((a) => a.ms)),
      stages,
    };
  };
  try {
    const sceneIndex = await createBenchIndex(loadConfig({ ...process.env, LOG_LEVEL: 'warn', INDEX_ALIAS: `bench-scenes-${stamp}` }), logger);
    indexes.push(sceneIndex);
    const sceneDocs = [
      ...scenes.catalog.map((item, i) => benchProduct(i, item, vectorsOf(sceneVectors, i), random, descriptorsAt(sceneDescriptors, i))),
      ...plain.catalog.map((item, i) => benchProduct(scenes.catalog.length + i, item, vectorsOf(plainVectors, i), random, descriptorsAt(plainDescriptors, i))),
    ];
    await sceneIndex.fill(sceneDocs.length, (i) => sceneDocs[i]!, 'scene catalog: index');
    server = await apiOn(`bench-scenes-${stamp}`);
    const photos = new Map(scenes.queries.map((q) => [q.id, fs.readFileSync(q.photo)]));
    for (const q of scenes.queries.slice(0, 20)) await ask(photos.get(q.id)!, {}); // warm-up
    const singles = scenes.queries.filter((q) => q.kind === 'single');
    const ways: Record<string, (q: (typeof singles)[number]) => Record<string, unknown>> = {
      default: () => ({}),
      trim: () => ({ crop: 'trim' }),
      box: (q) => ({ box: padBox(q.objects.find((o) => o.role === 'product')!.box, 0.05, q.width, q.height) }),
      objects: () => ({ objects: true }),
    };
    const answers: Record<string, Map<string, Answer>> = Object.fromEntries(Object.keys(ways).map((way) => [way, new Map()]));
    const jobs = shuffle([...Object.keys(ways).flatMap((way) => singles.map((q) => ({ way, q }))), ...scenes.queries.filter((q) => q.kind === 'multi').map((q) => ({ way: 'objects', q }))], random);
    const bar = createProgress('scene photos');
    let done = 0;
    // The API's resident memory while it localizes (the models' sessions and their arenas included).
    const sampler = sampleRss(server.child.pid!);
    for (const { way, q } of jobs) {
      answers[way]!.set(q.id, await ask(photos.get(q.id)!, ways[way]!(q)));
      bar.update(++done, jobs.length);
    }
    bar.done();
    rss = sampler.stop();
    const truthOf = (q: (typeof singles)[number]) => q.objects.find((o) => o.role === 'product')!;
    for (const way of ['default', 'trim', 'box', 'objects']) {
      const list = singles.map((q) => answers[way]!.get(q.id)!);
      summarise(`scene ${way}`, list, (a, i) => {
        const truth = truthOf(singles[i]!);
        const whole = { left: 0, top: 0, width: singles[i]!.width, height: singles[i]!.height };
        return { rank: a.results.indexOf(sceneIds.get(truth.item)!), iou: iou(a.crop ?? whole, truth.box) };
      });
    }
    // Multi-object recall: each placed product is the first result of one returned object (over the multi scenes).
    const multis = scenes.queries.filter((q) => q.kind === 'multi');
    let found = 0;
    let placed = 0;
    let returned = 0;
    for (const q of multis) {
      const a = answers.objects!.get(q.id)!;
      returned += a.objects.length;
      for (const o of q.objects.filter((o) => o.role === 'product')) {
        placed++;
        if (a.objects.some((object) => object.first === sceneIds.get(o.item))) found++;
      }
    }
    summarise('multi objects', multis.map((q) => answers.objects!.get(q.id)!), () => ({ rank: -1, iou: 0 }), found / placed, returned / multis.length);
    await server.stop();
    server = undefined;

    const plainIndex = await createBenchIndex(loadConfig({ ...process.env, LOG_LEVEL: 'warn', INDEX_ALIAS: `bench-plain-${stamp}` }), logger);
    indexes.push(plainIndex);
    await plainIndex.fill(plain.catalog.length, (i) => benchProduct(i, plain.catalog[i]!, vectorsOf(plainVectors, i), random, descriptorsAt(plainDescriptors, i)), 'plain catalog: index');
    server = await apiOn(`bench-plain-${stamp}`);
    const plainQueries = shuffle(plain.queries, random).slice(0, plainCount);
    const plainAnswers: Record<string, Answer[]> = { default: [], trim: [] };
    const plainBar = createProgress('plain photos');
    for (const [n, q] of plainQueries.entries()) {
      const photo = fs.readFileSync(q.photo);
      plainAnswers.default!.push(await ask(photo, {}));
      plainAnswers.trim!.push(await ask(photo, { crop: 'trim' }));
      plainBar.update(n + 1, plainQueries.length);
    }
    plainBar.done();
    for (const way of ['default', 'trim']) summarise(`plain ${way}`, plainAnswers[way]!, (a, i) => ({ rank: a.results.indexOf(plainIds.get(plainQueries[i]!.item)!), iou: 0 }));
  } finally {
    if (server) await server.stop();
    for (const index of indexes) await index.drop();
  }

  const settings = ['LOCALIZE_MAX_REGIONS', 'LOCALIZE_PRIMARY_REGIONS', 'LOCALIZE_SCORER', 'LOCALIZE_RESCORE_REGIONS', 'LOCALIZE_MAP', 'VECTOR_INDEX_OVERRIDES'].flatMap((name) => (process.env[name] ? [`${name}='${process.env[name]}' `] : [])).join('');
  const cell = (s: Stats) => `${fixed(s.p50, 1)} / ${fixed(s.p95, 1)}`;
  const label: Record<string, string> = {
    'scene default': 'scene photos, default (localization)',
    'scene trim': 'scene photos, `crop: "trim"` (before localization)',
    'scene box': 'scene photos, `box`: the true box + 5 % (the ceiling)',
    'scene objects': 'scene photos, `objects: true` (top-level results)',
    'multi objects': 'multi-object photos, `objects: true`',
    'plain default': 'plain-background photos, default',
    'plain trim': 'plain-background photos, `crop: "trim"`',
  };
  const table = Object.entries(rows)
    .map(([name, r]) => `| ${label[name]} | ${name === 'multi objects' ? '–' : fixed(r.recall1)} | ${name === 'multi objects' ? '–' : fixed(r.recall5)} | ${name.startsWith('scene') ? fixed(r.iou, 2) : '–'} | ${r.objects !== undefined ? `${fixed(r.objects)} (${fixed(r.perQuery ?? 0, 1)} objects)` : '–'} | ${cell(r.stages.localize!)} | ${cell(r.stages.embed!)} | ${cell(r.stages.search!)} | ${cell(r.wall)} |`)
    .join('\n');
  const markdown = `# Finding the product in a photo: the API, measured from outside

The real API process (\`${serviceScript('api')}\`, ${settings ? `\`${settings.trim()}\`` : 'default settings'}) against Elasticsearch 9.5.4,
photos uploaded one at a time (multipart, \`k: 5\`) on one ${os.cpus().length}-core machine. Scene photos: the
localization dev set (seed ${seed}: ${single} photos of one catalog product beside a distractor, ${multi} photos of 2–3
products, on real background photos; [localization-research.md](localization-research.md) describes it), searched in
a catalog of its ${scenes.catalog.length} products plus the plain dev set's ${plain.catalog.length} catalog photos. Plain-background photos:
${plainCount} dev-set queries (drawings on white with every distortion) in their own catalog of ${plain.catalog.length}.
Catalog photos are indexed with their vectors and region descriptors, as the indexer stores them.

| photos, asked | recall@1 | recall@5 | crop IoU with the product | multi-object recall | localize ms (p50 / p95) | embed ms | search ms | end to end ms |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${table}

The API's resident memory while it answered the scene photos: largest sample ${fixed(rss.max / 2 ** 20, 0)} MB, last
${fixed(rss.last / 2 ** 20, 0)} MB.

Targets (issue 11): in-scene recall@1 ≥ 0.90, multi-object recall ≥ 0.90, plain-background recall@1 ≥ 0.975; end to
end p95 ≤ 60 ms at 100,000 products without \`objects\`, ≤ 120 ms with it (latency at 100,000 products:
[search-latency.md](search-latency.md)).
`;
  writeResult(name, `${settings}npm run bench:scene-search -- --single ${single} --multi ${multi} --seed ${seed} --plain ${plainCount} --name ${name}`, { settings, rows, rss }, markdown);
  process.stdout.write(markdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
