import { performance } from 'node:perf_hooks';
import type { Embedder } from '../../core/embedding/embedder';
import { describeError } from '../../core/errors';
import { DEFAULT_CATALOG, documentId, productImages } from '../../core/catalog';
import { catalogOfJob, documentIdOfJob, productIdOfJob, type CatalogJob, type UpsertJob } from '../../core/jobs';
import type { Logger } from '../../core/logger';
import type { IndexerMetrics } from '../../core/metrics';
import type { ImageFetcher } from '../../core/net/image-fetcher';
import { isTransientFailure, type BulkAction, type BulkItemFailure } from '../../core/search/bulk';
import { productFields, type CatalogStore, type StoredProduct } from '../../core/search/catalog-store';
import { photoFields } from '../../core/search/photos';
import type { StatusStore } from '../../core/status-store';
import type { Gate } from '../gate';
import { buildPhotos, permanent, photosCurrent } from './product-photos';

/**
 * Applies a batch of catalog jobs: one read of every product, then per item the least work that brings the index to
 * the event's version, then one conditional bulk write.
 *
 * - An event whose version is not newer than the stored one (a replay, a late arrival, an upsert after a newer
 *   delete's tombstone) changes nothing: `applied` for the same version, else `stale` or `tombstoned`, which the
 *   worker records in the product's status and counts.
 * - The same photo URLs in the same order, each with every model's vector current: a partial update of the
 *   attributes (price, stock …), never a fetch nor an embedding. Otherwise the photos are built one by one
 *   (indexer/handlers/product-photos.ts): a photo kept keeps its vectors, a new URL whose bytes hash to a stored
 *   photo reuses its vectors, as do vectors computed for the same hash and model version by any product; only what
 *   is left is embedded, in one batch; a photo no longer listed leaves the index with the write.
 * - Per-item outcomes: a 409 (someone wrote in between), a 429 or a 5xx is retried with backoff; a mapping error, or
 *   photos that all fail for good (refused, 404, not decodable), fail that job alone, with the reason, as
 *   UnrecoverableError; one photo failing among others is recorded on that photo. The batch's other items apply.
 */

/**
 * `applied`: the index already holds this version (a retry after a crash between the write and the job's end).
 * `stale`: the index holds a newer version; `tombstoned`: the product was deleted at a newer version.
 */
export type ItemOutcome = 'indexed' | 'updated' | 'deleted' | 'applied' | 'stale' | 'tombstoned';
type Result = { ok: true; value: ItemOutcome } | { ok: false; error: unknown };

export interface CatalogBatchDeps {
  store: CatalogStore;
  embedder: Embedder;
  /** Bounds how many batches embed at once (EMBED_CONCURRENCY); catalog batches go first. */
  embedGate: Gate;
  /**
   * Bounds how many batches hold fetched images at once (EMBED_CONCURRENCY + 1: one fetches while one embeds), so
   * thousands of jobs in flight never hold thousands of images in memory. Partial updates and deletes skip it.
   * Catalog batches go first, and re-embedding never holds the last slot.
   */
  imageGate: Gate;
  fetcher: ImageFetcher;
  status: StatusStore;
  metrics: IndexerMetrics;
  logger: Logger;
}

const upsertDocumentId = (product: UpsertJob['product']): string => documentId(product.catalog ?? DEFAULT_CATALOG, product.id);

export async function processCatalogBatch(deps: CatalogBatchDeps, items: CatalogJob[]): Promise<Result[]> {
  deps.metrics.batchSize.observe(items.length);
  const results: Result[] = new Array(items.length);
  // Items for the same product are applied in rounds, lowest version first, each round on fresh reads.
  const order = items.map((item, position) => ({ item, position })).sort((a, b) => a.item.data.version - b.item.data.version);
  const rounds: Array<typeof order> = [];
  const seenInRound = new Map<string, number>();
  for (const entry of order) {
    const id = documentIdOfJob(entry.item);
    const round = (seenInRound.get(id) ?? -1) + 1;
    seenInRound.set(id, round);
    (rounds[round] ??= []).push(entry);
  }
  for (const round of rounds) {
    const outcomes = await processRound(deps, round.map((e) => e.item));
    round.forEach((entry, i) => (results[entry.position] = outcomes[i]!));
  }
  return results;
}

async function processRound(deps: CatalogBatchDeps, items: CatalogJob[]): Promise<Result[]> {
  const { store, embedder, metrics } = deps;
  const t = performance.now();
  const stored = await store.read(items.map(documentIdOfJob));
  metrics.stage.observe({ stage: 'read' }, (performance.now() - t) / 1000);

  const results: Array<Result | undefined> = new Array(items.length);
  const actions: Array<{ position: number; action: BulkAction; outcome: ItemOutcome }> = [];
  const needImage: number[] = [];
  const now = () => new Date().toISOString();

  items.forEach((item, position) => {
    const current = stored.get(documentIdOfJob(item)) ?? null;
    if (current && current.version >= item.data.version) {
      results[position] = { ok: true, value: current.version === item.data.version ? 'applied' : current.deleted ? 'tombstoned' : 'stale' };
      return;
    }
    if (item.name === 'delete') {
      actions.push({ position, action: store.tombstone(documentIdOfJob(item), { id: productIdOfJob(item), catalog: catalogOfJob(item) }, item.data.version, current), outcome: 'deleted' });
      return;
    }
    const { product, version } = item.data;
    if (current && !current.deleted && photosCurrent(current.photos, productImages(product), embedder.models)) {
      const partial = { ...productFields(product), source_version: version, updated_at: now(), indexed_at: now() };
      actions.push({ position, action: store.patch(documentIdOfJob(item), partial, current), outcome: 'updated' });
      return;
    }
    needImage.push(position);
  });

  if (needImage.length > 0) await deps.imageGate.run(() => writePhotos(deps, items, stored, needImage, results, actions), 'high');
  return writeActions(deps, actions, results);
}

/** Builds the photos of `needImage` (indexer/handlers/product-photos.ts) and adds the writes to `actions`. */
async function writePhotos(
  deps: CatalogBatchDeps,
  items: CatalogJob[],
  stored: Map<string, StoredProduct | null>,
  needImage: number[],
  results: Array<Result | undefined>,
  actions: Array<{ position: number; action: BulkAction; outcome: ItemOutcome }>,
): Promise<void> {
  const { store } = deps;
  const now = () => new Date().toISOString();
  const upserts = needImage.map((position) => ({ position, data: (items[position] as { data: UpsertJob }).data }));
  const outcomes = await buildPhotos(
    deps,
    upserts.map(({ data }) => {
      const id = upsertDocumentId(data.product);
      const current = stored.get(id) ?? null;
      return { id, urls: productImages(data.product), stored: current && !current.deleted ? current.photos : null };
    }),
  );
  upserts.forEach(({ position, data }, n) => {
    const outcome = outcomes[n]!;
    if (!outcome.ok) {
      results[position] = { ok: false, error: outcome.error };
      return;
    }
    const id = upsertDocumentId(data.product);
    const document = { ...productFields(data.product), ...photoFields(outcome.photos), source_version: data.version, updated_at: now(), indexed_at: now() };
    actions.push({ position, action: store.put(id, document, stored.get(id) ?? null), outcome: 'indexed' });
  });
}

/** One conditional bulk request for the round's writes; each item's outcome mapped on its own. */
async function writeActions(
  deps: CatalogBatchDeps,
  actions: Array<{ position: number; action: BulkAction; outcome: ItemOutcome }>,
  results: Array<Result | undefined>,
): Promise<Result[]> {
  const { store, metrics } = deps;
  if (actions.length > 0) {
    const t = performance.now();
    let bulk;
    try {
      bulk = await store.write(actions.map((a) => a.action));
    } catch (error) {
      // The whole request failed (Elasticsearch down, timeout): every written item is retried.
      for (const { position } of actions) results[position] = { ok: false, error: new Error(`bulk write failed: ${describeError(error)}`) };
      bulk = null;
    }
    metrics.stage.observe({ stage: 'write' }, (performance.now() - t) / 1000);
    if (bulk) {
      const failures = new Map(bulk.failures.map((f) => [f.id, f]));
      for (const { position, action, outcome } of actions) {
        const failure = failures.get(action.id);
        if (!failure) {
          results[position] = { ok: true, value: outcome };
          continue;
        }
        metrics.bulkFailures.inc({ type: failure.type });
        results[position] = { ok: false, error: bulkFailureError(failure) };
      }
    }
  }
  return results.map((r) => r ?? { ok: false, error: new Error('item was not processed') });
}

/** A refused bulk item becomes a retry (transient) or an UnrecoverableError, its reason kept either way. */
export function bulkFailureError(failure: BulkItemFailure): Error {
  const message = `${failure.type}: ${failure.reason}`;
  return isTransientFailure(failure) ? new Error(`bulk item ${failure.status} ${message}`) : permanent('bulk_item_rejected', message);
}
