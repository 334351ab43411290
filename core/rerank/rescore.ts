import type { CatalogHit, CatalogSearchResponse } from '../search/catalog-search';
import { decodeRegions, regionSimilarity, type RegionDescriptor } from './regions';

/**
 * The precision stage of a search (`rerank: true`): the first RERANK_DEPTH hits of the search, in its order, are
 * re-scored with how well each one's matched photo's cells are found in the query photo (core/rerank/regions.ts):
 *
 *   score′ = (similarity + REGION_WEIGHT · (1 + region) / 2) / (1 + REGION_WEIGHT)
 *
 * a similarity in 0..1 again, ranked as similarity + REGION_WEIGHT / 2 · region: the hybrid cosine + 0.5 · region
 * similarity that measured best on the hard-negative dev set (benchmarks/results/rerank.md, λ = 0.5). Ten hits: the
 * search fetches them anyway (the verdict reads ten), and the item is among the hybrid's first ten for 96.6 % of
 * the dev set's queries (twenty re-scored measured the same recall@1 for twice the time and a larger response).
 *
 * A hit whose photo has no descriptor (embedded before they were stored) is scored as if its cells matched as well as
 * its photo does (region = 2 · similarity − 1): it keeps its place among the others. The hits after the first
 * RERANK_DEPTH keep their order below every re-scored one (their scores scaled down where needed), so the ranking is
 * one total order that paging can continue: a page's search runs again with the same hits and the same scores.
 */
export const RERANK_DEPTH = 10;
export const REGION_WEIGHT = 0.5;

/**
 * The re-scored similarity of a hit of similarity `similarity` whose cells match the query's with `region` (−1..1),
 * in 0..1: an identical photo's int8 cells can match at slightly more than 1 (each cell is rounded to 127ths), and a
 * score is never above 1 (the response's schema says so).
 */
export function rescored(similarity: number, region: number): number {
  const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));
  return clamp((clamp(similarity, 0, 1) + (REGION_WEIGHT * (1 + clamp(region, -1, 1))) / 2) / (1 + REGION_WEIGHT), 0, 1);
}

interface InnerHitsWithRegions {
  hits?: { hits?: Array<{ _source?: { regions?: Record<string, unknown> } }> };
}

/** The descriptor of a hit's matched photo, as its inner hits named after `model` carry it; null when it has none. */
export function hitRegions(hit: CatalogHit, model: string, innerHits: string = model): RegionDescriptor | null {
  const named = (hit.inner_hits as Record<string, InnerHitsWithRegions> | undefined)?.[innerHits];
  const encoded = named?.hits?.hits?.[0]?._source?.regions?.[model];
  return typeof encoded === 'string' ? decodeRegions(encoded) : null;
}

/**
 * The response with its first RERANK_DEPTH hits re-scored against `query` and every hit in the new order;
 * `similarities` keeps the search's own scores (what the verdict is calibrated on).
 */
export function rerankResponse(response: CatalogSearchResponse, query: RegionDescriptor, regionsOf: (hit: CatalogHit) => RegionDescriptor | null): CatalogSearchResponse {
  const hits = [...response.hits].sort((a, b) => (b._score ?? 0) - (a._score ?? 0));
  const head = hits.slice(0, RERANK_DEPTH).map((hit) => {
    const similarity = hit._score ?? 0;
    const candidate = regionsOf(hit);
    const region = candidate ? regionSimilarity(query, candidate) : Number.NaN;
    return { ...hit, _score: rescored(similarity, Number.isFinite(region) ? region : 2 * similarity - 1) };
  });
  const tail = hits.slice(RERANK_DEPTH);
  const lowestHead = Math.min(...head.map((hit) => hit._score));
  const highestTail = Math.max(...tail.map((hit) => hit._score ?? 0), 0);
  // Scaled only where a tail hit would otherwise rank above a re-scored one.
  const scale = highestTail > lowestHead ? (lowestHead / highestTail) * (1 - 1e-6) : 1;
  return {
    ...response,
    similarities: response.similarities ?? response.hits.map((hit) => hit._score ?? 0),
    hits: [...head.sort((a, b) => b._score - a._score), ...tail.map((hit) => ({ ...hit, _score: (hit._score ?? 0) * scale }))],
  };
}
