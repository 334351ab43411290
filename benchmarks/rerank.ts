/**
 * The precision stage against hard negatives (issue 13): does matching the feature maps' cells (core/rerank/regions.ts)
 * put the whole item above its close-ups and recoloured variants that global embeddings rank with it?
 *
 * The hard-negative dev set (benchmarks/lib/hard-negatives.ts: real object photos; per object the whole item, close-ups
 * of its parts and a recoloured variant as products; queries are phone-like photos of the whole item on a real
 * background) is embedded with the service's models and searched exactly in memory by the hybrid the API runs
 * (0.6 · semantic cosine + 0.4 · colour-texture cosine). The queries are cropped two ways: to the object's true box
 * (+ 5 %; what localization gives at best: the precision stage alone) and with `trim` (the whole photo when its border
 * is not plain). Then the top `depth` candidates are re-scored: hybrid + λ · region similarity, for several λ, and by
 * a linear re-scorer learned from pairs over the hybrid, both cosines and the region features (regionFeatures), in two
 * folds (trained on half the objects, tested on the other half). The
 * plain-background dev set (drawings on white with distortions) is measured the same way: it must not fall.
 * Then the service's own precision stage (`rerank: true`) end to end: the catalog indexed with its descriptors, the API
 * started, every query sent through it with and without `rerank` (recall, and the latency it adds).
 *
 * usage: npm run bench:rerank -- [--objects 300] [--closeups 2] [--seed 13] [--depth 20] [--plain 700] [--port 18083]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { loadConfig } from '../core/config';
import { createEmbedder, type Embedder } from '../core/embedding/embedder';
import { createLogger } from '../core/logger';
import { padBox } from '../core/localization/regions';
import { createProgress } from '../core/progress';
import { seededRandom, shuffle } from '../core/random';
import { RERANK_DEPTH, REGION_WEIGHT } from '../core/rerank/rescore';
import { describeFeatureMap, encodeRegions, regionFeatures, regionSimilarity, REGION_DIMS, type RegionDescriptor } from '../core/rerank/regions';
import type { CropBox } from '../core/image/autocrop';
import { linearScore, trainPairwise } from './lib/pairwise-ranker';
import { buildDevSet } from './lib/devset';
import { buildHardNegativeDevSet } from './lib/hard-negatives';
import { multipart, startApi, type ApiProcess } from './lib/api-process';
import { benchProduct, createBenchIndex, request } from './lib/bench-index';
import { fixed, latencyStats, writeResult } from './lib/report';
import { COLOUR, search, SEMANTIC, SEMANTIC_WEIGHT, type CatalogIndex } from './lib/region-search';

const root = path.resolve(__dirname, '..');

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1]! : fallback;
}
const objects = Number(argument('objects', '300'));
const closeups = Number(argument('closeups', '2'));
const seed = Number(argument('seed', '13'));
const depth = Number(argument('depth', '10'));
const plainQueries = Number(argument('plain', '700'));
const LAMBDAS = [0.25, 0.5, 1, 2];
const apiPort = Number(argument('port', '18083'));
const command = `npm run bench:rerank -- --objects ${objects} --closeups ${closeups} --seed ${seed} --depth ${depth} --plain ${plainQueries}`;

interface Item {
  semantic: Float32Array;
  colour: Float32Array;
  regions: RegionDescriptor;
}

interface Ranking {
  recall1: number;
  recall10: number;
  /** What came first instead of the right product, by kind. */
  misses: Record<string, number>;
  /** Per query, the catalog item ranked first (not written to the JSON). */
  firsts: Array<number | undefined>;
}

/** A ranking's figures as the results record them. */
const figures = <T extends Ranking>({ firsts: _firsts, ...rest }: T): Omit<T, 'firsts'> => rest;

/** Embeds a photo as the service does: its vectors, and the region descriptor of the crop it was embedded from. */
async function describeItem(embedder: Embedder, bytes: Buffer, crop: 'trim' | 'none'): Promise<Item> {
  const embedded = await embedder.embed(bytes, { crop, regions: true });
  const embedding = (id: string) => embedded.embeddings.find((e) => e.model === id)!;
  return { semantic: embedding(SEMANTIC).vector, colour: embedding(COLOUR).vector, regions: embedding(SEMANTIC).regions! };
}

/** Milliseconds to describe one feature map of the model's shape (1,280 channels × 7 × 7; ReLU6-like values). */
function describeTimes(runs: number): number[] {
  const random = seededRandom(5);
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const features = Float32Array.from({ length: 1280 * 49 }, () => (random() < 0.4 ? random() * 6 : 0));
    const started = performance.now();
    describeFeatureMap({ features, cells: 49 });
    times.push(performance.now() - started);
  }
  return times;
}

const dot = (a: Float32Array, b: Float32Array): number => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
};

/** The items as region-search's in-memory catalog (its exact hybrid search is the baseline). */
function catalogIndex(items: Item[]): CatalogIndex {
  const semanticDims = items[0]!.semantic.length;
  const colourDims = items[0]!.colour.length;
  const semantic = new Float32Array(items.length * semanticDims);
  const colour = new Float32Array(items.length * colourDims);
  items.forEach((item, i) => {
    semantic.set(item.semantic, i * semanticDims);
    colour.set(item.colour, i * colourDims);
  });
  return { ids: items.map((_, i) => String(i)), semantic, colour, semanticDims, colourDims };
}

/** A candidate's features for the learned re-scorer: its hybrid score, both cosines, and the region features. */
function features(query: Item, item: Item, hybrid: number): number[] {
  const r = regionFeatures(query.regions, item.regions);
  return [hybrid, dot(query.semantic, item.semantic), dot(query.colour, item.colour), r.candidateInQuery, r.queryInCandidate, r.candidateInQueryInPlace, r.queryInCandidateInPlace, r.spread];
}

/** The ranking with the first `depth` candidates in the order of `score` (the rest as they were). */
function reorderHead(top: Array<{ i: number }>, score: (n: number) => number): number[] {
  const head = top.slice(0, depth).map(({ i }, n) => ({ score: score(n), i }));
  return [...head.sort((a, b) => b.score - a.score), ...top.slice(depth)].map(({ i }) => i);
}
const FEATURES = ['hybrid', 'semantic cosine', 'colour cosine', 'candidate cells in query', 'query cells in candidate', 'the same, in place', 'the same, in place (query)', 'activation spread'];

/**
 * Rankings of every query: the hybrid's; the top `depth` re-scored for each λ; and the top `depth` re-scored by a
 * linear re-scorer learned from pairs, in two folds (each query scored by weights learned on the other fold's
 * queries: `folds` gives each query's fold, 0 or 1). Also the re-scoring time per query (region similarity).
 */
function rank(queries: Item[], catalog: Item[], targets: number[], kinds: string[], folds: number[]): { baseline: Ranking; reranked: Record<string, Ranking>; learned: Ranking; weights: number[][]; rerankMs: number[] } {
  const rerankMs: number[] = [];
  const index = catalogIndex(catalog);
  const orders = queries.map((query) => {
    const top = search(index, query, Math.max(depth, 10)).map((hit) => ({ score: hit.score, i: hit.item }));
    const started = performance.now();
    const regions = top.slice(0, depth).map(({ i }) => regionSimilarity(query.regions, catalog[i]!.regions));
    rerankMs.push(performance.now() - started);
    const raw = top.slice(0, depth).map(({ i, score }) => features(query, catalog[i]!, score));
    return { top, regions, relative: raw.map((f) => f.map((value, k) => value - raw[0]![k]!)) };
  });
  const ranked = (q: number) => ({ candidates: orders[q]!.relative, right: orders[q]!.top.slice(0, depth).findIndex(({ i }) => i === targets[q]) });
  const weights = [0, 1].map((fold) => trainPairwise(queries.flatMap((_, q) => (folds[q] === fold ? [] : [ranked(q)]))));
  const summarise = (ranked: number[][]): Ranking => {
    const misses: Record<string, number> = {};
    ranked.forEach((order, q) => {
      if (order[0] !== targets[q]) misses[kinds[order[0]!]!] = (misses[kinds[order[0]!]!] ?? 0) + 1;
    });
    const at = (k: number) => ranked.filter((order, q) => order.slice(0, k).includes(targets[q]!)).length / ranked.length;
    return { recall1: at(1), recall10: at(10), misses, firsts: ranked.map((order) => order[0]) };
  };
  const baseline = summarise(orders.map(({ top }) => top.map(({ i }) => i)));
  const reranked = Object.fromEntries(
    LAMBDAS.map((lambda) => [
      String(lambda),
      summarise(
        orders.map(({ top, regions }) => reorderHead(top, (n) => top[n]!.score + lambda * regions[n]!)),
      ),
    ]),
  );
  const learned = summarise(
    orders.map(({ top, relative }, q) => reorderHead(top, (n) => linearScore(weights[folds[q]!]!, relative[n]!))),
  );
  return { baseline, reranked, learned, weights, rerankMs };
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
  const logger = createLogger(config);
  const devset = await buildHardNegativeDevSet(path.join(root, '.cache', 'hard-negatives'), { objects, closeups, seed });
  const embedder = await createEmbedder(config, logger);

  const embedAll = async (label: string, photos: Array<() => Promise<Buffer>>, crop: 'trim' | 'none'): Promise<Item[]> => {
    const bar = createProgress(label);
    const out: Item[] = [];
    for (const photo of photos) {
      out.push(await describeItem(embedder, await photo(), crop));
      bar.update(out.length, photos.length);
    }
    bar.done();
    return out;
  };
  const catalog = await embedAll('hard negatives: catalog', devset.catalog.map((item) => async () => fs.readFileSync(item.photo)), 'trim');
  const boxed = async (file: string, box: CropBox): Promise<Buffer> => {
    const bytes = fs.readFileSync(file);
    const { width, height } = await sharp(bytes).metadata();
    return sharp(bytes).extract(padBox(box, 0.05, width!, height!)).jpeg({ quality: 92 }).toBuffer();
  };
  const queriesBox = await embedAll('hard negatives: queries (true box)', devset.queries.map((q) => () => boxed(q.photo, q.box)), 'none');
  const queriesTrim = await embedAll('hard negatives: queries (trim)', devset.queries.map((q) => async () => fs.readFileSync(q.photo)), 'trim');
  const position = new Map(devset.catalog.map((item, i) => [item.id, i]));
  const targets = devset.queries.map((q) => position.get(q.product)!);
  // Folds by object (one query each): the re-scorer is always tested on objects it was not trained on.
  const folds = devset.queries.map((_, q) => q % 2);
  const kinds = devset.catalog.map((item) => item.kind);
  const results = {
    box: rank(queriesBox, catalog, targets, kinds, folds),
    trim: rank(queriesTrim, catalog, targets, kinds, folds),
  };
  // Variants: does the colour model alone tell the item from its recolouring (its cosine to the query higher)?
  const variantOf = new Map(devset.catalog.flatMap((item, i) => (item.kind === 'variant' ? [[item.object, i] as const] : [])));
  const separates = (queries: Item[], q: number) => dot(queries[q]!.colour, catalog[targets[q]!]!.colour) > dot(queries[q]!.colour, catalog[variantOf.get(devset.queries[q]!.product)!]!.colour);
  const separated = (queries: Item[]) => queries.filter((_, q) => separates(queries, q)).length / queries.length;
  // How much the recolouring changed the photo: the mean absolute difference per channel over the object's pixels.
  const change: number[] = [];
  for (const [q, query] of devset.queries.entries()) change.push(await colourChange(devset.catalog[targets[q]!]!.photo, devset.catalog[variantOf.get(query.product)!]!.photo));
  const CHANGE_BINS: Array<[number, number]> = [[0, 10], [10, 20], [20, 40], [40, 256]];
  const byChange = CHANGE_BINS.map(([low, high]) => {
    const picked = devset.queries.flatMap((_, q) => (change[q]! >= low && change[q]! < high ? [q] : []));
    return { low, high, objects: picked.length, box: picked.filter((q) => separates(queriesBox, q)).length, trim: picked.filter((q) => separates(queriesTrim, q)).length };
  });

  // The plain-background dev set: drawings on white, every distortion.
  const plain = await buildDevSet(path.join(root, '.cache', 'devset'), { perCategory: 100, queryItems: 300, seed: 7 });
  const plainPicked = shuffle(plain.queries, seededRandom(seed)).slice(0, plainQueries);
  const plainCatalog = await embedAll('plain: catalog', plain.catalog.map((item) => async () => fs.readFileSync(item.photo)), 'trim');
  const plainItems = await embedAll('plain: queries', plainPicked.map((q) => async () => fs.readFileSync(q.photo)), 'trim');
  const plainPosition = new Map(plain.catalog.map((item, i) => [item.id, i]));
  // Folds by item (an item's distorted photos all on one side).
  const plainFolds = plainPicked.map((q) => plainPosition.get(q.item)! % 2);
  const plainResult = rank(plainItems, plainCatalog, plainPicked.map((q) => plainPosition.get(q.item)!), plain.catalog.map(() => 'other product'), plainFolds);
  await embedder.close();
  const api = await throughApi(devset, catalog, targets, logger);

  // The objects whose recolouring a shopper can see (the photo changed by 20/255 or more per channel): recall@1 there.
  const distinct = devset.queries.flatMap((_, q) => (change[q]! >= 20 ? [q] : []));
  const within = (ranking: Ranking) => distinct.filter((q) => ranking.firsts[q] === targets[q]).length / distinct.length;
  const distinctRecall = {
    objects: distinct.length,
    hybrid: within(results.box.baseline),
    reranked: within(results.box.reranked['0.5']!),
    learned: within(results.box.learned),
    api_box: within(api['box']!),
    api_box_rerank: within(api['box, rerank']!),
  };
  const descriptorBytes = Buffer.from(encodeRegions(catalog[0]!.regions), 'base64').length;
  const rerankStats = latencyStats([...results.box.rerankMs, ...results.trim.rerankMs]);
  const describeStats = latencyStats(describeTimes(200));
  const counts = Object.fromEntries(['whole', 'closeup', 'variant'].map((kind) => [kind, devset.catalog.filter((item) => item.kind === kind).length]));
  const missText = (misses: Record<string, number>) =>
    Object.entries(misses)
      .map(([kind, n]) => `${n} ${kind}`)
      .join(', ') || 'none';
  const row = (label: string, r: Ranking) => `| ${label} | ${fixed(r.recall1, 3)} | ${fixed(r.recall10, 3)} | ${missText(r.misses)} |`;
  const table = (result: ReturnType<typeof rank>) =>
    [
      '| ranking | recall@1 | recall@10 | first instead of the item |',
      '| --- | --- | --- | --- |',
      row('hybrid (no re-ranking)', result.baseline),
      ...LAMBDAS.map((lambda) => row(`re-ranked top ${depth}, λ = ${lambda}`, result.reranked[String(lambda)]!)),
      row(`learned re-scorer, top ${depth} (two folds)`, result.learned),
    ].join('\n');
  const markdown = `# Precision re-ranking against hard negatives

The hard-negative dev set: ${devset.queries.length} real object photos (tuxpaint's stamp photos). The catalog
(${devset.catalog.length} products): each object on white (${counts.whole} whole items), ${closeups} close-ups of its parts as other
products (${counts.closeup}: a box of 40–65 % of the object's width and height, enlarged to a product photo) and the
object recoloured as another product (${counts.variant} variants: hue turned 90–270°). Queries: each whole item photographed
phone-like (55–85 % of the frame's short side on a real background photo, rotated ±15°, lit, shadow, blur, JPEG).
Exact hybrid search in memory (${SEMANTIC_WEIGHT} · ${SEMANTIC} + ${fixed(1 - SEMANTIC_WEIGHT, 1)} · ${COLOUR} cosines), then the top ${depth}
re-scored: hybrid + λ · region similarity (core/rerank/regions.ts: the ${SEMANTIC} feature map of the crop each
photo was embedded from, 7 × 7 cells × ${REGION_DIMS} int8 values, weighted Chamfer similarity of the candidate's cells to the
query's). The learned re-scorer: a linear score of ${FEATURES.join(', ')} (each less the
first candidate's), learned from pairs (the right product against each wrong one of the same query, logistic loss) on
half of the objects and tested on the other half, both ways (plain dev set: halves by item); its weights are in the
JSON.

## Queries cropped to the object (true box + 5 %: the precision stage alone)

${table(results.box)}

## Queries cropped by \`trim\` (the whole photo when its border is not plain)

${table(results.trim)}

## The plain-background dev set (${plainItems.length} queries: drawings on white with distortions, ${plainCatalog.length} products)

${table(plainResult)}

## Through the API

The catalog written to an Elasticsearch index as the indexer writes it (each photo's vectors and region descriptor),
the API started as \`npm run api\` starts it, every query sent as a multipart photo each way (\`k\` 10, one request at a
time, the ways interleaved at random after a warm-up); \`rerank: true\` re-scores the first ${RERANK_DEPTH} results
(core/rerank/rescore.ts: similarity + ${REGION_WEIGHT / 2} · region similarity, the λ = 0.5 row above). ${
    config.image.localizeMap === 'int8'
      ? `With the default
crop the candidates are ranked by the int8 copy of the model as without \`rerank\` (LOCALIZE_SCORER, LOCALIZE_MAP=int8), and
the chosen region's descriptor comes from the model's own run of it (the reference and the copy's best
${config.image.localizeRescoreRegions} are embedded again by the model: LOCALIZE_RESCORE_REGIONS).`
      : `With the default
crop the chosen region's descriptor is read from the feature map of the whole photo that the localizer computes (448 px,
14 × 14 cells, resampled to the region's 7 × 7: \`featureMapInBox\`; LOCALIZE_MAP=float), not from a model run of the region.`
  } ${
    config.image.localizeNearDuplicate > 0
      ? `A region's lead passes over results whose catalog vector has a cosine of ${config.image.localizeNearDuplicate} or more with its first
result's (LOCALIZE_NEAR_DUPLICATE, since 2026-12-08: before it, the default crop found 0.544, 0.575 with \`rerank\`).`
      : 'A region\'s lead is over its second result whatever it is (LOCALIZE_NEAR_DUPLICATE=0).'
  } Latency is what the client sees.

| query | recall@1 | recall@10 | first instead of the item | p50 ms | p95 ms | Elasticsearch p50 / p95 ms | rerank stage p50 / p95 ms |
| --- | --- | --- | --- | --- | --- | --- | --- |
${Object.keys(API_WAYS)
  .map((way) => [way, api[way]!] as const)
  .map(([way, r]) => `| ${way} | ${fixed(r.recall1, 3)} | ${fixed(r.recall10, 3)} | ${missText(r.misses)} | ${fixed(r.wall.p50, 1)} | ${fixed(r.wall.p95, 1)} | ${fixed(r.search.p50, 1)} / ${fixed(r.search.p95, 1)} | ${r.rerank ? `${fixed(r.rerank.p50, 2)} / ${fixed(r.rerank.p95, 2)}` : '–'} |`)
  .join('\n')}

Re-ranking adds ${fixed(api['box, rerank']!.wall.p95 - api['box']!.wall.p95, 1)} ms to the p95 with the box, ${fixed(api['default crop (localize), rerank']!.wall.p95 - api['default crop (localize)']!.wall.p95, 1)} ms with the default crop.

## Variants and cost

- The colour model alone ranks the whole item above its recoloured variant for ${fixed(100 * separated(queriesBox), 1)} % of
  the queries (true box), ${fixed(100 * separated(queriesTrim), 1)} % (trim). By how much the recolouring changed the
  photo (mean absolute difference per channel over the object's pixels, of 255), the objects it separates:

  | change | objects | separated (true box) | separated (trim) |
  | --- | --- | --- | --- |
${byChange.map((b) => `  | ${b.low}–${b.high} | ${b.objects} | ${b.box} | ${b.trim} |`).join('\n')}

- Counting only the ${distinctRecall.objects} objects whose recolouring changed the photo by 20/255 or more (a variant a
  shopper can tell from the item), queries cropped to the object: recall@1 hybrid ${fixed(distinctRecall.hybrid, 3)},
  re-ranked (λ = 0.5) ${fixed(distinctRecall.reranked, 3)}, learned ${fixed(distinctRecall.learned, 3)}; through the API with the box
  ${fixed(distinctRecall.api_box, 3)}, with \`rerank\` ${fixed(distinctRecall.api_box_rerank, 3)}.

- A descriptor: ${descriptorBytes.toLocaleString('en')} bytes (${Math.ceil(descriptorBytes / 3) * 4} as base64); describing a feature map:
  p50 ${fixed(describeStats.p50, 2)} ms, p95 ${fixed(describeStats.p95, 2)} ms (maps of the model's shape); re-scoring ${depth} candidates: p50 ${fixed(rerankStats.p50, 2)} ms,
  p95 ${fixed(rerankStats.p95, 2)} ms per query (one core; the machine's load average was ${fixed(os.loadavg()[0]!, 1)} at the end).
`;
  writeResult('rerank', command, { devset: { objects: devset.queries.length, catalog: devset.catalog.length, closeups }, depth, lambdas: LAMBDAS, results: { box: strip(results.box), trim: strip(results.trim), plain: strip(plainResult) }, variants_separated: { box: separated(queriesBox), trim: separated(queriesTrim), by_change: byChange }, descriptor_bytes: descriptorBytes, describe_ms: describeStats, rerank_ms: rerankStats, distinct_variants: distinctRecall, api: Object.fromEntries(Object.entries(api).map(([way, row]) => [way, figures(row)])) }, markdown);
  process.stdout.write(markdown);
}

/** How a query is sent through the API: cropped to the object's true box (+ 5 %), or as the server crops it. */
const API_WAYS: Record<string, (box: CropBox, width: number, height: number) => Record<string, unknown>> = {
  // Each way says `rerank` (the server's default is on).
  'box': (box, width, height) => ({ box: padBox(box, 0.05, width, height), rerank: false }),
  'box, rerank': (box, width, height) => ({ box: padBox(box, 0.05, width, height), rerank: true }),
  'default crop (localize)': () => ({ rerank: false }),
  'default crop (localize), rerank': () => ({ rerank: true }),
};

interface ApiRow extends Ranking {
  wall: ReturnType<typeof latencyStats>;
  /** The API's own stages (timings_ms): Elasticsearch's requests, and the precision stage. */
  search: ReturnType<typeof latencyStats>;
  rerank: ReturnType<typeof latencyStats> | null;
}

/**
 * The same dev set through the service: the catalog written to an index as the indexer writes it (vectors and region
 * descriptors of each photo), the API started as \`npm run api\` starts it, and every query sent as a multipart photo
 * each way (API_WAYS, in a shuffled order, one request at a time); recall and the latency a client sees.
 */
async function throughApi(devset: Awaited<ReturnType<typeof buildHardNegativeDevSet>>, catalog: Item[], targets: number[], logger: ReturnType<typeof createLogger>): Promise<Record<string, ApiRow>> {
  const alias = `bench-rerank-${Date.now().toString(36)}`;
  const random = seededRandom(seed);
  const index = await createBenchIndex(loadConfig({ ...process.env, LOG_LEVEL: 'warn', INDEX_ALIAS: alias }), logger);
  let server: ApiProcess | undefined;
  try {
    const documents = catalog.map((item, i) =>
      benchProduct(i, { category: devset.catalog[i]!.kind, subcategory: devset.catalog[i]!.object }, { [SEMANTIC]: Array.from(item.semantic), [COLOUR]: Array.from(item.colour) }, random, { [SEMANTIC]: encodeRegions(item.regions) }),
    );
    await index.fill(documents.length, (i) => documents[i]!, 'hard negatives: index');
    server = await startApi({ ...process.env, LOG_LEVEL: 'warn', INDEX_ALIAS: alias, QUEUE_PREFIX: alias, API_PORT: String(apiPort), API_HOST: '127.0.0.1', RATE_LIMIT_PER_S: '0' });
    const photos = await Promise.all(devset.queries.map(async (q) => {
      const bytes = fs.readFileSync(q.photo);
      const { width, height } = await sharp(bytes).metadata();
      return { bytes, width: width!, height: height! };
    }));
    const ask = async (q: number, way: string) => {
      const photo = photos[q]!;
      const form = multipart(photo.bytes, { k: 10, ...API_WAYS[way]!(devset.queries[q]!.box, photo.width, photo.height) });
      const { ms, body } = await request(`${server!.url}/v1/search`, 'POST', form.headers, form.body);
      const ids = (body.results as Array<{ id: string }>).map((result) => Number(result.id.slice(1)));
      const timings = body.timings_ms as { search: number; rerank?: number };
      return { ms, ids, searchMs: timings.search, rerankMs: timings.rerank };
    };
    for (let q = 0; q < 20; q++) for (const way of Object.keys(API_WAYS)) await ask(q, way);
    const jobs = shuffle(Object.keys(API_WAYS).flatMap((way) => devset.queries.map((_, q) => ({ way, q }))), random);
    const answers = new Map<string, Array<Awaited<ReturnType<typeof ask>> & { q: number }>>();
    const bar = createProgress('hard negatives: through the API');
    for (const [n, { way, q }] of jobs.entries()) {
      answers.set(way, [...(answers.get(way) ?? []), { ...(await ask(q, way)), q }]);
      bar.update(n + 1, jobs.length);
    }
    bar.done();
    return Object.fromEntries(
      [...answers].map(([way, list]) => {
        const misses: Record<string, number> = {};
        for (const answer of list) {
          const first = answer.ids[0];
          if (first !== undefined && first !== targets[answer.q]) misses[devset.catalog[first]!.kind] = (misses[devset.catalog[first]!.kind] ?? 0) + 1;
        }
        const reranks = list.flatMap((answer) => (answer.rerankMs !== undefined ? [answer.rerankMs] : []));
        return [
          way,
          {
            recall1: list.filter((answer) => answer.ids[0] === targets[answer.q]).length / list.length,
            firsts: devset.queries.map((_, q) => list.find((answer) => answer.q === q)?.ids[0]),
            recall10: list.filter((answer) => answer.ids.slice(0, 10).includes(targets[answer.q]!)).length / list.length,
            misses,
            wall: latencyStats(list.map((answer) => answer.ms)),
            search: latencyStats(list.map((answer) => answer.searchMs)),
            rerank: reranks.length > 0 ? latencyStats(reranks) : null,
          },
        ];
      }),
    );
  } finally {
    await server?.stop();
    await index.drop();
  }
}

/** Mean absolute difference per channel between two catalog photos (64 × 64), over the pixels not white in the first. */
async function colourChange(first: string, second: string): Promise<number> {
  const [a, b] = await Promise.all([first, second].map((file) => sharp(fs.readFileSync(file)).resize(64, 64, { fit: 'fill' }).removeAlpha().raw().toBuffer()));
  let sum = 0;
  let pixels = 0;
  for (let p = 0; p < a!.length; p += 3) {
    if (a![p]! > 240 && a![p + 1]! > 240 && a![p + 2]! > 240) continue;
    for (let c = 0; c < 3; c++) sum += Math.abs(a![p + c]! - b![p + c]!);
    pixels++;
  }
  return sum / Math.max(1, pixels) / 3;
}

const strip = (result: ReturnType<typeof rank>) => ({
  baseline: figures(result.baseline),
  reranked: Object.fromEntries(Object.entries(result.reranked).map(([lambda, ranking]) => [lambda, figures(ranking)])),
  learned: figures(result.learned),
  learned_weights: result.weights.map((w) => Object.fromEntries(FEATURES.map((name, k) => [name, w[k]]))) });

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
