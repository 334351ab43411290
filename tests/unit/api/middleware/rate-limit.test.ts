import type { NextFunction, Request, Response } from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { rateLimit } from '../../../../api/middleware/rate-limit';
import { AppError } from '../../../../core/errors';

/** Runs the middleware once for a request from `ip` (with `client` as requireScope would set it). */
async function run(middleware: ReturnType<typeof rateLimit>, ip: string, client?: string) {
  const headers: Record<string, string> = {};
  const response = { locals: client ? { client } : {}, setHeader: (name: string, value: string) => void (headers[name] = value) } as unknown as Response;
  let passed: unknown = 'not called';
  await middleware({ ip } as Request, response, ((error?: unknown) => void (passed = error)) as NextFunction);
  return { error: passed as AppError | undefined, headers };
}

describe('rateLimit', () => {
  it('keys by API key, else by address, and answers 429 rate_limited with Retry-After', async () => {
    const middleware = rateLimit(new RateLimiterMemory({ points: 2, duration: 3 }), 1);
    expect((await run(middleware, '10.0.0.1', 'key:abc')).error).toBeUndefined();
    expect((await run(middleware, '10.0.0.2', 'key:abc')).error).toBeUndefined();
    const refused = await run(middleware, '10.0.0.3', 'key:abc');
    expect(refused.error).toMatchObject({ code: 'rate_limited', status: 429 });
    // The error handler answers it as the Retry-After header.
    expect(refused.error?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.error?.retryAfterSeconds).toBeLessThanOrEqual(3);
    // Without a key each address is its own client.
    expect((await run(middleware, '10.0.0.1')).error).toBeUndefined();
    expect((await run(middleware, '10.0.0.1')).error).toBeUndefined();
    expect((await run(middleware, '10.0.0.1')).error).toMatchObject({ code: 'rate_limited' });
    expect((await run(middleware, '10.0.0.4')).error).toBeUndefined();
  });

  it('passes everything without a limiter (RATE_LIMIT_PER_S=0)', async () => {
    const middleware = rateLimit(null, 0);
    for (let i = 0; i < 5; i++) expect((await run(middleware, '10.0.0.1')).error).toBeUndefined();
  });

  it('passes a store failure on as an error rather than a verdict', async () => {
    const broken = new RateLimiterMemory({ points: 1, duration: 1 });
    broken.consume = () => Promise.reject(new Error('store down'));
    expect((await run(rateLimit(broken, 1), '10.0.0.1')).error).toMatchObject({ message: 'store down' });
  });
});
