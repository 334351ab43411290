import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { apiErrorCodeSchema, isApiErrorCode, type ApiErrorCode } from '../../core/error-codes';
import { AppError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import { drainRequestBody } from './request-body';

export const errorBodySchema = z
  .object({
    error: z.object({
      code: apiErrorCodeSchema.describe('Stable; part of the API contract'),
      message: z.string().describe('For people; may change'),
      details: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('Machine-readable detail where a code has it: `problems` (each bad event and field) for invalid_event'),
    }),
    request_id: z.string().describe('Also in the X-Request-Id header; logged with the error'),
  })
  .describe('Every error: a stable code, a message, and the request id');

export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Body-parser and multer errors carry a `type` / `code`; mapped to stable codes. */
function fromFramework(error: { type?: string; status?: number; code?: string; message?: string }): AppError | null {
  if (error.type === 'entity.too.large') return new AppError('payload_too_large', 'the request body is larger than allowed', 413);
  if (error.type === 'entity.parse.failed') return new AppError('invalid_json', 'the request body is not valid JSON', 400);
  if (error.type === 'encoding.unsupported' || error.type === 'charset.unsupported') return new AppError('unsupported_encoding', error.message ?? 'unsupported encoding', 415);
  if (error.type === 'request.aborted') return new AppError('request_aborted', 'the request was aborted', 400);
  if (error.code === 'LIMIT_FILE_SIZE') return new AppError('image_too_large', 'the uploaded image is larger than allowed', 413);
  if (error.code?.startsWith('LIMIT_')) return new AppError('upload_limit', `upload limit exceeded (${error.code.toLowerCase()})`, 413);
  return null;
}

function errorBody(code: ApiErrorCode, message: string, requestId: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...(details ? { details } : {}) }, request_id: requestId };
}

/**
 * Every error answers `{ error: { code, message }, request_id }` with the error's status. Unknown errors, and errors
 * whose code is not an API code (core/error-codes.ts), are a generic 500 and logged with the request id: nothing
 * internal leaks to the client, and the client only ever sees codes the OpenAPI document lists. A request refused
 * before its body was read (a key, the rate limit, a size) is answered once the rest of the body is in, up to
 * `maxBodyBytes` (see drainRequestBody), so that the client reads the answer; past that, the answer closes the
 * connection.
 */
export function errorHandler(logger: Logger, maxBodyBytes: number, onError: (code: string, status: number) => void = () => undefined) {
  return async (error: unknown, request: Request, response: Response, _next: NextFunction): Promise<void> => {
    const requestId = response.locals.requestId as string;
    const recognised = error instanceof AppError ? error : fromFramework(error as object);
    const known = recognised && isApiErrorCode(recognised.code) ? recognised : null;
    if (!known) {
      logger.error({ requestId, code: recognised?.code, err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) }, 'unhandled error');
    } else if (known.status >= 500) {
      logger.warn({ requestId, code: known.code, message: known.message }, 'request failed');
    }
    const status = known?.status ?? 500;
    const body = known ? errorBody(known.code as ApiErrorCode, known.message, requestId, known.details) : errorBody('internal_error', 'internal error', requestId);
    onError(body.error.code, status);
    if (response.headersSent) return;
    const keepConnection = await drainRequestBody(request, maxBodyBytes);
    if (response.headersSent || request.socket.destroyed) return;
    if (!keepConnection) response.setHeader('Connection', 'close');
    if (known?.retryAfterSeconds !== undefined) response.setHeader('Retry-After', String(known.retryAfterSeconds));
    response.status(status).json(body);
  };
}

/** The last route: an error like any other, so a body sent to no route is drained the same way. */
export function notFound(request: Request, _response: Response, next: NextFunction): void {
  next(new AppError('route_not_found', `no route for ${request.method} ${request.path}`, 404));
}
