import type { CatalogDocument } from './document-copy';

/**
 * A product's photos as the index stores them: one entry of the nested `photos` field per photo, in the order of
 * the product's `images` (so a nested hit's offset is the index of the photo that matched). Each entry holds its
 * URL, the content hash of its bytes, and per model the vector and what it was computed from; a photo that could not
 * be fetched or embedded holds its error and no vector.
 */

/** What one model's vector of one photo was computed from: the embedding cache key is (image_hash, model_version). */
export interface StoredEmbedding {
  model_id: string;
  model_version: string;
  image_hash: string;
  embedded_at: string;
}

/** One entry of `photos`. */
export interface PhotoDocument {
  url: string;
  /** The content hash of the photo's bytes; absent when it could not be fetched. */
  hash?: string;
  /** Why the photo has no vectors (`code: message`); absent when it has them. */
  error?: string;
  embeddings: Record<string, StoredEmbedding>;
  /** Present when read with vectors (they are left out of `_source` unless asked for). */
  vectors?: Record<string, number[]>;
  /**
   * Per model that outputs a feature map, the photo described cell by cell (core/rerank/regions.ts `encodeRegions`):
   * what the precision stage (`rerank`) compares. Kept in `_source` only (never indexed), computed with the vector
   * of the same model version and photo hash; absent for photos embedded before a release that stored them.
   */
  regions?: Record<string, string>;
}

/** What an embedding was computed from: the one builder of `photos.embeddings.<model>`. */
export function embeddingMetadata(model: { id: string; version: string }, imageHash: string, at = new Date()): StoredEmbedding {
  return { model_id: model.id, model_version: model.version, image_hash: imageHash, embedded_at: at.toISOString() };
}

/**
 * An embedded photo: one vector per model, each recorded with the model version and the photo's hash, and the region
 * descriptors of the models that give them.
 */
export function embeddedPhoto(url: string, hash: string, vectors: Record<string, number[]>, models: Array<{ id: string; version: string }>, at = new Date(), regions: Record<string, string> = {}): PhotoDocument {
  return {
    url,
    hash,
    vectors,
    ...(Object.keys(regions).length > 0 ? { regions } : {}),
    embeddings: Object.fromEntries(models.filter((model) => vectors[model.id]).map((model) => [model.id, embeddingMetadata(model, hash, at)])),
  };
}

/** A photo that could not be fetched or embedded: kept with its reason so the status shows it, never searched. */
export function failedPhoto(url: string, error: string, hash?: string): PhotoDocument {
  return { url, ...(hash !== undefined ? { hash } : {}), error, embeddings: {} };
}

/** Whether a stored photo has a vector of every model, each of that model's version and of the photo's own bytes. */
export function photoCurrent(photo: PhotoDocument, models: Array<{ id: string; version: string }>, hash = photo.hash): boolean {
  if (photo.error !== undefined || hash === undefined) return false;
  return models.every((model) => {
    const meta = photo.embeddings[model.id];
    return meta !== undefined && meta.model_version === model.version && meta.image_hash === hash;
  });
}

/**
 * Whether a stored photo lacks the region descriptor that `model` (one that outputs a feature map: `regions` in its
 * manifest) gives a photo: one embedded before descriptors were stored. `lookalike reembed` fills them in.
 */
export function photoLacksRegions(photo: PhotoDocument, model: { id: string; manifest: { regions?: unknown } }): boolean {
  return model.manifest.regions !== undefined && photo.error === undefined && typeof photo.regions?.[model.id] !== 'string';
}

/**
 * The document fields that follow from the photos: `photos`, and `images`, `image_url` (the main photo, for clients
 * written before several photos) and `image_hash` (the main photo's, which `dedupe` compares).
 */
export function photoFields(photos: PhotoDocument[]): { images: string[]; image_url: string | null; image_hash: string | null; photos: PhotoDocument[] } {
  return { images: photos.map((photo) => photo.url), image_url: photos[0]?.url ?? null, image_hash: photos[0]?.hash ?? null, photos };
}

/**
 * A document of the one-photo layout (schema 1: `image_url`, `image_hash`, `vectors` and `embeddings` at the top
 * level) in the photos layout: its one photo keeps its vectors, so a migration embeds nothing. A document already in
 * the photos layout, and a tombstone (which has no photo), come back as they are, less the old fields.
 */
export function upgradeDocument(source: CatalogDocument): CatalogDocument {
  if (!('vectors' in source) && !('embeddings' in source) && (source.photos !== undefined || typeof source.image_url !== 'string')) return source;
  const { vectors, embeddings, ...rest } = source as CatalogDocument & { vectors?: Record<string, number[]>; embeddings?: Record<string, StoredEmbedding> };
  if (rest.photos !== undefined || typeof rest.image_url !== 'string') return rest;
  const photo: PhotoDocument = {
    url: rest.image_url,
    ...(typeof rest.image_hash === 'string' ? { hash: rest.image_hash } : {}),
    embeddings: embeddings ?? {},
    vectors: vectors ?? {},
  };
  return { ...rest, ...photoFields([photo]) };
}

interface NestedInnerHits {
  hits?: { hits?: Array<{ _nested?: { offset?: number }; _score?: number | null }> };
}

/**
 * The index of the photo that matched a product hit: each kNN clause (one per model) names its inner hits after its
 * model, and the photo whose inner hits add up to the most of the product's score wins. null when the hit carries
 * none (exact mode with no nested match, or a hit from elsewhere).
 */
export function matchedImage(innerHits: Record<string, NestedInnerHits> | undefined): number | null {
  if (!innerHits) return null;
  const byPhoto = new Map<number, number>();
  for (const named of Object.values(innerHits)) {
    for (const hit of named.hits?.hits ?? []) {
      const offset = hit._nested?.offset;
      if (typeof offset === 'number') byPhoto.set(offset, (byPhoto.get(offset) ?? 0) + (hit._score ?? 0));
    }
  }
  let best: number | null = null;
  for (const [offset, score] of byPhoto) if (best === null || score > byPhoto.get(best)! || (score === byPhoto.get(best) && offset < best)) best = offset;
  return best;
}

/** A query for the products with at least one photo embedded by `modelId` (the vectors sit in nested documents). */
export function embeddedByQuery(modelId: string): Record<string, unknown> {
  return { nested: { path: 'photos', query: { exists: { field: `photos.embeddings.${modelId}.model_version` } } } };
}
