import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { errorHandler, notFound } from '../../../../api/middleware/errors';
import { bodyLimits, limitRequestBody } from '../../../../api/middleware/request-body';
import { AppError } from '../../../../core/errors';
import { loadConfig } from '../../../../core/config';
import { createLogger } from '../../../../core/logger';
import { jsonImage, rawUpload } from '../../../fixtures/raw-upload';

const MiB = 1024 * 1024;
const BOUND = 8 * MiB;

describe('bodyLimits', () => {
  it('bounds every body at twice the largest one a route accepts', () => {
    const limits = bodyLimits(loadConfig({ IMAGE_MAX_BYTES: String(3 * MiB), WEBHOOK_MAX_BYTES: String(MiB) }));
    expect(limits.searchJson).toBe(4 * MiB + 64 * 1024);
    expect(limits.webhook).toBe(MiB);
    expect(limits.refusedDrain).toBe(2 * limits.searchJson);
    expect(bodyLimits(loadConfig({ IMAGE_MAX_BYTES: String(MiB), WEBHOOK_MAX_BYTES: String(5 * MiB) })).refusedDrain).toBe(10 * MiB);
  });
});

/** An app that refuses /refused before reading (as a missing key would), parses JSON on /json (1 MiB), nothing else. */
describe('refused uploads', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    const app = express();
    app.use(limitRequestBody(BOUND));
    app.post('/refused', (_request, _response, next) => next(new AppError('api_key_missing', 'no key', 401)));
    app.post('/json', express.json({ limit: MiB }), (_request, response) => void response.json({ ok: true }));
    app.use(notFound);
    app.use(errorHandler(createLogger(loadConfig({ LOG_LEVEL: 'silent' })), BOUND));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const body = jsonImage(4 * MiB);
  const headers = { 'content-type': 'application/json' };

  it('answers a refusal once the body is in, on a closing connection too, so the client reads it', async () => {
    for (const path of ['/refused', '/json', '/nowhere']) {
      for (const close of [true, false]) {
        const outcome = await rawUpload({ port, path, headers, body, close });
        expect({ status: outcome.status, error: outcome.error }).toEqual({ status: { '/refused': 401, '/json': 413, '/nowhere': 404 }[path], error: undefined });
        expect(outcome.body.error.code).toBe({ '/refused': 'api_key_missing', '/json': 'payload_too_large', '/nowhere': 'route_not_found' }[path]);
        expect(outcome.bodyBytesWritten).toBe(body.length);
        // Read to its end, the body leaves a kept-alive connection usable.
        expect(outcome.headers.connection).toBe(close ? 'close' : 'keep-alive');
      }
    }
  });

  it('refuses a declared length past the bound at once, and closes', async () => {
    const outcome = await rawUpload({ port, path: '/json', headers, body: Buffer.alloc(64 * 1024, 0x20), declaredLength: BOUND + 1, timeoutMs: 3_000 });
    expect([outcome.status, outcome.body?.error?.code, outcome.headers.connection]).toEqual([413, 'payload_too_large', 'close']);
  });

  it('stops reading a chunked body at the bound, whoever was draining it, and closes', async () => {
    for (const path of ['/refused', '/json']) {
      const outcome = await rawUpload({ port, path, headers, body: jsonImage(MiB), chunked: { repeat: 256 }, timeoutMs: 5_000 });
      // Past the bound a client still writing may see the close before the answer; either way it stops early.
      if (outcome.status === null) expect(outcome.error).toMatch(/^(ECONNRESET|EPIPE)$/);
      else expect([outcome.status, outcome.headers.connection]).toEqual([path === '/json' ? 413 : 401, 'close']);
      expect(outcome.bodyBytesWritten).toBeLessThan(BOUND + 32 * MiB);
    }
  });

  it('lets a chunked body within the bound through to its parser', async () => {
    const outcome = await rawUpload({ port, path: '/json', headers, body: Buffer.from('{"a":1}'), chunked: { repeat: 1 } });
    expect([outcome.status, outcome.body]).toEqual([200, { ok: true }]);
  });
});
