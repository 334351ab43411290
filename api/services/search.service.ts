import { performance } from 'node:perf_hooks';
import type { Client } from '@elastic/elasticsearch';
import type { Counter } from 'prom-client';
import type { HybridCandidates, HybridCandidatesSetting } from '../../core/config';
import type { Embedder } from '../../core/embedding/embedder';
import type { Admission } from './admission';
import { AppError, NotFoundError, ValidationError, describeError } from '../../core/errors';
import { scaleBox, type CropBox } from '../../core/image/autocrop';
import { choose, regionScore, type Candidate, type Localizer } from '../../core/localization/localizer';
import { distinctSecond, lookedAt, type RankedHit } from '../../core/localization/near-duplicates';
import type { FeatureMap } from '../../core/localization/feature-map';
import { modelView } from '../../core/image/preprocess';
import type { ImageFetcher } from '../../core/net/image-fetcher';
import { DEFAULT_CATALOG, documentId } from '../../core/catalog';
import { buildFilterClauses, catalogFilter, type FilterClause } from '../../core/search/filters';
import { hybridCandidates, numCandidatesFor, searchCatalog, searchCatalogMany, type CatalogSearchOptions } from '../../core/search/catalog-search';
import { foreignHit, type CatalogScope } from '../../core/search/catalog-scope';
import type { FilterShare } from '../../core/search/filter-share';
import { searchFailure } from '../../core/search/elasticsearch';
import { decodeCursor } from '../../core/search/paging';
import { steer } from '../../core/search/steering';
import type { QueryStore, StoredQuery } from '../../core/search/query-store';
import { searchOptionsSchema, type QueryOptions, type QuerySource, type SearchOptions } from '../../core/search/search-request';
import type { Logger } from '../../core/logger';
import { describeFeatureMap, decodeRegions, encodeRegions, featureMapInBox, type RegionDescriptor } from '../../core/rerank/regions';
import { hitRegions, rerankResponse } from '../../core/rerank/rescore';
import type { CatalogHit, CatalogSearchResponse } from '../../core/search/catalog-search';
import { QueryVectors } from './query-vectors';
import { FIRST_PAGE, answer, cursorOptions, facets, roundScore, roundTimings, searchSize, type PagePosition, type SearchResult, type Timings } from './search-result';

export { searchResultSchema, type SearchResult } from './search-result';

/**
 * One code path for every kind of query: turn the source into one vector per model, then search the catalog with
 * them (core/search/catalog-search.ts: pre-filtered kNN; for several models the weighted sum of every model's
 * similarity), and judge the match from the scores (core/search/verdict.ts). Each search keeps its query (the
 * vectors, never the photo: core/search/query-store.ts) so that `query_id` can run it again, for another page
 * (core/search/paging.ts) or with other options.
 */

/** The precision stage of a search (`rerank`): the model whose region descriptors it compares, and the query's. */
interface Rerank {
  model: string;
  query: RegionDescriptor;
}

/** A search's answer, and what it keeps for `query_id`. */
interface Answered {
  result: Omit<SearchResult, 'query_id'>;
  kept: StoredQuery;
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
    /** Finds the product in a photo; null: localization is off (`localize`, `objects` and `box` answer 503). */
    private readonly localizer: Localizer | null,
    /** How a photo is cropped when the request says `crop: "auto"` (AUTOCROP). */
    private readonly queryCrop: 'localize' | 'trim' | 'attention' | 'none',
    /** Whether a search that does not say `rerank` runs the precision stage where it can (RERANK_DEFAULT). */
    private readonly rerankByDefault: boolean,
    /**
     * Which models propose a hybrid search's candidates (HYBRID_CANDIDATES), and with `auto` from what share of the
     * catalog passing a search's filters the model weighted most alone does (HYBRID_LEAD_SHARE; `shares` counts them).
     */
    private readonly hybrid: { setting: HybridCandidatesSetting; leadShare: number; shares: FilterShare; counter?: Counter<'way'> },
    /** Bounds the searches at work at once: past it, 503 `overloaded` (fetching an image_url happens before). */
    private readonly admission: Admission,
    /** Keeps each search's query for QUERY_TTL_S, for `query_id`. */
    private readonly queries: QueryStore,
    /** Which catalogs the index holds: a search of the only one leaves its catalog filter out. */
    private readonly scope: CatalogScope,
    private readonly logger: Logger,
  ) {
    this.vectors = new QueryVectors(es, alias, embedder, queries);
  }

  /** Reads the vectors a query names besides its own: products, kept queries, steering. */
  private readonly vectors: QueryVectors;

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
  async search(source: QuerySource, options: QueryOptions, started = performance.now(), allowed: string[] | null = null): Promise<SearchResult> {
    if (source.kind === 'query_id') return this.rerun(source, options, allowed, started);
    this.checkMode(options);
    const weights = this.weights(options);
    let fetchMs = 0;
    if (source.kind === 'image_url') {
      const t0 = performance.now();
      source = { kind: 'image', bytes: (await this.fetcher.fetch(source.url)).bytes };
      fetchMs = performance.now() - t0;
    }
    const admitted = source;
    let answered: Answered;
    try {
      answered = await this.admission.run(() => this.searchAdmitted(admitted, weights, options, started, fetchMs));
    } catch (error) {
      throw searchFailure(error);
    }
    return { ...answered.result, query_id: await this.keep(answered.kept) };
  }

  /**
   * With `rerank`, the model whose region descriptors the precision stage compares: the heaviest-weighted searched
   * model that gives them (400 rerank_unavailable when none does); null without `rerank`.
   */
  private rerankModel(options: SearchOptions, weights: Record<string, number>): string | null {
    if (!(options.rerank ?? this.rerankByDefault)) return null;
    // A steered query (like, unlike with a weight) is no longer the photo its regions describe: by default it is not
    // re-ranked.
    if (options.rerank === undefined && [...(options.like ?? []), ...(options.unlike ?? [])].some((item) => item.weight !== 0)) return null;
    const described = Object.keys(weights).filter((id) => this.embedder.get(id)?.manifest.regions !== undefined);
    // By default the stage runs where it can; asked for, it says why it cannot.
    if (described.length === 0 && options.rerank === undefined) return null;
    if (described.length === 0) throw new ValidationError(`rerank needs a model that describes regions; ${Object.keys(weights).join(', ')} do not`, { code: 'rerank_unavailable' });
    return described.reduce((best, id) => (weights[id]! > weights[best]! ? id : best));
  }

  /** The precision stage over one search's answer (core/rerank/rescore.ts), its time added to `timings.rerank`. */
  private rescore(response: CatalogSearchResponse, rerank: Rerank | null, options: SearchOptions, timings: Timings): CatalogSearchResponse {
    if (!rerank) return response;
    const t0 = performance.now();
    const innerHits = options.mode === 'exact' ? 'exact' : rerank.model;
    const rescored = rerankResponse(response, rerank.query, (hit) => hitRegions(hit, rerank.model, innerHits));
    timings.rerank = (timings.rerank ?? 0) + performance.now() - t0;
    return rescored;
  }

  /**
   * The query side of the precision stage from a stored descriptor: a product's photo or a kept query's. None there
   * is 409 rerank_unavailable, saying why: `missing` (a photo embedded before descriptors were stored, a query kept
   * from a search without rerank).
   */
  private storedRerank(model: string | null, regions: Record<string, string> | undefined, missing: string, options: SearchOptions): Rerank | null {
    if (!model) return null;
    const query = regions?.[model] !== undefined ? decodeRegions(regions[model]!) : null;
    if (!query && options.rerank === undefined) return null;
    if (!query) throw new AppError('rerank_unavailable', `no region descriptor of ${model} to re-rank with: ${missing}`, 409);
    return { model, query };
  }

  private checkMode(options: SearchOptions): void {
    if (options.mode === 'exact' && !this.exactAvailable) {
      throw new AppError('exact_search_unavailable', 'exact search needs painless scripting, which this Elasticsearch cluster does not have; use mode "knn"', 501);
    }
  }

  /** Keeps the query for `query_id`; a search still answers when Redis does not (its query_id is then null). */
  private async keep(query: StoredQuery): Promise<string | null> {
    try {
      return await this.queries.save(query);
    } catch (error) {
      this.logger.warn({ err: describeError(error) }, 'could not keep the query for query_id: Redis did not answer');
      return null;
    }
  }

  /**
   * A kept query run again: with the request's options, or (with a cursor) the next page of the search the cursor
   * continues. A query of a catalog the request may not use (`allowed`, or another `catalog` named) is answered as
   * if it had expired: 404 query_expired, never a hint that it exists.
   */
  private async rerun(source: Extract<QuerySource, { kind: 'query_id' }>, requested: QueryOptions, allowed: string[] | null, started: number): Promise<SearchResult> {
    const stored = await this.queries.load(source.id);
    if (!stored || (allowed !== null && !allowed.includes(stored.catalog)) || (requested.catalog !== undefined && requested.catalog !== stored.catalog)) {
      throw new NotFoundError('this query_id expired or is not yours; search with the photo again', 'query_expired');
    }
    let options: QueryOptions = { ...requested, catalog: stored.catalog };
    let page: PagePosition = FIRST_PAGE;
    if (source.cursor) {
      const cursor = decodeCursor(source.cursor);
      const parsed = searchOptionsSchema.safeParse({ ...cursor.options, k: requested.k });
      if (!parsed.success) throw new ValidationError('cursor is not a cursor this API gave (pass next_cursor back as it came)', { code: 'invalid_cursor' });
      options = { ...parsed.data, catalog: stored.catalog };
      page = { shown: cursor.shown, after: { score: cursor.score, id: cursor.id, ...(cursor.tier !== undefined ? { tier: cursor.tier } : {}) } };
    }
    this.checkMode(options);
    const weights = this.weights(options);
    const ids = Object.keys(weights);
    const model = this.rerankModel(options, weights);
    try {
      return await this.admission.run(async () => {
        const timings: Timings = { decode: 0, embed: 0, search: 0, total: 0 };
        // A product query reads the product's vectors again: a product deleted since is not found.
        const product = stored.productId ? await this.vectors.productPhoto(stored.catalog, stored.productId, ids, model !== null) : null;
        const vectors = product ? product.vectors : stored.vectors;
        const exclude = stored.productId ? documentId(stored.catalog, stored.productId) : undefined;
        const missing = stored.productId ? productMissing(stored.productId, model) : 'a query keeps its photo’s regions only when it was searched with rerank; search with the photo and rerank: true';
        const rerank = this.storedRerank(model, product ? product.regions : stored.regions, missing, options);
        const result = await this.searchVectors(vectors, weights, options, page, exclude, stored.crop, timings, started, rerank);
        return { ...result, query_id: source.id };
      });
    } catch (error) {
      throw searchFailure(error);
    }
  }

  /** `fetchMs`: the time an image_url took to fetch, counted in `decode`. */
  private async searchAdmitted(source: Exclude<QuerySource, { kind: 'image_url' | 'query_id' }>, weights: Record<string, number>, options: QueryOptions, started: number, fetchMs: number): Promise<Answered> {
    const ids = Object.keys(weights);
    const timings: Timings = { decode: 0, embed: 0, search: 0, total: 0 };
    let crop: CropBox | null = null;
    let vectors: Record<string, number[]> = {};
    let exclude: string | undefined;
    let rerank: Rerank | null = null;
    const rerankModel = source.kind === 'vector' ? null : this.rerankModel(options, weights);
    if (source.kind === 'vector' && options.rerank === true) throw new ValidationError('rerank needs the regions of a photo: search with a photo, image_url or product_id', { code: 'rerank_unavailable' });

    if (source.kind === 'image') {
      const { bytes } = source;
      const cropMode = options.crop === 'auto' ? this.queryCrop : options.crop;
      if (options.box || options.objects || cropMode === 'localize') return this.searchRegions(bytes, fetchMs, weights, options, started);
      // `attention` only comes from AUTOCROP, which the embedder's `auto` applies.
      const image = await this.embedder.embed(bytes, { models: ids, crop: cropMode === 'attention' ? 'auto' : cropMode, regions: rerankModel !== null });
      for (const embedding of image.embeddings) vectors[embedding.model] = Array.from(embedding.vector);
      const described = image.embeddings.find((embedding) => embedding.model === rerankModel)?.regions;
      if (rerankModel && described) rerank = { model: rerankModel, query: described };
      crop = image.embeddings[0]?.crop ?? null;
      timings.decode = fetchMs + image.timings.decode + image.timings.crop;
      timings.embed = image.timings.preprocess + image.timings.embed;
    } else if (source.kind === 'product_id') {
      const product = await this.vectors.productPhoto(catalogOf(options), source.id, ids, rerankModel !== null);
      vectors = product.vectors;
      rerank = this.storedRerank(rerankModel, product.regions, productMissing(source.id, rerankModel), options);
      exclude = documentId(catalogOf(options), source.id);
    } else {
      const model = ids.length === 1 ? this.embedder.get(ids[0]!)! : this.embedder.models.find((m) => ids.includes(m.id) && m.dims === source.vector.length);
      if (!model || model.dims !== source.vector.length) {
        throw new ValidationError(`vector has ${source.vector.length} values; ${ids.map((id) => `${id} takes ${this.embedder.get(id)!.dims}`).join(', ')}`, { code: 'vector_length_mismatch' });
      }
      const norm = Math.hypot(...source.vector);
      if (norm === 0) throw new ValidationError('vector is all zeros', { code: 'invalid_vector' });
      vectors = { [model.id]: source.vector.map((v) => v / norm) };
    }

    const result = await this.searchVectors(vectors, weights, options, FIRST_PAGE, exclude, crop, timings, started, rerank);
    const catalog = catalogOf(options);
    const regions = rerank && source.kind === 'image' ? { regions: { [rerank.model]: encodeRegions(rerank.query) } } : {};
    return { result, kept: source.kind === 'product_id' ? { catalog, productId: source.id, crop, vectors: {} } : { catalog, crop, vectors, ...regions } };
  }

  /** One search of the catalog with the query's vectors (those of the models weighted), one page of its answer. */
  private async searchVectors(
    vectors: Record<string, number[]>,
    weights: Record<string, number>,
    options: QueryOptions,
    page: PagePosition,
    exclude: string | undefined,
    crop: CropBox | null,
    timings: Timings,
    started: number,
    rerank: Rerank | null = null,
  ): Promise<Omit<SearchResult, 'query_id'>> {
    const used = Object.keys(weights).filter((id) => vectors[id]);
    if (used.length === 0) throw new ValidationError(`the query has no vector for ${Object.keys(weights).join(', ')}; it has ${Object.keys(vectors).join(', ')}`, { code: 'invalid_request' });
    const catalog = catalogOf(options);
    const filters = buildFilterClauses(options.filters);
    // "Less like this": an unliked product also leaves the results.
    const left = [...(exclude ? [exclude] : []), ...(options.unlike ?? []).flatMap((item) => (item.product_id ? [documentId(catalog, item.product_id)] : []))];
    if (left.length > 0) filters.push({ bool: { must_not: { ids: { values: left } } } });
    const query = Object.fromEntries(used.map((id) => [id, vectors[id]!]));
    const steering = await this.vectors.steering(options, used);
    const t1 = performance.now();
    const searched = await this.inCatalog(catalog, filters, options.facets, (filters) => searchCatalog(this.es, this.alias, this.catalogSearch(steering.length > 0 ? steer(query, steering) : query, weights, options, filters, page, rerank?.model)));
    timings.search = performance.now() - t1;
    const response = this.rescore(searched, rerank, options, timings);
    const answered = answer(response, options, page, cursorOptions(options));
    timings.total = performance.now() - started;
    return {
      ...answered,
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
  private async searchRegions(bytes: Buffer, fetchMs: number, weights: Record<string, number>, options: QueryOptions, started: number): Promise<Answered> {
    if (!this.localizer && !options.box) throw new AppError('localization_unavailable', 'localization is not loaded on this server; search with crop "trim" or "none"', 503);
    const ids = Object.keys(weights);
    const timings: Timings = { decode: 0, localize: 0, embed: 0, search: 0, total: 0 };
    const t0 = performance.now();
    const image = await this.embedder.decode(bytes);
    timings.decode = fetchMs + performance.now() - t0;
    const original = { width: image.originalWidth, height: image.originalHeight };
    // One region (a trimmed product photo, a drawn box, a photo the catalog knows whole): embedded by every model and
    // searched as usual. Several: 1. every candidate embedded by the heaviest-weighted model alone and searched with
    // it (one kNN each, one msearch): the semantic model's first scores choose the regions better than the hybrid's
    // (0.695 against 0.66 recall@1 on the scene dev set) and cost one model and one request per region; 2. the chosen
    // regions (the primary, and the objects) embedded by the other models and searched with every model.
    const scorer = ids.reduce((best, id) => (weights[id]! > weights[best]! ? id : best));
    const catalog = catalogOf(options);
    const filters = buildFilterClauses(options.filters);
    const rerankModel = this.rerankModel(options, weights);
    const maps = new Map<number, Parameters<typeof describeFeatureMap>[0]>();
    const keepMap = (region: (slot: number) => number) => (slot: number, model: string, map: Parameters<typeof describeFeatureMap>[0]) => {
      if (model === rerankModel) maps.set(region(slot), map);
    };
    // Two results: the region's lead over the second counts in the choice (LocalizerSettings.gapWeight). Ids and scores
    // are all the choice reads (in kNN: `idsOnly`, no fields or matched photo: 16 regions' msearch 15.4 → 10.5 ms p50
    // at 100,000 products × 4 photos, a probe by hand); a chosen region is searched again with every model.
    // With near-duplicates passed over (LOCALIZE_NEAR_DUPLICATE), the next few results too: ids and scores all the same.
    const nearDuplicate = this.localizer?.settings.nearDuplicate;
    const scoringSize = nearDuplicate && nearDuplicate.threshold > 0 ? 1 + nearDuplicate.depth : 2;
    const scoringSearch = (vectors: Record<string, Float32Array>, filters: FilterClause[]): CatalogSearchOptions => ({ vectors: { [scorer]: Array.from(vectors[scorer]!) }, weights: { [scorer]: 1 }, size: scoringSize, numCandidates: options.num_candidates, filters, mode: options.mode, facets: false, idsOnly: options.mode === 'knn' });
    // A region searched with the scoring model's own vector (the photo asked whole first, the reference, the regions the
    // cascade scores again) is asked, in kNN, the model's nearest as a hybrid's step 1 asks them (ids and scores, as many
    // as the search's candidates; its first two choose as above): when that region is then searched with every model
    // under the same filters and the model weighted most proposes the candidates alone, that answer is its candidates
    // and only the fusion runs (`knownCandidates`; a one-request search ignores it). `nearest`: the regions asked by
    // `nearestSearch` under the request's filters (in exact mode it asks as `scoringSearch`, and nothing is reused).
    const candidatesAsked = numCandidatesFor(searchSize(options, FIRST_PAGE), options.num_candidates);
    const nearestSearch = (vectors: Record<string, Float32Array>, filters: FilterClause[]): CatalogSearchOptions =>
      options.mode === 'knn' ? { ...scoringSearch(vectors, filters), size: candidatesAsked, numCandidates: candidatesAsked } : scoringSearch(vectors, filters);
    const nearest = new Set<number>();
    const withKnownCandidates = (region: number, answer: CatalogSearchResponse | undefined, search: CatalogSearchOptions): CatalogSearchOptions =>
      answer && nearest.has(region) && search.mode === 'knn' && search.candidates === 'lead' ? { ...search, knownCandidates: answer.hits.flatMap((hit) => (hit._id ? [hit._id] : [])) } : search;
    // Scores are (1 + cos) / 2; the margins are cosine differences, as measured.
    const cosine = (hit: CatalogHit | undefined): number | undefined => (hit ? 2 * (hit._score ?? 0) - 1 : undefined);
    const answerOf = ({ hits }: CatalogSearchResponse) => ({ firstId: hits[0]?._id, firstScore: cosine(hits[0]) ?? -1, secondScore: cosine(hits[1]) });
    let candidates: Candidate[];
    let photoMap: FeatureMap | undefined;
    // The reference (candidate 0) by the scoring model, when asked before localizing: its vectors and its answer.
    // `asRequested`: it was asked under the request's filters (the request has none), so the choice among regions reuses
    // its answer.
    let reference: { vectors: Record<string, Float32Array>; scored: CatalogSearchResponse; asRequested: boolean } | undefined;
    if (options.box) {
      const { box } = options;
      if (box.left + box.width > original.width || box.top + box.height > original.height) {
        throw new ValidationError(`box ${box.left},${box.top} ${box.width}×${box.height} is not inside the ${original.width}×${original.height} photo`, { code: 'invalid_box' });
      }
      candidates = [{ box: scaleBox(box, original, image), source: 'box', label: null }];
    } else {
      const localizer = this.localizer!;
      const whole = localizer.reference(image);
      candidates = [whole];
      // A photo without a plain background is asked whole first: a clear answer (LOCALIZE_SKIP_SCORE) means the catalog
      // knows the photo as it is (a close-up of a product), and it is searched whole, with no localization. It is asked
      // without the request's filters (in its catalog): what a photo shows does not depend on them, and a close-up of a
      // product the filters leave out, localized, would be cut into parts and searched for those.
      if (whole.source === 'whole' && !options.objects && localizer.settings.skipScore > 0) {
        const t0 = performance.now();
        const [vectors] = await this.embedder.embedRegions(image, [null], { models: [scorer], ...(rerankModel ? { onMap: keepMap(() => 0) } : {}) });
        const t1 = performance.now();
        const [scored] = await this.inCatalog(catalog, [], false, (filters) => searchCatalogMany(this.es, this.alias, [nearestSearch(vectors!, filters)]));
        timings.embed += t1 - t0;
        timings.search += performance.now() - t1;
        reference = { vectors: vectors!, scored: scored!, asRequested: filters.length === 0 };
        if (reference.asRequested) nearest.add(0);
      }
      if (!reference || regionScore(answerOf(reference.scored), localizer.settings.gapWeight) < localizer.settings.skipScore) {
        const proposal = await localizer.propose(image, options.objects ?? false, whole);
        candidates = proposal.candidates;
        photoMap = proposal.map;
        timings.localize = proposal.timings.map + proposal.timings.objectness + proposal.timings.detect;
      }
    }
    const several = candidates.length > 1 && ids.length > 1;
    // With `rerank`: the feature map of the chosen regions by the model the precision stage compares, described when
    // chosen. Fetching a map from a run costs about 0.6–1 ms an image (13–23 ms for 24 candidates, measured). When the
    // localizer runs that model's file (LOCALIZE_MAP=float), each chosen region's map is read from the whole photo's
    // map it computed (featureMapInBox: no run); otherwise (the localizer runs the int8 copy) one region's map comes
    // with its only run, several candidates' with the scoring run, or, when the int8 copy ranks them, with the model's
    // runs of the regions it chooses among (the reference asked whole, the cascade's, a chosen region's own vector).
    const fromPhotoMap = rerankModel !== null && photoMap !== undefined && this.localizer?.featureMap.manifest.sha256 === this.embedder.get(rerankModel)?.manifest.sha256;
    const mapsFromRuns = rerankModel !== null && !fromPhotoMap;
    // A run's option that keeps the maps of its images, the candidates `regions` (by slot), where they come from runs.
    const mapsOf = (regions: readonly number[]) => (mapsFromRuns ? { onMap: keepMap((slot) => regions[slot]!) } : {});
    // Several candidates are ranked by the scoring model's int8 copy where it is loaded (LOCALIZE_SCORER): 2.5× faster,
    // the same choice (benchmarks/results/localization-chooser.md); the chosen regions are embedded by the model itself
    // below, and with `rerank` their feature maps come from those runs of the model (never from the copy's).
    const quantized = several && this.embedder.hasQuantized(scorer);
    const t1 = performance.now();
    // Each candidate's vectors by `models`; the reference's by the scoring model are known when it was asked whole first,
    // so it runs only the others (none when scoring), and the other candidates run every one of `models`.
    const models = several ? [scorer] : ids;
    const scoring: Array<Record<string, Float32Array>> = candidates.map((_, i) => (i === 0 && reference ? { ...reference.vectors } : {}));
    const known = reference ? 1 : 0;
    const referenceModels = models.filter((id) => !scoring[0]![id]);
    const into = (from: number) => (vectors: Array<Record<string, Float32Array>>) => vectors.forEach((v, n) => Object.assign(scoring[from + n]!, v));
    const onMap = (from: number) => (mapsFromRuns && !quantized ? { onMap: keepMap((slot) => from + slot) } : {});
    // With the copy ranking the candidates, a reference not asked whole first (`objects`, a trimmed photo's, or
    // LOCALIZE_SKIP_SCORE=0) is embedded by the model itself beside the copy's batch: the choice needs its model answer
    // anyway (it stays unless clearly beaten), so it is not run and searched twice.
    const referenceByModel = quantized && !reference;
    const first = referenceByModel ? 1 : known;
    await Promise.all([
      candidates.length > first ? this.embedder.embedRegions(image, candidates.slice(first).map((candidate) => candidate.box), { models, quantized, ...onMap(first) }).then(into(first)) : undefined,
      known && referenceModels.length > 0 ? this.embedder.embedRegions(image, [candidates[0]!.box], { models: referenceModels, ...onMap(0) }).then(into(0)) : undefined,
      referenceByModel ? this.embedder.embedRegions(image, [candidates[0]!.box], { models, ...mapsOf([0]) }).then(into(0)) : undefined,
    ]);
    const t2 = performance.now();
    // The reference's scoring answer is the one it was asked whole, where that was under the request's filters (else it
    // is searched again with them, beside the other regions); a region searched alone is searched in full.
    const asked = several && reference?.asRequested ? 1 : 0;
    const searched = await this.inCatalog(catalog, filters, options.facets, (filters) =>
      searchCatalogMany(
        this.es,
        this.alias,
        scoring.slice(asked).map((vectors, n) => {
          const region = n + asked;
          if (!several) return withKnownCandidates(region, region === 0 ? reference?.scored : undefined, this.catalogSearch(Object.fromEntries(ids.map((id) => [id, Array.from(vectors[id]!)])), weights, options, filters, FIRST_PAGE, rerankModel ?? undefined));
          // The reference, asked here under the request's filters, by the model's own vector.
          return region === 0 ? nearestSearch(vectors, filters) : scoringSearch(vectors, filters);
        }),
      ),
    );
    const scored = asked ? [reference!.scored, ...searched] : searched;
    if (several && !asked) nearest.add(0);
    const t3 = performance.now();
    timings.embed += t2 - t1;
    timings.search += t3 - t2;
    const answers = scored.map(answerOf);
    // The candidates whose scoring vector is the model's own (the others are the int8 copy's), and those the choice is among.
    const own = new Set(quantized ? [0] : candidates.keys());
    let among = [...candidates.keys()];
    const rescore = this.localizer?.settings.rescoreRegions ?? 0;
    if (quantized && rescore > 0) {
      // The copy's best regions and the reference (the region that stays unless clearly beaten) scored again by the
      // model itself (LOCALIZE_RESCORE_REGIONS): the primary region is chosen among them; with `objects`, the objects
      // among every candidate, these with the model's answers.
      const gapWeight = this.localizer!.settings.gapWeight;
      const ranked = among.filter((i) => i > 0).sort((a, b) => regionScore(answers[b]!, gapWeight) - regionScore(answers[a]!, gapWeight));
      const best = [0, ...ranked.slice(0, rescore)].sort((a, b) => a - b);
      if (!options.objects) among = best;
      const again = best.filter((i) => !own.has(i));
      const c0 = performance.now();
      const vectors = await this.embedder.embedRegions(image, again.map((i) => candidates[i]!.box), { models: [scorer], ...mapsOf(again) });
      const c1 = performance.now();
      again.forEach((i, n) => {
        scoring[i]![scorer] = vectors[n]![scorer]!;
        own.add(i);
      });
      const rescored = await this.inCatalog(catalog, filters, false, (filters) => searchCatalogMany(this.es, this.alias, again.map((i) => nearestSearch(scoring[i]!, filters))));
      again.forEach((i, n) => {
        scored[i] = rescored[n]!;
        answers[i] = answerOf(rescored[n]!);
        nearest.add(i);
      });
      timings.embed += c1 - c0;
      timings.search += performance.now() - c1;
    }
    // The regions the choice is made among, with the model's own answers and a small lead: their lead passes over
    // near-duplicates of their first result (a recoloured variant right behind an item), read from the results'
    // photos in one mget (core/localization/near-duplicates.ts).
    if (several && nearDuplicate && nearDuplicate.threshold > 0) {
      const ranked = (i: number): RankedHit[] => scored[i]!.hits.flatMap((hit) => (hit._id ? [{ id: hit._id, cosine: cosine(hit)! }] : []));
      // The reference and the 3 best others with the model's own answers (every candidate has them with LOCALIZE_SCORER=float).
      const gapWeight = this.localizer!.settings.gapWeight;
      const mine = among.filter((i) => own.has(i));
      const best = mine.filter((i) => i > 0).sort((a, b) => regionScore(answers[b]!, gapWeight) - regionScore(answers[a]!, gapWeight));
      const looks = [...mine.filter((i) => i === 0), ...best.slice(0, 3)].map((i) => ({ i, hits: ranked(i) })).flatMap((look) => {
        const looked = lookedAt(look.hits, nearDuplicate);
        return looked.length > 0 ? [{ ...look, looked }] : [];
      });
      if (looks.length > 0) {
        const c0 = performance.now();
        const photos = await this.vectors.photoVectors(
          looks.flatMap(({ looked }) => looked.map((hit) => hit.id)),
          scorer,
        );
        for (const { i, hits } of looks) {
          const second = distinctSecond(hits, photos, nearDuplicate);
          if (second !== undefined) answers[i] = { ...answers[i]!, secondScore: second };
        }
        timings.search += performance.now() - c0;
      }
    }
    const settings = this.localizer?.settings ?? { wholeMargin: 0, objectMargin: 0, tightenMargin: 0 };
    const picked = choose(among.map((i) => candidates[i]!), among.map((i) => answers[i]!), image, settings, options.max_objects ?? 5);
    const choice = { primary: among[picked.primary]!, objects: picked.objects.map((n) => among[n]!) };
    const chosen = [...new Set([choice.primary, ...(options.objects ? choice.objects : [])])];
    let responses = new Map(chosen.map((i) => [i, scored[i]!]));
    // The primary region's vectors, which `query_id` runs again.
    let primaryVectors: Record<string, number[]> = several ? {} : Object.fromEntries(ids.map((id) => [id, Array.from(scoring[choice.primary]![id]!)]));
    // The chosen regions' searches with every model: their embeddings (t5 − t4), their msearch (after t5).
    const t4 = performance.now();
    let t5 = t4;
    if (several) {
      const rest = ids.filter((id) => id !== scorer);
      // A chosen region ranked by the int8 copy alone gets the scoring model's own vector.
      const refined = chosen.filter((i) => !own.has(i));
      const [others, ownVectors] = await Promise.all([
        this.embedder.embedRegions(image, chosen.map((i) => candidates[i]!.box), { models: rest, ...mapsOf(chosen) }),
        refined.length > 0 ? this.embedder.embedRegions(image, refined.map((i) => candidates[i]!.box), { models: [scorer], ...mapsOf(refined) }) : [],
      ]);
      refined.forEach((i, n) => (scoring[i]![scorer] = ownVectors[n]![scorer]!));
      t5 = performance.now();
      const full = await this.inCatalog(catalog, filters, options.facets, (filters) =>
        searchCatalogMany(
          this.es,
          this.alias,
          chosen.map((i, n) =>
            withKnownCandidates(i, scored[i], this.catalogSearch(Object.fromEntries([[scorer, Array.from(scoring[i]![scorer]!)], ...rest.map((id) => [id, Array.from(others[n]![id]!)])]), weights, options, filters, FIRST_PAGE, rerankModel ?? undefined)),
          ),
        ),
      );
      responses = new Map(chosen.map((i, n) => [i, full[n]!]));
      const n = chosen.indexOf(choice.primary);
      primaryVectors = Object.fromEntries([[scorer, Array.from(scoring[choice.primary]![scorer]!)], ...rest.map((id) => [id, Array.from(others[n]![id]!)])]);
    }
    timings.embed += t5 - t4;
    timings.search += performance.now() - t5;
    // The precision stage over each chosen region's answer, with that region's own descriptor.
    const whole = { left: 0, top: 0, width: image.width, height: image.height };
    const reranks = new Map<number, Rerank>();
    if (rerankModel) {
      const t6 = performance.now();
      if (fromPhotoMap) {
        const input = this.embedder.get(rerankModel)!.manifest.input;
        // The cells a run of a region gives: the model's input over the backbone's stride (7 for 224 px at 32).
        const side = Math.round(input.width / this.localizer!.featureMap.manifest.stride);
        for (const i of chosen) maps.set(i, featureMapInBox(photoMap!, image.width, image.height, modelView(candidates[i]!.box ?? whole, input), side));
      }
      for (const i of chosen) if (maps.has(i)) reranks.set(i, { model: rerankModel, query: describeFeatureMap(maps.get(i)!) });
      timings.rerank = performance.now() - t6;
      responses = new Map([...responses].map(([i, response]) => [i, this.rescore(response, reranks.get(i) ?? null, options, timings)]));
    }
    const primary = responses.get(choice.primary)!;
    const inPhoto = (box: CropBox | null): CropBox | null => (box ? scaleBox(box, image, original) : null);
    const objects = (options.objects ? choice.objects : [])
      .map((i) => {
        const { results, match } = answer(responses.get(i)!, options, FIRST_PAGE, null);
        return { box: inPhoto(candidates[i]!.box ?? whole)!, label: candidates[i]!.label, score: roundScore(responses.get(i)!.hits[0]?._score ?? 0), match, results };
      })
      .sort((a, b) => b.score - a.score);
    const crop = inPhoto(candidates[choice.primary]!.box);
    const primaryRerank = reranks.get(choice.primary) ?? null;
    const kept = { catalog: catalogOf(options), crop, vectors: primaryVectors, ...(primaryRerank ? { regions: { [primaryRerank.model]: encodeRegions(primaryRerank.query) } } : {}) };
    if (options.like || options.unlike) {
      // Steering changes the chosen region's search only (the regions were chosen by the photo alone); it never comes
      // with `objects` (refused as steering_with_objects: core/search/search-request.ts).
      const steered = await this.searchVectors(primaryVectors, weights, options, FIRST_PAGE, undefined, crop, timings, started, primaryRerank);
      return { result: steered, kept };
    }
    const answered = answer(primary, options, FIRST_PAGE, cursorOptions(options));
    timings.total = performance.now() - started;
    return {
      result: {
        ...answered,
        query: { crop, models: ids },
        ...(options.objects ? { objects } : {}),
        ...(options.facets ? { facets: facets(primary.aggregations as Record<string, { buckets?: Array<{ key: string; doc_count: number }> }> | undefined) } : {}),
        timings_ms: roundTimings(timings),
      },
      kept,
    };
  }

  /**
   * Runs a search of `catalog` given the request's `filters` and the catalog filter (first), which is left out when
   * the index holds that catalog alone (core/search/catalog-scope.ts) and the search counts no facets; a search that
   * left it out and answered a product of another catalog runs again with it. Every answer is of `catalog` alone.
   */
  private async inCatalog<T extends CatalogSearchResponse | CatalogSearchResponse[]>(catalog: string, filters: FilterClause[], facets: boolean, run: (filters: FilterClause[]) => Promise<T>): Promise<T> {
    const withCatalog = (): FilterClause[] => [catalogFilter(catalog), ...filters];
    if (facets || !this.scope.soleCatalog(catalog)) return run(withCatalog());
    const answer = await run(filters);
    const hits = (Array.isArray(answer) ? answer : [answer]).flatMap((response) => response.hits);
    if (!foreignHit(hits, catalog)) return answer;
    this.logger.info({ catalog }, 'a search without its catalog filter found a product of another catalog: searched again with it');
    this.scope.foreignFound();
    return run(withCatalog());
  }

  /**
   * The catalog search of one query vector set: every result up to the page's end (so kNN's k and num_candidates
   * grow with the depth); the verdict reads the top VERDICT_DEPTH hits, whatever k is.
   */
  private catalogSearch(vectors: Record<string, number[]>, weights: Record<string, number>, options: SearchOptions, filters: FilterClause[], page: PagePosition = FIRST_PAGE, regions?: string): CatalogSearchOptions {
    return { vectors, weights, size: searchSize(options, page), numCandidates: options.num_candidates, candidates: this.candidates(options, Object.keys(vectors).length), filters, mode: options.mode, facets: options.facets, ...(regions && vectors[regions] ? { regions } : {}) };
  }

  /**
   * Which models propose the candidates of a search with `models` models: with `auto` and filters, by the share of
   * the catalog the filters pass (counted only for a hybrid: one model has no choice to make).
   */
  private candidates(options: SearchOptions, models: number): HybridCandidates {
    const filters = buildFilterClauses(options.filters);
    if (models < 2) return hybridCandidates(this.hybrid.setting, filters.length > 0);
    const share = this.hybrid.setting === 'auto' && filters.length > 0 ? this.hybrid.shares.share(catalogOf(options), filters) : undefined;
    const way = hybridCandidates(this.hybrid.setting, filters.length > 0, share, this.hybrid.leadShare);
    this.hybrid.counter?.inc({ way });
    return way;
  }


}

const catalogOf = (options: SearchOptions): string => options.catalog ?? DEFAULT_CATALOG;

/** Why a product's photo has no region descriptor, and what fills them in. */
const productMissing = (id: string, model: string | null): string =>
  `product ${id}'s photo was embedded before descriptors were stored (\`lookalike reembed --model ${model ?? ''}\` adds them); search without rerank`;

