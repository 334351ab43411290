import { UnrecoverableError } from 'bullmq';
import { performance } from 'node:perf_hooks';
import { hashImage } from '../../core/image/decode';
import type { Embedder } from '../../core/embedding/embedder';
import { AppError, describeError } from '../../core/errors';
import { DEFAULT_CATALOG, documentId } from '../../core/catalog';
import { catalogOfJob, documentIdOfJob, productIdOfJob, type CatalogJob, type UpsertJob } from '../../core/jobs';
import type { Logger } from '../../core/logger';
import type { IndexerMetrics } from '../../core/metrics';
import { FetchError, type ImageFetcher } from '../../core/net/image-fetcher';
import { isTransientFailure, type BulkAction, type BulkItemFailure } from '../../core/search/bulk';
import { embeddingMetadata, productFields, type CatalogStore, type StoredProduct } from '../../core/search/catalog-store';
import type { StatusStore } from '../../core/status-store';
import type { Gate } from '../gate';

/**
 * Applies a batch of catalog jobs: one read of every product, then per item the least work that brings the index to
 * the event's version, then one conditional bulk write.
 *
 * - An event whose version is not newer than the stored one (a replay, a late arrival, an upsert after a newer
 *   delete's tombstone) changes nothing: `applied` for the same version, else `stale` or `tombstoned`, which the
 *   worker records in the product's status and counts.
 * - Same image URL and every model's vector current: a partial update of the attributes (price, stock …), never an
 *   embedding. A new URL whose bytes hash to the stored image: the same. Vectors computed for the same image hash
 *   and model version by any product are reused. Only what is left is embedded, in one batch.
 * - Per-item outcomes: a 409 (someone wrote in between), a 429 or a 5xx is retried with backoff; a refused image,
 *   a 404 image, an image that fails to decode or preprocess, or a mapping error fails that job alone, with its
 *   reason, as UnrecoverableError; the batch's other items are applied.
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

/** A failure of bad input: the job goes to the failed set with this reason and is not retried. */
function permanent(code: string, message: string): UnrecoverableError {
  return new UnrecoverableError(`${code}: ${message}`);
}

function embeddingsCurrent(stored: StoredProduct, embedder: Embedder, imageHash: string | undefined): boolean {
  return embedder.models.every((model) => {
    const meta = stored.embeddings[model.id];
    return meta !== undefined && meta.model_version === model.version && (imageHash === undefined || meta.image_hash === imageHash);
  });
}

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
    if (current && !current.deleted && current.imageUrl === product.image_url && embeddingsCurrent(current, embedder, current.imageHash)) {
      const partial = { ...productFields(product), source_version: version, updated_at: now(), indexed_at: now() };
      actions.push({ position, action: store.patch(documentIdOfJob(item), partial, current), outcome: 'updated' });
      return;
    }
    needImage.push(position);
  });

  if (needImage.length > 0) await deps.imageGate.run(() => fetchAndEmbed(deps, items, stored, needImage, results, actions), 'high');
  return writeActions(deps, actions, results);
}

/** Fetches the images of `needImage`, reuses or computes their vectors, and adds the writes to `actions`. */
async function fetchAndEmbed(
  deps: CatalogBatchDeps,
  items: CatalogJob[],
  stored: Map<string, StoredProduct | null>,
  needImage: number[],
  results: Array<Result | undefined>,
  actions: Array<{ position: number; action: BulkAction; outcome: ItemOutcome }>,
): Promise<void> {
  const { store, embedder, metrics } = deps;
  const now = () => new Date().toISOString();
  let t = performance.now();
  const fetched = await Promise.all(
    needImage.map((position) =>
      deps.fetcher.fetch((items[position] as { data: UpsertJob }).data.product.image_url).then(
        (image) => ({ ok: true as const, bytes: image.bytes }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
    ),
  );
  metrics.stage.observe({ stage: 'fetch' }, (performance.now() - t) / 1000);
  const toEmbed: Array<{ position: number; bytes: Buffer; hash: string }> = [];
  needImage.forEach((position, i) => {
    const result = fetched[i]!;
    if (!result.ok) {
      results[position] = { ok: false, error: toJobError(result.error) };
      return;
    }
    const { product, version } = (items[position] as { data: UpsertJob }).data;
    const id = upsertDocumentId(product);
    const current = stored.get(id) ?? null;
    const hash = hashImage(result.bytes);
    if (current && !current.deleted && current.imageHash === hash && embeddingsCurrent(current, embedder, hash)) {
      const partial = { ...productFields(product), source_version: version, updated_at: now(), indexed_at: now() };
      actions.push({ position, action: store.patch(id, partial, current), outcome: 'updated' });
      return;
    }
    toEmbed.push({ position, bytes: result.bytes, hash });
  });
  const reused = await store.findVectors(toEmbed.map((e) => e.hash), embedder.models.map((m) => ({ id: m.id, version: m.version })));
  const needModels = toEmbed.filter((e) => embedder.models.some((m) => !reused.get(e.hash)?.[m.id]));
  t = performance.now();
  const outcomes = needModels.length > 0 ? await deps.embedGate.run(() => embedder.embedMany(needModels.map((e) => e.bytes)), 'high') : [];
  metrics.stage.observe({ stage: 'embed' }, (performance.now() - t) / 1000);
  const embedded = new Map(needModels.map((entry, i) => [entry.position, outcomes[i]!]));
  for (const entry of toEmbed) {
    const outcome = embedded.get(entry.position);
    if (outcome && !outcome.ok) {
      results[entry.position] = { ok: false, error: permanent(outcome.error.code, outcome.error.message) };
      continue;
    }
    const { product, version } = (items[entry.position] as { data: UpsertJob }).data;
    const vectors: Record<string, number[]> = {};
    const meta: Record<string, unknown> = {};
    for (const model of embedder.models) {
      const fresh = outcome?.ok ? outcome.image.embeddings.find((e) => e.model === model.id) : undefined;
      vectors[model.id] = reused.get(entry.hash)?.[model.id] ?? Array.from(fresh!.vector);
      meta[model.id] = embeddingMetadata(model, entry.hash);
    }
    const document = {
      ...productFields(product),
      image_hash: entry.hash,
      source_version: version,
      updated_at: now(),
      indexed_at: now(),
      vectors,
      embeddings: meta,
    };
    const id = upsertDocumentId(product);
    actions.push({ position: entry.position, action: store.put(id, document, stored.get(id) ?? null), outcome: 'indexed' });
  }
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

/** A fetch failure becomes a retry (transient) or an UnrecoverableError (bad input) with the reason kept. */
function toJobError(error: unknown): Error {
  if (error instanceof FetchError) return error.transient ? new Error(`${error.code}: ${error.message}`) : permanent(error.code, error.message);
  if (error instanceof AppError) return permanent(error.code, error.message);
  return error instanceof Error ? error : new Error(String(error));
}
