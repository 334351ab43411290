import { API_ERROR_CODES, API_ERRORS, sendsRetryAfter, type ApiErrorCode } from '../core/error-codes';
import type { Scope } from './middleware/api-keys';

/**
 * The error responses of the OpenAPI document, generated from the registry of error codes (core/error-codes.ts):
 * for each operation, its codes grouped by the status they are answered with, each response naming its codes (an
 * `enum` on `error.code`) and describing them.
 */

export type JsonObject = { [key: string]: unknown };

const ERROR_SCHEMA = '#/components/schemas/Error';
export const REQUEST_ID_HEADER = { $ref: '#/components/headers/RequestId' };

/** Answered for a path or method the document does not list, so tied to no operation. */
export const UNROUTED_ERRORS: ApiErrorCode[] = ['route_not_found'];

/** What a key-protected route can answer before its handler runs. */
export const ACCESS_ERRORS: ApiErrorCode[] = ['api_key_missing', 'api_key_invalid', 'api_key_scope'];

/** The error codes of one operation, beside its own: those of its access rules. */
export function operationErrors(own: ApiErrorCode[], access: { scope?: Scope; rateLimited?: boolean }): ApiErrorCode[] {
  const codes = new Set<ApiErrorCode>([...(access.scope ? ACCESS_ERRORS : []), ...(access.rateLimited ? (['rate_limited'] as const) : []), ...own]);
  // Registry order, so the document does not depend on the order the lists were written in.
  return API_ERROR_CODES.filter((code) => codes.has(code));
}

function describeCodes(codes: ApiErrorCode[]): string {
  return codes.map((code) => `\`${code}\`: ${API_ERRORS[code].description}`).join('\n\n');
}

/** One error response answering `codes` (all registered with the status it is listed under). */
export function errorResponse(codes: ApiErrorCode[]): JsonObject {
  const retrying = codes.filter(sendsRetryAfter);
  return {
    description: describeCodes(codes),
    headers: {
      'X-Request-Id': REQUEST_ID_HEADER,
      ...(retrying.length > 0
        ? { 'Retry-After': { description: `Seconds to wait before trying again (with ${retrying.map((code) => `\`${code}\``).join(', ')})`, required: retrying.length === codes.length, schema: { type: 'integer', minimum: 1 } } }
        : {}),
    },
    content: {
      'application/json': {
        // The Error schema, narrowed to this response's codes.
        schema: { $ref: ERROR_SCHEMA, type: 'object', properties: { error: { type: 'object', properties: { code: { enum: codes } } } } },
      },
    },
  };
}

/** The error responses of an operation, keyed by status, in ascending order. */
export function errorResponses(codes: ApiErrorCode[]): Record<string, JsonObject> {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of codes) {
    for (const status of API_ERRORS[code].status) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries([...byStatus.entries()].sort(([a], [b]) => a - b).map(([status, answered]) => [String(status), errorResponse(answered)]));
}

/** Every API error code with its statuses and description: the `ErrorCode` component. */
export function errorCodeSchema(): JsonObject {
  return {
    type: 'string',
    description: 'Every error code the API answers. Codes are stable; new ones may be added.',
    oneOf: API_ERROR_CODES.map((code) => ({ const: code, description: `${API_ERRORS[code].status.join(', ')}: ${API_ERRORS[code].description}` })),
  };
}
