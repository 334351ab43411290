import express, { Router } from 'express';
import type { Config } from '../../core/config';
import { parseSearchBody } from '../../core/search/search-request';
import type { SearchService } from '../services/search.service';

/** POST /v1/search (JSON: the options plus exactly one of image_base64, image_url, product_id, vector). */
export function searchRouter(config: Config, search: SearchService): Router {
  const router = Router();
  const json = express.json({ limit: Math.ceil((config.image.maxBytes * 4) / 3) + 64 * 1024, strict: true });
  router.post('/v1/search', json, async (request, response) => {
    const { options, source } = parseSearchBody(request.body, config.image.maxBytes);
    const result = await search.search(source, options);
    response.json({ ...result, request_id: response.locals.requestId });
  });
  return router;
}
