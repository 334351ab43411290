import type { NextFunction, Request, Response } from 'express';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../../core/errors';
import type { RateLimiter } from '../../core/rate-limiter';

/**
 * One point of `limiter` per request, keyed by the client: its API key (set by requireScope) or else its address
 * (`request.ip`, which honours TRUST_PROXY). Over the limit: 429 `rate_limited` with Retry-After, the seconds until
 * the client's window starts again. A null limiter (RATE_LIMIT_PER_S=0) lets everything through.
 */
export function rateLimit(limiter: RateLimiter | null, perSecond: number) {
  return async (request: Request, response: Response, next: NextFunction): Promise<void> => {
    if (!limiter) return next();
    const client = (response.locals.client as string | undefined) ?? `ip:${request.ip ?? 'unknown'}`;
    try {
      await limiter.consume(client);
    } catch (rejection) {
      // Anything but a verdict is a store failure that the insurance limiter could not cover either.
      if (!(rejection instanceof RateLimiterRes)) return next(rejection);
      const retryAfterSeconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      return next(new AppError('rate_limited', `more than ${perSecond} requests a second; slow down`, 429, { retryAfterSeconds }));
    }
    next();
  };
}
