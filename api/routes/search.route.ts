import express, { Router, type Request, type Response } from 'express';
import multer, { MulterError } from 'multer';
import { z } from 'zod';
import type { Config } from '../../core/config';
import { AppError, ValidationError } from '../../core/errors';
import { optionsFromQuery, parsePhotoOptions, parseSearchBody } from '../../core/search/search-request';
import type { Histogram } from 'prom-client';
import { searchResultSchema, type SearchResult, type SearchService } from '../services/search.service';
import { bodyLimits } from '../middleware/request-body';
import { allowedCatalogs, resolveCatalog } from '../middleware/api-keys';

export const searchResponseSchema = searchResultSchema.extend({ request_id: z.string() });
export type SearchResponse = z.infer<typeof searchResponseSchema>;

/**
 * POST /v1/search — either `multipart/form-data` with a file part `image` and an optional text part `query` (the
 * options as JSON), or JSON with the options plus exactly one of image_base64, image_url, product_id, vector.
 * GET /v1/products/:id/similar — the same options as query parameters (`filters` and `models` as JSON).
 */
export function searchRouter(config: Config, search: SearchService, stages: Histogram<'stage'>): Router {
  /** `total` counts from the request's arrival (upload parsing included): the request-id middleware notes it. */
  const arrival = (response: Response) => response.locals.receivedAt as number | undefined;
  const finish = (result: SearchResult, response: Response) => {
    for (const [stage, ms] of Object.entries(result.timings_ms)) stages.observe({ stage }, ms / 1000);
    const body: SearchResponse = { ...result, request_id: response.locals.requestId as string };
    response.json(body);
  };
  /** The options with the catalog the key allows (checked before anything reaches Elasticsearch). */
  const inCatalog = <T extends { catalog?: string }>(options: T, response: Response): T => ({ ...options, catalog: resolveCatalog(options.catalog, allowedCatalogs(response)) });
  const router = Router();
  const json = express.json({ limit: bodyLimits(config).searchJson, strict: true });
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: config.image.maxBytes, files: 1, fields: 1, parts: 2, fieldSize: 64 * 1024, fieldNameSize: 32, headerPairs: 50 },
  }).single('image');

  router.post('/v1/search', (request, response, next) => {
    if (request.is('multipart/form-data')) upload(request, response, (error?: unknown) => next(error && multipartError(error)));
    else json(request, response, next);
  }, async (request: Request, response) => {
    let result;
    if (request.is('multipart/form-data')) {
      if (!request.file) throw new ValidationError('the multipart request has no file part named "image"', { code: 'invalid_query_source' });
      let options: unknown = {};
      const query = (request.body as Record<string, unknown> | undefined)?.query;
      if (query !== undefined) {
        try {
          options = JSON.parse(String(query));
        } catch {
          throw new ValidationError('the "query" part must be a JSON object of search options', { code: 'invalid_request' });
        }
      }
      result = await search.search({ kind: 'image', bytes: request.file.buffer }, inCatalog(parsePhotoOptions(options), response), arrival(response));
    } else if (request.is('application/json')) {
      const { options, source } = parseSearchBody(request.body, config.image.maxBytes);
      // A kept query has its catalog: the service checks it against the key's.
      result = source.kind === 'query_id' ? await search.search(source, options, arrival(response), allowedCatalogs(response)) : await search.search(source, inCatalog(options, response), arrival(response));
    } else {
      throw new AppError('unsupported_media_type', 'send application/json or multipart/form-data', 415);
    }
    finish(result, response);
  });

  router.get('/v1/products/:id/similar', async (request, response) => {
    const options = inCatalog(optionsFromQuery(request.query as Record<string, unknown>), response);
    const result = await search.search({ kind: 'product_id', id: request.params.id! }, options, arrival(response));
    finish(result, response);
  });
  return router;
}

/**
 * What the multipart parser (multer over busboy) reports, as coded errors: its limits keep their codes (the error
 * middleware maps them), a file part with another name is the wrong query source, and anything else it cannot parse
 * (no boundary, a malformed part header, a body that ends mid-part) is the client's malformed body, never a 500.
 */
function multipartError(error: unknown): unknown {
  if (error instanceof MulterError) {
    return error.code === 'LIMIT_UNEXPECTED_FILE' ? new ValidationError(`the file part must be named "image", not "${error.field ?? ''}"`, { code: 'invalid_query_source' }) : error;
  }
  if (error instanceof AppError || (error as { type?: string }).type === 'request.aborted') return error;
  return new ValidationError(`the multipart body cannot be parsed: ${error instanceof Error ? error.message : String(error)}`, { code: 'invalid_multipart' });
}
