/**
 * `npm run bench:hybrid-candidates -- [--size 1000000] [--config int8] [--queries 100] [--heuristic acorn|fanout] [--levels all,half,twentieth,quarter,eighth]`:
 * which models should propose a hybrid search's candidates (HYBRID_CANDIDATES): the model weighted most (`lead`) or
 * every model (`all`), under Lucene's way of searching the graph under a filter that the index has
 * (`index.dense_vector.hnsw_filter_heuristic`: the catalog index sets `fanout`) or `--heuristic` sets for the run (the
 * index's own restored after).
 *
 * Runs against the catalog that `npm run bench:catalog-scale -- --sizes <size> --configs <config> --keep` built and
 * kept (alias bench-scale-<size>-<config>; opened for the run when closed, and closed again after). Queries: the
 * catalog-scale benchmark's dev-set photos of real catalog products (640 px JPEGs, every distortion), embedded as the
 * API embeds them. For each filter level of that benchmark, the exact hybrid top 10 (Σ wᵢ · cosᵢ over every product
 * that passes, computed here from the catalog's own vectors: the real products' and the generated ones' files) is the
 * truth; the ways run the service's two requests (core/search/catalog-search.ts) in a random order per query:
 * recall@10 of the exact hybrid, the first result the same as the exact one's, recall@1 of the real product (no
 * filter), and the time of the two requests. Writes benchmarks/results/hybrid-candidates-<heuristic>.{md,json} (with -<config> after the heuristic for a configuration other than int8, and the levels' names after that when `--levels` names them).
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadConfig, type HybridCandidates } from '../core/config';
import { createEmbedder } from '../core/embedding/embedder';
import { createLogger } from '../core/logger';
import { createProgress } from '../core/progress';
import { seededRandom, shuffle } from '../core/random';
import { buildFusionBody, hybridCandidates, searchCandidates, type CatalogSearchOptions } from '../core/search/catalog-search';
import { createElasticsearchClient } from '../core/search/elasticsearch';
import { buildFilterClauses } from '../core/search/filters';
import { buildDevSet } from './lib/devset';
import { row } from './lib/embed';
import { filterShares, recall, RECALL_DEPTH, splitFilters } from './lib/knn-measure';
import { fixed, latencyStats, writeResult, type LatencyStats } from './lib/report';
import { scaleCatalog } from './lib/scale-catalog';
import { benchAlias } from './lib/scale-measure';
import { FILTER_LEVELS as SCALE_LEVELS, LEVELS as SCALE_LEVEL_NAMES } from './lib/scale-setup';
import { cacheKey, cachedEmbeddings } from './lib/vector-cache';

const { values: args } = parseArgs({ options: { size: { type: 'string', default: '1000000' }, config: { type: 'string', default: 'int8' }, queries: { type: 'string', default: '100' }, heuristic: { type: 'string' }, levels: { type: 'string' } } });
/**
 * Filter levels: catalog-scale's three (no filter, ≈ 50 %, ≈ 5 %), and between them, for where the choice of
 * HYBRID_LEAD_SHARE turns (`--levels`, comma-separated names): ≈ 25 % (in stock, price ≤ 97.2) and ≈ 13 %
 * (bench:search-latency's filter: price ≤ 100, in stock, size M).
 */
const FILTER_LEVELS: typeof SCALE_LEVELS = {
  ...SCALE_LEVELS,
  quarter: { label: '≈ 25 % pass', filters: { available: true, price: { lte: 97.2 } } },
  eighth: { label: '≈ 13 % pass', filters: { price: { lte: 100 }, available: true, sizes: ['M'] } },
};
const LEVELS = args.levels ? args.levels.split(',') : SCALE_LEVEL_NAMES;
for (const level of LEVELS) if (!FILTER_LEVELS[level]) throw new Error(`--levels: one of ${Object.keys(FILTER_LEVELS).join(', ')}, not ${level}`);
/** The levels' definitions (for the default levels the same object as catalog-scale's, so the same cache key). */
const LEVEL_FILTERS = args.levels ? Object.fromEntries(LEVELS.map((level) => [level, FILTER_LEVELS[level]!])) : SCALE_LEVELS;
const heuristic = args.heuristic;
if (heuristic !== undefined && !['acorn', 'fanout'].includes(heuristic)) throw new Error(`--heuristic: acorn or fanout, not ${heuristic}`);
const HEURISTIC_SETTING = 'index.dense_vector.hnsw_filter_heuristic';
const size = Number(args.size);
const configName = args.config!;
const queryCount = Number(args.queries);
const command = `npm run bench:hybrid-candidates -- --size ${size} --config ${configName} --queries ${queryCount}${heuristic ? ` --heuristic ${heuristic}` : ''}${args.levels ? ` --levels ${args.levels}` : ''}`;
const root = path.resolve(__dirname, '..');
const cacheDirectory = path.join(root, '.cache', 'catalog-scale');
/**
 * The ways compared: the two HYBRID_CANDIDATES settings (`auto` picks one of them by the filter's share), and under a
 * filter `split`: what `auto` picks, with each filter clause joined to the photos on its own as the API sent it before
 * 2026-12-07 (benchmarks/lib/knn-measure.ts splitFilters; now one `bool` of them is joined once).
 */
type WayName = HybridCandidates | 'split';
const waysAt = (level: string): WayName[] => (FILTER_LEVELS[level]!.filters ? ['lead', 'all', 'split'] : ['lead', 'all']);
/** Rows scored at a time in the exact pass. */
const CHUNK = 2000;

interface Way {
  candidates: WayName;
  /** Per level: the two requests' time, the candidates request's, recall@10 of the exact hybrid, first result as the exact one's. */
  levels: Record<string, { two_requests_ms: LatencyStats; candidates_ms: LatencyStats; recall_at_10: number; first_as_exact: number; real_recall_at_1?: number }>;
}

/** The products (row numbers) that pass each filter level, read from the index. */
async function passing(es: ReturnType<typeof createElasticsearchClient>, alias: string, level: string): Promise<Uint8Array | null> {
  const filters = FILTER_LEVELS[level]!.filters;
  if (!filters) return null;
  const pass = new Uint8Array(size);
  let after: unknown[] | undefined;
  const bar = createProgress(`products passing "${FILTER_LEVELS[level]!.label}"`);
  let seen = 0;
  for (;;) {
    const response = await es.search({ index: alias, size: 10_000, _source: false, track_total_hits: false, query: { bool: { filter: buildFilterClauses(filters) } }, sort: ['_doc'], ...(after ? { search_after: after as never } : {}) });
    const hits = response.hits.hits;
    if (hits.length === 0) break;
    for (const hit of hits) pass[Number(hit._id!.slice(1))] = 1;
    seen += hits.length;
    bar.update(seen, size);
    after = hits[hits.length - 1]!.sort;
  }
  bar.done();
  return pass;
}

/** The exact weighted top RECALL_DEPTH of every query at every level, in one pass over the catalog's vectors. */
function exactHybrid(files: ReturnType<typeof scaleCatalog>['files'], queries: Record<string, Float32Array>, dims: Record<string, number>, weights: Record<string, number>, passes: Record<string, Uint8Array | null>): Record<string, string[][]> {
  const models = Object.keys(weights);
  const tops = Object.fromEntries(LEVELS.map((level) => [level, Array.from({ length: queryCount }, () => [] as Array<[number, number]>)]));
  const bar = createProgress(`exact hybrid over ${size.toLocaleString('en')} products`);
  const scores = new Float32Array(CHUNK);
  for (let from = 0; from < size; from += CHUNK) {
    const n = Math.min(CHUNK, size - from);
    const rows = Object.fromEntries(models.map((id) => [id, files[id]!.read(from, n)]));
    for (let q = 0; q < queryCount; q++) {
      scores.fill(0);
      for (const id of models) {
        const d = dims[id]!;
        const query = row(queries[id]!, d, q);
        const block = rows[id]!;
        const w = weights[id]!;
        for (let i = 0; i < n; i++) {
          let dot = 0;
          const offset = i * d;
          for (let k = 0; k < d; k++) dot += block[offset + k]! * query[k]!;
          scores[i] = scores[i]! + w * dot;
        }
      }
      for (const level of LEVELS) {
        const pass = passes[level];
        const top = tops[level]![q]!;
        for (let i = 0; i < n; i++) {
          if (pass && !pass[from + i]) continue;
          if (top.length === RECALL_DEPTH && scores[i]! <= top[RECALL_DEPTH - 1]![0]) continue;
          top.push([scores[i]!, from + i]);
          top.sort((a, b) => b[0] - a[0]);
          if (top.length > RECALL_DEPTH) top.pop();
        }
      }
    }
    bar.update(from + n, size);
  }
  bar.done();
  return Object.fromEntries(LEVELS.map((level) => [level, tops[level]!.map((top) => top.map(([, i]) => `p${i}`))]));
}

async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
  const weights = config.search.weights;
  const alias = benchAlias(size, configName);
  const es = createElasticsearchClient(config.elasticsearch);
  const concrete = Object.keys(await es.indices.get({ index: alias, expand_wildcards: 'all' }).catch(() => ({}))).at(0);
  if (!concrete) throw new Error(`no index ${alias}: build it first with npm run bench:catalog-scale -- --sizes ${size} --configs ${configName} --keep`);
  const wasClosed = (await es.cat.indices({ index: concrete, format: 'json', expand_wildcards: 'all' }))[0]?.status === 'close';
  if (wasClosed) await es.indices.open({ index: concrete, wait_for_active_shards: 1 });
  const settings = await es.indices.getSettings({ index: concrete, name: HEURISTIC_SETTING, include_defaults: true, flat_settings: true });
  const own = (settings[concrete]?.settings as Record<string, string> | undefined)?.[HEURISTIC_SETTING];
  const used = heuristic ?? own ?? (settings[concrete]?.defaults as Record<string, string> | undefined)?.[HEURISTIC_SETTING] ?? 'the default';
  if (heuristic) await es.indices.putSettings({ index: concrete, settings: { [HEURISTIC_SETTING]: heuristic } });
  try {
    // The catalog-scale benchmark's queries: dev-set photos of real products, as the 640 px JPEGs a client sends.
    const devset = await buildDevSet(path.join(root, '.cache', 'devset'), { perCategory: 100, queryItems: 300, seed: 7 });
    const picked = shuffle(devset.queries, seededRandom(11)).slice(0, queryCount);
    const uploads = await Promise.all(picked.map((query) => sharp(query.photo).resize(640, 640, { fit: 'inside' }).jpeg({ quality: 85 }).toBuffer()));
    const position = new Map(devset.catalog.map((item, i) => [item.id, i]));
    const targets = picked.map((query) => `p${position.get(query.item)}`);
    const embedder = await createEmbedder(config, createLogger(config));
    const dims = Object.fromEntries(embedder.models.map((model) => [model.id, model.dims]));
    const real = await cachedEmbeddings(embedder, devset.catalog.map((item) => item.photo), 'auto', cacheDirectory, 'catalog');
    const queries = await cachedEmbeddings(embedder, uploads, 'auto', cacheDirectory, 'hybrid-queries');
    await embedder.close();
    const catalog = scaleCatalog(devset, real, dims, cacheDirectory);
    const have = Math.min(...Object.values(catalog.files).map((file) => file.rows));
    if (have < size) throw new Error(`the generated catalog holds ${have} products, fewer than ${size}: run bench:catalog-scale at this size first`);

    const exactFile = path.join(cacheDirectory, `hybrid-exact-${size}-${cacheKey({ generator: catalog.generator, targets, weights, levels: LEVEL_FILTERS })}.json`);
    let exact: Record<string, string[][]>;
    if (fs.existsSync(exactFile)) exact = JSON.parse(fs.readFileSync(exactFile, 'utf8')) as Record<string, string[][]>;
    else {
      const passes: Record<string, Uint8Array | null> = {};
      for (const level of LEVELS) passes[level] = await passing(es, alias, level);
      const started = performance.now();
      exact = exactHybrid(catalog.files, queries, dims, weights, passes);
      process.stderr.write(`exact hybrid: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
      fs.writeFileSync(exactFile, JSON.stringify(exact));
    }

    const random = seededRandom(5);
    const clauses = Object.fromEntries(LEVELS.map((level) => [level, buildFilterClauses(FILTER_LEVELS[level]!.filters ?? {})]));
    // The share of the catalog each filter passes, by which the API chooses (HYBRID_CANDIDATES=auto: core/search/filter-share.ts).
    const shares = await filterShares(es, alias, clauses, size);
    /** Query `q`'s hybrid at `level` with the candidates of `way`: the service's two requests, timed. */
    const unjoined = splitFilters(es);
    const hybrid = async (q: number, level: string, way: WayName) => {
      const vectors = Object.fromEntries(Object.keys(weights).map((id) => [id, Array.from(row(queries[id]!, dims[id]!, q))]));
      const candidates = way === 'split' ? hybridCandidates('auto', true, shares[level]) : way;
      const client = way === 'split' ? unjoined : es;
      const options: CatalogSearchOptions = { vectors, weights, size: RECALL_DEPTH, candidates, filters: clauses[level]!, mode: 'knn', facets: false };
      const started = performance.now();
      // As the service sends them (core/search/catalog-search.ts): one request per proposing model, in one msearch.
      const ids = await searchCandidates(client, alias, options);
      const between = performance.now();
      const fused = ids.length > 0 ? (await client.search({ index: alias, ...buildFusionBody(options, ids) })).hits.hits.map((hit) => hit._id!) : [];
      return { fused, candidatesMs: between - started, totalMs: performance.now() - started };
    };
    // Warm-up, not measured: an index just opened answers its first searches from cold structures.
    for (let q = 0; q < Math.min(30, queryCount); q++) for (const level of LEVELS) for (const way of waysAt(level)) await hybrid(q, level, way);
    const ways: Way[] = (['lead', 'all', 'split'] as WayName[]).map((candidates) => ({ candidates, levels: {} }));
    for (const level of LEVELS) {
      const measured = Object.fromEntries(waysAt(level).map((way) => [way, { two: [] as number[], first: [] as number[], recall: 0, same: 0, real: 0 }]));
      const bar = createProgress(`${alias}: hybrid, ${FILTER_LEVELS[level]!.label}`);
      for (let q = 0; q < queryCount; q++) {
        for (const way of shuffle(waysAt(level), random)) {
          const { fused, candidatesMs, totalMs } = await hybrid(q, level, way);
          const m = measured[way]!;
          m.two.push(totalMs);
          m.first.push(candidatesMs);
          m.recall += recall(fused, exact[level]![q]!);
          if (fused[0] === exact[level]![q]![0]) m.same++;
          if (fused[0] === targets[q]) m.real++;
        }
        bar.update(q + 1, queryCount);
      }
      bar.done();
      for (const way of ways) {
        const m = measured[way.candidates];
        if (!m) continue;
        way.levels[level] = { two_requests_ms: latencyStats(m.two), candidates_ms: latencyStats(m.first), recall_at_10: m.recall / queryCount, first_as_exact: m.same / queryCount, ...(level === 'all' ? { real_recall_at_1: m.real / queryCount } : {}) };
      }
    }

    const label: Record<WayName, string> = { lead: '`lead`: the model weighted most', all: '`all`: every model', split: 'as `auto`, each filter clause joined to the photos on its own (before 2026-12-07)' };
    const chosen = (level: string, way: WayName) => (hybridCandidates('auto', FILTER_LEVELS[level]!.filters !== undefined, shares[level]) === way ? ' (the default, `auto`)' : '');
    const ms = (s: LatencyStats) => `${fixed(s.p50, 1)} / ${fixed(s.p95, 1)} / ${fixed(s.p99, 1)}`;
    const lines = [
      `# Hybrid search: which models propose the candidates`,
      '',
      `${size.toLocaleString('en')} products (\`${alias}\`, built by \`bench:catalog-scale\`: ${devset.catalog.length.toLocaleString('en')} real products, the rest generated around them), one photo each; graph search under a filter: \`${used}\` (\`${HEURISTIC_SETTING}\`); weights ${Object.entries(weights).map(([id, w]) => `${id} ${w}`).join(' / ')}.`,
      `${queryCount} dev-set photos of real catalog products (640 px JPEGs, every distortion; the catalog-scale benchmark's first ${queryCount}). The hybrid runs in two requests (core/search/catalog-search.ts): the candidates (${RECALL_DEPTH * 10} by default), then the weighted sum of every model over exactly those. \`HYBRID_CANDIDATES\` says which models propose them. Truth: the exact hybrid top ${RECALL_DEPTH} over every product that passes the filter, computed from the catalog's vectors. The ways in a random order per query, after a warm-up of 30 queries, against the same Elasticsearch node.`,
      '',
      '| filter | candidates from | both requests p50 / p95 / p99 ms | candidates request p50 / p95 / p99 ms | recall@10 of the exact hybrid | first result as the exact one | recall@1 of the real product |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...LEVELS.flatMap((level) => ways.filter((way) => way.levels[level]).map((way) => {
        const r = way.levels[level]!;
        return `| ${FILTER_LEVELS[level]!.label}${FILTER_LEVELS[level]!.filters ? ` (${fixed(100 * shares[level]!, 1)} %)` : ''} | ${label[way.candidates]}${chosen(level, way.candidates)} | ${ms(r.two_requests_ms)} | ${ms(r.candidates_ms)} | ${fixed(r.recall_at_10)} | ${fixed(r.first_as_exact)} | ${r.real_recall_at_1 !== undefined ? fixed(r.real_recall_at_1) : ''} |`;
      })),
      '',
      "The real product's recall@1 is only counted without a filter (a filter may leave it out). A filter's measured share of the catalog is in brackets. `HYBRID_CANDIDATES=auto` (the default) asks the model weighted most alone when a search has no filters or filters that pass at least `HYBRID_LEAD_SHARE` of the catalog, and every model when they pass less: under a selective filter each model's filtered graph search misses products that the other finds.",
    ];
    // int8 (the configuration first measured) keeps its names; another configuration's results are apart.
    writeResult(`hybrid-candidates-${used}${configName === 'int8' ? '' : `-${configName}`}${args.levels ? `-${LEVELS.join('-')}` : ''}`, command, { size, config: configName, alias, queries: queryCount, weights, filter_heuristic: used, levels: LEVEL_FILTERS, shares, ways }, lines.join('\n'));
  } finally {
    if (heuristic) await es.indices.putSettings({ index: concrete, settings: { [HEURISTIC_SETTING]: own ?? null } });
    if (wasClosed) await es.indices.close({ index: concrete });
    await es.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:hybrid-candidates: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
