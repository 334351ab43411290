import type { Client } from '@elastic/elasticsearch';
import { z } from 'zod';
import { DEFAULT_CATALOG, catalogNameSchema, productImages, productSchema, type Product } from '../catalog';
import { bulkWrite, type BulkAction, type BulkResult } from './bulk';
import { assertAllShards, NO_PARTIAL_RESULTS, searchAllShards } from './elasticsearch';
import type { PhotoDocument } from './photos';

/**
 * Reads and writes catalog documents through the alias, with optimistic concurrency: every write is conditional on
 * the sequence number read (or a create when there was nothing), so a concurrent writer makes it fail with 409 and
 * it is decided again on fresh data. A product is one document, its photos entries of the nested `photos` field
 * (core/search/photos.ts). Deletes leave a tombstone document (`deleted: true` and its version, no vector)
 * so that a late, older upsert can never bring a product back; the indexer sweeps tombstones after TOMBSTONE_TTL_S.
 */

export interface StoredProduct {
  id: string;
  seqNo: number;
  primaryTerm: number;
  version: number;
  deleted: boolean;
  /** The photos in order, without their vectors (read them with `readPhotos`). */
  photos: PhotoDocument[];
}

/** A photo's stored outputs that a photo of the same bytes may reuse: per model its vector and region descriptor. */
export interface StoredVectors {
  vectors: Record<string, number[]>;
  regions: Record<string, string>;
}

/** The outcome of a tombstone sweep: what was removed, and what Elasticsearch refused (each logged by the caller). */
export interface SweepResult {
  removed: number;
  failed: number;
  /** The first refusal's reason, when any. */
  firstFailure?: string;
}

const READ_FIELDS = ['source_version', 'deleted', 'photos.url', 'photos.hash', 'photos.error', 'photos.embeddings'];

const attribute = productSchema.shape;
/** The product attributes as stored (and as search results show them): an absent optional field is null. */
export const productFieldsSchema = z.object({
  id: attribute.id,
  catalog: catalogNameSchema,
  title: attribute.title.unwrap().nullable(),
  brand: attribute.brand.unwrap().nullable(),
  category: attribute.category.unwrap().nullable(),
  color: attribute.color.unwrap().nullable(),
  sizes: attribute.sizes.unwrap().nullable(),
  price: attribute.price.unwrap().nullable(),
  currency: attribute.currency.unwrap().nullable(),
  available: attribute.available.unwrap().nullable(),
  signals: attribute.signals.unwrap().nullable(),
  images: z.array(z.string()).describe("The product's photos, the main one first"),
  image_url: z.string().describe('The main photo (`images[0]`)'),
});
export type ProductFields = z.infer<typeof productFieldsSchema>;

/** The product attributes to store; absent optional fields are written as null so an upsert replaces them. */
export function productFields(product: Product): ProductFields {
  return {
    id: product.id,
    catalog: product.catalog ?? DEFAULT_CATALOG,
    title: product.title ?? null,
    brand: product.brand ?? null,
    category: product.category ?? null,
    color: product.color ?? null,
    sizes: product.sizes ?? null,
    price: product.price ?? null,
    currency: product.currency ?? null,
    available: product.available ?? null,
    signals: product.signals ?? null,
    images: productImages(product),
    image_url: productImages(product)[0]!,
  };
}

export class CatalogStore {
  constructor(
    private readonly es: Client,
    readonly alias: string,
    private readonly refresh: 'wait_for' | 'false',
  ) {}

  /** The stored state of each product (null when it has never been written, or was swept). */
  async read(ids: string[]): Promise<Map<string, StoredProduct | null>> {
    const result = new Map<string, StoredProduct | null>();
    if (ids.length === 0) return result;
    const unique = [...new Set(ids)];
    const response = await this.es.mget<Record<string, unknown>>({ index: this.alias, ids: unique, _source_includes: READ_FIELDS });
    response.docs.forEach((doc, position) => {
      const id = unique[position]!;
      const found = doc as { found?: boolean; _seq_no?: number; _primary_term?: number; _source?: Record<string, unknown>; error?: unknown };
      if ('error' in found && found.error) throw new Error(`mget ${id}: ${JSON.stringify(found.error)}`);
      if (!found.found || !found._source) {
        result.set(id, null);
        return;
      }
      const source = found._source;
      result.set(id, {
        id,
        seqNo: found._seq_no!,
        primaryTerm: found._primary_term!,
        version: Number(source.source_version ?? -1),
        deleted: source.deleted === true,
        photos: ((source.photos as PhotoDocument[] | undefined) ?? []).map((photo) => ({ ...photo, embeddings: photo.embeddings ?? {} })),
      });
    });
    return result;
  }

  /** The photos of each product with their vectors (and region descriptors): what a write that keeps some photos and changes others needs. */
  async readPhotos(ids: string[]): Promise<Map<string, PhotoDocument[]>> {
    const result = new Map<string, PhotoDocument[]>();
    const unique = [...new Set(ids)];
    if (unique.length === 0) return result;
    // In the query string: the client would put an unknown key of an mget into its body, which Elasticsearch refuses.
    const response = await this.es.mget<{ photos?: PhotoDocument[] }>({ index: this.alias, ids: unique, _source_includes: ['photos'] }, { querystring: { _source_exclude_vectors: false } });
    response.docs.forEach((doc, position) => {
      const source = (doc as { _source?: { photos?: PhotoDocument[] } })._source;
      result.set(unique[position]!, (source?.photos ?? []).map((photo) => ({ ...photo, embeddings: photo.embeddings ?? {} })));
    });
    return result;
  }

  /**
   * Vectors (and region descriptors) already computed for these photos (same content hash and model version), from any product: two products
   * that share a photo are embedded once, and a re-import embeds nothing. One small search per hash in one msearch
   * (nested fields cannot be collapsed on): the first product holding a photo with that hash and a current vector.
   */
  async findVectors(imageHashes: string[], models: Array<{ id: string; version: string }>): Promise<Map<string, StoredVectors>> {
    const found = new Map<string, StoredVectors>();
    const hashes = [...new Set(imageHashes)];
    if (hashes.length === 0 || models.length === 0) return found;
    const response = await this.es.msearch<{ photos?: PhotoDocument[] }>({
      index: this.alias,
      searches: hashes.flatMap((hash) => [
        NO_PARTIAL_RESULTS,
        {
          size: 1,
          query: {
            nested: {
              path: 'photos',
              query: {
                bool: {
                  filter: [{ term: { 'photos.hash': hash } }],
                  should: models.map((model) => ({ term: { [`photos.embeddings.${model.id}.model_version`]: model.version } })),
                  minimum_should_match: 1,
                },
              },
            },
          },
          _source: { includes: ['photos'], exclude_vectors: false },
        },
      ]) as never,
    });
    response.responses.forEach((item, position) => {
      if ('error' in item) throw new Error(`finding stored vectors: ${JSON.stringify(item.error)}`);
      assertAllShards(item);
      const hash = hashes[position]!;
      const photo = item.hits.hits[0]?._source?.photos?.find((candidate) => candidate.hash === hash);
      if (!photo) return;
      const vectors: Record<string, number[]> = {};
      const regions: Record<string, string> = {};
      for (const model of models) {
        const meta = photo.embeddings?.[model.id];
        const vector = photo.vectors?.[model.id];
        if (meta && meta.model_version === model.version && meta.image_hash === hash && Array.isArray(vector)) {
          vectors[model.id] = vector;
          const described = photo.regions?.[model.id];
          if (typeof described === 'string') regions[model.id] = described;
        }
      }
      if (Object.keys(vectors).length > 0) found.set(hash, { vectors, regions });
    });
    return found;
  }

  /** Writes the actions (each conditional on what was read) in one bulk request. */
  async write(actions: BulkAction[]): Promise<BulkResult> {
    return bulkWrite(this.es, actions, this.refresh === 'wait_for' ? { refresh: 'wait_for' } : {});
  }

  /** A write of `document` for `id`: conditional on `stored`, or a create when nothing was stored. */
  put(id: string, document: Record<string, unknown>, stored: StoredProduct | null): BulkAction {
    return stored
      ? { op: 'index', index: this.alias, id, document, ifSeqNo: stored.seqNo, ifPrimaryTerm: stored.primaryTerm }
      : { op: 'create', index: this.alias, id, document };
  }

  /** A partial update of `id`, conditional on `stored`. */
  patch(id: string, partial: Record<string, unknown>, stored: StoredProduct): BulkAction {
    return { op: 'update', index: this.alias, id, partial, ifSeqNo: stored.seqNo, ifPrimaryTerm: stored.primaryTerm };
  }

  /** `documentId`: `documentId(catalog, productId)`. */
  tombstone(documentId: string, product: { id: string; catalog: string }, version: number, stored: StoredProduct | null): BulkAction {
    const now = new Date().toISOString();
    return this.put(documentId, { id: product.id, catalog: product.catalog, deleted: true, deleted_at: now, source_version: version, updated_at: now, indexed_at: now }, stored);
  }

  /**
   * Deletes tombstones older than `ttlSeconds`, a page at a time (there is no _delete_by_query on every cluster).
   * Pages move forward by product id, so a tombstone Elasticsearch refuses to delete is counted and passed, never
   * fetched again in the same sweep: the sweep always ends.
   */
  async sweepTombstones(ttlSeconds: number, pageSize = 500): Promise<SweepResult> {
    const before = new Date(Date.now() - ttlSeconds * 1000).toISOString();
    const result: SweepResult = { removed: 0, failed: 0 };
    let after: string[] | undefined;
    for (;;) {
      const response = await searchAllShards<{ id?: string }>(this.es, {
        index: this.alias,
        size: pageSize,
        seq_no_primary_term: true,
        _source: false,
        // Product ids repeat across catalogs; documents written before catalogs have none (the default catalog).
        sort: [{ id: 'asc' }, { catalog: { order: 'asc', missing: DEFAULT_CATALOG } }],
        ...(after !== undefined ? { search_after: after } : {}),
        query: { bool: { filter: [{ term: { deleted: true } }, { range: { deleted_at: { lt: before } } }] } },
      });
      const hits = response.hits.hits;
      if (hits.length === 0) return result;
      const bulk = await bulkWrite(
        this.es,
        hits.map((hit) => ({ op: 'delete' as const, index: hit._index, id: hit._id!, ifSeqNo: hit._seq_no!, ifPrimaryTerm: hit._primary_term! })),
        { refresh: true },
      );
      result.removed += bulk.succeeded;
      result.failed += bulk.failures.length;
      const first = bulk.failures[0];
      if (first && !result.firstFailure) result.firstFailure = `${first.id}: ${first.status} ${first.type}: ${first.reason}`;
      const last = hits[hits.length - 1]!.sort;
      if (hits.length < pageSize || !last || last.some((value) => typeof value !== 'string')) return result;
      after = last as string[];
    }
  }
}
