import { Router } from 'express';
import { productIdSchema } from '../../core/catalog';
import { ValidationError } from '../../core/errors';
import type { StatusService } from '../services/status.service';

export { productStatusSchema } from '../services/status.service';

/** GET /v1/products/:id/status → `{ id, state, version, models, last_error, last_ignored }` (api/services/status.service.ts). */
export function statusRouter(service: StatusService): Router {
  const router = Router();
  router.get('/v1/products/:id/status', async (request, response) => {
    const id = request.params.id!;
    if (!productIdSchema.safeParse(id).success) throw new ValidationError('the product id must be 1–256 printable ASCII characters', { code: 'invalid_product_id' });
    response.json(await service.get(id));
  });
  return router;
}
