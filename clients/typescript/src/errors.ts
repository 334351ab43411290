import type { ErrorBody, ErrorCode } from './types';

/**
 * A code this client knows (the API's `ErrorCode`, or `unexpected_response` for an answer that is not the API's error
 * body, such as a proxy's HTML page), or a code added to the API after this client was generated: codes are stable,
 * and new ones may appear.
 */
export type LookalikeErrorCode = ErrorCode | 'unexpected_response' | (string & {});

/**
 * A request the API refused or failed: its stable `code`, the HTTP `status`, the `requestId` to quote when reporting
 * it, and, where the API sends Retry-After (429 `rate_limited`, 503 `overloaded` and `search_unavailable`),
 * `retryAfterSeconds`: how long to wait before trying again.
 * Network failures (the API cannot be reached) are not turned into this: they stay fetch's own errors.
 */
export class LookalikeError extends Error {
  override readonly name = 'LookalikeError';
  readonly code: LookalikeErrorCode;
  readonly status: number;
  /** The API's request id (the body's `request_id`, else the X-Request-Id header); undefined when neither came. */
  readonly requestId: string | undefined;
  /** From the Retry-After header, in seconds (an HTTP date is turned into seconds from now); undefined when absent. */
  readonly retryAfterSeconds: number | undefined;
  /** Machine-readable detail where a code has it, e.g. `problems` for invalid_event. */
  readonly details: Record<string, unknown> | undefined;

  constructor(fields: { code: LookalikeErrorCode; status: number; message: string; requestId?: string; retryAfterSeconds?: number; details?: Record<string, unknown> }) {
    super(fields.message);
    this.code = fields.code;
    this.status = fields.status;
    this.requestId = fields.requestId;
    this.retryAfterSeconds = fields.retryAfterSeconds;
    this.details = fields.details;
  }
}

/**
 * Retry-After in seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or
 * unreadable, 0 for a date already past.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  // Every HTTP date form starts with the day's name; Date.parse alone would also take "-3" or "2026".
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

function isErrorBody(body: unknown): body is ErrorBody {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error === 'object' && error !== null && typeof error.code === 'string' && typeof error.message === 'string';
}

/** The LookalikeError for a response that is not a success; `body` is its text, parsed as JSON where it was JSON. */
export function errorFromResponse(response: Response, body: unknown): LookalikeError {
  const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
  const headerRequestId = response.headers.get('x-request-id') ?? undefined;
  const common = { status: response.status, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) };
  if (isErrorBody(body)) {
    return new LookalikeError({
      ...common,
      code: body.error.code,
      message: body.error.message,
      requestId: typeof body.request_id === 'string' ? body.request_id : headerRequestId,
      ...(body.error.details ? { details: body.error.details } : {}),
    });
  }
  return new LookalikeError({
    ...common,
    code: 'unexpected_response',
    message: `HTTP ${response.status}, without the API’s error body`,
    ...(headerRequestId ? { requestId: headerRequestId } : {}),
  });
}
