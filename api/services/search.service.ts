import { performance } from 'node:perf_hooks';
import type { Client } from '@elastic/elasticsearch';
import { errors } from '@elastic/elasticsearch';
import { z } from 'zod';
import type { Embedder } from '../../core/embedding/embedder';
import { AppError, NotFoundError, ValidationError } from '../../core/errors';
import { cropBoxSchema, type CropBox } from '../../core/image/autocrop';
import type { ImageFetcher } from '../../core/net/image-fetcher';
import { buildFilterClauses } from '../../core/search/filters';
import { FACETS, searchCatalog } from '../../core/search/catalog-search';
import { productFieldsSchema } from '../../core/search/catalog-store';
import { VERDICT_DEPTH, verdict } from '../../core/search/verdict';
import type { QuerySource, SearchOptions } from '../../core/search/search-request';

/**
 * One code path for every kind of query: turn the source into one vector per model, then search the catalog with
 * them (core/search/catalog-search.ts: pre-filtered kNN; for several models the weighted sum of every model's
 * similarity), and judge the match from the scores (core/search/verdict.ts).
 */

const facetBucketsSchema = z.array(z.object({ value: z.string(), count: z.number().int().min(0) }));

export const searchResultSchema = z.object({
  results: z
    .array(
      z.object({
        id: z.string(),
        score: z.number().min(0).max(1).describe('Weighted similarity, 0..1'),
        product: productFieldsSchema.omit({ id: true }).partial().describe('The product’s catalog fields; null where it has none'),
      }),
    )
    .describe('Best first'),
  match: z
    .enum(['good', 'weak', 'none'])
    .describe("Whether the catalog has the thing in the photo, from this query's own scores: good (the first result is very likely the item), weak (similar products, probably not this one), none (nothing like it). Calibrated on the dev set: docs/search.md."),
  query: z.object({
    crop: cropBoxSchema.nullable().describe('The crop the query image was embedded from, in its pixels (after EXIF orientation); null for the whole image or a query without an image'),
    models: z.array(z.string()).describe('The models searched'),
  }),
  facets: z
    .object(Object.fromEntries(Object.keys(FACETS).map((name) => [name, facetBucketsSchema])) as Record<keyof typeof FACETS, typeof facetBucketsSchema>)
    .optional()
    .describe("With `facets: true`: brand, category, sizes and price buckets, each [{ value, count }], counted over the candidates (each model's num_candidates nearest products that pass the filters)"),
  timings_ms: z
    .object({ decode: z.number().min(0), embed: z.number().min(0), search: z.number().min(0), total: z.number().min(0) })
    .describe("Milliseconds spent in the API: decode (reading the image, or fetching it, and autocrop), embed (preprocessing and the models), search (the Elasticsearch request), total (from the request's arrival to the response, upload parsing included)."),
});

export type SearchResult = z.infer<typeof searchResultSchema>;
type Facets = NonNullable<SearchResult['facets']>;

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

  /** `started`: when the request arrived (performance.now()), which `timings_ms.total` counts from; default now. */
  async search(source: QuerySource, options: SearchOptions, started = performance.now()): Promise<SearchResult> {
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
    const filters = buildFilterClauses(options.filters);
    if (exclude) filters.push({ bool: { must_not: { ids: { values: [exclude] } } } });
    // The verdict reads the score distribution of the top VERDICT_DEPTH hits, whatever k is; results show k of them.
    const t1 = performance.now();
    const response = await searchCatalog(this.es, this.alias, {
      vectors: Object.fromEntries(used.map((id) => [id, vectors[id]!])),
      weights,
      size: Math.max(options.k, VERDICT_DEPTH),
      numCandidates: options.num_candidates,
      filters,
      mode: options.mode,
      facets: options.facets,
    });
    timings.search = performance.now() - t1;
    const scores = response.hits.map((hit) => Math.round((hit._score ?? 0) * 10_000) / 10_000);
    const results = response.hits
      .slice(0, options.k)
      .map((hit, i) => ({ id: hit._id!, score: scores[i]!, product: hit._source ?? {} }))
      .filter((r) => options.min_score === undefined || r.score >= options.min_score);
    timings.total = performance.now() - started;
    const round = (ms: number) => Math.round(ms * 100) / 100;
    return {
      results,
      match: results.length > 0 ? verdict(scores) : 'none',
      query: { crop, models: used },
      ...(options.facets ? { facets: facets(response.aggregations as Record<string, { buckets?: Array<{ key: string; doc_count: number }> }> | undefined) } : {}),
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
}

function facets(aggregations: Record<string, { buckets?: Array<{ key: string; doc_count: number }> }> | undefined): Facets {
  return Object.fromEntries(Object.keys(FACETS).map((name) => [name, (aggregations?.[name]?.buckets ?? []).map((b) => ({ value: b.key, count: b.doc_count }))])) as Facets;
}
