import { Router } from 'express';
import type { Client } from '@elastic/elasticsearch';
import { z } from 'zod';
import { DEFAULT_CATALOG, catalogNameSchema } from '../../core/catalog';
import { catalogFilter } from '../../core/search/filters';
import { allowedCatalogs } from '../middleware/api-keys';

export const catalogListSchema = z
  .object({
    catalogs: z
      .array(z.object({ name: catalogNameSchema, products: z.number().int().min(0).describe('Products in it (deleted ones aside)') }))
      .describe('By name; a key bound to catalogs sees its own (with 0 for an empty one), any other key every catalog that has products'),
  })
  .describe('The catalogs this request may search');

export type CatalogList = z.infer<typeof catalogListSchema>;

/** Catalogs listed at most: a deployment with more names them to its clients another way. */
const MAX_CATALOGS = 1_000;

/** GET /v1/catalogs: the catalogs the request's key may search, with their sizes (what the page offers to choose). */
export function catalogsRouter(es: Client, alias: string): Router {
  const router = Router();
  router.get('/v1/catalogs', async (_request, response) => {
    const allowed = allowedCatalogs(response);
    // A bound key's counts come from its own catalogs only: the others are never even counted.
    const scope = allowed ? [{ bool: { should: allowed.map(catalogFilter), minimum_should_match: 1 } }] : [];
    const result = await es.search({
      index: alias,
      size: 0,
      query: { bool: { filter: scope, must_not: [{ term: { deleted: true } }] } },
      aggs: { catalogs: { terms: { field: 'catalog', missing: DEFAULT_CATALOG, size: MAX_CATALOGS, order: { _key: 'asc' } } } },
    });
    const buckets = (result.aggregations?.catalogs as { buckets?: Array<{ key: string; doc_count: number }> } | undefined)?.buckets ?? [];
    const counts = new Map(buckets.map((bucket) => [bucket.key, bucket.doc_count]));
    const names = allowed ?? [...counts.keys()];
    const body: CatalogList = { catalogs: names.map((name) => ({ name, products: counts.get(name) ?? 0 })) };
    response.json(body);
  });
  return router;
}
