import type { Client } from '@elastic/elasticsearch';
import { performance } from 'node:perf_hooks';
import { createProgress } from '../../core/progress';
import { shuffle } from '../../core/random';
import { denseVectorMapping, type VectorFieldSpec } from '../../core/search/catalog-mapping';
import { buildSearchBody, hybridCandidates, searchCatalog } from '../../core/search/catalog-search';
import type { FilterClause } from '../../core/search/filters';

/**
 * Approximate kNN against exact search of the same filtered set, in Elasticsearch alone. The test distribution has no
 * painless, so exact search is Elasticsearch's own brute force: a copy of each vector field indexed `flat` (every
 * vector that passes the filters is compared), in the benchmark's index only.
 */

/** The object that holds the exact copies: `exact.<model>`. */
export const EXACT_OBJECT = 'exact';
export const exactField = (modelId: string): string => `${EXACT_OBJECT}.${modelId}`;

/** The mapping of the exact copies: each model's field as the catalog maps it, but `flat`. */
export function exactCopyProperties(specs: VectorFieldSpec[]): Record<string, unknown> {
  return {
    [EXACT_OBJECT]: {
      type: 'object',
      dynamic: 'strict',
      properties: Object.fromEntries(specs.map((spec) => [spec.modelId, denseVectorMapping({ ...spec, index: { ...spec.index, type: 'flat', oversample: 0 } })])),
    },
  };
}

/** Results a recall is counted over. */
export const RECALL_DEPTH = 10;

/**
 * One model's kNN request as the API sends it for one model (core/search/catalog-search.ts `buildSearchBody`), on the
 * catalog's field, or on its exact copy (the same request otherwise); `oversample` overrides the mapping's rescoring.
 */
export function knnRequest(modelId: string, vector: number[], filters: FilterClause[], options: { exact: boolean; numCandidates?: number; oversample?: number }): Record<string, unknown> {
  const body = buildSearchBody({ vectors: { [modelId]: vector }, weights: { [modelId]: 1 }, size: RECALL_DEPTH, numCandidates: options.numCandidates, filters, mode: 'knn', facets: false });
  const clauses = body.knn as Array<Record<string, unknown>>;
  // The exact copy is a top-level field (one photo per benchmark product), so the photo's inner hits go with the path.
  if (options.exact) return { ...body, knn: clauses.map(({ inner_hits: _photo, ...clause }) => ({ ...clause, field: exactField(modelId) })) };
  // A quantized field's rescoring, asked for at query time instead of the mapping's `rescore_vector.oversample`.
  if (options.oversample !== undefined) return { ...body, knn: clauses.map((clause) => ({ ...clause, rescore_vector: { oversample: options.oversample } })) };
  return body;
}

export interface Timed {
  ms: number;
  ids: string[];
}

/** One search, timed from the client (the official client, as the API uses it). */
export async function timedSearch(es: Client, index: string, body: Record<string, unknown>): Promise<Timed> {
  const started = performance.now();
  const response = await es.search({ index, ...body });
  return { ms: performance.now() - started, ids: response.hits.hits.map((hit) => hit._id!) };
}

/** The share of an index's `total` products that each set of filter clauses passes (what the API's FilterShare counts). */
export async function filterShares(es: Client, index: string, clauses: Record<string, FilterClause[]>, total: number): Promise<Record<string, number>> {
  return Object.fromEntries(await Promise.all(Object.entries(clauses).map(async ([level, filter]) => [level, (await es.count({ index, query: { bool: { filter } } })).count / total] as const)));
}

/**
 * The hybrid search as the API runs it by default (two requests; HYBRID_CANDIDATES=auto, `share` the part of the
 * catalog that `filters` pass, as the API counts it), timed.
 */
export async function timedHybrid(es: Client, index: string, vectors: Record<string, number[]>, weights: Record<string, number>, filters: FilterClause[], share: number): Promise<Timed> {
  const started = performance.now();
  const { hits } = await searchCatalog(es, index, { vectors, weights, size: RECALL_DEPTH, candidates: hybridCandidates('auto', filters.length > 0, share), filters, mode: 'knn', facets: false });
  return { ms: performance.now() - started, ids: hits.map((hit) => hit._id!) };
}

/** The share of the exact top `RECALL_DEPTH` that the approximate search found (1 when nothing passes the filters). */
export function recall(found: string[], exact: string[]): number {
  const truth = new Set(exact.slice(0, RECALL_DEPTH));
  if (truth.size === 0) return 1;
  return found.slice(0, RECALL_DEPTH).filter((id) => truth.has(id)).length / truth.size;
}

/**
 * Runs `run` for every item, one at a time in a shuffled order (so that no kind of request always follows another),
 * and returns the results in the items' order.
 */
export async function runShuffled<T>(items: T[], run: (item: T) => Promise<Timed>, random: () => number, label: string): Promise<Timed[]> {
  const out = new Array<Timed>(items.length);
  const order = shuffle(
    items.map((_, i) => i),
    random,
  );
  const bar = createProgress(label);
  let done = 0;
  for (const i of order) {
    out[i] = await run(items[i]!);
    bar.update(++done, items.length);
  }
  bar.done();
  return out;
}

/**
 * The client as the API's requests reached Elasticsearch before 2026-12-07: each filter clause an entry of its own in
 * every kNN clause's filter list (over nested vectors, one join from products to photos per entry) instead of one
 * `bool` of them (core/search/filters.ts knnFilter). Everything else is the same request (`search` and `msearch`).
 */
export function splitFilters(es: Client): Client {
  const split = <T extends Record<string, unknown>>(body: T): T => {
    if (!Array.isArray(body.knn)) return body;
    const knn = (body.knn as Array<Record<string, unknown>>).map((clause) => {
      const [only, ...rest] = (clause.filter as Array<{ bool?: { filter?: unknown[] } }> | undefined) ?? [];
      return rest.length === 0 && only?.bool?.filter && Object.keys(only.bool).length === 1 ? { ...clause, filter: only.bool.filter } : clause;
    });
    return { ...body, knn };
  };
  return new Proxy(es, {
    get(target, property, receiver) {
      if (property === 'msearch') return (params: { searches: Array<Record<string, unknown>> }) => target.msearch({ ...params, searches: params.searches.map(split) } as never);
      if (property === 'search') return (params: Record<string, unknown>) => target.search(split(params) as never);
      return Reflect.get(target, property, receiver);
    },
  });
}
