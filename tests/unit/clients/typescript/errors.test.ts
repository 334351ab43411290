import { errorFromResponse, LookalikeError, parseRetryAfter } from '../../../../clients/typescript/src/errors';

describe('client errors', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('carries the API error body’s code, message, request id and details, with the status and Retry-After', () => {
    const response = new Response(null, { status: 429, headers: { 'retry-after': '2', 'x-request-id': 'from-header' } });
    const error = errorFromResponse(response, { error: { code: 'rate_limited', message: 'slow down', details: { limit: 1 } }, request_id: 'req-1' });
    expect(error).toBeInstanceOf(LookalikeError);
    expect(error).toBeInstanceOf(Error);
    expect({ ...error, message: error.message }).toEqual({ name: 'LookalikeError', code: 'rate_limited', status: 429, message: 'slow down', requestId: 'req-1', retryAfterSeconds: 2, details: { limit: 1 } });
  });

  it('names an answer that is not the API’s error body unexpected_response, keeping the status and X-Request-Id', () => {
    const error = errorFromResponse(new Response(null, { status: 502, headers: { 'x-request-id': 'from-header' } }), '<html>Bad gateway</html>');
    expect([error.code, error.status, error.requestId, error.retryAfterSeconds]).toEqual(['unexpected_response', 502, 'from-header', undefined]);
    expect(errorFromResponse(new Response(null, { status: 500 }), undefined).requestId).toBeUndefined();
  });
});
