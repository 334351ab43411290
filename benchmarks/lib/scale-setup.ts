import type { VectorIndexOptions } from '../../core/config';
import type { SearchFilters } from '../../core/search/filters';

/** What the catalog-scale benchmark compares: index configurations, filters, num_candidates, and its queries. */

/**
 * Vector index configurations compared. Each one spells both fields' type, `m` and `ef_construction`, so that a
 * configuration measures the same index whatever the product's defaults are (since 2026-12-07: `m` 32,
 * `ef_construction` 200 and the colour model's field as int4_hnsw, which `int8-m32-ct4` measures).
 */
const M16 = { m: 16, efConstruction: 100 };
const M32 = { m: 32, efConstruction: 200 };
export const CONFIGS: Record<string, { label: string; overrides: Record<string, Partial<VectorIndexOptions>> }> = {
  int8: { label: 'int8_hnsw, m 16 (the default before 2026-12-07)', overrides: { 'efficientnet-lite0': { type: 'int8_hnsw', ...M16 }, 'colour-texture': { type: 'int8_hnsw', ...M16 } } },
  bbq: { label: 'efficientnet-lite0 bbq_hnsw, m 16', overrides: { 'efficientnet-lite0': { type: 'bbq_hnsw', ...M16 }, 'colour-texture': { type: 'int8_hnsw', ...M16 } } },
  int4: { label: 'efficientnet-lite0 int4_hnsw, m 16', overrides: { 'efficientnet-lite0': { type: 'int4_hnsw', ...M16 }, 'colour-texture': { type: 'int8_hnsw', ...M16 } } },
  // At 1,000,000 products recall stopped growing with num_candidates (0.96 unfiltered, 0.55 at 5 % pass): a graph
  // of degree 16 built with 100 candidates does not join the catalog's dense neighbourhoods well enough.
  'int8-m32': { label: 'int8_hnsw, m 32, ef_construction 200', overrides: { 'efficientnet-lite0': { type: 'int8_hnsw', ...M32 }, 'colour-texture': { type: 'int8_hnsw', ...M32 } } },
  // The denser graph with the colour model's 288-d field at 4 bits (dims / 2 + 4 bytes a vector against dims + 4):
  // int8 for both came to 1.54 GiB a million products, over the 1.5 GiB target. The product's default since 2026-12-07.
  'int8-m32-ct4': {
    label: 'int8_hnsw, m 32, ef_construction 200; colour-texture int4_hnsw (the default)',
    overrides: { 'efficientnet-lite0': { type: 'int8_hnsw', ...M32 }, 'colour-texture': { type: 'int4_hnsw', ...M32 } },
  },
  // At 1,000,000 products the default's merged graph leaves about 8 % of products unreachable by their own vector
  // (4 % at 1,000 candidates), and filtered recall@10 at 5 % pass stops at 0.94: a denser graph for the main model
  // (m 48: 2 x 48 links a node on the bottom layer, 64 MB more a million) built with more candidates.
  'int8-m48-ct4': {
    label: 'efficientnet-lite0 int8_hnsw, m 48, ef_construction 300; colour-texture int4_hnsw, m 32',
    overrides: { 'efficientnet-lite0': { type: 'int8_hnsw', m: 48, efConstruction: 300 }, 'colour-texture': { type: 'int4_hnsw', ...M32 } },
  },
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
  // At 1,000,000 products fanout's recall at 5 % pass stayed the same from 50 to 500 candidates: does the early stop
  // (on by default since Elasticsearch 9.3) end the search before more candidates can help?
  { label: 'fanout, no early termination', settings: { 'index.dense_vector.hnsw_filter_heuristic': 'fanout', 'index.dense_vector.hnsw_enable_early_termination': false } },
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
