import { z } from 'zod';
import { DEFAULT_CATALOG } from '../catalog';

/**
 * Search filters: validated here, then turned into Elasticsearch filter clauses that are passed *inside* each kNN
 * clause (pre-filters: HNSW search only visits matching documents, so k results come back whenever k match) and
 * into the `script_score` query of exact mode. Values only ever reach `term`/`terms`/`range` as data, never as query
 * syntax, so there is nothing to inject.
 */

const keyword = z.string().min(1).max(256);
const keywordList = z.array(keyword).min(1).max(100);

export const filtersSchema = z
  .object({
    price: z
      .object({ gte: z.number().finite().min(0).optional(), lte: z.number().finite().min(0).optional() })
      .strict()
      .refine((range) => range.gte === undefined || range.lte === undefined || range.gte <= range.lte, {
        message: 'price.gte must not exceed price.lte',
      })
      .optional()
      .describe('Price range in major units; gte must not exceed lte'),
    sizes: keywordList.optional().describe('Any of these sizes'),
    available: z.boolean().optional(),
    brand: keywordList.optional().describe('Any of these brands'),
    category: keywordList.optional().describe('Any of these categories'),
    color: keywordList.optional().describe('Any of these colours'),
  })
  .strict()
  .describe('Pre-filters of the vector search: every result satisfies every filter, and k results come back whenever k products match');

export type SearchFilters = z.infer<typeof filtersSchema>;

export type FilterClause = Record<string, unknown>;

/** The filter clauses for `filters` (an empty list when there are none). */
export function buildFilterClauses(filters: SearchFilters | undefined): FilterClause[] {
  if (!filters) return [];
  const clauses: FilterClause[] = [];
  if (filters.price && (filters.price.gte !== undefined || filters.price.lte !== undefined)) {
    const range: Record<string, number> = {};
    if (filters.price.gte !== undefined) range.gte = filters.price.gte;
    if (filters.price.lte !== undefined) range.lte = filters.price.lte;
    clauses.push({ range: { price: range } });
  }
  if (filters.available !== undefined) clauses.push({ term: { available: filters.available } });
  for (const field of ['sizes', 'brand', 'category', 'color'] as const) {
    const values = filters[field];
    if (values && values.length > 0) clauses.push({ terms: { [field]: [...new Set(values)] } });
  }
  return clauses;
}

/**
 * The clause that keeps a search inside one catalog. Documents written before catalogs existed have no `catalog`
 * field and belong to the default catalog. Every search (each kNN clause's pre-filter, exact mode's query, the
 * candidates and fusion steps) carries it: it is what keeps one catalog's keys from another catalog's products.
 */
export function catalogFilter(catalog: string): FilterClause {
  if (catalog !== DEFAULT_CATALOG) return { term: { catalog } };
  return { bool: { should: [{ term: { catalog } }, { bool: { must_not: { exists: { field: 'catalog' } } } }], minimum_should_match: 1 } };
}

/** Whether a stored product satisfies `filters`: the same semantics as the clauses, used by tests and checks. */
export function matchesFilters(product: { price?: number; sizes?: string[]; available?: boolean; brand?: string; category?: string; color?: string }, filters: SearchFilters): boolean {
  const { price } = filters;
  if (price?.gte !== undefined && !(product.price !== undefined && product.price >= price.gte)) return false;
  if (price?.lte !== undefined && !(product.price !== undefined && product.price <= price.lte)) return false;
  if (filters.available !== undefined && product.available !== filters.available) return false;
  if (filters.sizes && !filters.sizes.some((size) => product.sizes?.includes(size))) return false;
  for (const field of ['brand', 'category', 'color'] as const) {
    const values = filters[field];
    if (values && !(product[field] !== undefined && values.includes(product[field]))) return false;
  }
  return true;
}

export interface KnnClauseOptions {
  field: string;
  vector: number[];
  k: number;
  numCandidates: number;
  filters: FilterClause[];
  boost?: number;
  similarity?: number;
  /**
   * Name the clause's inner hits (the field is nested: the best-matching photo of each product comes back as an inner
   * hit, whose offset is that photo's index). Absent: no inner hits (the hybrid's candidates step reads ids only).
   */
  innerHits?: string;
  /** The fields of the matched photo its inner hits carry (default none). */
  innerHitsSource?: string[];
}

/**
 * The pre-filter of a kNN clause: one clause as it is, several as one `bool` of them. Over the nested photo vectors
 * Elasticsearch turns each entry of a kNN filter list into a join from the products that pass it to their photos, one
 * join per entry, and intersects the photos; one `bool` is joined once, after the product fields are intersected (at
 * 1,000,000 products the hybrid's two requests p50 30.8 → 24.0 ms with half the catalog passing, 33.8 → 23.9 ms with
 * 13 %: benchmarks/results/hybrid-candidates-fanout-int8-m32-ct4-all-half-quarter-eighth-twentieth.md). The same
 * documents pass either way.
 */
export function knnFilter(filters: FilterClause[]): FilterClause[] {
  return filters.length > 1 ? [{ bool: { filter: filters } }] : filters;
}

/**
 * One kNN clause with its pre-filter. Several of them (one per model, each with a boost) make a hybrid query. Over the
 * nested photo vectors, k counts products (each product scored by its best photo), and the filters on product fields
 * stay pre-filters.
 */
export function knnClause(options: KnnClauseOptions): Record<string, unknown> {
  return {
    field: options.field,
    query_vector: options.vector,
    k: options.k,
    num_candidates: Math.max(options.numCandidates, options.k),
    ...(options.filters.length > 0 ? { filter: knnFilter(options.filters) } : {}),
    ...(options.boost !== undefined ? { boost: options.boost } : {}),
    ...(options.similarity !== undefined ? { similarity: options.similarity } : {}),
    ...(options.innerHits !== undefined ? { inner_hits: innerHits(options.innerHits, options.innerHitsSource) } : {}),
  };
}

/**
 * The inner hits that name a product's matched photo: its offset and score, and the fields asked for. Without fields
 * no stored field is read: a nested hit's stored fields are its product's, whose `_source` the photos' region
 * descriptors make large (core/search/catalog-search.ts, `IDS_ONLY`).
 */
export function innerHits(name: string, source?: string[]): Record<string, unknown> {
  return { name, size: 1, ...(source ? { _source: source } : { _source: false, stored_fields: ['_none_'] }) };
}
