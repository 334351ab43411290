import { Router } from 'express';
import type { Client } from '@elastic/elasticsearch';
import { errors } from '@elastic/elasticsearch';
import { ValidationError } from '../../core/errors';
import type { StatusStore } from '../../core/status-store';

/**
 * GET /v1/products/:id/status → `{ id, state, version, models, last_error }`. The pipeline's own record (Redis)
 * says queued / failed / indexed / deleted; the index says which models' vectors the product has.
 */
export function statusRouter(es: Client, alias: string, status: StatusStore): Router {
  const router = Router();
  router.get('/v1/products/:id/status', async (request, response) => {
    const id = request.params.id!;
    if (id.length > 256 || !/^[\x21-\x7e]+$/.test(id)) throw new ValidationError('the product id must be 1–256 printable ASCII characters', { code: 'invalid_product_id' });
    const [record, doc] = await Promise.all([
      status.get(id),
      es.get<{ source_version?: number; deleted?: boolean; embeddings?: Record<string, unknown> }>({ index: alias, id, _source_includes: ['source_version', 'deleted', 'embeddings'] }).catch((error: unknown) => {
        if (error instanceof errors.ResponseError && error.statusCode === 404) return null;
        throw error;
      }),
    ]);
    const stored = doc?._source;
    const storedVersion = stored?.source_version ?? null;
    let state = record?.state ?? 'unknown';
    let version = record?.version ?? null;
    // A newer version in the index wins over the record (written by another path, or the record expired). The same
    // version does not: `indexed` is recorded only once the write is searchable (refresh=wait_for).
    if (stored && (version === null || (storedVersion !== null && storedVersion > version))) {
      state = stored.deleted ? 'deleted' : 'indexed';
      version = storedVersion;
    }
    const models = stored && !stored.deleted ? Object.keys(stored.embeddings ?? {}).sort() : [];
    response.json({ id, state, version, models, last_error: state === 'failed' ? (record?.lastError ?? null) : null });
  });
  return router;
}
