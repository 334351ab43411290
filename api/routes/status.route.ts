import { Router } from 'express';
import { z } from 'zod';
import type { Client } from '@elastic/elasticsearch';
import { errors } from '@elastic/elasticsearch';
import { productIdSchema } from '../../core/catalog';
import { ValidationError } from '../../core/errors';
import { PRODUCT_STATES, type StatusStore } from '../../core/status-store';

export const productStatusSchema = z
  .object({
    id: z.string(),
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
        reason: z.enum(['stale', 'tombstoned']).describe('stale: its version was not newer than the product’s; tombstoned: the product was deleted at a newer version'),
      })
      .nullable()
      .optional()
      .describe('The last event that was ignored, and why; null when none was'),
  })
  .describe('Where a product stands in the pipeline');

export type ProductStatusResponse = z.infer<typeof productStatusSchema>;

/**
 * GET /v1/products/:id/status → `{ id, state, version, models, last_error }`. The pipeline's own record (Redis)
 * says queued / failed / indexed / deleted; the index says which models' vectors the product has.
 */
export function statusRouter(es: Client, alias: string, status: StatusStore): Router {
  const router = Router();
  router.get('/v1/products/:id/status', async (request, response) => {
    const id = request.params.id!;
    if (!productIdSchema.safeParse(id).success) throw new ValidationError('the product id must be 1–256 printable ASCII characters', { code: 'invalid_product_id' });
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
    const body: ProductStatusResponse = { id, state, version, models, last_error: state === 'failed' ? (record?.lastError ?? null) : null };
    response.json(body);
  });
  return router;
}
