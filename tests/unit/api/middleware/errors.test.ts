import type { NextFunction, Request, Response } from 'express';
import { errorBodySchema, errorHandler, notFound } from '../../../../api/middleware/errors';
import { AppError, NotFoundError, PayloadTooLargeError, StartupError, ValidationError } from '../../../../core/errors';

function fakeResponse() {
  const sent: { status?: number; body?: unknown; headers?: Record<string, string> } = {};
  const response = {
    locals: { requestId: 'req-1' },
    headersSent: false,
    setHeader(name: string, value: string) {
      sent.headers = { ...sent.headers, [name]: value };
    },
    status(code: number) {
      sent.status = code;
      return response;
    },
    json(body: unknown) {
      sent.body = body;
      return response;
    },
  };
  return { response: response as unknown as Response, sent };
}

const logger = { error: jest.fn(), warn: jest.fn() };
const handle = async (error: unknown) => {
  const { response, sent } = fakeResponse();
  const codes: Array<[string, number]> = [];
  // A request whose body was read already: nothing to drain.
  await errorHandler(logger as never, 1024, (code, status) => codes.push([code, status]))(error, { complete: true, socket: {} } as unknown as Request, response, (() => undefined) as NextFunction);
  expect(errorBodySchema.safeParse(sent.body).success).toBe(true);
  return { ...sent, codes };
};

describe('the error middleware', () => {
  beforeEach(() => jest.clearAllMocks());

  it('answers an API error with its status, code, message and details', async () => {
    expect(await handle(new AppError('rate_limited', 'slow down', 429))).toEqual({
      status: 429,
      body: { error: { code: 'rate_limited', message: 'slow down' }, request_id: 'req-1' },
      codes: [['rate_limited', 429]],
    });
    expect((await handle(new ValidationError('bad', { code: 'invalid_event', details: { problems: ['x'] } }))).body).toEqual({ error: { code: 'invalid_event', message: 'bad', details: { problems: ['x'] } }, request_id: 'req-1' });
    expect((await handle(new NotFoundError('gone', 'product_not_found'))).status).toBe(404);
    expect((await handle(new PayloadTooLargeError('big', 'image_too_large'))).status).toBe(413);
  });

  it('answers the Retry-After seconds an error carries as the header', async () => {
    expect(await handle(new AppError('overloaded', 'at capacity', 503, { retryAfterSeconds: 1 }))).toMatchObject({ status: 503, headers: { 'Retry-After': '1' }, body: { error: { code: 'overloaded' } } });
    expect((await handle(new AppError('rate_limited', 'slow down', 429))).headers).toBeUndefined();
  });

  it('maps body-parser and multer errors to stable codes', async () => {
    expect(await handle({ type: 'entity.too.large' })).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    expect(await handle({ type: 'entity.parse.failed' })).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    expect(await handle({ code: 'LIMIT_FILE_SIZE' })).toMatchObject({ status: 413, body: { error: { code: 'image_too_large' } } });
    expect(await handle({ code: 'LIMIT_PART_COUNT' })).toMatchObject({ status: 413, body: { error: { code: 'upload_limit' } } });
  });

  it('answers anything else, a code meant for no client included, as a logged 500 internal_error', async () => {
    for (const error of [new Error('boom'), new StartupError('mapping_mismatch', 'the mapping differs'), 'a string']) {
      expect(await handle(error)).toEqual({ status: 500, body: { error: { code: 'internal_error', message: 'internal error' }, request_id: 'req-1' }, codes: [['internal_error', 500]] });
    }
    expect(logger.error).toHaveBeenCalledTimes(3);
    expect(logger.error.mock.calls[1]![0]).toMatchObject({ requestId: 'req-1', code: 'mapping_mismatch' });
  });

  it('hands an unknown route on as a 404 route_not_found error, answered like any other', async () => {
    const { response } = fakeResponse();
    let passed: unknown;
    notFound({ method: 'GET', path: '/nope' } as Request, response, ((error: unknown) => (passed = error)) as NextFunction);
    const sent = await handle(passed);
    expect(sent).toMatchObject({ status: 404, body: { error: { code: 'route_not_found', message: 'no route for GET /nope' }, request_id: 'req-1' } });
  });
});

describe('error codes', () => {
  it('are checked when the code is compiled: only registered codes, each class only those of its status', () => {
    // These lines are compile errors (npm run typecheck fails when one of them compiles).
    // @ts-expect-error a code that is not in core/error-codes.ts
    expect(new AppError('no_such_code', 'x', 400).code).toBe('no_such_code');
    // @ts-expect-error image_too_large is answered 413, never 400
    expect(new ValidationError('x', { code: 'image_too_large' }).status).toBe(400);
    // @ts-expect-error invalid_json is not a 404
    expect(new NotFoundError('x', 'invalid_json').status).toBe(404);
  });
});
