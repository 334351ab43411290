import type { Client } from '@elastic/elasticsearch';
import { DEFAULT_CATALOG, documentId, MAX_IMAGES } from '../catalog';
import { DEFAULT_LEAD_SHARE, type HybridCandidates, type HybridCandidatesSetting } from '../config';
import { PHOTOS_PATH, regionsField, vectorField } from './catalog-mapping';
import { assertAllShards, MsearchItemError, NO_PARTIAL_RESULTS, searchAllShards } from './elasticsearch';
import { innerHits, knnClause, type FilterClause } from './filters';
import { MAX_NUM_CANDIDATES } from './search-request';

/**
 * One search of the catalog with vectors that are already known: what the API runs, and what the latency benchmark
 * runs against Elasticsearch directly to measure what the API adds.
 *
 * kNN, one model: one kNN clause, pre-filtered. kNN, several models (the hybrid): the score of a product is
 * Σ wᵢ · (1 + cosᵢ) / 2 (weights normalised to sum 1: a similarity in 0..1), as measured on the dev set. A `knn` array
 * with a boosted clause per model adds scores up, but a product only gets the share of the clauses whose nearest
 * neighbours it is among: a product that the colour model ranks 150th loses its colour share entirely, and a colour
 * cast on a photo of a catalog item is enough for that (recall@1 fell from 0.98 to 0.89 on such photos). So the
 * hybrid runs in two requests:
 * 1. candidates: the `num_candidates` nearest by every model, or by the model weighted most alone (ids only;
 *    `hybridCandidates` says which), unless already known (`knownCandidates`: a photo asked whole first);
 * 2. the same boosted clauses restricted to those candidates (an `ids` filter), answered by an exact search: every
 *    candidate gets every model's share, and the best `size` of the complete sums come back with their fields (and
 *    facets). Elasticsearch searches exactly when the filter passes no more vectors than `num_candidates`; the filter
 *    passes every photo of the candidates, so `num_candidates` is their most photos (MAX_IMAGES each): with it equal to
 *    the candidates, a catalog of 4 photos a product walked the graph before falling back to the exact search (the two
 *    requests' p50 22.5 → 17.1 ms at 100,000 × 4 photos, the same answers; docs/index.md).
 * Exact mode: the same weighted cosine in a `script_score` over every photo of every product that passes the filters,
 * a product scored by its best photo (needs painless).
 *
 * The vectors are those of each product's photos (a nested field): a product is scored by its best photo, one hit per
 * product, and each hit's inner hits (one per model, named after it) say which photo matched (`matchedImage` in
 * core/search/photos.ts).
 */
export const PRODUCT_FIELDS = ['id', 'catalog', 'title', 'brand', 'category', 'color', 'sizes', 'price', 'currency', 'available', 'signals', 'images', 'image_url', 'image_hash'];

export const FACETS = {
  brand: { terms: { field: 'brand', size: 20 } },
  category: { terms: { field: 'category', size: 20 } },
  sizes: { terms: { field: 'sizes', size: 30 } },
  price: { range: { field: 'price', ranges: [{ to: 25 }, { from: 25, to: 50 }, { from: 50, to: 100 }, { from: 100, to: 200 }, { from: 200 }] } },
};

export interface CatalogSearchOptions {
  /** One unit vector per model (the models to search). */
  vectors: Record<string, number[]>;
  /** A weight per model in `vectors`; normalised here to sum 1. */
  weights: Record<string, number>;
  /** How many hits to fetch (the caller may show fewer). */
  size: number;
  /** Requested candidates per model; clamped to [size, MAX_NUM_CANDIDATES], default max(100, 10·size). */
  numCandidates?: number;
  filters: FilterClause[];
  mode: 'knn' | 'exact';
  facets: boolean;
  /**
   * Which models propose a hybrid's candidates (`hybridCandidates`): `lead`, the model weighted most (the first of
   * equals), or `all`, every model (the default). The others score the candidates in the fusion either way.
   */
  candidates?: HybridCandidates;
  /**
   * A model with region descriptors: each hit's matched photo (that model's inner hit) comes back with its descriptor,
   * for the precision stage (`rerank`).
   */
  regions?: string;
  /**
   * A hybrid's candidates when they are already known: the proposing models' nearest, as step 1 would ask them (a
   * photo asked whole first by the model weighted most, without filters: `idsOnly`). Only the fusion runs; a
   * one-request search (one model, or exact mode) ignores them.
   */
  knownCandidates?: string[];
  /**
   * Ids and scores only, each model's `size` nearest (no fields, no matched photo): what a hybrid's step 1 asks of one
   * model, for a caller that may hand the answer on as `knownCandidates`.
   */
  idsOnly?: boolean;
}

export function numCandidatesFor(size: number, requested?: number): number {
  return Math.min(MAX_NUM_CANDIDATES, Math.max(size, requested ?? Math.max(100, size * 10)));
}

function normalisedWeights(options: CatalogSearchOptions): Record<string, number> {
  const used = Object.keys(options.vectors);
  const total = used.reduce((sum, id) => sum + (options.weights[id] ?? 0), 0);
  if (used.length === 0 || !(total > 0)) throw new Error('a search needs at least one vector with a positive weight');
  return Object.fromEntries(used.map((id) => [id, (options.weights[id] ?? 0) / total]));
}

/**
 * What an ids-only request fetches of each hit: its product id and catalog from doc values, no stored field. The
 * `_id` is a stored field, and reading it decompresses the stored-fields block that holds the document's `_source`,
 * which the photos' region descriptors make large (about 34 KB for 4 photos): at 100,000 products x 4 photos, the
 * 100 candidates' `_id`s made a 4.9 ms request (p50) take 13.7 ms (docs/index.md). `idsOf` rebuilds each `_id`.
 */
const IDS_ONLY = { _source: false, stored_fields: ['_none_'], docvalue_fields: ['id', 'catalog'] };

/** The hits of an ids-only request with their `_id`s, rebuilt from the ids and catalogs fetched (`IDS_ONLY`). */
export function idsOf<T extends { _id?: string | null; fields?: Record<string, unknown> }>(hits: T[]): T[] {
  return hits.map((hit) => {
    if (hit._id !== undefined && hit._id !== null) return hit;
    const id = (hit.fields?.id as string[] | undefined)?.[0];
    const catalog = (hit.fields?.catalog as string[] | undefined)?.[0] ?? DEFAULT_CATALOG;
    return id === undefined ? hit : { ...hit, _id: documentId(catalog, id) };
  });
}

/** Boosted, pre-filtered kNN clauses, one per model; with `matchedPhoto`, each names the photo it matched after its model. */
function knnClauses(options: CatalogSearchOptions, weights: Record<string, number>, k: number, numCandidates: number, filters: FilterClause[], matchedPhoto = true): Array<Record<string, unknown>> {
  return Object.keys(weights).map((id) =>
    knnClause({ field: vectorField(id), vector: options.vectors[id]!, k, numCandidates, filters, boost: weights[id]!, ...(matchedPhoto ? { innerHits: id, ...(options.regions === id ? { innerHitsSource: [regionsField(id)] } : {}) } : {}) }),
  );
}

/** The request of a one-request search: exact mode, or kNN with one model. */
export function buildSearchBody(options: CatalogSearchOptions): Record<string, unknown> {
  const weights = normalisedWeights(options);
  const numCandidates = numCandidatesFor(options.size, options.numCandidates);
  if (options.idsOnly) {
    if (options.mode !== 'knn' || options.facets) throw new Error('idsOnly is a kNN search without facets');
    return { size: options.size, ...IDS_ONLY, knn: knnClauses(options, weights, options.size, numCandidates, options.filters, false) };
  }
  return {
    size: options.size,
    _source: PRODUCT_FIELDS,
    // Facets count every candidate (as in a hybrid's step 2), not only the hits shown.
    ...(options.mode === 'exact' ? { query: exactQuery(options.vectors, weights, options.filters, options.regions) } : { knn: knnClauses(options, weights, options.facets ? numCandidates : options.size, numCandidates, options.filters) }),
    ...(options.facets ? { aggs: FACETS } : {}),
  };
}

/**
 * Which models propose a search's candidates under the HYBRID_CANDIDATES setting. `auto`: the model weighted most
 * alone for a search without filters or whose filters pass at least `leadShare` of the catalog (`share`, when known:
 * core/search/filter-share.ts), every model otherwise. Measured at 1,000,000 products
 * (benchmarks/results/hybrid-candidates-fanout-int8-m32-ct4.md, the index defaults): without filters the main model's
 * candidates hold 0.981 of the exact hybrid's top 10 against 0.985 from every model, in 15.6 against 54.4 ms p50;
 * with half the catalog passing 0.988 against 0.992 (31.6 against 68.7 ms; 0.992 against 0.996 on an earlier build of
 * the index); with 5 % passing 0.929 against 0.990: under a selective filter each model's filtered graph search
 * misses products that the other finds (products its graph cannot reach: docs/scaling.md).
 */
export function hybridCandidates(setting: HybridCandidatesSetting, filtered: boolean, share?: number, leadShare = DEFAULT_LEAD_SHARE): HybridCandidates {
  if (setting !== 'auto') return setting;
  if (!filtered) return 'lead';
  return share !== undefined && share >= leadShare ? 'lead' : 'all';
}

/** The models that propose a hybrid's candidates, with their weights: the one weighted most, or every model. */
function proposing(options: CatalogSearchOptions, weights: Record<string, number>): Record<string, number> {
  if (options.candidates !== 'lead') return weights;
  const [lead] = Object.entries(weights).reduce((best, entry) => (entry[1] > best[1] ? entry : best));
  return { [lead]: weights[lead]! };
}

/**
 * Hybrid step 1: the nearest candidates of the model weighted most (or of every model), ids only: one request per
 * proposing model, sent together in one `msearch`, so that Elasticsearch searches the models' graphs side by side
 * (one request with a kNN clause per model searches them one after the other: at 1,000,000 products under a filter
 * passing 5 %, the two requests of the hybrid p50 42.5 against 31.1 ms: benchmarks/results/catalog-scale.md). The
 * candidates are the union of their hits (`candidateIds`), the set the one request returned.
 */
export function buildCandidatesBodies(options: CatalogSearchOptions): Array<Record<string, unknown>> {
  const weights = proposing(options, normalisedWeights(options));
  const numCandidates = numCandidatesFor(options.size, options.numCandidates);
  return Object.entries(weights).map(([id, weight]) => ({
    size: numCandidates,
    ...IDS_ONLY,
    knn: knnClauses(options, { [id]: weight }, numCandidates, numCandidates, options.filters, false),
  }));
}

/**
 * The candidates of step 1: every proposing model's hits, each id once, at most MAX_NUM_CANDIDATES (taken rank by
 * rank across the models when more: only with num_candidates above half of it).
 */
export function candidateIds(hitLists: Array<Array<{ _id?: string | null }>>): string[] {
  const out = new Set<string>();
  const longest = Math.max(0, ...hitLists.map((hits) => hits.length));
  for (let rank = 0; rank < longest && out.size < MAX_NUM_CANDIDATES; rank++) {
    for (const hits of hitLists) {
      const id = hits[rank]?._id;
      if (id) out.add(id);
      if (out.size >= MAX_NUM_CANDIDATES) break;
    }
  }
  return [...out];
}

/** The fusion's num_candidates: every photo the candidates may have, so that Elasticsearch searches them exactly. */
export const fusionCandidates = (candidates: number): number => Math.min(MAX_NUM_CANDIDATES, candidates * MAX_IMAGES);

/** Hybrid step 2: the complete weighted sum over the candidates (an exact search of each model's field). */
export function buildFusionBody(options: CatalogSearchOptions, candidates: string[]): Record<string, unknown> {
  const weights = normalisedWeights(options);
  const filters = [...options.filters, { ids: { values: candidates } }];
  return {
    size: options.size,
    _source: PRODUCT_FIELDS,
    knn: knnClauses(options, weights, candidates.length, fusionCandidates(candidates.length), filters),
    ...(options.facets ? { aggs: FACETS } : {}),
  };
}

export interface CatalogHit {
  _id?: string;
  _score?: number | null;
  _source?: Record<string, unknown>;
  /** Per kNN clause (model), the photo that matched: read by `matchedImage`. */
  inner_hits?: Record<string, unknown>;
}

export interface CatalogSearchResponse {
  hits: CatalogHit[];
  aggregations?: Record<string, unknown>;
  /** The search's own scores when a precision stage re-scored the hits (core/rerank/rescore.ts): the verdict's input. */
  similarities?: number[];
}

/** A hybrid kNN search takes two requests: candidates (unless known), then fusion. */
const isHybrid = (options: CatalogSearchOptions): boolean => options.mode === 'knn' && Object.keys(options.vectors).length > 1 && !options.idsOnly;
/** What a hybrid search whose candidates step found nothing answers. */
const noCandidates = (options: CatalogSearchOptions): CatalogSearchResponse => ({ hits: [], ...(options.facets ? { aggregations: {} } : {}) });

/** Runs one search (one request, or two for a hybrid kNN search). */
export async function searchCatalog(es: Client, index: string, options: CatalogSearchOptions): Promise<CatalogSearchResponse> {
  if (!isHybrid(options)) {
    const response = await searchAllShards<Record<string, unknown>>(es, { index, ...buildSearchBody(options) });
    return { hits: idsOf(response.hits.hits), aggregations: response.aggregations as Record<string, unknown> | undefined };
  }
  const ids = options.knownCandidates ?? (await searchCandidates(es, index, options));
  if (ids.length === 0) return noCandidates(options);
  const response = await searchAllShards<Record<string, unknown>>(es, { index, ...buildFusionBody(options, ids) });
  return { hits: response.hits.hits, aggregations: response.aggregations as Record<string, unknown> | undefined };
}

/** Hybrid step 1 alone: the candidates' ids (one request for one proposing model, an msearch for several). */
export async function searchCandidates(es: Client, index: string, options: CatalogSearchOptions): Promise<string[]> {
  const bodies = buildCandidatesBodies(options);
  if (bodies.length === 1) return candidateIds([idsOf((await searchAllShards<Record<string, unknown>>(es, { index, ...bodies[0]! })).hits.hits)]);
  return candidateIds((await msearchAll(es, index, bodies)).map((answer) => answer.hits));
}

function exactQuery(vectors: Record<string, number[]>, weights: Record<string, number>, filters: FilterClause[], regions?: string): Record<string, unknown> {
  const used = Object.keys(weights);
  const source = used.map((id, i) => `params.w${i} * (cosineSimilarity(params.q${i}, '${vectorField(id)}') + 1.0) / 2.0`).join(' + ');
  const params = Object.fromEntries(used.flatMap((id, i) => [[`q${i}`, vectors[id]], [`w${i}`, weights[id]]]));
  const photos = {
    nested: {
      path: PHOTOS_PATH,
      score_mode: 'max',
      inner_hits: innerHits('exact', regions ? [regionsField(regions)] : undefined),
      query: {
        script_score: {
          query: { bool: { filter: used.map((id) => ({ exists: { field: vectorField(id) } })) } },
          script: { source, params },
        },
      },
    },
  };
  // The product filters score nothing: a product's score is its best photo's.
  return { bool: { filter: filters, must: [photos] } };
}

/**
 * Several searches in one `msearch` round trip (two for hybrid kNN: every search's candidates, then every fusion),
 * answered in order: how localization searches each candidate region of a photo, and `objects` each object.
 */
export async function searchCatalogMany(es: Client, index: string, searches: CatalogSearchOptions[]): Promise<CatalogSearchResponse[]> {
  if (searches.length === 0) return [];
  const hybrid = searches.map(isHybrid);
  // One-request searches and every hybrid's candidates (a request per proposing model; none when known) in the first
  // round trip, which is skipped when it has nothing to ask.
  const firstBodies = searches.map((options, i) => (hybrid[i] ? (options.knownCandidates ? [] : buildCandidatesBodies(options)) : [buildSearchBody(options)]));
  const answers = await msearchAll(es, index, firstBodies.flat());
  let next = 0;
  const first = firstBodies.map((bodies) => answers.slice(next, (next += bodies.length)));
  const fusions = searches.flatMap((options, i) => {
    if (!hybrid[i]) return [];
    const ids = options.knownCandidates ?? candidateIds(first[i]!.map((answer) => answer.hits));
    return ids.length > 0 ? [{ i, body: buildFusionBody(options, ids) }] : [];
  });
  const fused = await msearchAll(es, index, fusions.map((fusion) => fusion.body));
  const out = searches.map((options, i) => (hybrid[i] ? noCandidates(options) : first[i]![0]!));
  fusions.forEach((fusion, j) => (out[fusion.i] = fused[j]!));
  return out;
}

/** Searches in one `msearch` round trip, answered in order; an item's error, or a shard's failure, throws. */
async function msearchAll(es: Client, index: string, bodies: Array<Record<string, unknown>>): Promise<CatalogSearchResponse[]> {
  if (bodies.length === 0) return [];
  const response = await es.msearch<Record<string, unknown>>({ index, searches: bodies.flatMap((body) => [NO_PARTIAL_RESULTS, body]) });
  return response.responses.map((item) => {
    if ('error' in item) throw new MsearchItemError(item.status ?? 500, item.error);
    assertAllShards(item);
    return { hits: idsOf(item.hits.hits), aggregations: item.aggregations as Record<string, unknown> | undefined };
  });
}
