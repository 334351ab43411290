import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { catalogNameSchema, deleteEventSchema, eventBatchSchema, eventSchema, productIdSchema, productSchema, upsertEventSchema, webhookBodySchema } from '../core/catalog';
import { REPO_ROOT } from '../core/embedding/manifest';
import type { ApiErrorCode } from '../core/error-codes';
import { filtersSchema } from '../core/search/filters';
import { photoOptionsSchema, searchBodySchema, searchOptionsSchema } from '../core/search/search-request';
import { errorBodySchema } from './middleware/errors';
import type { Scope } from './middleware/api-keys';
import { errorCodeSchema, errorResponse, errorResponses, operationErrors, REQUEST_ID_HEADER, UNROUTED_ERRORS, type JsonObject } from './openapi-errors';
import { healthSchema, readinessSchema } from './routes/health.route';
import { searchResponseSchema } from './routes/search.route';
import { productStatusSchema } from './routes/status.route';
import { catalogListSchema } from './routes/catalogs.route';
import { ingestResultSchema } from './services/ingest.service';

/**
 * The OpenAPI 3.1 document, built from the code: request schemas from the zod schemas that validate requests,
 * response schemas from the zod schemas that type the responses, error responses from the registry of error codes.
 * Served at /openapi.json and rendered at /docs. Deterministic: the same code gives the same document.
 */

type Registry = z.core.$ZodRegistry<{ id: string }>;

function registry(schemas: Record<string, z.ZodType>): Registry {
  const ids = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) ids.add(schema, { id });
  return ids;
}

/** JSON Schemas (2020-12, OpenAPI 3.1's dialect) of registered zod schemas, referring to each other by component. */
function componentSchemas(ids: Registry, io: 'input' | 'output'): Record<string, JsonObject> {
  const { schemas } = z.toJSONSchema(ids, { io, target: 'draft-2020-12', uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _schema, $id: _id, ...schema }]) => [id, schema as JsonObject]));
}

/** The JSON Schema of one request schema that is not a component (a parameter's). */
function jsonSchema(schema: z.ZodType): JsonObject {
  const { $schema: _schema, ...rest } = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' });
  return rest;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (schema: JsonObject) => ({ 'application/json': { schema } });

/** A success response: its description, its body (when it has one) and the X-Request-Id header every response has. */
function success(description: string, content?: JsonObject): JsonObject {
  return { description, headers: { 'X-Request-Id': REQUEST_ID_HEADER }, ...(content ? { content } : {}) };
}

interface OperationSpec {
  summary: string;
  description?: string;
  /** The API key scope the route needs (when API_KEYS is set). */
  scope?: Scope;
  rateLimited?: boolean;
  parameters?: JsonObject[];
  requestBody?: JsonObject;
  responses: Record<string, JsonObject>;
  /** The codes the operation itself answers (its access rules add theirs). */
  errors?: ApiErrorCode[];
}

function operation(spec: OperationSpec): JsonObject {
  const errors = operationErrors(spec.errors ?? [], spec);
  return {
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.scope ? { security: [{ bearer: [spec.scope] }, { apiKey: [spec.scope] }] } : {}),
    ...(spec.parameters ? { parameters: spec.parameters } : {}),
    ...(spec.requestBody ? { requestBody: spec.requestBody } : {}),
    responses: Object.fromEntries(Object.entries({ ...spec.responses, ...errorResponses(errors) }).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** GET …/similar takes the search options as query parameters; objects and lists (`filters`, `models`, `like`, `unlike`) as JSON. */
function optionParameters(options: JsonObject): JsonObject[] {
  const properties = options.properties as Record<string, JsonObject>;
  return Object.entries(properties).map(([name, { description, ...schema }]) =>
    schema.type === 'object' || schema.type === 'array' || schema.$ref
      ? { name, in: 'query', description: `${(description as string | undefined) ?? `The ${name}`}, as JSON`, content: json(schema) }
      : { name, in: 'query', ...(description ? { description } : {}), schema },
  );
}

/** What reading a request body can answer. */
const BODY_ERRORS: ApiErrorCode[] = ['invalid_json', 'request_aborted', 'payload_too_large', 'unsupported_encoding'];
/** What both search routes can answer (steering with `like`/`unlike` included: kept queries, vectors). */
const SEARCH_ERRORS: ApiErrorCode[] = ['catalog_forbidden', 'query_expired', 'vector_length_mismatch', 'invalid_vector', 'invalid_request', 'unknown_model', 'product_not_found', 'product_not_embedded', 'rerank_unavailable', 'exact_search_unavailable', 'overloaded', 'search_unavailable', 'internal_error'];
/** What only POST /v1/search can answer: its query source (an upload, base64, a URL to fetch, a vector, a kept query). */
const QUERY_SOURCE_ERRORS: ApiErrorCode[] = [
  'query_needs_photo', 'steering_with_objects', 'invalid_cursor', 'invalid_query_source', 'invalid_multipart', 'invalid_base64', 'invalid_box', 'localization_unavailable', 'unsupported_media_type', 'upload_limit', 'empty_image',
  'image_too_large', 'image_dimensions_too_large', 'unsupported_image', 'corrupt_image', 'preprocess_failed', 'embedding_failed', 'embedding_invalid', 'fetch_bad_url', 'fetch_blocked_address',
  'fetch_dns_failed', 'fetch_not_found', 'fetch_http_error', 'fetch_too_many_redirects', 'fetch_too_large', 'fetch_timeout', 'fetch_network_error',
];

let version: string | undefined;
function packageVersion(): string {
  version ??= (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}

/** The API's OpenAPI 3.1 document. */
export function buildOpenApiDocument(): JsonObject {
  const requests = componentSchemas(
    registry({ Product: productSchema, UpsertEvent: upsertEventSchema, DeleteEvent: deleteEventSchema, Event: eventSchema, EventBatch: eventBatchSchema, WebhookBody: webhookBodySchema, Filters: filtersSchema, SearchOptions: searchOptionsSchema, PhotoOptions: photoOptionsSchema, SearchRequest: searchBodySchema }),
    'input',
  );
  const responses = componentSchemas(
    registry({ CatalogList: catalogListSchema, SearchResponse: searchResponseSchema, Accepted: ingestResultSchema, ProductStatus: productStatusSchema, Health: healthSchema, Readiness: readinessSchema, Error: errorBodySchema }),
    'output',
  );
  // zod gives error.code a bare enum; the ErrorCode component lists the same codes with their statuses and meanings.
  const errorFields = (responses.Error as { properties: { error: { properties: { code: JsonObject } } } }).properties.error.properties;
  errorFields.code = { ...ref('ErrorCode'), description: errorFields.code.description };
  const productId = { name: 'id', in: 'path', required: true };

  const paths: Record<string, Record<string, JsonObject>> = {
    '/v1/search': {
      post: operation({
        summary: 'Products that look like a photo, an image URL, a product or a vector',
        scope: 'search',
        rateLimited: true,
        requestBody: {
          required: true,
          content: {
            ...json(ref('SearchRequest')),
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['image'],
                properties: {
                  image: { type: 'string', contentMediaType: 'application/octet-stream', description: 'The photo: JPEG, PNG, WebP, AVIF or GIF, at most IMAGE_MAX_BYTES' },
                  query: { ...ref('PhotoOptions'), description: 'The search options, as JSON (those of a photo: the search options, objects, max_objects, box)' },
                },
              },
              encoding: { query: { contentType: 'application/json' } },
            },
          },
        },
        responses: { 200: success('Results, best first', json(ref('SearchResponse'))) },
        errors: [...BODY_ERRORS, ...SEARCH_ERRORS, ...QUERY_SOURCE_ERRORS],
      }),
    },
    '/v1/products/{id}/similar': {
      get: operation({
        summary: 'Products that look like this one (never itself)',
        description: 'The options of POST /v1/search as query parameters.',
        scope: 'search',
        rateLimited: true,
        parameters: [{ ...productId, schema: { type: 'string', minLength: 1 } }, ...optionParameters(requests.SearchOptions!)],
        responses: { 200: success('Results, best first', json(ref('SearchResponse'))) },
        errors: SEARCH_ERRORS,
      }),
    },
    '/v1/catalogs': {
      get: operation({
        summary: 'The catalogs this key may search, with their sizes',
        scope: 'search',
        responses: { 200: success('The catalogs', json(ref('CatalogList'))) },
        errors: ['search_unavailable', 'internal_error'],
      }),
    },
    '/v1/webhooks/catalog': {
      post: operation({
        summary: 'Push catalog changes (one event or a batch of up to 500)',
        description:
          'Signed with `Lookalike-Signature: t=<unix seconds>,v1=<hex>`, the hex being HMAC-SHA256 with a shared secret (WEBHOOK_SECRETS) over `<t>.<raw body>`. Several v1 values may be sent (one per secret, for rotation). A repeated event id is answered 202 and enqueues nothing.',
        scope: 'webhook',
        parameters: [{ name: 'Lookalike-Signature', in: 'header', required: true, description: '`t=<unix seconds>,v1=<64 hex>[,v1=<64 hex>…]`', schema: { type: 'string', maxLength: 4096 } }],
        requestBody: { required: true, content: json(ref('WebhookBody')) },
        responses: { 202: success('Enqueued (or recognised as duplicates)', json(ref('Accepted'))) },
        errors: [...BODY_ERRORS, 'webhooks_disabled', 'signature_missing', 'signature_malformed', 'signature_expired', 'signature_mismatch', 'invalid_event', 'too_many_events', 'too_many_images', 'duplicate_images', 'catalog_forbidden', 'queue_unavailable', 'internal_error'],
      }),
    },
    '/v1/products/{id}/status': {
      get: operation({
        summary: 'Where a product stands in the pipeline',
        scope: 'webhook',
        parameters: [
          { ...productId, schema: jsonSchema(productIdSchema) },
          { name: 'catalog', in: 'query', description: 'The product’s catalog: default `default`, or the first catalog of an API key bound to catalogs', schema: jsonSchema(catalogNameSchema) },
        ],
        responses: { 200: success('The status', json(ref('ProductStatus'))) },
        errors: ['invalid_product_id', 'invalid_catalog', 'catalog_forbidden', 'internal_error'],
      }),
    },
    '/healthz': { get: operation({ summary: 'Liveness', responses: { 200: success('The process is up', json(ref('Health'))) } }) },
    '/readyz': {
      get: operation({
        summary: 'Readiness: Elasticsearch, Redis and the models',
        responses: { 200: success('Ready', json(ref('Readiness'))), 503: success('Not ready; `checks` says what is down', json(ref('Readiness'))) },
      }),
    },
    '/metrics': {
      get: operation({
        summary: 'Prometheus metrics',
        scope: 'admin',
        responses: { 200: success('Prometheus text exposition format', { 'text/plain': { schema: { type: 'string' } } }) },
        errors: ['internal_error'],
      }),
    },
    '/openapi.json': { get: operation({ summary: 'This document', responses: { 200: success('OpenAPI 3.1', json({ type: 'object' })) } }) },
    '/docs': { get: operation({ summary: "This API's documentation, rendered from /openapi.json", responses: { 200: success('HTML', { 'text/html': { schema: { type: 'string' } } }) } }) },
    '/': { get: operation({ summary: 'The search page', responses: { 200: success('HTML', { 'text/html': { schema: { type: 'string' } } }) } }) },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Lookalike API',
      version: packageVersion(),
      description: [
        'Visual product search. Catalog systems push product changes through signed webhooks; clients search by photo, image URL, product or vector.',
        'Every error is `{ error: { code, message }, request_id }` with a stable code (the `ErrorCode` schema lists them all); a path or method not listed here is answered 404 `route_not_found`.',
        'Every response carries `X-Request-Id`: the one the request sent (1–128 of `A-Za-z0-9._-`) or a new UUID.',
        'With API_KEYS set, each route under `/v1` and `/metrics` needs a key with its scope (see the security schemes); search routes are rate-limited per client (429 `rate_limited` with `Retry-After`).',
      ].join('\n\n'),
    },
    paths,
    components: {
      schemas: { ...requests, ...responses, ErrorCode: errorCodeSchema() },
      responses: { RouteNotFound: errorResponse(UNROUTED_ERRORS) },
      headers: {
        RequestId: { description: 'The request id, also in error bodies and in the logs', required: true, schema: { type: 'string' } },
      },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An API key from API_KEYS (`<key>:<scope>[+<scope>…][@<catalog>[|<catalog>…]]`, comma-separated) as `Authorization: Bearer <key>`. A key with catalogs reaches only their products: a request naming another catalog (a search’s or status request’s `catalog`, a webhook event’s) is a 403 `catalog_forbidden`, and a request naming none works in the key’s first catalog. Scopes: `search` for POST /v1/search and GET /v1/products/{id}/similar; `webhook` for POST /v1/webhooks/catalog and GET /v1/products/{id}/status; `admin` for GET /metrics, and every other scope too. Without API_KEYS no key is asked for: search and status are public, and webhooks rely on their signatures alone.',
        },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key in an `X-API-Key` header.' },
      },
    },
  };
}
