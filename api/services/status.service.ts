import type { Client } from '@elastic/elasticsearch';
import { errors } from '@elastic/elasticsearch';
import { z } from 'zod';
import { catalogNameSchema, documentId } from '../../core/catalog';
import { IGNORE_REASONS, PRODUCT_STATES, type ProductState, type StatusStore } from '../../core/status-store';

/**
 * A product's processing status: the pipeline's own record (Redis) says queued / failed / indexed / deleted and the
 * last event it ignored; the index says which version it holds and which models' vectors the product has.
 */
export const productStatusSchema = z
  .object({
    id: z.string(),
    catalog: catalogNameSchema,
    state: z
      .enum(PRODUCT_STATES)
      .describe('queued: an event was accepted and waits for the indexer; indexed: searchable at `version`; failed: the newest event could not be applied (see last_error); deleted: a tombstone; unknown: no event seen and not in the index'),
    version: z.number().int().min(0).nullable().describe('The version the state is about; null when unknown'),
    models: z.array(z.string()).describe('The models the product has a vector for, in order'),
    last_error: z.string().nullable().describe('Why the newest event failed (`code: message`, e.g. `fetch_not_found: the image URL answered 404`); null unless failed'),
    last_ignored: z
      .object({
        event_id: z.string(),
        version: z.number().int().min(0),
        reason: z.enum(IGNORE_REASONS).describe('stale: the index already held a newer version; tombstoned: the product was deleted at a newer version'),
      })
      .nullable()
      .describe('The last event the indexer ignored because the catalog held something newer, and why; null when none was'),
  })
  .describe('Where a product stands in the pipeline');

export type ProductStatusView = z.infer<typeof productStatusSchema>;

export class StatusService {
  constructor(
    private readonly es: Client,
    private readonly alias: string,
    private readonly status: StatusStore,
  ) {}

  /** Product `id` of `catalog`: its record and its document are both keyed by documentId(catalog, id). */
  async get(catalog: string, id: string): Promise<ProductStatusView> {
    const key = documentId(catalog, id);
    const [record, doc] = await Promise.all([
      this.status.get(key),
      this.es.get<{ source_version?: number; deleted?: boolean; embeddings?: Record<string, unknown> }>({ index: this.alias, id: key, _source_includes: ['source_version', 'deleted', 'embeddings'] }).catch((error: unknown) => {
        if (error instanceof errors.ResponseError && error.statusCode === 404) return null;
        throw error;
      }),
    ]);
    const stored = doc?._source;
    const storedVersion = stored?.source_version ?? null;
    let state: ProductState = record?.state ?? 'unknown';
    let version = record?.state ? record.version : null;
    // A newer version in the index wins over the record (written by another path, or the record expired). The same
    // version does not: `indexed` is recorded only once the write is searchable (refresh=wait_for).
    if (stored && (version === null || (storedVersion !== null && storedVersion > version))) {
      state = stored.deleted ? 'deleted' : 'indexed';
      version = storedVersion;
    }
    const ignored = record?.lastIgnored;
    return {
      id,
      catalog,
      state,
      version,
      models: stored && !stored.deleted ? Object.keys(stored.embeddings ?? {}).sort() : [],
      last_error: state === 'failed' ? (record?.lastError ?? null) : null,
      last_ignored: ignored ? { event_id: ignored.eventId, version: ignored.version, reason: ignored.reason } : null,
    };
  }
}
