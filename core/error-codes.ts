import { z } from 'zod';

/**
 * Every error code of Lookalike, in one place. `AppError` only takes a code listed here (a compile error otherwise),
 * so no code can be thrown without being registered.
 *
 * API_ERRORS are the codes an HTTP client can receive, with the statuses they are answered with; the OpenAPI
 * document lists each of them (api/openapi-errors.ts, checked by tests/unit/api/openapi.test.ts), and the API's error
 * middleware answers any other code as a 500 `internal_error`. PROCESS_ERRORS never reach an HTTP response: a process
 * that cannot start, a command line that is wrong, a migration that failed. A code thrown on a request's path belongs
 * in API_ERRORS. `retryAfter`: answered with a Retry-After header (seconds).
 */
export const API_ERRORS = {
  // Access
  api_key_missing: { status: [401], description: 'The route needs an API key (`Authorization: Bearer <key>` or `X-API-Key`) and none was sent.' },
  api_key_invalid: { status: [401], description: 'The API key is not one of API_KEYS.' },
  api_key_scope: { status: [403], description: 'The API key lacks the scope this route needs (`search`, `webhook` or `admin`).' },
  catalog_forbidden: {
    status: [403],
    description: 'The API key is bound to catalogs (API_KEYS `@<catalog>`) and the request names another: a search’s or status request’s `catalog`, or an event of another catalog in a webhook (then nothing is enqueued).',
  },
  rate_limited: { status: [429], retryAfter: true, description: 'More requests than the client’s rate allows; retry after the `Retry-After` seconds.' },
  overloaded: {
    status: [503],
    retryAfter: true,
    description: 'The server is at capacity (SEARCH_CONCURRENCY searches running, SEARCH_QUEUE waiting, or no slot within SEARCH_QUEUE_WAIT_MS): answered at once; retry after the `Retry-After` seconds, or on another server.',
  },
  // Any request
  route_not_found: { status: [404], description: 'No route for this method and path.' },
  invalid_json: { status: [400], description: 'The body is not valid JSON.' },
  request_aborted: { status: [400], description: 'The client stopped sending the body.' },
  payload_too_large: { status: [413], description: 'The body is larger than allowed (WEBHOOK_MAX_BYTES for webhooks; about 4/3 of IMAGE_MAX_BYTES for a JSON search).' },
  unsupported_encoding: { status: [415], description: 'The body’s Content-Encoding or charset is not supported.' },
  internal_error: { status: [500], description: 'An unexpected failure; it is logged with the request id.' },
  // Webhooks
  webhooks_disabled: { status: [503], description: 'No WEBHOOK_SECRETS are configured, so no webhook can be verified.' },
  signature_missing: { status: [401], description: 'The `Lookalike-Signature` header is missing.' },
  signature_malformed: { status: [401], description: 'The signature is not `t=<unix seconds>,v1=<64 hex>[,v1=…]`.' },
  signature_expired: { status: [401], description: 'The signature’s timestamp is further from now than WEBHOOK_TOLERANCE_S.' },
  signature_mismatch: { status: [401], description: 'No v1 value matches the body with any configured secret.' },
  invalid_event: { status: [400], description: 'Events are malformed; the message and `details.problems` name each bad event and field.' },
  too_many_events: { status: [400], description: 'A batch holds more than 500 events.' },
  too_many_images: { status: [400], description: 'A product lists more than 10 images (and nothing else is wrong with the events).' },
  duplicate_images: { status: [400], description: 'A product lists the same image URL twice (and nothing else is wrong with the events).' },
  queue_unavailable: { status: [503], description: 'Redis does not answer, or fewer replicas than REDIS_WAIT_REPLICAS acknowledged the events in time; answered at once, nothing is promised. Retry later: an event that was stored after all comes back as a duplicate.' },
  // Product status
  invalid_product_id: { status: [400], description: 'The product id is not 1–256 printable ASCII characters.' },
  invalid_catalog: { status: [400], description: 'The `catalog` parameter is not a catalog name (lower-case letters, digits, "-" and "_", at most 64), or appears more than once.' },
  // Search: the request
  invalid_request: { status: [400], description: 'The search options are invalid: unknown fields, wrong types, values out of range; the message names each.' },
  invalid_query_source: { status: [400], description: 'Not exactly one of image_base64, image_url, product_id, vector (or, in a multipart request, no file part `image`).' },
  invalid_base64: { status: [400], description: 'image_base64 is not base64.' },
  invalid_box: { status: [400], description: 'The `box` is not inside the photo (its pixels after EXIF orientation).' },
  localization_unavailable: { status: [503], description: 'This server runs without its localizer, so `objects` and `crop: "localize"` cannot run; search with crop "trim" or "none".' },
  invalid_multipart: { status: [400], description: 'The multipart body cannot be parsed (no boundary, a malformed part header, a body that ends inside a part).' },
  unsupported_media_type: { status: [415], description: 'The search body is neither application/json nor multipart/form-data.' },
  upload_limit: { status: [413], description: 'The multipart request has more parts, fields or headers than allowed.' },
  unknown_model: { status: [400], description: '`models` names a model that is not loaded.' },
  vector_length_mismatch: { status: [400], description: 'The vector’s length is not the dimension of the model it is meant for.' },
  invalid_vector: { status: [400], description: 'The vector is all zeros.' },
  query_expired: { status: [404], description: 'The `query_id` is unknown: it expired (QUERY_TTL_S after its search), or its search was in a catalog this request may not use. Search with the photo again.' },
  query_needs_photo: { status: [400], description: '`box` and `objects` need the photo, which is never kept: a `query_id` re-runs the region its search found; upload the photo again for another.' },
  steering_with_objects: { status: [400], description: '`like`/`unlike` steer one search and `objects` runs one per object found: they are not given together. Steer one object’s search with its `box`, or re-run the search by its `query_id`.' },
  invalid_cursor: { status: [400], description: '`cursor` is not a `next_cursor` this API gave.' },
  product_not_found: { status: [404], description: 'The product is not in the catalog (or was deleted).' },
  product_not_embedded: { status: [409], description: 'The product has no vector for the requested models yet.' },
  search_unavailable: { status: [503], retryAfter: true, description: 'Elasticsearch is unreachable, timed out or overloaded (say, no copy of a shard while a node is down, or a shard failed: partial results are never returned); retry after the `Retry-After` seconds.' },
  rerank_unavailable: {
    status: [400, 409],
    description:
      '`rerank: true` needs the regions of a photo: a photo, image_url or product_id query (not a raw vector: 400), searched with a model that describes regions (efficientnet-lite0: 400 without it); 409 when the product’s photo was embedded before descriptors were stored (`lookalike reembed --model efficientnet-lite0` adds them).',
  },
  exact_search_unavailable: { status: [501], description: '`mode: "exact"` needs painless scripting, which this Elasticsearch cluster does not have.' },
  // Search: the image
  empty_image: { status: [400], description: 'The image has no bytes.' },
  image_too_large: { status: [413], description: 'The image is larger than IMAGE_MAX_BYTES.' },
  image_dimensions_too_large: { status: [413], description: 'The image has more pixels than IMAGE_MAX_PIXELS.' },
  unsupported_image: { status: [415, 422], description: 'Not a JPEG, PNG, WebP, AVIF or GIF image: 415 for an image sent, 422 for one fetched from image_url.' },
  corrupt_image: { status: [422], description: 'The image is truncated or corrupt and cannot be decoded.' },
  preprocess_failed: { status: [422], description: 'The image decoded but could not be prepared for a model (cropping, resizing, normalising).' },
  embedding_failed: { status: [422], description: 'A model failed on this image (run alone, so the failure is the image’s).' },
  embedding_invalid: { status: [500], description: 'A model produced an unusable vector (NaN, zeros or a wrong size).' },
  // Search: fetching image_url (422: the URL is at fault; 502: its server failed, worth retrying)
  fetch_bad_url: { status: [422], description: 'image_url is not an http(s) URL, or carries credentials.' },
  fetch_blocked_address: { status: [422], description: 'image_url resolves to a private, loopback, link-local or metadata address (unless FETCH_ALLOWED_HOSTS lists it).' },
  fetch_dns_failed: { status: [422, 502], description: 'image_url’s host does not resolve: 422 when it does not exist, 502 when resolving failed.' },
  fetch_not_found: { status: [422], description: 'image_url answered 404 or 410.' },
  fetch_http_error: { status: [422, 502], description: 'image_url answered another non-200 status: 502 for 429 and 5xx, 422 otherwise.' },
  fetch_too_many_redirects: { status: [422], description: 'image_url redirected more than FETCH_MAX_REDIRECTS times.' },
  fetch_too_large: { status: [422], description: 'The image at image_url is larger than IMAGE_MAX_BYTES.' },
  fetch_timeout: { status: [502], description: 'Fetching image_url took longer than FETCH_TIMEOUT_MS.' },
  fetch_network_error: { status: [502], description: 'The connection to image_url’s server failed or broke off.' },
} as const satisfies Record<string, { readonly status: readonly number[]; readonly description: string; readonly retryAfter?: true }>;

export const PROCESS_ERRORS = {
  // Start-up: the process prints one line and exits 1.
  invalid_config: 'An environment variable is invalid.',
  redis_unreachable: 'Redis did not answer within the start-up deadline.',
  elasticsearch_unreachable: 'Elasticsearch did not answer within the start-up deadline.',
  alias_ambiguous: 'The index alias points at more than one index.',
  alias_conflict: 'A concrete index has the alias’s name.',
  index_create_conflict: 'Other processes kept creating the next index version while this one tried to; it gave up after a few attempts.',
  mapping_mismatch: 'The index mapping disagrees with the configured models.',
  index_migration_needed: 'The index holds one photo per product (written before several photos): run `lookalike index migrate` once.',
  invalid_model_manifest: 'A model manifest cannot be read or is invalid.',
  model_missing: 'A model file does not exist.',
  model_checksum_mismatch: 'A model file’s sha256 differs from its manifest.',
  model_signature_mismatch: 'A model lacks the input or output its manifest names.',
  model_dims_mismatch: 'A model’s output size differs from its manifest.',
  unknown_detector: 'No built-in detector manifest has the id asked for.',
  invalid_detector_manifest: 'A detector manifest cannot be read or is invalid.',
  invalid_localizer_manifest: 'The localizer manifest cannot be read or is invalid.',
  detector_output_mismatch: 'A detector’s outputs disagree with its manifest’s anchors and labels.',
  invalid_detection_options: 'Detection options (score threshold, box count, IoU) are out of range.',
  cuda_unavailable: 'The CUDA execution provider does not load.',
  notify_url_blocked: 'NOTIFY_URL points at an address the outbound rules refuse (private, loopback, metadata) and FETCH_ALLOWED_HOSTS does not list it.',
  // Readiness probes: reported in /readyz's `checks`, never as an error response.
  redis_unavailable: 'Redis does not answer a probe.',
  elasticsearch_unavailable: 'Elasticsearch is unreachable or red.',
  // The CLI and index migrations.
  usage: 'The command line is wrong.',
  file_not_found: 'A file named on the command line does not exist.',
  file_unreadable: 'A file named on the command line cannot be read.',
  index_missing: 'The index alias does not exist yet.',
  migration_bulk_failed: 'Documents failed to copy into the new index version.',
} as const satisfies Record<string, string>;

export type ApiErrorCode = keyof typeof API_ERRORS;
export type ProcessErrorCode = keyof typeof PROCESS_ERRORS;
export type ErrorCode = ApiErrorCode | ProcessErrorCode;

/** The API codes answered with HTTP status `S` (the codes an error class with that status may carry). */
export type ApiErrorCodeWithStatus<S extends number> = {
  [C in ApiErrorCode]: S extends (typeof API_ERRORS)[C]['status'][number] ? C : never;
}[ApiErrorCode];

/** Every API error code, in the registry's order. */
export const API_ERROR_CODES = Object.keys(API_ERRORS) as [ApiErrorCode, ...ApiErrorCode[]];

export const apiErrorCodeSchema = z.enum(API_ERROR_CODES);

/** Whether responses with `code` carry a Retry-After header. */
export function sendsRetryAfter(code: ApiErrorCode): boolean {
  return (API_ERRORS[code] as { retryAfter?: true }).retryAfter === true;
}

export function isApiErrorCode(code: string): code is ApiErrorCode {
  return Object.hasOwn(API_ERRORS, code);
}
