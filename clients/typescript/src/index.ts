/**
 * @lookalike/client: a typed client for the Lookalike visual product search API. The types come from the API's
 * OpenAPI document (src/schema.d.ts, generated); the calls go through openapi-fetch.
 */
export { createLookalikeClient, type CallOptions, type LookalikeClient, type LookalikeClientOptions, type Photo, type SendEventsOptions } from './client';
export { LookalikeError, parseRetryAfter, type LookalikeErrorCode } from './errors';
export { computeSignature, SIGNATURE_HEADER, SignatureVerificationError, signatureHeader, verifySignature, type SignatureErrorCode } from './signature';
export type * from './types';
export type { components, paths } from './schema';
