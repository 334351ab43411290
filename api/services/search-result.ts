import { z } from 'zod';
import { catalogOfSource } from '../../core/catalog';
import { cropBoxSchema } from '../../core/image/autocrop';
import { FACETS, type CatalogHit, type CatalogSearchResponse } from '../../core/search/catalog-search';
import { productFieldsSchema } from '../../core/search/catalog-store';
import { matchedImage } from '../../core/search/photos';
import { MAX_PAGE_DEPTH, encodeCursor, pageAfter, pageDepth, type Ranked } from '../../core/search/paging';
import { rank, reranks, type RankCandidate } from '../../core/search/ranking';
import type { QueryOptions } from '../../core/search/search-request';
import { VERDICT_DEPTH, verdict } from '../../core/search/verdict';
import { RERANK_DEPTH } from '../../core/rerank/rescore';

/**
 * The answer of a search: its schema (the OpenAPI document's SearchResponse) and how catalog hits become results,
 * a verdict, a page and its cursor, and facets.
 */

const facetBucketsSchema = z.array(z.object({ value: z.string(), count: z.number().int().min(0) }));

const resultsSchema = z
  .array(
    z.object({
      id: z.string(),
      score: z.number().min(0).max(1).describe('Weighted similarity, 0..1: that of the photo that matched best'),
      matched_image: z
        .number()
        .int()
        .min(0)
        .describe("The index in `product.images` of the product's photo that matched (0: the main photo); a product comes back once, scored by its best photo"),
      product: productFieldsSchema.omit({ id: true }).partial().describe('The product’s catalog fields; null where it has none'),
      explain: z
        .object({
          similarity: z.number().describe('The similarity (`score`)'),
          boosts: z.record(z.string(), z.number()).describe('Each boost’s part: weight · signal'),
          pinned: z.boolean(),
          buried: z.boolean(),
          score: z.number().describe('The ranking score: similarity + the boosts (pinned first in the order given, buried last)'),
        })
        .optional()
        .describe('With `explain: true`: how the result was ranked'),
    }),
  )
  .describe('Best first: by similarity, or by the business ranking when `boost`, `pin`, `bury`, `max_per_brand` or `dedupe` is given');

const matchSchema = z
  .enum(['good', 'weak', 'none'])
  .describe("Whether the catalog has the thing in the photo, from this query's own scores: good (the first result is very likely the item), weak (similar products, probably not this one), none (nothing like it). Calibrated on the dev set: docs/search.md.");

export const searchResultSchema = z.object({
  results: resultsSchema,
  match: matchSchema,
  query: z.object({
    crop: cropBoxSchema.nullable().describe('The region of the photo the results are for (the crop, the product found, or the `box` given), in its pixels (after EXIF orientation); null for the whole image or a query without an image'),
    models: z.array(z.string()).describe('The models searched'),
  }),
  query_id: z
    .string()
    .nullable()
    .describe('Re-run this query (its embeddings, kept QUERY_TTL_S; never the photo) with other options or for the next page: POST /v1/search with `query_id`. null when it could not be kept (Redis unavailable)'),
  next_cursor: z
    .string()
    .nullable()
    .describe('The next page: POST /v1/search `{ query_id, cursor: next_cursor, k }`; null when there are no more results (or 1,000 have been shown)'),
  objects: z
    .array(
      z.object({
        box: cropBoxSchema.describe("The object's box in the photo's pixels (after EXIF orientation)"),
        label: z.string().nullable().describe("The detector's class name for it (e.g. Mug, Footwear, Bottle), or null for an object the detector has no class for"),
        score: z.number().min(0).max(1).describe("Its first result's score: how surely it is a product of the catalog"),
        match: matchSchema,
        results: resultsSchema,
      }),
    )
    .optional()
    .describe('With `objects: true`: each distinct object found in the photo with its own results, most confident first; the top-level results stay those of the main object'),
  facets: z
    .object(Object.fromEntries(Object.keys(FACETS).map((name) => [name, facetBucketsSchema])) as Record<keyof typeof FACETS, typeof facetBucketsSchema>)
    .optional()
    .describe("With `facets: true`: brand, category, sizes and price buckets, each [{ value, count }], counted over the candidates (each model's num_candidates nearest products that pass the filters)"),
  timings_ms: z
    .object({ decode: z.number().min(0), localize: z.number().min(0).optional(), embed: z.number().min(0), search: z.number().min(0), rerank: z.number().min(0).optional(), total: z.number().min(0) })
    .describe("Milliseconds spent in the API: decode (reading the image, or fetching it, and autocrop), localize (finding the candidate regions, when localization ran), embed (preprocessing and the models), search (the Elasticsearch requests), rerank (describing the query's regions and re-scoring, when the precision stage ran), total (from the request's arrival to the response, upload parsing included)."),
});

export type SearchResult = z.infer<typeof searchResultSchema>;
type Facets = NonNullable<SearchResult['facets']>;
export type Timings = { decode: number; localize?: number; embed: number; search: number; rerank?: number; total: number };

export const roundScore = (score: number): number => Math.round(score * 10_000) / 10_000;
const roundMs = (ms: number): number => Math.round(ms * 100) / 100;
export const roundTimings = (timings: Timings): SearchResult['timings_ms'] => Object.fromEntries(Object.entries(timings).map(([stage, ms]) => [stage, roundMs(ms)])) as SearchResult['timings_ms'];

/** A hit as a result: the product's own id (the document id also encodes its catalog). */
function resultOf(hit: CatalogHit, score: number): SearchResult['results'][number] {
  const { id, catalog: _catalog, image_hash: _imageHash, ...product } = (hit._source ?? {}) as Record<string, unknown>;
  return {
    id: typeof id === 'string' ? id : hit._id!,
    score: roundScore(score),
    // Every kNN and exact hit names its photo; a hit without inner hits is answered with the main photo.
    matched_image: matchedImage(hit.inner_hits as Parameters<typeof matchedImage>[0]) ?? 0,
    product: { ...product, catalog: catalogOfSource(hit._source) },
  };
}

/** A hit as the business ranking sees it. */
function candidateOf(hit: CatalogHit): RankCandidate & { hit: CatalogHit } {
  const source = (hit._source ?? {}) as { id?: string; brand?: string | null; title?: string | null; image_hash?: string | null; signals?: Record<string, number> | null };
  return { hit, id: String(source.id ?? hit._id), similarity: hit._score ?? 0, brand: source.brand, title: source.title, imageHash: source.image_hash, signals: source.signals };
}

/** Where a page starts: results shown before it, and the last of them (null for a first page). */
export interface PagePosition {
  shown: number;
  after: Ranked | null;
}

export const FIRST_PAGE: PagePosition = { shown: 0, after: null };

/** The hits a business ranking reorders: at least this many, or 3 times the page's depth. */
export const RERANK_POOL = 100;

/**
 * How many hits a page's search asks for: every result up to the page's end (so kNN's k and num_candidates grow
 * with the depth), at least the VERDICT_DEPTH the verdict reads and the RERANK_DEPTH the precision stage re-scores,
 * and with business rules a deeper pool for them to reorder.
 */
export function searchSize(options: QueryOptions, page: PagePosition): number {
  const depth = pageDepth(page.shown, options.k);
  // At least the precision stage's depth, whether it runs by default or was asked for.
  return Math.max(VERDICT_DEPTH, RERANK_DEPTH, reranks(options) ? Math.min(MAX_PAGE_DEPTH, Math.max(RERANK_POOL, 3 * depth)) : depth);
}

/**
 * The options a cursor carries to the next page: the search's, less the page's own `k`, the catalog (the query's)
 * and what only a photo takes.
 */
export function cursorOptions(options: QueryOptions): Record<string, unknown> {
  const { k: _k, catalog: _catalog, objects: _objects, max_objects: _maxObjects, box: _box, crop: _crop, ...rest } = options;
  return rest;
}

/**
 * One page of results (k, ranked after `page.after`, above min_score), the verdict and the next page's cursor. The
 * verdict reads the search's own top similarities (core/search/verdict.ts), whatever page this is and before any
 * business rule (core/search/ranking.ts) orders the results. `cursor`: the options of the search for the next page's cursor; null: no cursor
 * (an object's results).
 */
export function answer(response: CatalogSearchResponse, options: QueryOptions, page: PagePosition, cursor: Record<string, unknown> | null): Pick<SearchResult, 'results' | 'match' | 'next_cursor'> {
  const candidates = response.hits.map(candidateOf).filter((candidate) => options.min_score === undefined || roundScore(candidate.similarity) >= options.min_score);
  const ranked = rank(candidates, options);
  const shown = pageAfter(ranked, page.after, Math.min(options.k, MAX_PAGE_DEPTH - page.shown));
  const results = shown.map((entry) => ({ ...resultOf(entry.candidate.hit, entry.candidate.similarity), ...(options.explain ? { explain: entry.explain } : {}) }));
  const last = shown[shown.length - 1];
  // More results may follow: ranked after this page, or beyond the hits the search was cut at.
  const more = last !== undefined && page.shown + shown.length < MAX_PAGE_DEPTH && (pageAfter(ranked, last, 1).length > 0 || response.hits.length >= searchSize(options, page));
  return {
    results,
    match: results.length > 0 || page.shown > 0 ? verdict((response.similarities ?? response.hits.map((hit) => hit._score ?? 0)).map(roundScore)) : 'none',
    next_cursor: more && cursor ? encodeCursor({ v: 1, shown: page.shown + shown.length, score: last.score, tier: last.tier, id: last.id, options: cursor }) : null,
  };
}

export function facets(aggregations: Record<string, { buckets?: Array<{ key: string; doc_count: number }> }> | undefined): Facets {
  return Object.fromEntries(Object.keys(FACETS).map((name) => [name, (aggregations?.[name]?.buckets ?? []).map((b) => ({ value: b.key, count: b.doc_count }))])) as Facets;
}
