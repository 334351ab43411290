import type { Client } from '@elastic/elasticsearch';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config, type VectorIndexOptions } from '../../core/config';
import { resolveManifests, vectorFieldSpecs } from '../../core/embedding/manifest';
import type { Logger } from '../../core/logger';
import { seededRandom } from '../../core/random';
import { vectorField } from '../../core/search/catalog-mapping';
import { buildFilterClauses } from '../../core/search/filters';
import { createBenchIndex } from './bench-index';
import { forceMerge, sampleHeap, segments, waitForMerges, type Segments } from './es-monitor';
import { indexFootprint, type IndexFootprint } from './index-footprint';
import { exactCopyProperties, exactField, filterShares, knnRequest, recall, runShuffled, timedHybrid, timedSearch, type Timed } from './knn-measure';
import { latencyStats, type LatencyStats } from './report';
import type { ScaleCatalog } from './scale-catalog';
import { API_VARIANTS, CONFIGS, FILTER_HEURISTICS, FILTER_LEVELS, LEVELS, SWEEP, SWEEP_OVERSAMPLE, mean, type Queries } from './scale-setup';
import { measureEndToEnd, type EndToEnd } from './scale-end-to-end';
import { KNN_PRELOAD, coldOpen, localIndexDirectory, type ColdOpen } from './store-preload';

/**
 * One catalog size under one vector index configuration: build (or reuse) the index, then measure Elasticsearch
 * alone (kNN against exact, per model and filter), the hybrid the API runs, a num_candidates sweep, the API end to end
 * at a steady rate, and what the index takes on disk and in memory.
 */

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
  /** When the exact searches were timed (the first configuration of a size, maybe in an earlier run). */
  exact_measured?: string;
  /** The command of the run that measured this. */
  command?: string;
  reused_index: boolean;
  /** `load_runs`: how many runs the bulk load took (more than one: it was stopped and went on, its times added). */
  build: { generate_seconds: number; load_seconds: number; load_runs?: number; settle_seconds: number; merge_seconds: number; segments_after_load: Segments; heap: { max_used_bytes: number; max_old_bytes: number; heap_bytes: number } } | null;
  filters_passing: Record<string, number>;
  footprint: IndexFootprint;
  knn: Record<string, Record<string, KnnCell>>;
  /**
   * The same kNN searches' first pass after the index opened (untimed before 2026-12-08: the table timed this pass,
   * once per query): what a cold index answers, per model and level.
   */
  knn_first_pass?: Record<string, Record<string, LatencyStats>>;
  /** How many times each kNN search was timed after that first pass (the p99 is over queries × repeats). */
  knn_repeats?: number;
  hybrid: Record<string, LatencyStats>;
  /** `missing`: why a level has no figures. */
  as_loaded?: { segments: number; knn: Record<string, { approx: LatencyStats; recall: number }>; missing?: Record<string, string> };
  /** `oversample` absent: the mapping's. */
  sweep?: Array<{ level: string; num_candidates: number; oversample?: number; p50: number; p95: number; p99: number; recall: number }>;
  /** The API with other settings (API_VARIANTS), back to back. */
  api_variants?: Record<string, EndToEnd>;
  /** Per rate (0: back to back). */
  end_to_end: EndToEnd[];
  /** The benchmark's own priority (nice) while it measured. */
  nice?: number;
  /** The machine's 1-minute load average when the measurements began and when they ended (others share it). */
  load_average: [number, number];
  preload?: { without: ColdOpen; with: ColdOpen } | { skipped: string };
  /**
   * Per model: of `sampled` products drawn at random, how many their own vector does not find (not among its 10 kNN
   * hits, no filter) at num_candidates 100 (the API's) and 1,000: nodes the graph search cannot reach from its entry point.
   */
  unreachable?: Record<string, { sampled: number; at_100: number; at_1000: number }>;
  /** The filtered kNN under each of FILTER_HEURISTICS (the first configuration only). */
  heuristics?: Array<{ label: string; settings: Record<string, string | boolean>; knn: Record<string, { approx: LatencyStats; recall: number }> }>;
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
  exact: { results: Map<string, Timed>; measured?: string };
  primary: string;
  /** Run the num_candidates sweep. */
  sweep: boolean;
  /** Measure the index as loaded, the filter heuristics and preload. */
  tuning: boolean;
  /** End-to-end rates, searches a second; 0: back to back (each search once the one before has answered). */
  rates: number[];
  e2eQueries: number;
  /** Timed passes of the kNN searches after an untimed first one (p99 over 60 queries is their worst but one). */
  knnRepeats: number;
  keep: boolean;
  /** Build the index (load, as-loaded searches, force merge), record it, and measure nothing else (implies keep). */
  buildOnly?: boolean;
  maxMergedSegment?: string;
  cacheDirectory: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/** The alias of a size and configuration: `bench-` first, so that it is known for a benchmark's and can be reused by --keep. */
export const benchAlias = (size: number, config: string): string => `bench-scale-${size}-${config}`;

/** What a build recorded (.cache/catalog-scale/indices/<alias>.json), for a later run with --keep. */
interface BuildRecord {
  documents: number;
  build: NonNullable<ScaleResult['build']>;
  as_loaded?: ScaleResult['as_loaded'];
  /**
   * The searches as loaded, of a build-only run, by `<level>/<query>`: scored against exact by the run that measures
   * (which may time fewer queries).
   */
  as_loaded_timed?: Record<string, Timed>;
}

/** Measures one size and configuration; null when `buildOnly` built the index (and measured nothing else). */
export async function measureConfig(options: MeasureOptions): Promise<ScaleResult | null> {
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
  const record = fs.existsSync(recordFile) && !bench.created ? (JSON.parse(fs.readFileSync(recordFile, 'utf8')) as BuildRecord) : undefined;
  // A bulk load stopped part way (the session ended, say) goes on from what the index holds; its time so far is kept here.
  const loadingFile = path.join(options.cacheDirectory, 'indices', `${alias}.loading.json`);
  if (bench.created) fs.rmSync(loadingFile, { force: true });
  const saveRecord = (saved: BuildRecord) => {
    fs.mkdirSync(path.dirname(recordFile), { recursive: true });
    fs.writeFileSync(recordFile, JSON.stringify(saved));
    fs.rmSync(loadingFile, { force: true });
  };
  const clauses = Object.fromEntries(LEVELS.map((level) => [level, buildFilterClauses(FILTER_LEVELS[level]!.filters)]));
  const approxRun = (model: string, level: string, numCandidates?: number) => (q: number) => timedSearch(es, alias, knnRequest(model, queries.vectors[model]![q]!, clauses[level]!, { exact: false, numCandidates }));
  const esQueries = queries.vectors[primary]!.length;
  const cases = (levels: string[], modelList: string[]) => modelList.flatMap((model) => levels.flatMap((level) => Array.from({ length: esQueries }, (_, q) => ({ model, level, q }))));

  try {
    const loadAtStart = os.loadavg()[0]!;
    let build = record?.build ?? null;
    let asLoaded = record?.as_loaded;
    let asLoadedIds = record?.as_loaded_timed;
    if (!record || record.documents !== size) {
      if (options.maxMergedSegment) await es.indices.putSettings({ index, settings: { 'index.merge.policy.max_merged_segment': options.maxMergedSegment } });
      const heap = sampleHeap(es);
      const earlier = fs.existsSync(loadingFile) ? (JSON.parse(fs.readFileSync(loadingFile, 'utf8')) as { documents: number; load_seconds: number; runs: number }) : undefined;
      const before = earlier?.documents === size ? earlier : { documents: size, load_seconds: 0, runs: 0 };
      fs.mkdirSync(path.dirname(loadingFile), { recursive: true });
      let saved = 0;
      const checkpoint = (seconds: number) => fs.writeFileSync(loadingFile, JSON.stringify({ ...before, load_seconds: before.load_seconds + seconds, runs: before.runs + 1 }));
      const loadSeconds =
        before.load_seconds +
        (await bench.fill(size, (i) => catalog.document(i), `${alias}: bulk load`, (_written, seconds) => {
          if (seconds - saved >= 30) checkpoint((saved = seconds));
        }));
      checkpoint(loadSeconds - before.load_seconds);
      const settleSeconds = await waitForMerges(es, index);
      const loadedSegments = await segments(es, index);
      if (options.tuning) {
        // Before the force merge: the index as a bulk load and Elasticsearch's own merges leave it.
        const subset = cases(['all', 'twentieth'], [primary]);
        const timed = await runShuffled(subset, (c) => approxRun(c.model, c.level)(c.q), random, `${alias}: kNN as loaded (${loadedSegments.count} segments)`);
        asLoadedIds = Object.fromEntries(subset.map((c, n) => [`${c.level}/${c.q}`, timed[n]!]));
        asLoaded = { segments: loadedSegments.count, knn: {} };
      }
      const mergeSeconds = await forceMerge(es, index, `${alias}: force merge`);
      build = { generate_seconds: options.generateSeconds, load_seconds: loadSeconds, load_runs: before.runs + 1, settle_seconds: settleSeconds, merge_seconds: mergeSeconds, segments_after_load: loadedSegments, heap: await heap.stop() };
      if (options.buildOnly) {
        // Measured by a later run (--keep), on a machine left alone: the searches as loaded are scored against exact then.
        saveRecord({ documents: size, build, as_loaded: asLoaded, as_loaded_timed: asLoadedIds });
        return null;
      }
    }

    const footprint = await indexFootprint(es, index, [
      ...specs.map((spec) => ({ field: vectorField(spec.modelId), type: spec.index.type, dims: spec.dims, m: spec.index.m, catalog: true })),
      ...specs.map((spec) => ({ field: exactField(spec.modelId), type: 'flat' as const, dims: spec.dims, m: spec.index.m, catalog: false })),
    ]);
    const filtersPassing = await filterShares(es, index, clauses, footprint.documents);

    // Exact search of the same filtered set: once per size (every configuration has the same flat copies).
    const all = cases(LEVELS, models);
    if (options.exact.results.size === 0) {
      const results = await runShuffled(all, (c) => timedSearch(es, alias, knnRequest(c.model, queries.vectors[c.model]![c.q]!, clauses[c.level]!, { exact: true })), random, `${alias}: exact (flat copies)`);
      all.forEach((c, n) => options.exact.results.set(`${c.model}/${c.level}/${c.q}`, results[n]!));
      options.exact.measured = new Date().toISOString();
    }
    const exactOf = (model: string, level: string, q: number) => options.exact.results.get(`${model}/${level}/${q}`)!;
    // A first pass untimed (recorded apart): right after the index opens (a kept index, closed between runs), the
    // first searches read the graph and vectors from disk; at 1,000,000 products they took p50 18-21 and p99 39-50 ms
    // where the same searches a minute later take 9-11 and 15-20 ms. The hybrid below warms up the same way.
    const firstPass = await runShuffled(all, (c) => approxRun(c.model, c.level)(c.q), random, `${alias}: kNN, first pass`);
    const repeated = Array.from({ length: options.knnRepeats }, () => all).flat();
    const approx = await runShuffled(repeated, (c) => approxRun(c.model, c.level)(c.q), random, `${alias}: kNN (${options.knnRepeats} passes)`);
    const knn: ScaleResult['knn'] = {};
    const knnFirstPass: NonNullable<ScaleResult['knn_first_pass']> = {};
    for (const model of models) {
      knn[model] = {};
      knnFirstPass[model] = {};
      for (const level of LEVELS) {
        knnFirstPass[model][level] = latencyStats(all.flatMap((c, n) => (c.model === model && c.level === level ? [firstPass[n]!.ms] : [])));
        const picked = repeated.flatMap((c, n) => (c.model === model && c.level === level ? [{ approx: approx[n]!, exact: exactOf(model, level, c.q) }] : []));
        const a = latencyStats(picked.map((p) => p.approx.ms));
        const e = latencyStats(picked.map((p) => p.exact.ms));
        knn[model]![level] = { approx: a, exact: e, recall: mean(picked.map((p) => recall(p.approx.ids, p.exact.ids))), speedup: e.p50 / a.p50 };
      }
    }
    if (asLoadedIds && asLoaded && Object.keys(asLoaded.knn).length === 0) {
      const subset = cases(['all', 'twentieth'], [primary]);
      for (const level of ['all', 'twentieth']) {
        const picked = subset.flatMap((c) => (c.level === level && asLoadedIds![`${level}/${c.q}`] ? [{ approx: asLoadedIds![`${level}/${c.q}`]!, exact: exactOf(primary, level, c.q) }] : []));
        asLoaded.knn[level] = { approx: latencyStats(picked.map((p) => p.approx.ms)), recall: mean(picked.map((p) => recall(p.approx.ids, p.exact.ids))) };
      }
    }
    if (build) saveRecord({ documents: size, build, as_loaded: asLoaded });

    const hybridCases = LEVELS.flatMap((level) => Array.from({ length: esQueries }, (_, q) => ({ level, q })));
    // Once untimed first: the hybrid's candidates step rescores 100 candidates per model, reading raw vectors that the
    // kNN above (k 10) has not read. At 1,000,000 products (int8) a timed pass right after the force merge gave p50
    // 64 ms; the same searches 45 minutes later, 14 ms.
    const hybridRun = (c: (typeof hybridCases)[number]) => timedHybrid(es, alias, Object.fromEntries(models.map((model) => [model, queries.vectors[model]![c.q]!])), config.search.weights, clauses[c.level]!, filtersPassing[c.level]!);
    await runShuffled(hybridCases, hybridRun, random, `${alias}: hybrid, warming up`);
    const hybridTimes = await runShuffled(hybridCases, hybridRun, random, `${alias}: hybrid`);
    const hybrid = Object.fromEntries(LEVELS.map((level) => [level, latencyStats(hybridCases.flatMap((c, n) => (c.level === level ? [hybridTimes[n]!.ms] : [])))]));

    let sweep: ScaleResult['sweep'];
    if (options.sweep) {
      const sweepCases = SWEEP_OVERSAMPLE.flatMap((oversample) => SWEEP.flatMap((numCandidates) => ['all', 'twentieth'].flatMap((level) => Array.from({ length: esQueries }, (_, q) => ({ oversample, numCandidates, level, q })))));
      const run = (c: (typeof sweepCases)[number]) => timedSearch(es, alias, knnRequest(primary, queries.vectors[primary]![c.q]!, clauses[c.level]!, { exact: false, numCandidates: c.numCandidates, oversample: c.oversample }));
      const times = await runShuffled(sweepCases, run, random, `${alias}: num_candidates × oversample sweep`);
      sweep = SWEEP_OVERSAMPLE.flatMap((oversample) =>
        SWEEP.flatMap((numCandidates) =>
          ['all', 'twentieth'].map((level) => {
            const picked = sweepCases.flatMap((c, n) => (c.oversample === oversample && c.numCandidates === numCandidates && c.level === level ? [{ t: times[n]!, q: c.q }] : []));
            const s = latencyStats(picked.map((p) => p.t.ms));
            return { level, num_candidates: numCandidates, ...(oversample !== undefined ? { oversample } : {}), p50: s.p50, p95: s.p95, p99: s.p99, recall: mean(picked.map((p) => recall(p.t.ids, exactOf(primary, level, p.q).ids))) };
          }),
        ),
      );
    }

    const unreachable = await measureUnreachable(es, alias, catalog, models, size, random);

    let heuristics: ScaleResult['heuristics'];
    if (options.tuning) {
      heuristics = [];
      const keys = Object.keys(FILTER_HEURISTICS[0]!.settings);
      const own = await es.indices.getSettings({ index, flat_settings: true });
      const before = Object.values(own)[0]?.settings as Record<string, unknown> | undefined;
      for (const heuristic of FILTER_HEURISTICS) {
        await es.indices.putSettings({ index, settings: heuristic.settings });
        const subset = cases(['half', 'twentieth'], [primary]);
        const times = await runShuffled(subset, (c) => approxRun(c.model, c.level)(c.q), random, `${alias}: kNN, ${heuristic.label}`);
        const knnByLevel = Object.fromEntries(
          ['half', 'twentieth'].map((level) => {
            const picked = subset.flatMap((c, n) => (c.level === level ? [{ t: times[n]!, q: c.q }] : []));
            return [level, { approx: latencyStats(picked.map((p) => p.t.ms)), recall: mean(picked.map((p) => recall(p.t.ids, exactOf(primary, level, p.q).ids))) }];
          }),
        );
        heuristics.push({ ...heuristic, knn: knnByLevel });
      }
      // Back to the index's own settings (Elasticsearch's defaults where it has none) for what follows.
      await es.indices.putSettings({ index, settings: Object.fromEntries(keys.map((key) => [key, before?.[key] ?? null])) });
    }

    const endToEnd = await measureEndToEnd(env, queries, { rates: options.rates, count: options.e2eQueries }, random);
    let apiVariants: ScaleResult['api_variants'];
    if (options.tuning && options.sweep) {
      apiVariants = {};
      for (const [name, variant] of Object.entries(API_VARIANTS)) apiVariants[name] = (await measureEndToEnd({ ...env, ...variant }, queries, { rates: [0], count: options.e2eQueries }, random))[0]!;
    }
    const preload = options.tuning ? await measurePreload(es, index, (n) => approxRun(primary, 'all')(n % esQueries).then((t) => t.ms)) : undefined;

    return {
      products: size,
      config: options.config,
      index_options: Object.fromEntries(specs.map((spec) => [spec.modelId, spec.index])),
      date: new Date().toISOString(),
      ...(options.exact.measured ? { exact_measured: options.exact.measured } : {}),
      reused_index: Boolean(record && record.documents === size),
      build,
      filters_passing: filtersPassing,
      footprint,
      knn,
      knn_first_pass: knnFirstPass,
      knn_repeats: options.knnRepeats,
      hybrid,
      ...(asLoaded ? { as_loaded: asLoaded } : {}),
      ...(sweep ? { sweep } : {}),
      end_to_end: endToEnd,
      ...(preload ? { preload } : {}),
      unreachable,
      ...(heuristics ? { heuristics } : {}),
      ...(apiVariants ? { api_variants: apiVariants } : {}),
      load_average: [loadAtStart, os.loadavg()[0]!],
      nice: os.getPriority(),
    };
  } finally {
    if (options.keep || options.buildOnly) await bench.close();
    else {
      await bench.drop();
      fs.rmSync(recordFile, { force: true });
    }
  }
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

/** Products drawn for `measureUnreachable`. */
export const UNREACHABLE_SAMPLE = 1000;

/**
 * How many products, searched with their own vector (kNN, no filter, 10 hits), do not come back: at 1,000,000 products
 * the merged HNSW graph of 2026-12-07 left about 8 % of them out at num_candidates 100 (4 % at 1,000), which is where
 * filtered recall stops growing with num_candidates. Lucene links a new vector to diverse neighbours only, and a
 * vector in a dense neighbourhood (many products alike) can end with no link to it: no search reaches it but an
 * exact one.
 */
async function measureUnreachable(es: Client, alias: string, catalog: ScaleCatalog, models: string[], size: number, random: () => number): Promise<NonNullable<ScaleResult['unreachable']>> {
  const drawn = Array.from({ length: Math.min(UNREACHABLE_SAMPLE, size) }, () => Math.floor(random() * size));
  const out: NonNullable<ScaleResult['unreachable']> = {};
  for (const model of models) {
    const own = (i: number) => Array.from(catalog.files[model]!.read(i, 1));
    const missed = async (ids: number[], numCandidates: number, label: string) => {
      const timed = await runShuffled(ids, (i) => timedSearch(es, alias, knnRequest(model, own(i), [], { exact: false, numCandidates })), random, label);
      return ids.filter((i, n) => !timed[n]!.ids.includes(`p${i}`));
    };
    const at100 = await missed(drawn, 100, `${alias}: ${model}, own vectors (num_candidates 100)`);
    const at1000 = await missed(at100, 1000, `${alias}: ${model}, own vectors not found, again (num_candidates 1000)`);
    out[model] = { sampled: drawn.length, at_100: at100.length, at_1000: at1000.length };
  }
  return out;
}
