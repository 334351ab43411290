import { performance } from 'node:perf_hooks';
import type { Client } from '@elastic/elasticsearch';
import { errors } from '@elastic/elasticsearch';
import { z } from 'zod';
import type { Embedder } from '../../core/embedding/embedder';
import type { Admission } from './admission';
import { AppError, NotFoundError, ValidationError } from '../../core/errors';
import { cropBoxSchema, scaleBox, type CropBox } from '../../core/image/autocrop';
import { choose, type Candidate, type Localizer } from '../../core/localization/localizer';
import type { ImageFetcher } from '../../core/net/image-fetcher';
import { buildFilterClauses, type FilterClause } from '../../core/search/filters';
import { searchFailure } from '../../core/search/elasticsearch';
import { FACETS, searchCatalog, searchCatalogMany, type CatalogSearchOptions, type CatalogSearchResponse } from '../../core/search/catalog-search';
import { productFieldsSchema } from '../../core/search/catalog-store';
import { VERDICT_DEPTH, verdict } from '../../core/search/verdict';
import type { QueryOptions, QuerySource, SearchOptions } from '../../core/search/search-request';

/**
 * One code path for every kind of query: turn the source into one vector per model, then search the catalog with
 * them (core/search/catalog-search.ts: pre-filtered kNN; for several models the weighted sum of every model's
 * similarity), and judge the match from the scores (core/search/verdict.ts).
 */

const facetBucketsSchema = z.array(z.object({ value: z.string(), count: z.number().int().min(0) }));

const resultsSchema = z
  .array(
    z.object({
      id: z.string(),
      score: z.number().min(0).max(1).describe('Weighted similarity, 0..1'),
      product: productFieldsSchema.omit({ id: true }).partial().describe('The product’s catalog fields; null where it has none'),
    }),
  )
  .describe('Best first');

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
    .object({ decode: z.number().min(0), localize: z.number().min(0).optional(), embed: z.number().min(0), search: z.number().min(0), total: z.number().min(0) })
    .describe("Milliseconds spent in the API: decode (reading the image, or fetching it, and autocrop), localize (finding the candidate regions, when localization ran), embed (preprocessing and the models), search (the Elasticsearch requests), total (from the request's arrival to the response, upload parsing included)."),
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
    /** Finds the product in a photo; null: localization is off (`localize`, `objects` and `box` answer 503). */
    private readonly localizer: Localizer | null,
    /** How a photo is cropped when the request says `crop: "auto"` (AUTOCROP). */
    private readonly queryCrop: 'localize' | 'trim' | 'attention' | 'none',
    /** Bounds the searches at work at once: past it, 503 `overloaded` (fetching an image_url happens before). */
    private readonly admission: Admission,
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

  /**
   * `started`: when the request arrived (performance.now()), which `timings_ms.total` counts from; default now.
   * The options are checked and an image_url fetched first; then the search waits for its admission. Elasticsearch
   * unreachable or overloaded is a 503 `search_unavailable`.
   */
  async search(source: QuerySource, options: QueryOptions, started = performance.now()): Promise<SearchResult> {
    if (options.mode === 'exact' && !this.exactAvailable) {
      throw new AppError('exact_search_unavailable', 'exact search needs painless scripting, which this Elasticsearch cluster does not have; use mode "knn"', 501);
    }
    const weights = this.weights(options);
    let fetchMs = 0;
    if (source.kind === 'image_url') {
      const t0 = performance.now();
      source = { kind: 'image', bytes: (await this.fetcher.fetch(source.url)).bytes };
      fetchMs = performance.now() - t0;
    }
    const admitted = source;
    try {
      return await this.admission.run(() => this.searchAdmitted(admitted, weights, options, started, fetchMs));
    } catch (error) {
      throw searchFailure(error);
    }
  }

  /** `fetchMs`: the time an image_url took to fetch, counted in `decode`. */
  private async searchAdmitted(source: Exclude<QuerySource, { kind: 'image_url' }>, weights: Record<string, number>, options: QueryOptions, started: number, fetchMs: number): Promise<SearchResult> {
    const ids = Object.keys(weights);
    const timings: Timings = { decode: 0, embed: 0, search: 0, total: 0 };
    let crop: CropBox | null = null;
    let vectors: Record<string, number[]> = {};
    let exclude: string | undefined;

    if (source.kind === 'image') {
      const { bytes } = source;
      const cropMode = options.crop === 'auto' ? this.queryCrop : options.crop;
      if (options.box || options.objects || cropMode === 'localize') return this.searchRegions(bytes, fetchMs, weights, options, started);
      // `attention` only comes from AUTOCROP, which the embedder's `auto` applies.
      const image = await this.embedder.embed(bytes, { models: ids, crop: cropMode === 'attention' ? 'auto' : cropMode });
      for (const embedding of image.embeddings) vectors[embedding.model] = Array.from(embedding.vector);
      crop = image.embeddings[0]?.crop ?? null;
      timings.decode = fetchMs + image.timings.decode + image.timings.crop;
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
    const t1 = performance.now();
    const response = await searchCatalog(this.es, this.alias, this.catalogSearch(Object.fromEntries(used.map((id) => [id, vectors[id]!])), weights, options, filters));
    timings.search = performance.now() - t1;
    const { results, match } = answer(response, options);
    timings.total = performance.now() - started;
    return {
      results,
      match,
      query: { crop, models: used },
      ...(options.facets ? { facets: facets(response.aggregations as Record<string, { buckets?: Array<{ key: string; doc_count: number }> }> | undefined) } : {}),
      timings_ms: roundTimings(timings),
    };
  }

  /**
   * A photo searched by regions: the `box` given, or the candidates the localizer proposes (docs/search.md,
   * "Localization"), all embedded in one batch by the main model and searched in one msearch; the catalog's answers
   * choose the primary region (the results) and the distinct objects (`objects`), which are then searched with every
   * model.
   */
  private async searchRegions(bytes: Buffer, fetchMs: number, weights: Record<string, number>, options: QueryOptions, started: number): Promise<SearchResult> {
    if (!this.localizer && !options.box) throw new AppError('localization_unavailable', 'localization is not loaded on this server; search with crop "trim" or "none"', 503);
    const ids = Object.keys(weights);
    const timings: Timings = { decode: 0, localize: 0, embed: 0, search: 0, total: 0 };
    const t0 = performance.now();
    const image = await this.embedder.decode(bytes);
    timings.decode = fetchMs + performance.now() - t0;
    const original = { width: image.originalWidth, height: image.originalHeight };
    let candidates: Candidate[];
    if (options.box) {
      const { box } = options;
      if (box.left + box.width > original.width || box.top + box.height > original.height) {
        throw new ValidationError(`box ${box.left},${box.top} ${box.width}×${box.height} is not inside the ${original.width}×${original.height} photo`, { code: 'invalid_box' });
      }
      candidates = [{ box: scaleBox(box, original, image), source: 'box', label: null }];
    } else {
      const proposal = await this.localizer!.propose(image, options.objects ?? false);
      candidates = proposal.candidates;
      timings.localize = proposal.timings.map + proposal.timings.detect;
    }
    // One region (a trimmed product photo, a drawn box): embedded by every model at once and searched as usual.
    // Several: 1. every candidate embedded by the heaviest-weighted model alone and searched with it (one kNN each,
    // one msearch): the semantic model's first scores choose the regions better than the hybrid's (0.695 against
    // 0.66 recall@1 on the scene dev set) and cost one model and one request per region; 2. the chosen regions (the
    // primary, and the objects) embedded by the other models and searched with every model.
    const scorer = ids.reduce((best, id) => (weights[id]! > weights[best]! ? id : best));
    const filters = buildFilterClauses(options.filters);
    const several = candidates.length > 1 && ids.length > 1;
    const t1 = performance.now();
    const scoring = await this.embedder.embedRegions(image, candidates.map((candidate) => candidate.box), { models: several ? [scorer] : ids });
    const t2 = performance.now();
    const scored = await searchCatalogMany(
      this.es,
      this.alias,
      scoring.map((vectors) => {
        if (!several) return this.catalogSearch(Object.fromEntries(ids.map((id) => [id, Array.from(vectors[id]!)])), weights, options, filters);
        return { vectors: { [scorer]: Array.from(vectors[scorer]!) }, weights: { [scorer]: 1 }, size: 1, numCandidates: options.num_candidates, filters, mode: options.mode, facets: false };
      }),
    );
    const t3 = performance.now();
    // Scores are (1 + cos) / 2; the margins are cosine differences, as measured.
    const answers = scored.map((response) => ({ firstId: response.hits[0]?._id, firstScore: response.hits[0] ? 2 * (response.hits[0]._score ?? 0) - 1 : -1 }));
    const settings = this.localizer?.settings ?? { wholeMargin: 0, objectMargin: 0, tightenMargin: 0 };
    const choice = choose(candidates, answers, image, settings, options.max_objects ?? 5);
    const chosen = [...new Set([choice.primary, ...(options.objects ? choice.objects : [])])];
    let responses = new Map(chosen.map((i) => [i, scored[i]!]));
    let t4 = t3;
    if (several) {
      const rest = ids.filter((id) => id !== scorer);
      const others = await this.embedder.embedRegions(image, chosen.map((i) => candidates[i]!.box), { models: rest });
      t4 = performance.now();
      const full = await searchCatalogMany(
        this.es,
        this.alias,
        chosen.map((i, n) => this.catalogSearch(Object.fromEntries([[scorer, Array.from(scoring[i]![scorer]!)], ...rest.map((id) => [id, Array.from(others[n]![id]!)])]), weights, options, filters)),
      );
      responses = new Map(chosen.map((i, n) => [i, full[n]!]));
    }
    timings.embed = t2 - t1 + (t4 - t3);
    timings.search = t3 - t2 + (performance.now() - t4);
    const primary = responses.get(choice.primary)!;
    const whole = { left: 0, top: 0, width: image.width, height: image.height };
    const inPhoto = (box: CropBox | null): CropBox | null => (box ? scaleBox(box, image, original) : null);
    const objects = (options.objects ? choice.objects : [])
      .map((i) => ({ box: inPhoto(candidates[i]!.box ?? whole)!, label: candidates[i]!.label, score: roundScore(responses.get(i)!.hits[0]?._score ?? 0), ...answer(responses.get(i)!, options) }))
      .sort((a, b) => b.score - a.score);
    const { results, match } = answer(primary, options);
    timings.total = performance.now() - started;
    return {
      results,
      match,
      query: { crop: inPhoto(candidates[choice.primary]!.box), models: ids },
      ...(options.objects ? { objects } : {}),
      ...(options.facets ? { facets: facets(primary.aggregations as Record<string, { buckets?: Array<{ key: string; doc_count: number }> }> | undefined) } : {}),
      timings_ms: roundTimings(timings),
    };
  }

  /** The catalog search of one query vector set; the verdict reads the top VERDICT_DEPTH hits, whatever k is. */
  private catalogSearch(vectors: Record<string, number[]>, weights: Record<string, number>, options: SearchOptions, filters: FilterClause[]): CatalogSearchOptions {
    return { vectors, weights, size: Math.max(options.k, VERDICT_DEPTH), numCandidates: options.num_candidates, filters, mode: options.mode, facets: options.facets };
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

type Timings = { decode: number; localize?: number; embed: number; search: number; total: number };

const roundScore = (score: number): number => Math.round(score * 10_000) / 10_000;
const roundMs = (ms: number): number => Math.round(ms * 100) / 100;
const roundTimings = (timings: Timings): SearchResult['timings_ms'] => Object.fromEntries(Object.entries(timings).map(([stage, ms]) => [stage, roundMs(ms)])) as SearchResult['timings_ms'];

/** The results (k of them, above min_score) and the verdict of one catalog search. */
function answer(response: CatalogSearchResponse, options: SearchOptions): Pick<SearchResult, 'results' | 'match'> {
  const scores = response.hits.map((hit) => roundScore(hit._score ?? 0));
  const results = response.hits
    .slice(0, options.k)
    .map((hit, i) => ({ id: hit._id!, score: scores[i]!, product: hit._source ?? {} }))
    .filter((r) => options.min_score === undefined || r.score >= options.min_score);
  return { results, match: results.length > 0 ? verdict(scores) : 'none' };
}

function facets(aggregations: Record<string, { buckets?: Array<{ key: string; doc_count: number }> }> | undefined): Facets {
  return Object.fromEntries(Object.keys(FACETS).map((name) => [name, (aggregations?.[name]?.buckets ?? []).map((b) => ({ value: b.key, count: b.doc_count }))])) as Facets;
}
