import { UnrecoverableError } from 'bullmq';
import { performance } from 'node:perf_hooks';
import { hashImage } from '../../core/image/decode';
import { AppError } from '../../core/errors';
import { FetchError } from '../../core/net/image-fetcher';
import type { CatalogStore } from '../../core/search/catalog-store';
import { encodeRegions } from '../../core/rerank/regions';
import { embeddedPhoto, failedPhoto, photoCurrent, type PhotoDocument } from '../../core/search/photos';
import type { CatalogBatchDeps } from './catalog-batch.handler';

/**
 * The photos of products whose photo list changed, each photo embedded at most once:
 * - a stored photo with the same URL and every model's vector current is kept as it is (no fetch);
 * - any other photo is fetched and hashed; a stored photo of the product with that hash (the same bytes at a new
 *   URL), or any product's photo with that hash and model version (core/search/catalog-store.ts `findVectors`),
 *   lends its vectors; only what is left is embedded, each distinct hash once, in one batch;
 * - a photo the product no longer lists is simply not written: it leaves the index with the write.
 * A photo that fails for good (404, not an image) is kept with its reason and no vector, so the product stays
 * searchable through its other photos and the status shows which failed; when every photo fails, the product fails.
 * A transient failure (timeout, 5xx) fails the product, which is retried as a whole.
 */

/** One product whose photos are to be built: its photo URLs in order, and what the index holds (null: nothing). */
export interface PhotoRequest {
  id: string;
  urls: string[];
  stored: PhotoDocument[] | null;
}

export type PhotoOutcome = { ok: true; photos: PhotoDocument[] } | { ok: false; error: Error };

type Models = CatalogBatchDeps['embedder']['models'];

/** A failure of bad input: the job goes to the failed set with this reason and is not retried. */
export function permanent(code: string, message: string): UnrecoverableError {
  return new UnrecoverableError(`${code}: ${message}`);
}

/** Whether the stored photos are these URLs in this order, each with every model's vector current. */
export function photosCurrent(stored: PhotoDocument[], urls: string[], models: Models): boolean {
  return stored.length === urls.length && stored.every((photo, i) => photo.url === urls[i] && photoCurrent(photo, models));
}

/** The photos of each request, in order (one outcome per request). */
export async function buildPhotos(deps: Pick<CatalogBatchDeps, 'embedder' | 'embedGate' | 'fetcher' | 'metrics'> & { store: CatalogStore }, requests: PhotoRequest[]): Promise<PhotoOutcome[]> {
  const { embedder, metrics } = deps;
  const models = embedder.models;
  const withVectors = await deps.store.readPhotos(requests.filter((r) => r.stored && r.stored.length > 0).map((r) => r.id));
  const plans = requests.map((request) => {
    const stored = withVectors.get(request.id) ?? [];
    return request.urls.map((url) => stored.find((photo) => photo.url === url && photoCurrent(photo, models)) ?? null);
  });
  const toFetch = requests.flatMap((request, r) => request.urls.flatMap((url, i) => (plans[r]![i] ? [] : [{ r, i, url }])));
  let t = performance.now();
  const fetched = await Promise.all(toFetch.map(({ url }) => deps.fetcher.fetch(url).then((image) => ({ ok: true as const, bytes: image.bytes }), (error: unknown) => ({ ok: false as const, error }))));
  metrics.stage.observe({ stage: 'fetch' }, (performance.now() - t) / 1000);

  const photos: Array<Array<PhotoDocument | null>> = plans.map((plan) => [...plan]);
  const transient: Array<Error | undefined> = new Array(requests.length);
  const pending: Array<{ r: number; i: number; hash: string; bytes: Buffer }> = [];
  toFetch.forEach(({ r, i, url }, n) => {
    const result = fetched[n]!;
    if (!result.ok) {
      const error = jobError(result.error);
      if (error instanceof UnrecoverableError) photos[r]![i] = failedPhoto(url, error.message);
      else transient[r] ??= error;
      return;
    }
    const hash = hashImage(result.bytes);
    const same = withVectors.get(requests[r]!.id)?.find((photo) => photo.hash === hash && photoCurrent(photo, models));
    if (same) photos[r]![i] = { ...same, url };
    else pending.push({ r, i, hash, bytes: result.bytes });
  });

  const reused = await deps.store.findVectors(pending.map((p) => p.hash), models.map((m) => ({ id: m.id, version: m.version })));
  const complete = (hash: string) => models.every((m) => reused.get(hash)?.vectors[m.id]);
  const unique = [...new Map(pending.filter((p) => !complete(p.hash)).map((p) => [p.hash, p.bytes])).entries()];
  t = performance.now();
  const outcomes = unique.length > 0 ? await deps.embedGate.run(() => embedder.embedMany(unique.map(([, bytes]) => bytes), { regions: true }), 'high') : [];
  metrics.stage.observe({ stage: 'embed' }, (performance.now() - t) / 1000);
  const byHash = new Map(unique.map(([hash], n) => [hash, outcomes[n]!]));
  for (const { r, i, hash } of pending) {
    const url = requests[r]!.urls[i]!;
    const outcome = byHash.get(hash);
    if (outcome && !outcome.ok) {
      photos[r]![i] = failedPhoto(url, `${outcome.error.code}: ${outcome.error.message}`, hash);
      continue;
    }
    const vectors: Record<string, number[]> = {};
    const regions: Record<string, string> = {};
    const stored = reused.get(hash);
    for (const model of models) {
      const fresh = outcome?.ok ? outcome.image.embeddings.find((e) => e.model === model.id) : undefined;
      // A model's vector and regions come together: both stored, or both of this embedding.
      if (stored?.vectors[model.id]) {
        vectors[model.id] = stored.vectors[model.id]!;
        if (stored.regions[model.id]) regions[model.id] = stored.regions[model.id]!;
      } else {
        vectors[model.id] = Array.from(fresh!.vector);
        if (fresh!.regions) regions[model.id] = encodeRegions(fresh!.regions);
      }
    }
    photos[r]![i] = embeddedPhoto(url, hash, vectors, models, new Date(), regions);
  }

  return requests.map((request, r): PhotoOutcome => {
    if (transient[r]) return { ok: false, error: transient[r] };
    const built = photos[r]!.map((photo) => photo!);
    const firstFailed = built.find((photo) => photo.error !== undefined);
    if (firstFailed && built.every((photo) => photo.error !== undefined)) {
      const where = request.urls.length > 1 ? ` (every photo failed; the first: ${firstFailed.url})` : '';
      return { ok: false, error: new UnrecoverableError(`${firstFailed.error!}${where}`) };
    }
    return { ok: true, photos: built };
  });
}

/** A fetch failure becomes a retry (transient) or an UnrecoverableError (bad input) with the reason kept. */
export function jobError(error: unknown): Error {
  if (error instanceof FetchError) return error.transient ? new Error(`${error.code}: ${error.message}`) : permanent(error.code, error.message);
  if (error instanceof AppError) return permanent(error.code, error.message);
  return error instanceof Error ? error : new Error(String(error));
}
