import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../../core/errors';

/**
 * A token bucket per client (its API key, else its address): `perSecond` requests a second on average, bursts up to
 * `burst`. In memory, per API process: behind a load balancer each instance enforces its own share. Over the limit:
 * 429 `rate_limited` with Retry-After.
 */
export function rateLimit(perSecond: number, burst: number) {
  const buckets = new Map<string, { tokens: number; updated: number }>();
  const sweep = setInterval(() => {
    const idle = Date.now() - 60_000;
    for (const [client, bucket] of buckets) if (bucket.updated < idle) buckets.delete(client);
  }, 60_000);
  sweep.unref();
  return (request: Request, response: Response, next: NextFunction): void => {
    if (perSecond <= 0) return next();
    const client = (response.locals.client as string | undefined) ?? `ip:${request.socket.remoteAddress ?? 'unknown'}`;
    const now = Date.now();
    const bucket = buckets.get(client) ?? { tokens: burst, updated: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updated) / 1000) * perSecond);
    bucket.updated = now;
    buckets.set(client, bucket);
    if (bucket.tokens < 1) {
      response.setHeader('Retry-After', String(Math.ceil((1 - bucket.tokens) / perSecond)));
      return next(new AppError('rate_limited', `more than ${perSecond} requests a second; slow down`, 429));
    }
    bucket.tokens -= 1;
    next();
  };
}
