import { Router } from 'express';
import { catalogNameSchema, productIdSchema } from '../../core/catalog';
import { ValidationError } from '../../core/errors';
import type { StatusService } from '../services/status.service';
import { allowedCatalogs, resolveCatalog } from '../middleware/api-keys';

export { productStatusSchema } from '../services/status.service';

/**
 * GET /v1/products/:id/status[?catalog=<name>] → `{ id, catalog, state, version, models, last_error, last_ignored }`
 * (api/services/status.service.ts). The catalog as for a search: named, else the key's first, else `default`.
 */
export function statusRouter(service: StatusService): Router {
  const router = Router();
  router.get('/v1/products/:id/status', async (request, response) => {
    const id = request.params.id!;
    if (!productIdSchema.safeParse(id).success) throw new ValidationError('the product id must be 1–256 printable ASCII characters', { code: 'invalid_product_id' });
    const requested = request.query.catalog;
    if (requested !== undefined && !catalogNameSchema.safeParse(requested).success) {
      throw new ValidationError('catalog must appear once, as lower-case letters, digits, "-" and "_" (at most 64)', { code: 'invalid_catalog' });
    }
    response.json(await service.get(resolveCatalog(requested as string | undefined, allowedCatalogs(response)), id));
  });
  return router;
}
