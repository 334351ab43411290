import { performance } from 'node:perf_hooks';
import type { Client } from '@elastic/elasticsearch';
import { errors } from '@elastic/elasticsearch';
import type { Embedder } from '../../core/embedding/embedder';
import { AppError, NotFoundError, ValidationError } from '../../core/errors';
import type { CropBox } from '../../core/image/autocrop';
import type { ImageFetcher } from '../../core/net/image-fetcher';
import { vectorField } from '../../core/search/catalog-mapping';
import { buildFilterClauses, knnClause } from '../../core/search/filters';
import { MAX_NUM_CANDIDATES, type QuerySource, type SearchOptions } from '../../core/search/search-request';

/**
 * One code path for every kind of query: turn the source into one vector per model, then one kNN search with a
 * boosted clause per model (scores add up: the hybrid), each clause pre-filtered by the request's filters.
 */
const PRODUCT_FIELDS = ['title', 'brand', 'category', 'color', 'sizes', 'price', 'currency', 'available', 'image_url'];

export interface SearchResult {
  results: Array<{ id: string; score: number; product: Record<string, unknown> }>;
  match: 'good' | 'weak' | 'none';
  query: { crop: CropBox | null; models: string[] };
  facets?: Record<string, unknown>;
  timings_ms: { decode: number; embed: number; search: number; total: number };
}

export class SearchService {
  constructor(
    private readonly es: Client,
    private readonly alias: string,
    private readonly embedder: Embedder,
    private readonly fetcher: ImageFetcher,
    private readonly defaultWeights: Record<string, number>,
    /** Whether the cluster runs painless scripts (the test distribution does not): `exact` needs them. */
    private readonly exactAvailable: boolean,
  ) {}

  private weights(options: SearchOptions): Record<string, number> {
    const requested = options.models ?? this.defaultWeights;
    const weights = Object.fromEntries(Object.entries(requested).filter(([, w]) => w > 0));
    if (Object.keys(weights).length === 0) throw new ValidationError('models: give at least one model a weight above 0', { code: 'invalid_request' });
    for (const id of Object.keys(weights)) {
      if (!this.embedder.get(id)) throw new ValidationError(`unknown model "${id}"; loaded: ${this.embedder.models.map((m) => m.id).join(', ')}`, { code: 'unknown_model' });
    }
    return weights;
  }

  async search(source: QuerySource, options: SearchOptions): Promise<SearchResult> {
    const started = performance.now();
    if (options.mode === 'exact' && !this.exactAvailable) {
      throw new AppError('exact_search_unavailable', 'exact search needs painless scripting, which this Elasticsearch cluster does not have; use mode "knn"', 501);
    }
    const weights = this.weights(options);
    const ids = Object.keys(weights);
    const timings = { decode: 0, embed: 0, search: 0, total: 0 };
    let crop: CropBox | null = null;
    let vectors: Record<string, number[]> = {};
    let exclude: string | undefined;

    if (source.kind === 'image' || source.kind === 'image_url') {
      const t0 = performance.now();
      const bytes = source.kind === 'image' ? source.bytes : (await this.fetcher.fetch(source.url)).bytes;
      const image = await this.embedder.embed(bytes, { models: ids, crop: options.crop });
      for (const embedding of image.embeddings) vectors[embedding.model] = Array.from(embedding.vector);
      crop = image.embeddings[0]?.crop ?? null;
      timings.decode = image.timings.decode + image.timings.crop + (source.kind === 'image_url' ? performance.now() - t0 - image.timings.total : 0);
      timings.embed = image.timings.preprocess + image.timings.embed;
    } else if (source.kind === 'product_id') {
      vectors = await this.productVectors(source.id, ids);
      exclude = source.id;
    } else {
      const model = ids.length === 1 ? this.embedder.get(ids[0]!)! : this.embedder.models.find((m) => ids.includes(m.id) && m.dims === source.vector.length);
      if (!model || model.dims !== source.vector.length) {
        throw new ValidationError(`vector has ${source.vector.length} values; ${ids.map((id) => `${id} takes ${this.embedder.get(id)!.dims}`).join(', ')}`, { code: 'vector_length_mismatch' });
      }
      const norm = Math.hypot(...source.vector);
      if (norm === 0) throw new ValidationError('vector is all zeros', { code: 'invalid_vector' });
      vectors = { [model.id]: source.vector.map((v) => v / norm) };
    }

    const used = ids.filter((id) => vectors[id]);
    const total = used.reduce((sum, id) => sum + weights[id]!, 0);
    const filters = buildFilterClauses(options.filters);
    if (exclude) filters.push({ bool: { must_not: { ids: { values: [exclude] } } } });
    const numCandidates = Math.min(MAX_NUM_CANDIDATES, Math.max(options.k, options.num_candidates ?? Math.max(100, options.k * 10)));
    const t1 = performance.now();
    const response = await this.es.search<Record<string, unknown>>({
      index: this.alias,
      size: options.k,
      _source: PRODUCT_FIELDS,
      ...(options.mode === 'exact' ? { query: this.exactQuery(vectors, weights, used, filters) } : { knn: used.map((id) => knnClause({ field: vectorField(id), vector: vectors[id]!, k: options.k, numCandidates, filters, boost: weights[id]! / total })) as never }),
      ...(options.facets ? { aggs: FACETS } : {}),
    });
    timings.search = performance.now() - t1;
    // kNN cosine scores are (1 + cos) / 2 per clause, weighted to sum 1: a similarity in 0..1.
    const results = response.hits.hits
      .map((hit) => ({ id: hit._id!, score: Math.round((hit._score ?? 0) * 10_000) / 10_000, product: hit._source ?? {} }))
      .filter((r) => options.min_score === undefined || r.score >= options.min_score);
    timings.total = performance.now() - started;
    const round = (ms: number) => Math.round(ms * 100) / 100;
    return {
      results,
      match: verdict(results.map((r) => r.score)),
      query: { crop, models: used },
      ...(options.facets ? { facets: facets(response.aggregations as Record<string, { buckets?: Array<{ key: unknown; doc_count: number }> }> | undefined) } : {}),
      timings_ms: { decode: round(timings.decode), embed: round(timings.embed), search: round(timings.search), total: round(timings.total) },
    };
  }

  private async productVectors(id: string, ids: string[]): Promise<Record<string, number[]>> {
    let doc;
    try {
      doc = await this.es.get<{ deleted?: boolean; vectors?: Record<string, number[]> }>({ index: this.alias, id, _source_includes: ['deleted', 'vectors'], _source_exclude_vectors: false } as never);
    } catch (error) {
      if (error instanceof errors.ResponseError && error.statusCode === 404) throw new NotFoundError(`product ${id} is not in the catalog`, 'product_not_found');
      throw error;
    }
    const source = (doc as { _source?: { deleted?: boolean; vectors?: Record<string, number[]> } })._source;
    if (!source || source.deleted) throw new NotFoundError(`product ${id} is not in the catalog`, 'product_not_found');
    const vectors = Object.fromEntries(ids.flatMap((m) => (source.vectors?.[m] ? [[m, source.vectors[m]!]] : [])));
    if (Object.keys(vectors).length === 0) throw new AppError('product_not_embedded', `product ${id} has no vector for ${ids.join(', ')} yet`, 409);
    return vectors;
  }

  /** The design's exact mode: weighted cosine over every document that passes the filters (needs painless). */
  private exactQuery(vectors: Record<string, number[]>, weights: Record<string, number>, used: string[], filters: Array<Record<string, unknown>>): Record<string, unknown> {
    const total = used.reduce((sum, id) => sum + weights[id]!, 0);
    const source = used.map((_, i) => `params.w${i} * (cosineSimilarity(params.q${i}, '${vectorField(used[i]!)}') + 1.0) / 2.0`).join(' + ');
    const params = Object.fromEntries(used.flatMap((id, i) => [[`q${i}`, vectors[id]], [`w${i}`, weights[id]! / total]]));
    return {
      script_score: {
        query: { bool: { filter: [...filters, ...used.map((id) => ({ exists: { field: vectorField(id) } }))] } },
        script: { source, params },
      },
    };
  }
}

const FACETS = {
  brand: { terms: { field: 'brand', size: 20 } },
  category: { terms: { field: 'category', size: 20 } },
  sizes: { terms: { field: 'sizes', size: 30 } },
  price: { range: { field: 'price', ranges: [{ to: 25 }, { from: 25, to: 50 }, { from: 50, to: 100 }, { from: 100, to: 200 }, { from: 200 }] } },
};

function facets(aggregations: Record<string, { buckets?: Array<{ key: unknown; doc_count: number }> }> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(aggregations ?? {}).map(([name, agg]) => [name, (agg.buckets ?? []).map((b) => ({ value: b.key, count: b.doc_count }))]));
}

/**
 * A verdict from this query's own score distribution: how far the best result stands out from the rest, together
 * with how similar it is. Thresholds are provisional until calibrated on the dev set.
 */
export function verdict(scores: number[]): 'good' | 'weak' | 'none' {
  if (scores.length === 0) return 'none';
  const top = scores[0]!;
  const rest = scores.slice(1).sort((a, b) => a - b);
  const median = rest.length ? rest[Math.floor(rest.length / 2)]! : top - 0.1;
  const standsOut = top - median;
  if (top >= 0.9 || (top >= 0.8 && standsOut >= 0.04)) return 'good';
  if (top >= 0.7) return 'weak';
  return 'none';
}
