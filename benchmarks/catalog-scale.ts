/**
 * Catalog size against latency, recall and memory: 10,000 / 100,000 / 1,000,000 products, per vector index
 * configuration (CONFIGS: the default int8_hnsw, and the 1,280-d field as bbq_hnsw or int4_hnsw, with rescoring).
 *
 * Per size and configuration: Elasticsearch kNN alone against exact search of the same filtered set (a `flat` copy of
 * each vector field in the benchmark's index: the test distribution has no painless), unfiltered and with filters
 * that pass about 50 % and 5 % of the catalog; the hybrid as the API runs it; photo uploads to the real API process,
 * back to back and at a steady rate; recall@1 of the real products among the generated ones; bulk-load and force-merge times, disk,
 * vector memory (beside Elasticsearch's documented sizes) and the API's RSS. At the largest size (`--sweep-at`), a
 * num_candidates sweep; at every size, for the first configuration, the index as loaded against force-merged, and a
 * cold open without and with `index.store.preload`.
 *
 * The catalog: the dev set's real products (embedded), then generated ones (benchmarks/lib/synthetic-vectors.ts,
 * checked against the real ones here), cached under .cache/catalog-scale/. `--keep` keeps each built index (and
 * what its build measured) and uses it again next time instead of building it anew; without it, every `bench-scale-*`
 * index is deleted at the end. `--build-only` builds (and keeps) the indices and measures nothing: a bulk load stopped part
 * way goes on from what the index holds when the command runs again, its times added up. Results of the sizes and configurations not run this time are kept from
 * benchmarks/results/catalog-scale.json.
 *
 * usage: npm run bench:catalog-scale -- [--sizes 10000,100000] [--configs int8,bbq,int4] [--es-queries 200]
 *        [--queries 300] [--rates 0,5,10] [--sweep-at <size>] [--knn-repeats 3] [--max-merged-segment 5gb] [--keep] [--build-only]
 *        npm run bench:catalog-scale -- --report-only   (the report and charts again, from the results file)
 * (services up: npm run services:up; the API runs from dist/: npm run build)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../core/config';
import { createEmbedder } from '../core/embedding/embedder';
import { createLogger } from '../core/logger';
import { seededRandom, shuffle } from '../core/random';
import { buildDevSet } from './lib/devset';
import { row } from './lib/embed';
import type { Timed } from './lib/knn-measure';
import { fixed, RESULTS_DIR, writeResult } from './lib/report';
import { scaleCatalog } from './lib/scale-catalog';
import { measureConfig, type ScaleResult } from './lib/scale-measure';
import { CONFIGS, FILTER_LEVELS, LEVELS, type Queries } from './lib/scale-setup';
import { apiVariantsTable, shapeSection, sizeTable, sweepSection, targetTable, tuningTable } from './lib/scale-report';
import { gaussian, nearProduct, shapeCheck } from './lib/synthetic-vectors';
import { cacheKey, cachedEmbeddings } from './lib/vector-cache';
import { serviceScript } from '../scripts/service-command';

const root = path.resolve(__dirname, '..');
const cacheDirectory = path.join(root, '.cache', 'catalog-scale');

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1]! : fallback;
}
/** Measure nothing: write the report and charts again from benchmarks/results/catalog-scale.json. */
const reportOnly = process.argv.includes('--report-only');
const sizes = reportOnly ? [] : argument('sizes', '10000,100000').split(',').map(Number);
const configs = argument('configs', Object.keys(CONFIGS).join(',')).split(',');
const esQueries = Number(argument('es-queries', '200'));
const e2eQueries = Number(argument('queries', '300'));
/** Timed passes of Elasticsearch's kNN searches, after an untimed first pass (p99 over more than the queries). */
const knnRepeats = Number(argument('knn-repeats', '3'));
/** End-to-end rates, searches a second; 0: back to back. */
const rates = argument('rates', '0,5,10').split(',').map(Number);
const sweepAt = Number(argument('sweep-at', String(Math.max(...sizes))));
const maxMergedSegment = process.argv.includes('--max-merged-segment') ? argument('max-merged-segment', '') : undefined;
/** Build the indices and stop (implies --keep): a 1M build takes hours, and is measured later on a machine left alone. */
const buildOnly = process.argv.includes('--build-only');
const keep = buildOnly || process.argv.includes('--keep');
const command = `npm run bench:catalog-scale -- --sizes ${sizes.join(',')} --configs ${configs.join(',')} --es-queries ${esQueries} --queries ${e2eQueries} --knn-repeats ${knnRepeats} --rates ${rates.join(',')} --sweep-at ${sweepAt}${maxMergedSegment ? ` --max-merged-segment ${maxMergedSegment}` : ''}${keep ? ' --keep' : ''}`;

async function main(): Promise<void> {
  // Stopped by a signal: exit through process.exit, so that the API this benchmark started goes too.
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  for (const name of configs) if (!CONFIGS[name]) throw new Error(`unknown configuration ${name}; known: ${Object.keys(CONFIGS).join(', ')}`);
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
  const logger = createLogger(config);
  const primary = config.models.ids[0]!;
  const devset = await buildDevSet(path.join(root, '.cache', 'devset'), { perCategory: 100, queryItems: 300, seed: 7 });

  // Queries: dev-set photos of catalog products (every distortion) as the 640 px JPEGs a client sends.
  const picked = shuffle(devset.queries, seededRandom(11)).slice(0, Math.max(esQueries, e2eQueries));
  const uploads = await Promise.all(picked.map((query) => sharp(query.photo).resize(640, 640, { fit: 'inside' }).jpeg({ quality: 85 }).toBuffer()));
  const position = new Map(devset.catalog.map((item, i) => [item.id, i]));
  const embedder = await createEmbedder(config, logger);
  const dims = Object.fromEntries(embedder.models.map((model) => [model.id, model.dims]));
  const real = await cachedEmbeddings(embedder, devset.catalog.map((item) => item.photo), 'auto', cacheDirectory, 'catalog');
  const queryMatrix = await cachedEmbeddings(embedder, uploads.slice(0, esQueries), 'auto', cacheDirectory, 'queries');
  await embedder.close();
  const queries: Queries = {
    vectors: Object.fromEntries(Object.keys(queryMatrix).map((id) => [id, Array.from({ length: esQueries }, (_, q) => Array.from(row(queryMatrix[id]!, dims[id]!, q)))])),
    uploads,
    targets: picked.map((query) => `p${position.get(query.item)}`),
  };

  // The generator, checked: as many generated products as there are real ones, and search-latency's real + noise.
  const catalog = scaleCatalog(devset, real, dims, cacheDirectory);
  const realCount = devset.catalog.length;
  catalog.extend(2 * realCount);
  const generated = Object.fromEntries(Object.keys(real).map((id) => [id, catalog.files[id]!.read(realCount, realCount)]));
  const noiseRandom = seededRandom(11);
  const noise = gaussian(noiseRandom);
  const noisy = Object.fromEntries(Object.keys(real).map((id) => [id, new Float32Array(realCount * dims[id]!)]));
  for (let i = 0; i < realCount; i++) {
    const vectors = nearProduct(real, dims, Math.floor(noiseRandom() * realCount), noiseRandom, noise);
    for (const id of Object.keys(real)) noisy[id]!.set(vectors[id]!, i * dims[id]!);
  }
  const checks = { generated: shapeCheck(real, generated, dims), noise: shapeCheck(real, noisy, dims) };

  const previous = readPrevious();
  const results: ScaleResult[] = [];
  const save = async () => {
    const order = Object.keys(CONFIGS);
    const measuredNow = (r: ScaleResult) => sizes.includes(r.products) && configs.includes(r.config);
    const all = [...previous.filter((r) => !measuredNow(r)), ...results].sort((a, b) => a.products - b.products || order.indexOf(a.config) - order.indexOf(b.config));
    const data = { generator: catalog.generator, filters: FILTER_LEVELS, shape: Object.fromEntries(Object.entries(checks).map(([k, v]) => [k, v.summary])), results: all };
    // The measurements first, so that nothing after them can lose them.
    // The command of every run whose results are kept.
    const commands = [...new Set(all.map((r) => r.command ?? command))].join('` and `');
    writeResult('catalog-scale', commands, data, '(the report is being written)');
    writeResult('catalog-scale', commands, data, await report(all, checks, realCount, primary, Object.keys(real)));
  };
  for (const size of sizes) {
    const generateSeconds = catalog.extend(size);
    const exactFile = path.join(cacheDirectory, `exact-${size}-${cacheKey({ generator: catalog.generator, targets: queries.targets.slice(0, esQueries), levels: FILTER_LEVELS })}.json`);
    const stored = fs.existsSync(exactFile) ? (JSON.parse(fs.readFileSync(exactFile, 'utf8')) as { measured: string; results: Array<[string, Timed]> }) : undefined;
    const exact = { results: new Map<string, Timed>(stored?.results ?? []), measured: stored?.measured };
    for (const name of configs) {
      const result = await measureConfig({ size, config: name, catalog, queries, generateSeconds, exact, primary, sweep: size === sweepAt, tuning: name === configs[0], rates, e2eQueries, knnRepeats, keep, buildOnly, maxMergedSegment, cacheDirectory, env: process.env, logger });
      if (!result) {
        process.stderr.write(`${size} ${name}: built and kept; measure it with the same command without --build-only (and with --keep)\n`);
        continue;
      }
      fs.writeFileSync(exactFile, JSON.stringify({ measured: exact.measured, results: [...exact.results] }));
      results.push({ ...result, command });
      process.stderr.write(`${size} ${name}: ${JSON.stringify({ knn: result.knn[primary], e2e: result.end_to_end, memory: result.footprint.vector_memory_bytes })}\n`);
      await save();
    }
  }
  if (reportOnly) await save();
  if (buildOnly) return;
  process.stdout.write(fs.readFileSync(path.join(RESULTS_DIR, 'catalog-scale.md'), 'utf8'));
}

/** The priorities the results were measured at (recorded since 2026-12-06; earlier ones: unrecorded). */
function niceOf(all: ScaleResult[]): string {
  const known = [...new Set(all.flatMap((r) => (r.nice === undefined ? [] : [r.nice])))];
  const unknown = all.some((r) => r.nice === undefined);
  return `${known.join(' or ') || '(unrecorded)'}${known.length > 0 && unknown ? ' (earlier results: unrecorded)' : ''}`;
}

/** The results of earlier runs (their sizes are kept unless this run measures them again). */
function readPrevious(): ScaleResult[] {
  const file = path.join(RESULTS_DIR, 'catalog-scale.json');
  if (!fs.existsSync(file)) return [];
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { results?: ScaleResult[] }).results ?? [];
}

async function report(all: ScaleResult[], checks: Parameters<typeof shapeSection>[0], realCount: number, primary: string, models: string[]): Promise<string> {
  const measured = [...new Set(all.map((r) => r.products))];
  const largest = all.filter((r) => r.build && r.products === Math.max(...all.filter((x) => x.build).map((x) => x.products)));
  const estimate = (r: ScaleResult) => {
    // HNSW building grows a little faster than the number of vectors (each insertion searches a graph of log n levels).
    const factor = (1e6 / r.products) * (Math.log(1e6) / Math.log(r.products));
    const b = r.build!;
    return `${r.config}: bulk load ≈ ${fixed(((b.load_seconds + b.settle_seconds) * factor) / 3600, 1)} h, force merge ≈ ${fixed((b.merge_seconds * factor) / 3600, 1)} h`;
  };
  const passing = all[0] ? LEVELS.map((level) => `${FILTER_LEVELS[level]!.label}: ${fixed(100 * all[0]!.filters_passing[level]!, 1)} %`).join(', ') : '';
  const sections = measured.map((size) => {
    const rows = all.filter((r) => r.products === size);
    return `## ${size.toLocaleString('en')} products\n\nMeasured by ${[...new Set(rows.map((r) => r.command))].map((c) => `\`${c}\` (${rows.filter((r) => r.command === c).map((r) => `${r.config}, ${r.date.slice(0, 10)}`).join('; ')})`).join(' and ')}; the exact searches timed ${rows[0]!.exact_measured?.slice(0, 16).replace('T', ' ') ?? 'earlier'} UTC.\n\n${sizeTable(rows, primary, models)}\n\nAgainst the targets (set for 1,000,000 products):\n\n${targetTable(rows, primary)}`;
  });
  if (!measured.includes(1_000_000)) {
    sections.push(`## 1,000,000 products\n\nNot measured yet: this run was on a shared 2-core machine. The command, and what the build would take going by this run's largest size (n log n): ${largest.map(estimate).join('; ')}.\n\n    npm run bench:catalog-scale -- --sizes 1000000 --configs bbq,int8 --keep`);
  }
  return `# Catalog size: latency, recall and memory at ${measured.map((n) => n.toLocaleString('en')).join(', ')} products

Elasticsearch 9.5.4 (1 shard, ${os.cpus().length} cores shared with the API and the load client), the real API process
from dist/ (\`${serviceScript('api')}\`), the default models (${models.join(' + ')}, hybrid). The catalog: the dev set's
${realCount.toLocaleString('en')} real products first, then generated ones (below). Queries: ${all[0]?.end_to_end[0]?.queries ?? 0} dev-set photos of the
real products (every distortion, 640 px JPEG); Elasticsearch alone gets their vectors, k = 10, the API's default
num_candidates (100), the kNN request the API sends for one model; exact = the same request on a \`flat\` copy of the
field (brute force over every product that passes the filter). Since 2026-12-08 the kNN searches run once untimed
(that first pass after the index opens is in the table apart: a kept index is closed between runs, and its first
searches read the graph and vectors from disk), then are timed \`--knn-repeats\` times each, so that p99 is over
several times the queries rather than their worst but one; results measured before timed the first pass, once a
query. Filters: ${passing} of the catalog. Graph search
under a filter: the index's \`index.dense_vector.hnsw_filter_heuristic\` (the catalog index sets \`fanout\` since
2026-12-07; results measured before used Elasticsearch's default, ACORN; the kept 1,000,000-product indices had
\`fanout\` set before their runs of 2026-12-07).
Latencies in ms from the client; "end to end" is a photo upload to the API, back to back (one at a time: what a
search costs) and on schedule at a steady rate whatever the earlier answers (an open loop, timed from the scheduled
start: what a search costs while others are being served). The benchmark and the API it starts ran at nice
${niceOf(all)} on a machine shared with others (the load averages are in the tables); Elasticsearch at its own.

${sections.join('\n\n')}

## Force merge, filtered search, preload (first configuration)

The index as the bulk load and Elasticsearch's merges left it, then force-merged to one segment; the filtered kNN
under Lucene's other ways of searching a graph with a filter (dynamic index settings); then the index closed, its
files dropped from the page cache (\`posix_fadvise\`), and opened without and with \`index.store.preload\` of the kNN
files (graph \`vex\`, quantized vectors \`veq\`/\`veb\`), as after a restart:

${tuningTable(all, primary)}

${await sweepSection(all, primary)}

## The API's memory

What the API process holds (its RSS), by setting, at the largest size, with the first configuration: a photo that is
localized embeds about 20 regions in one ONNX Runtime batch, and the runtime keeps the memory of its largest batch.

${apiVariantsTable(all)}

## The generated products, checked

Each generated product starts from a real product (drawn at random) and moves away from it along the directions in
which the real products of the same category differ: a draw from a Gaussian with that category's own covariance,
scaled by a spread drawn per product (the colour model's half as much), the same draw for both models
(\`groupGaussian\`, benchmarks/lib/synthetic-vectors.ts). Checked by the cosine distance from each product to its
nearest neighbour among ${realCount.toLocaleString('en')} real products, and among as many generated ones (equally many, so that equally dense
sets give equal distances), percentiles, and the largest gap between the two distributions (KS):

${await shapeSection(checks, realCount)}
`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
