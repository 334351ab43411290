import type { ApiErrorCodeWithStatus, ErrorCode, ProcessErrorCode } from './error-codes';

/**
 * The error model shared by both processes. Every error has a stable `code` (snake_case, part of the API contract,
 * registered in core/error-codes.ts) and an HTTP `status`; the API's error middleware turns them into
 * `{ error: { code, message } }`. Each subclass takes only the codes registered with its status.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra, machine-readable detail (the field that failed validation, say). Safe to show to clients. */
  readonly details?: Record<string, unknown>;
  /** Seconds after which a retry may succeed: answered as the Retry-After header (codes registered with retryAfter). */
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, status = 500, options: { cause?: unknown; details?: Record<string, unknown>; retryAfterSeconds?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    if (options.details) this.details = options.details;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** 400: the request or the data is malformed. */
export class ValidationError extends AppError {
  constructor(message: string, options: { code: ApiErrorCodeWithStatus<400> | ProcessErrorCode; cause?: unknown; details?: Record<string, unknown> }) {
    super(options.code, message, 400, options);
  }
}

/** 404: the thing asked for does not exist. */
export class NotFoundError extends AppError {
  constructor(message: string, code: ApiErrorCodeWithStatus<404>) {
    super(code, message, 404);
  }
}

/** 413: the payload is larger than allowed. */
export class PayloadTooLargeError extends AppError {
  constructor(message: string, code: ApiErrorCodeWithStatus<413>) {
    super(code, message, 413);
  }
}

/** 415: the image cannot or may not be decoded. */
export class UnsupportedImageError extends AppError {
  constructor(message: string, code: ApiErrorCodeWithStatus<415>, cause?: unknown) {
    super(code, message, 415, { cause });
  }
}

/** 503: a service we depend on (Elasticsearch, Redis, a model) is not available right now; worth retrying. */
export class DependencyUnavailableError extends AppError {
  constructor(code: ApiErrorCodeWithStatus<503> | ProcessErrorCode, message: string, cause?: unknown, retryAfterSeconds?: number) {
    super(code, message, 503, { cause, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) });
  }
}

/** The process cannot start: bad configuration, a mapping that disagrees with a model, an unreachable service. */
export class StartupError extends AppError {
  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(code, message, 500, { cause });
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** A one-line description of any thrown value, for logs and for the one-line start-up failures. */
export function describeError(error: unknown): string {
  if (error instanceof AppError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}

/**
 * Validation issues (zod's, or any `{ path, message }`) as `path: message` lines, the path dotted and prefixed:
 * `events.3.product.price: Invalid input: expected number`. One format for configuration, manifests and requests.
 */
export function describeIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>, prefix = ''): string[] {
  return issues.map((issue) => {
    const where = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    return `${where || '(body)'}: ${issue.message}`;
  });
}
