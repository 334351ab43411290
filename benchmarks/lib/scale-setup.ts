import type { VectorIndexOptions } from '../../core/config';
import type { SearchFilters } from '../../core/search/filters';

/** What the catalog-scale benchmark compares: index configurations, filters, num_candidates, and its queries. */

/** Vector index configurations compared: the product default, and the 1,280-d field quantized further. */
export const CONFIGS: Record<string, { label: string; overrides: Record<string, Partial<VectorIndexOptions>> }> = {
  int8: { label: 'int8_hnsw (default)', overrides: {} },
  bbq: { label: 'efficientnet-lite0 bbq_hnsw', overrides: { 'efficientnet-lite0': { type: 'bbq_hnsw' } } },
  int4: { label: 'efficientnet-lite0 int4_hnsw', overrides: { 'efficientnet-lite0': { type: 'int4_hnsw' } } },
  // At 1,000,000 products recall stopped growing with num_candidates (0.96 unfiltered, 0.55 at 5 % pass): a graph
  // of degree 16 built with 100 candidates does not join the catalog's dense neighbourhoods well enough.
  'int8-m32': { label: 'int8_hnsw, m 32, ef_construction 200', overrides: { 'efficientnet-lite0': { m: 32, efConstruction: 200 }, 'colour-texture': { m: 32, efConstruction: 200 } } },
};

/** Filters of three selectivities, on benchProduct's random attributes (price 5–300, 80 % available, each size 1 in 2, 10 colours). */
export const FILTER_LEVELS: Record<string, { label: string; filters?: SearchFilters }> = {
  all: { label: 'no filter' },
  half: { label: '≈ 50 % pass', filters: { available: true, price: { lte: 189.4 } } },
  twentieth: { label: '≈ 5 % pass', filters: { color: ['red'], sizes: ['M'] } },
};
export const LEVELS = Object.keys(FILTER_LEVELS);

/**
 * Lucene's ways of searching an HNSW graph under a filter, as Elasticsearch's dynamic index settings choose them:
 * ACORN (Elasticsearch's default: below 60 % passing, also explore the neighbours of neighbours that fail the filter)
 * or fanout (the catalog index's: mappings/products.json), and whether the search may stop early when the best
 * results stop changing.
 */
export const FILTER_HEURISTICS: Array<{ label: string; settings: Record<string, string | boolean> }> = [
  { label: "ACORN, early termination (Elasticsearch's defaults)", settings: { 'index.dense_vector.hnsw_filter_heuristic': 'acorn', 'index.dense_vector.hnsw_enable_early_termination': true } },
  { label: "fanout, early termination (the catalog index's, mappings/products.json)", settings: { 'index.dense_vector.hnsw_filter_heuristic': 'fanout', 'index.dense_vector.hnsw_enable_early_termination': true } },
  { label: 'ACORN, no early termination', settings: { 'index.dense_vector.hnsw_filter_heuristic': 'acorn', 'index.dense_vector.hnsw_enable_early_termination': false } },
];

/** num_candidates values of the sweep. */
export const SWEEP = [10, 20, 50, 100, 200, 500, 1000];
/** Rescoring oversample of the sweep: the mapping's (VECTOR_RESCORE_OVERSAMPLE, 3), and more at query time. */
export const SWEEP_OVERSAMPLE: Array<number | undefined> = [undefined, 6, 10];

/**
 * API settings whose memory and speed are measured beside the defaults (back to back, first configuration, largest
 * size): larger ONNX batches than the default 4 (a localized photo embeds about 20 regions at once; 8 and then 32 were
 * the defaults before), and no localization.
 */
export const API_VARIANTS: Record<string, Record<string, string>> = {
  'EMBED_MAX_BATCH=8': { EMBED_MAX_BATCH: '8' },
  'EMBED_MAX_BATCH=32': { EMBED_MAX_BATCH: '32' },
  'AUTOCROP=trim': { AUTOCROP: 'trim' },
};

export interface Queries {
  /** Query vectors per model, one per query, for Elasticsearch alone. */
  vectors: Record<string, number[][]>;
  /** 640 px JPEG uploads for the API, and the product each one shows (`p<i>`). */
  uploads: Buffer[];
  targets: string[];
}

export const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
