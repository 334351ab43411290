import type { Client } from '@elastic/elasticsearch';
import { errors } from '@elastic/elasticsearch';
import type { ProductState, StatusStore } from '../../core/status-store';

/**
 * A product's processing status: the pipeline's own record (Redis) says queued / failed / indexed / deleted and the
 * last event it ignored; the index says which version it holds and which models' vectors the product has.
 */
export interface ProductStatusView {
  id: string;
  state: ProductState;
  version: number | null;
  models: string[];
  last_error: string | null;
  /** The last event ignored because the catalog already held a newer version (`stale`) or a newer delete (`tombstoned`). */
  last_ignored: { event_id: string; version: number; reason: 'stale' | 'tombstoned' } | null;
}

export class StatusService {
  constructor(
    private readonly es: Client,
    private readonly alias: string,
    private readonly status: StatusStore,
  ) {}

  async get(id: string): Promise<ProductStatusView> {
    const [record, doc] = await Promise.all([
      this.status.get(id),
      this.es.get<{ source_version?: number; deleted?: boolean; embeddings?: Record<string, unknown> }>({ index: this.alias, id, _source_includes: ['source_version', 'deleted', 'embeddings'] }).catch((error: unknown) => {
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
      state,
      version,
      models: stored && !stored.deleted ? Object.keys(stored.embeddings ?? {}).sort() : [],
      last_error: state === 'failed' ? (record?.lastError ?? null) : null,
      last_ignored: ignored ? { event_id: ignored.eventId, version: ignored.version, reason: ignored.reason } : null,
    };
  }
}
