import { UnrecoverableError } from 'bullmq';
import { hashImage } from '../../core/image/decode';
import type { ReembedJob } from '../../core/jobs';
import { FetchError } from '../../core/net/image-fetcher';
import type { BulkAction } from '../../core/search/bulk';
import { encodeRegions } from '../../core/rerank/regions';
import { embeddingMetadata, photoCurrent, photoLacksRegions, type PhotoDocument } from '../../core/search/photos';
import { bulkFailureError, type CatalogBatchDeps } from './catalog-batch.handler';

/**
 * Re-embeds products with one model (a model added, or a new version of one whose vectors keep their dims): fetch
 * again each photo whose vector of that model is missing or stale, embed it with that model only, and update that
 * model's vectors and metadata in place (the photos rewritten with their other vectors), conditional on what was
 * read. Search keeps answering with the old vector until the new one lands. Re-embed batches queue behind
 * catalog batches at both gates (priority `low`), so a large re-embed does not delay fresh catalog changes.
 */
export type ReembedOutcome = 'reembedded' | 'current' | 'gone';
type Result = { ok: true; value: ReembedOutcome } | { ok: false; error: unknown };

export async function processReembedBatch(deps: Omit<CatalogBatchDeps, 'status'>, items: ReembedJob[]): Promise<Result[]> {
  return deps.imageGate.run(() => reembed(deps, items), 'low');
}

async function reembed(deps: Omit<CatalogBatchDeps, 'status'>, items: ReembedJob[]): Promise<Result[]> {
  const { store, embedder } = deps;
  const stored = await store.read(items.map((item) => item.productId));
  const results: Result[] = new Array(items.length);
  // With their region descriptors: a photo embedded before they were stored is re-embedded to get one.
  const photos = await store.readPhotos(items.map((item) => item.productId));
  // Per item, the photos whose vector of the item's model is missing or of another version or image, or that lack
  // the model's region descriptor.
  const work: Array<{ position: number; stale: number[] }> = [];
  items.forEach((item, position) => {
    const current = stored.get(item.productId);
    const model = embedder.get(item.model);
    if (!model) results[position] = { ok: false, error: new UnrecoverableError(`unknown_model: ${item.model} is not loaded by this indexer`) };
    else if (!current || current.deleted || current.photos.length === 0) results[position] = { ok: true, value: 'gone' };
    else {
      // A photo that failed keeps failing until its product is sent again; re-embedding does not retry it.
      const full = photos.get(item.productId) ?? [];
      const stale = current.photos.flatMap((photo, i) => (photo.error === undefined && (!photoCurrent(photo, [model]) || (full[i] !== undefined && photoLacksRegions(full[i]!, model))) ? [i] : []));
      if (stale.length === 0) results[position] = { ok: true, value: 'current' };
      else work.push({ position, stale });
    }
  });
  const fetches = work.flatMap((w) => w.stale.map((i) => ({ position: w.position, photo: i, url: stored.get(items[w.position]!.productId)!.photos[i]!.url })));
  const fetched = await Promise.all(fetches.map((f) => deps.fetcher.fetch(f.url).then((image) => ({ ok: true as const, bytes: image.bytes }), (error: unknown) => ({ ok: false as const, error }))));
  const byModel = new Map<string, Array<{ position: number; photo: number; bytes: Buffer }>>();
  fetches.forEach((f, n) => {
    const result = fetched[n]!;
    if (!result.ok) {
      const error = result.error;
      results[f.position] ??= { ok: false, error: error instanceof FetchError && !error.transient ? new UnrecoverableError(`${error.code}: ${error.message}`) : error };
      return;
    }
    const model = items[f.position]!.model;
    byModel.set(model, [...(byModel.get(model) ?? []), { position: f.position, photo: f.photo, bytes: result.bytes }]);
  });
  const updated = new Map<number, PhotoDocument[]>();
  for (const [modelId, entries] of byModel) {
    const model = embedder.get(modelId)!;
    const outcomes = await deps.embedGate.run(() => embedder.embedMany(entries.map((e) => e.bytes), { models: [modelId], regions: true }), 'low');
    entries.forEach((entry, i) => {
      const outcome = outcomes[i]!;
      if (!outcome.ok) {
        results[entry.position] ??= { ok: false, error: new UnrecoverableError(`${outcome.error.code}: ${outcome.error.message}`) };
        return;
      }
      const list = updated.get(entry.position) ?? structuredClone(photos.get(items[entry.position]!.productId) ?? []);
      const { regions: storedRegions, ...photo } = list[entry.photo]!;
      const hash = hashImage(entry.bytes);
      const fresh = outcome.image.embeddings[0]!;
      // The model's region descriptor goes with its vector: replaced, or dropped when this version gives none.
      const { [modelId]: _stale, ...regions } = storedRegions ?? {};
      if (fresh.regions) regions[modelId] = encodeRegions(fresh.regions);
      list[entry.photo] = {
        ...photo,
        hash,
        vectors: { ...photo.vectors, [modelId]: Array.from(fresh.vector) },
        embeddings: { ...photo.embeddings, [modelId]: embeddingMetadata(model, hash) },
        ...(Object.keys(regions).length > 0 ? { regions } : {}),
      };
      updated.set(entry.position, list);
    });
  }
  const actions: Array<{ position: number; action: BulkAction }> = [];
  for (const [position, list] of updated) {
    // A product with one photo failing is retried whole: its other photos' vectors are not written half-way.
    if (results[position]) continue;
    const item = items[position]!;
    actions.push({ position, action: store.patch(item.productId, { photos: list, image_hash: list[0]?.hash ?? null }, stored.get(item.productId)!) });
  }
  if (actions.length > 0) {
    const bulk = await store.write(actions.map((a) => a.action));
    const failures = new Map(bulk.failures.map((f) => [f.id, f]));
    for (const { position, action } of actions) {
      const failure = failures.get(action.id);
      results[position] = failure ? { ok: false, error: bulkFailureError(failure) } : { ok: true, value: 'reembedded' };
    }
  }
  return results;
}
