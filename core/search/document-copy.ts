import type { Client } from '@elastic/elasticsearch';
import { AppError } from '../errors';
import { bulkWrite, type BulkAction } from './bulk';

/** Reading every document of an index version and writing documents into another: what a migration is made of. */

export type CatalogDocument = Record<string, unknown> & { id?: string; indexed_at?: string };
export type ScanHit = { _id: string; _source: CatalogDocument };
/** Rewrites a batch of documents on the way (re-embedding, say); `null` drops a document. */
export type DocumentTransform = (documents: Array<{ id: string; source: CatalogDocument }>) => Promise<Array<CatalogDocument | null>>;

const PIT_KEEP_ALIVE = '2m';

/**
 * Every document of `index` matching `query`, in batches, over a point in time, sorted by `_shard_doc`. `source`
 * picks the fields; by default the whole document, vectors included.
 */
export async function scanIndex(
  es: Client,
  index: string,
  query: Record<string, unknown> | undefined,
  size: number,
  onBatch: (hits: ScanHit[]) => Promise<void>,
  source?: string[],
): Promise<void> {
  const pit = await es.openPointInTime({ index, keep_alive: PIT_KEEP_ALIVE });
  try {
    let searchAfter: unknown[] | undefined;
    for (;;) {
      const response = await es.search<CatalogDocument>({
        pit: { id: pit.id, keep_alive: PIT_KEEP_ALIVE },
        size,
        sort: [{ _shard_doc: 'asc' }],
        track_total_hits: false,
        // Vectors are left out of _source by default (index.mapping.exclude_source_vectors); a copy needs them.
        _source: (source ?? { exclude_vectors: false }) as never,
        ...(query ? { query } : {}),
        ...(searchAfter ? { search_after: searchAfter as never } : {}),
      });
      const hits = response.hits.hits;
      if (hits.length === 0) return;
      await onBatch(hits.map((hit) => ({ _id: hit._id as string, _source: hit._source ?? {} })));
      searchAfter = hits[hits.length - 1]?.sort as unknown[];
    }
  } finally {
    await es.closePointInTime({ id: pit.id }).catch(() => undefined);
  }
}

/**
 * Writes one batch into `to`. With `onlyIfNewer`, a document is written only when `to` lacks it or holds an older
 * `indexed_at`, and the write is conditional on the sequence number read (a concurrent writer wins). Returns how many
 * were written; any other failure fails the batch.
 */
export async function copyDocuments(es: Client, hits: ScanHit[], to: string, transform: DocumentTransform | undefined, onlyIfNewer: boolean): Promise<number> {
  const transformed = transform ? await transform(hits.map((hit) => ({ id: hit._id, source: hit._source }))) : hits.map((hit) => hit._source);
  const existing = onlyIfNewer ? await es.mget<CatalogDocument>({ index: to, ids: hits.map((h) => h._id), _source_includes: ['indexed_at'] }) : undefined;
  const actions: BulkAction[] = [];
  hits.forEach((hit, position) => {
    const document = transformed[position];
    if (!document) return;
    if (!existing) {
      actions.push({ op: 'index', index: to, id: hit._id, document });
      return;
    }
    const current = existing.docs[position] as { found?: boolean; _seq_no?: number; _primary_term?: number; _source?: CatalogDocument } | undefined;
    if (!current?.found) {
      actions.push({ op: 'create', index: to, id: hit._id, document });
    } else if ((current._source?.indexed_at ?? '') < (hit._source.indexed_at ?? '')) {
      actions.push({ op: 'index', index: to, id: hit._id, document, ifSeqNo: current._seq_no!, ifPrimaryTerm: current._primary_term! });
    }
  });
  const result = await bulkWrite(es, actions);
  const real = result.failures.filter((failure) => !(onlyIfNewer && failure.status === 409));
  if (real.length > 0) {
    const first = real[0]!;
    throw new AppError('migration_bulk_failed', `${real.length} documents failed to copy into ${to}; first: ${first.id}: ${first.type}: ${first.reason}`);
  }
  return result.succeeded;
}
