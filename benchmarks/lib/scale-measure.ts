import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config, type VectorIndexOptions } from '../../core/config';
import { resolveManifests, vectorFieldSpecs } from '../../core/embedding/manifest';
import type { Logger } from '../../core/logger';
import { seededRandom, shuffle } from '../../core/random';
import { vectorField } from '../../core/search/catalog-mapping';
import { buildFilterClauses, type SearchFilters } from '../../core/search/filters';
import { multipart, sampleRss, startApi, steadyLoad } from './api-process';
import { createBenchIndex, request } from './bench-index';
import { forceMerge, sampleHeap, segments, waitForMerges, type Segments } from './es-monitor';
import { indexFootprint, type IndexFootprint } from './index-footprint';
import { exactCopyProperties, exactField, knnRequest, recall, runShuffled, timedHybrid, timedSearch, type Timed } from './knn-measure';
import { latencyStats, type LatencyStats } from './report';
import type { ScaleCatalog } from './scale-catalog';
import { KNN_PRELOAD, coldOpen, localIndexDirectory, type ColdOpen } from './store-preload';

/**
 * One catalog size under one vector index configuration: build (or reuse) the index, then measure Elasticsearch
 * alone (kNN against exact, per model and filter), the hybrid the API runs, a num_candidates sweep, the API end to end
 * at a steady rate, and what the index takes on disk and in memory.
 */

/** Vector index configurations compared: the product default, and the 1,280-d field quantized further. */
export const CONFIGS: Record<string, { label: string; overrides: Record<string, Partial<VectorIndexOptions>> }> = {
  int8: { label: 'int8_hnsw (default)', overrides: {} },
  bbq: { label: 'efficientnet-lite0 bbq_hnsw', overrides: { 'efficientnet-lite0': { type: 'bbq_hnsw' } } },
  int4: { label: 'efficientnet-lite0 int4_hnsw', overrides: { 'efficientnet-lite0': { type: 'int4_hnsw' } } },
};

/** Filters of three selectivities, on benchProduct's random attributes (price 5–300, 80 % available, each size 1 in 2, 10 colours). */
export const FILTER_LEVELS: Record<string, { label: string; filters?: SearchFilters }> = {
  all: { label: 'no filter' },
  half: { label: '≈ 50 % pass', filters: { available: true, price: { lte: 189.4 } } },
  twentieth: { label: '≈ 5 % pass', filters: { color: ['red'], sizes: ['M'] } },
};
export const LEVELS = Object.keys(FILTER_LEVELS);

/** num_candidates values of the sweep. */
export const SWEEP = [10, 20, 50, 100, 200, 500, 1000];

export interface Queries {
  /** Query vectors per model, row-major, for Elasticsearch alone. */
  vectors: Record<string, number[][]>;
  /** 640 px JPEG uploads for the API, and the product each one shows (`p<i>`). */
  uploads: Buffer[];
  targets: string[];
}

export interface KnnCell {
  approx: LatencyStats;
  exact: LatencyStats;
  recall: number;
  /** Exact p50 ÷ approximate p50. */
  speedup: number;
}

export interface ScaleResult {
  products: number;
  config: string;
  index_options: Record<string, VectorIndexOptions>;
  date: string;
  /** The command of the run that measured this. */
  command?: string;
  reused_index: boolean;
  build: { generate_seconds: number; load_seconds: number; settle_seconds: number; merge_seconds: number; segments_after_load: Segments; heap: { max_used_bytes: number; max_old_bytes: number; heap_bytes: number } } | null;
  filters_passing: Record<string, number>;
  footprint: IndexFootprint;
  knn: Record<string, Record<string, KnnCell>>;
  hybrid: Record<string, LatencyStats>;
  as_loaded?: { segments: number; knn: Record<string, { approx: LatencyStats; recall: number }> };
  sweep?: Array<{ level: string; num_candidates: number; p50: number; p95: number; p99: number; recall: number }>;
  end_to_end: { per_second: number; levels: Record<string, LatencyStats>; recall_at_1: number; queries: number; errors: number; first_error?: string; api_rss: { max: number; peak: number }; load_average: [number, number] };
  /** The machine's 1-minute load average when the measurements began and when they ended (others share it). */
  load_average: [number, number];
  preload?: { without: ColdOpen; with: ColdOpen } | { skipped: string };
}

export interface MeasureOptions {
  size: number;
  config: string;
  catalog: ScaleCatalog;
  queries: Queries;
  generateSeconds: number;
  /**
   * Exact results by `<model>/<level>/<query>`, shared by every configuration of one size (their flat copies are the
   * same): measured by the first, when empty, and kept by the caller.
   */
  exact: Map<string, Timed>;
  primary: string;
  /** Run the num_candidates sweep, the as-loaded measurement and the preload measurement. */
  sweep: boolean;
  tuning: boolean;
  perSecond: number;
  e2eQueries: number;
  keep: boolean;
  maxMergedSegment?: string;
  cacheDirectory: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/** The alias of a size and configuration: `bench-` first, so that it is known for a benchmark's and can be reused by --keep. */
export const benchAlias = (size: number, config: string): string => `bench-scale-${size}-${config}`;

export async function measureConfig(options: MeasureOptions): Promise<ScaleResult> {
  const { size, catalog, queries, primary } = options;
  const alias = benchAlias(size, options.config);
  const env = { ...options.env, LOG_LEVEL: 'warn', INDEX_ALIAS: alias, QUEUE_PREFIX: alias, VECTOR_INDEX_OVERRIDES: JSON.stringify(CONFIGS[options.config]!.overrides) };
  const config: Config = loadConfig(env);
  const specs = vectorFieldSpecs(config, resolveManifests(config.models.ids, config.models.dir));
  const models = specs.map((spec) => spec.modelId);
  const bench = await createBenchIndex(config, options.logger, { extraProperties: exactCopyProperties(specs) });
  const { es, index } = bench;
  const random = seededRandom(size + options.config.length);
  // What an earlier run (--keep) recorded about this index: reused as it is when it was loaded and merged.
  const recordFile = path.join(options.cacheDirectory, 'indices', `${alias}.json`);
  const record = fs.existsSync(recordFile) && !bench.created ? (JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { build: NonNullable<ScaleResult['build']>; as_loaded?: ScaleResult['as_loaded']; documents: number }) : undefined;
  const clauses = Object.fromEntries(LEVELS.map((level) => [level, buildFilterClauses(FILTER_LEVELS[level]!.filters)]));
  const approxRun = (model: string, level: string, numCandidates?: number) => (q: number) => timedSearch(es, alias, knnRequest(model, queries.vectors[model]![q]!, clauses[level]!, { exact: false, numCandidates }));
  const esQueries = queries.vectors[primary]!.length;
  const cases = (levels: string[], modelList: string[]) => modelList.flatMap((model) => levels.flatMap((level) => Array.from({ length: esQueries }, (_, q) => ({ model, level, q }))));

  try {
    const loadAtStart = os.loadavg()[0]!;
    let build = record?.build ?? null;
    let asLoaded = record?.as_loaded;
    let asLoadedIds: Timed[] | undefined;
    if (!record || record.documents !== size) {
      if (options.maxMergedSegment) await es.indices.putSettings({ index, settings: { 'index.merge.policy.max_merged_segment': options.maxMergedSegment } });
      const heap = sampleHeap(es);
      const loadSeconds = await bench.fill(size, (i) => catalog.document(i), `${alias}: bulk load`);
      const settleSeconds = await waitForMerges(es, index);
      const loadedSegments = await segments(es, index);
      if (options.tuning) {
        // Before the force merge: the index as a bulk load and Elasticsearch's own merges leave it.
        const subset = cases(['all', 'twentieth'], [primary]);
        asLoadedIds = await runShuffled(subset, (c) => approxRun(c.model, c.level)(c.q), random, `${alias}: kNN as loaded (${loadedSegments.count} segments)`);
        asLoaded = { segments: loadedSegments.count, knn: {} };
      }
      const mergeSeconds = await forceMerge(es, index, `${alias}: force merge`);
      build = { generate_seconds: options.generateSeconds, load_seconds: loadSeconds, settle_seconds: settleSeconds, merge_seconds: mergeSeconds, segments_after_load: loadedSegments, heap: await heap.stop() };
    }

    const footprint = await indexFootprint(es, index, [
      ...specs.map((spec) => ({ field: vectorField(spec.modelId), type: spec.index.type, dims: spec.dims, m: spec.index.m, catalog: true })),
      ...specs.map((spec) => ({ field: exactField(spec.modelId), type: 'flat' as const, dims: spec.dims, m: spec.index.m, catalog: false })),
    ]);
    const filtersPassing = Object.fromEntries(await Promise.all(LEVELS.map(async (level) => [level, (await es.count({ index, query: { bool: { filter: clauses[level]! } } })).count / footprint.documents] as const)));

    // Exact search of the same filtered set: once per size (every configuration has the same flat copies).
    const all = cases(LEVELS, models);
    if (options.exact.size === 0) {
      const results = await runShuffled(all, (c) => timedSearch(es, alias, knnRequest(c.model, queries.vectors[c.model]![c.q]!, clauses[c.level]!, { exact: true })), random, `${alias}: exact (flat copies)`);
      all.forEach((c, n) => options.exact.set(`${c.model}/${c.level}/${c.q}`, results[n]!));
    }
    const exactOf = (model: string, level: string, q: number) => options.exact.get(`${model}/${level}/${q}`)!;
    const approx = await runShuffled(all, (c) => approxRun(c.model, c.level)(c.q), random, `${alias}: kNN`);
    const knn: ScaleResult['knn'] = {};
    for (const model of models) {
      knn[model] = {};
      for (const level of LEVELS) {
        const picked = all.flatMap((c, n) => (c.model === model && c.level === level ? [{ approx: approx[n]!, exact: exactOf(model, level, c.q) }] : []));
        const a = latencyStats(picked.map((p) => p.approx.ms));
        const e = latencyStats(picked.map((p) => p.exact.ms));
        knn[model]![level] = { approx: a, exact: e, recall: mean(picked.map((p) => recall(p.approx.ids, p.exact.ids))), speedup: e.p50 / a.p50 };
      }
    }
    if (asLoadedIds && asLoaded) {
      const subset = cases(['all', 'twentieth'], [primary]);
      for (const level of ['all', 'twentieth']) {
        const picked = subset.flatMap((c, n) => (c.level === level ? [{ approx: asLoadedIds[n]!, exact: exactOf(primary, level, c.q) }] : []));
        asLoaded.knn[level] = { approx: latencyStats(picked.map((p) => p.approx.ms)), recall: mean(picked.map((p) => recall(p.approx.ids, p.exact.ids))) };
      }
    }
    if (build) fs.mkdirSync(path.dirname(recordFile), { recursive: true });
    if (build) fs.writeFileSync(recordFile, JSON.stringify({ documents: size, build, as_loaded: asLoaded }));

    const hybridCases = LEVELS.flatMap((level) => Array.from({ length: esQueries }, (_, q) => ({ level, q })));
    const hybridTimes = await runShuffled(hybridCases, (c) => timedHybrid(es, alias, Object.fromEntries(models.map((model) => [model, queries.vectors[model]![c.q]!])), config.search.weights, clauses[c.level]!), random, `${alias}: hybrid`);
    const hybrid = Object.fromEntries(LEVELS.map((level) => [level, latencyStats(hybridCases.flatMap((c, n) => (c.level === level ? [hybridTimes[n]!.ms] : [])))]));

    let sweep: ScaleResult['sweep'];
    if (options.sweep) {
      const sweepCases = SWEEP.flatMap((numCandidates) => ['all', 'twentieth'].flatMap((level) => Array.from({ length: esQueries }, (_, q) => ({ numCandidates, level, q }))));
      const times = await runShuffled(sweepCases, (c) => approxRun(primary, c.level, c.numCandidates)(c.q), random, `${alias}: num_candidates sweep`);
      sweep = SWEEP.flatMap((numCandidates) =>
        ['all', 'twentieth'].map((level) => {
          const picked = sweepCases.flatMap((c, n) => (c.numCandidates === numCandidates && c.level === level ? [{ t: times[n]!, q: c.q }] : []));
          const s = latencyStats(picked.map((p) => p.t.ms));
          return { level, num_candidates: numCandidates, p50: s.p50, p95: s.p95, p99: s.p99, recall: mean(picked.map((p) => recall(p.t.ids, exactOf(primary, level, p.q).ids))) };
        }),
      );
    }

    const endToEnd = await measureEndToEnd(env, queries, options, random);
    const preload = options.tuning ? await measurePreload(es, index, (n) => approxRun(primary, 'all')(n % esQueries).then((t) => t.ms)) : undefined;

    return {
      products: size,
      config: options.config,
      index_options: Object.fromEntries(specs.map((spec) => [spec.modelId, spec.index])),
      date: new Date().toISOString(),
      reused_index: Boolean(record && record.documents === size),
      build,
      filters_passing: filtersPassing,
      footprint,
      knn,
      hybrid,
      ...(asLoaded ? { as_loaded: asLoaded } : {}),
      ...(sweep ? { sweep } : {}),
      end_to_end: endToEnd,
      ...(preload ? { preload } : {}),
      load_average: [loadAtStart, os.loadavg()[0]!],
    };
  } finally {
    if (options.keep) await bench.close();
    else {
      await bench.drop();
      fs.rmSync(recordFile, { force: true });
    }
  }
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** Photo uploads to the real API at a steady rate, each query with every filter level, shuffled; recall@1 of the unfiltered ones. */
async function measureEndToEnd(env: NodeJS.ProcessEnv, queries: Queries, options: MeasureOptions, random: () => number): Promise<ScaleResult['end_to_end']> {
  const count = Math.min(options.e2eQueries, queries.uploads.length);
  const order = shuffle(
    Array.from({ length: count * LEVELS.length }, (_, n) => n),
    random,
  );
  const api = await startApi({ ...env, API_PORT: '18082', API_HOST: '127.0.0.1', RATE_LIMIT_PER_S: '0' });
  const rss = sampleRss(api.child.pid!);
  const loadAtStart = os.loadavg()[0]!;
  try {
    // Warm-up: the first requests load the models' kernels and the index files, and JIT the API's code.
    for (let q = 0; q < 20; q++) {
      const form = multipart(queries.uploads[q % count]!);
      await request(`${api.url}/v1/search`, 'POST', form.headers, form.body);
    }
    const answers = await steadyLoadOf(api.url, order, count, queries, options);
    const answered = (l: number) => answers.flatMap((answer, n) => (Math.floor(order[n]! / count) === l && !answer.error ? [answer.ms] : []));
    const levels = Object.fromEntries(LEVELS.map((level, l) => [level, latencyStats(answered(l))]));
    const plain = answers.flatMap((answer, n) => (order[n]! < count ? [{ answer, q: order[n]! }] : []));
    // A failed request counts as a miss.
    const recallAt1 = mean(plain.map(({ answer, q }) => (answer.top === queries.targets[q] ? 1 : 0)));
    const errors = answers.filter((answer) => answer.error);
    return {
      per_second: options.perSecond,
      levels,
      recall_at_1: recallAt1,
      queries: plain.length,
      errors: errors.length,
      ...(errors.length > 0 ? { first_error: errors[0]!.error } : {}),
      api_rss: (({ max, peak }) => ({ max, peak }))(rss.stop()),
      load_average: [loadAtStart, os.loadavg()[0]!],
    };
  } finally {
    rss.stop();
    await api.stop();
  }
}

async function steadyLoadOf(url: string, order: number[], count: number, queries: Queries, options: MeasureOptions): Promise<Array<{ ms: number; top?: string; error?: string }>> {
  const results = await steadyLoad(
    order.length,
    options.perSecond,
    async (n, agent) => {
      const q = order[n]! % count;
      const filters = FILTER_LEVELS[LEVELS[Math.floor(order[n]! / count)]!]!.filters;
      const form = multipart(queries.uploads[q]!, filters ? { filters } : undefined);
      const { body } = await request(`${url}/v1/search`, 'POST', form.headers, form.body, agent);
      return (body.results as Array<{ id: string }>)[0]?.id;
    },
    `end to end at ${options.perSecond}/s`,
  );
  return results.map((result) => ({ ms: result.ms, top: result.answer, ...(result.error ? { error: result.error } : {}) }));
}

/** Cold opens without and with `index.store.preload` of the kNN files. */
async function measurePreload(es: Parameters<typeof coldOpen>[0], index: string, search: (n: number) => Promise<number>): Promise<NonNullable<ScaleResult['preload']>> {
  const directory = await localIndexDirectory(es, index);
  if (!directory) return { skipped: 'Elasticsearch does not run on this machine (its data directory is not here)' };
  try {
    const without = await coldOpen(es, index, directory, [], 50, search);
    const withPreload = await coldOpen(es, index, directory, KNN_PRELOAD, 50, search);
    return { without, with: withPreload };
  } catch (error) {
    return { skipped: `could not drop the index's files from the page cache: ${(error as Error).message.split('\n')[0]}` };
  }
}
