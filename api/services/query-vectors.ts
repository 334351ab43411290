import type { Client } from '@elastic/elasticsearch';
import { errors } from '@elastic/elasticsearch';
import { DEFAULT_CATALOG, documentId } from '../../core/catalog';
import type { Embedder } from '../../core/embedding/embedder';
import { AppError, NotFoundError, ValidationError } from '../../core/errors';
import { regionsField } from '../../core/search/catalog-mapping';
import type { PhotoDocument } from '../../core/search/photos';
import type { QueryStore } from '../../core/search/query-store';
import type { QueryOptions } from '../../core/search/search-request';
import { DEFAULT_WEIGHT, type SteeringVectors } from '../../core/search/steering';

/**
 * The vectors a search reads besides its own query's: a product's (a `product_id` query, a kept product query, a
 * `like` or `unlike` of a product), a kept query's, and raw steering vectors. Always within the search's catalog: the
 * document id encodes it, and a kept query of another catalog is `query_expired`.
 */
export class QueryVectors {
  constructor(
    private readonly es: Client,
    private readonly alias: string,
    private readonly embedder: Embedder,
    private readonly queries: QueryStore,
  ) {}

  /**
   * The vectors of product `id` of `catalog` (the document id encodes the catalog: no other catalog's product): those
   * of its main photo, or of the first photo that has a vector of the most of these models (the main photo may have
   * failed). "Products like this one" searches with the photo the catalog shows first.
   */
  async product(catalog: string, id: string, ids: string[]): Promise<Record<string, number[]>> {
    return (await this.productPhoto(catalog, id, ids)).vectors;
  }

  /**
   * As `product`, with that photo's region descriptors when `withRegions` (what `rerank` compares the candidates
   * with; empty for a photo embedded before they were stored).
   */
  async productPhoto(catalog: string, id: string, ids: string[], withRegions = false): Promise<{ vectors: Record<string, number[]>; regions: Record<string, string> }> {
    type Source = { deleted?: boolean; photos?: PhotoDocument[] };
    let doc;
    try {
      const fields = ['deleted', 'photos.vectors', ...(withRegions ? ids.map(regionsField) : [])];
      doc = await this.es.get<Source>({ index: this.alias, id: documentId(catalog, id), _source_includes: fields, _source_exclude_vectors: false } as never);
    } catch (error) {
      if (error instanceof errors.ResponseError && error.statusCode === 404) throw new NotFoundError(`product ${id} is not in the catalog`, 'product_not_found');
      throw error;
    }
    const source = (doc as { _source?: Source })._source;
    if (!source || source.deleted) throw new NotFoundError(`product ${id} is not in catalog "${catalog}"`, 'product_not_found');
    const photos = source.photos ?? [];
    const photoVectors = photos.map((photo) => Object.fromEntries(ids.flatMap((m) => (photo.vectors?.[m] ? [[m, photo.vectors[m]!]] : []))));
    const chosen = photoVectors.reduce((best, candidate, i) => (Object.keys(candidate).length > Object.keys(photoVectors[best] ?? {}).length ? i : best), -1);
    const vectors = photoVectors[chosen] ?? {};
    if (Object.keys(vectors).length === 0) throw new AppError('product_not_embedded', `product ${id} has no vector for ${ids.join(', ')} yet`, 409);
    const regions = Object.fromEntries(Object.entries(photos[chosen]!.regions ?? {}).filter(([, encoded]) => typeof encoded === 'string'));
    return { vectors, regions };
  }

  /**
   * Each document's photos' vectors of `model` (documents by `_id`, as search hits name them; a missing or deleted
   * one has none). One `mget`; the vectors are read back from Elasticsearch's vector files (about 15–20 ms for 10
   * products of 4 photos at 100,000 products), so only the few a localized photo's choice needs are asked.
   */
  async photoVectors(documentIds: string[], model: string): Promise<Map<string, number[][]>> {
    type Source = { deleted?: boolean; photos?: PhotoDocument[] };
    const unique = [...new Set(documentIds)];
    const result = new Map<string, number[][]>();
    if (unique.length === 0) return result;
    // In the query string: the client would put an unknown key of an mget into its body, which Elasticsearch refuses.
    const response = await this.es.mget<Source>({ index: this.alias, ids: unique, _source_includes: ['deleted', `photos.vectors.${model}`] }, { querystring: { _source_exclude_vectors: false } });
    response.docs.forEach((doc, position) => {
      const source = (doc as { _source?: Source })._source;
      if (!source || source.deleted) return;
      result.set(unique[position]!, (source.photos ?? []).flatMap((photo) => (photo.vectors?.[model] ? [photo.vectors[model]!] : [])));
    });
    return result;
  }

  /**
   * The vectors of `like` and `unlike`, for the models searched: products and kept queries of the search's catalog
   * only (a kept query of another is query_expired, as when run), raw vectors by their length.
   */
  async steering(options: QueryOptions, models: string[]): Promise<SteeringVectors[]> {
    const catalog = options.catalog ?? DEFAULT_CATALOG;
    const items = [...(options.like ?? []).map((item) => ({ item, sign: 1 as const })), ...(options.unlike ?? []).map((item) => ({ item, sign: -1 as const }))];
    return Promise.all(
      items.map(async ({ item, sign }) => {
        let vectors: Record<string, number[]>;
        if (item.product_id !== undefined) vectors = await this.product(catalog, item.product_id, models);
        else if (item.query_id !== undefined) {
          const kept = await this.queries.load(item.query_id);
          if (!kept || kept.catalog !== catalog) throw new NotFoundError(`like/unlike query_id ${item.query_id} expired or is not yours`, 'query_expired');
          vectors = kept.productId ? await this.product(catalog, kept.productId, models) : kept.vectors;
        } else {
          const vector = item.vector!;
          const model = this.embedder.models.find((m) => models.includes(m.id) && m.dims === vector.length);
          if (!model) throw new ValidationError(`a like/unlike vector has ${vector.length} values; ${models.map((id) => `${id} takes ${this.embedder.get(id)!.dims}`).join(', ')}`, { code: 'vector_length_mismatch' });
          vectors = { [model.id]: vector };
        }
        return { vectors, weight: item.weight ?? DEFAULT_WEIGHT[sign > 0 ? 'like' : 'unlike'], sign };
      }),
    );
  }
}
