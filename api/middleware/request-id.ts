import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { NextFunction, Request, Response } from 'express';

/**
 * Every request gets an id: the caller's `X-Request-Id` when it is sane, else a new UUID; echoed in the response.
 * Also notes when the request arrived (`receivedAt`, performance.now()), from which responses time their work.
 */
export function requestId(request: Request, response: Response, next: NextFunction): void {
  response.locals.receivedAt = performance.now();
  const given = request.header('x-request-id');
  const id = given && /^[A-Za-z0-9._-]{1,128}$/.test(given) ? given : randomUUID();
  response.locals.requestId = id;
  response.setHeader('X-Request-Id', id);
  next();
}
