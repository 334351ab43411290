import { UnrecoverableError } from 'bullmq';
import { hashImage } from '../../core/image/decode';
import type { ReembedJob } from '../../core/jobs';
import { FetchError } from '../../core/net/image-fetcher';
import type { BulkAction } from '../../core/search/bulk';
import { embeddingMetadata } from '../../core/search/catalog-store';
import { bulkFailureError, type CatalogBatchDeps } from './catalog-batch.handler';

/**
 * Re-embeds products with one model (a model added, or a new version of one whose vectors keep their dims): fetch
 * the image again, embed with that model only, and update that model's vector and metadata in place, conditional on
 * what was read. Search keeps answering with the old vector until the new one lands. Re-embed batches queue behind
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
  const work: Array<{ position: number; url: string }> = [];
  items.forEach((item, position) => {
    const current = stored.get(item.productId);
    const model = embedder.get(item.model);
    if (!model) results[position] = { ok: false, error: new UnrecoverableError(`unknown_model: ${item.model} is not loaded by this indexer`) };
    else if (!current || current.deleted || !current.imageUrl) results[position] = { ok: true, value: 'gone' };
    else if (current.embeddings[item.model]?.model_version === model.version && current.embeddings[item.model]?.image_hash === current.imageHash) {
      results[position] = { ok: true, value: 'current' };
    } else work.push({ position, url: current.imageUrl });
  });
  const fetched = await Promise.all(work.map((w) => deps.fetcher.fetch(w.url).then((image) => ({ ok: true as const, bytes: image.bytes }), (error: unknown) => ({ ok: false as const, error }))));
  const byModel = new Map<string, Array<{ position: number; bytes: Buffer }>>();
  work.forEach((w, i) => {
    const result = fetched[i]!;
    if (!result.ok) {
      const error = result.error;
      results[w.position] = { ok: false, error: error instanceof FetchError && !error.transient ? new UnrecoverableError(`${error.code}: ${error.message}`) : error };
      return;
    }
    const model = items[w.position]!.model;
    byModel.set(model, [...(byModel.get(model) ?? []), { position: w.position, bytes: result.bytes }]);
  });
  const actions: Array<{ position: number; action: BulkAction }> = [];
  for (const [modelId, entries] of byModel) {
    const model = embedder.get(modelId)!;
    const outcomes = await deps.embedGate.run(() => embedder.embedMany(entries.map((e) => e.bytes), { models: [modelId] }), 'low');
    entries.forEach((entry, i) => {
      const outcome = outcomes[i]!;
      if (!outcome.ok) {
        results[entry.position] = { ok: false, error: new UnrecoverableError(`${outcome.error.code}: ${outcome.error.message}`) };
        return;
      }
      const item = items[entry.position]!;
      const current = stored.get(item.productId)!;
      const partial = {
        vectors: { [modelId]: Array.from(outcome.image.embeddings[0]!.vector) },
        embeddings: { [modelId]: embeddingMetadata(model, hashImage(entry.bytes)) },
      };
      actions.push({ position: entry.position, action: store.patch(item.productId, partial, current) });
    });
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
