import createClient, { type Client } from 'openapi-fetch';
import { errorFromResponse } from './errors';
import type { paths } from './schema';
import { SIGNATURE_HEADER, signatureHeader } from './signature';
import type { Accepted, PhotoSearchOptions, ProductStatus, SearchOptions, SearchRequest, SearchResponse, WebhookBody } from './types';

export interface LookalikeClientOptions {
  /** Where the API answers, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** An API key (the server's API_KEYS), sent as `Authorization: Bearer <key>`; none by default. */
  apiKey?: string;
  /** The secret (or secrets, while rotating) that signs catalog webhooks: one of the server's WEBHOOK_SECRETS. */
  webhookSecrets?: string | readonly string[];
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The fetch to use; default the global one. */
  fetch?: (request: Request) => Promise<Response>;
}

/** Per call: an AbortSignal, and the X-Request-Id to send (the API logs it and answers it back). */
export interface CallOptions {
  signal?: AbortSignal;
  requestId?: string;
}

/** A photo as bytes: a Blob or File (its type is sent along), or the raw bytes (a Node Buffer is a Uint8Array). */
export type Photo = Blob | Uint8Array | ArrayBuffer;

export interface SendEventsOptions extends CallOptions {
  /** Overrides the client's webhookSecrets for this call. */
  secrets?: string | readonly string[];
  /** The signature's unix seconds; default now. */
  timestamp?: number;
}

/**
 * The Lookalike API. Every method resolves with the response body, typed from the API's OpenAPI document, and
 * rejects with a LookalikeError (its `code`, `status`, `requestId`, `retryAfterSeconds`) when the API answers an error.
 */
export interface LookalikeClient {
  /** The typed openapi-fetch client underneath, for every route (health, readiness, the document itself). */
  readonly api: Client<paths>;
  /** POST /v1/search with an uploaded photo: multipart, the file part `image` and the options as the JSON part `query`. */
  searchByPhoto(photo: Photo, options?: PhotoSearchOptions, call?: CallOptions): Promise<SearchResponse>;
  /** POST /v1/search with the photo as base64 (a `data:` URL prefix is accepted). */
  searchByBase64(imageBase64: string, options?: PhotoSearchOptions, call?: CallOptions): Promise<SearchResponse>;
  /** POST /v1/search with a photo the API fetches (http(s); private addresses are refused). */
  searchByImageUrl(imageUrl: string, options?: PhotoSearchOptions, call?: CallOptions): Promise<SearchResponse>;
  /** POST /v1/search with a catalog product: products that look like it, never itself. */
  searchByProduct(productId: string, options?: SearchOptions, call?: CallOptions): Promise<SearchResponse>;
  /** POST /v1/search with a raw vector, for the model whose dimension it has (or the one model in `options.models`). */
  searchByVector(vector: number[], options?: SearchOptions, call?: CallOptions): Promise<SearchResponse>;
  /** GET /v1/products/{id}/similar: as searchByProduct, its options sent as query parameters. */
  similar(productId: string, options?: SearchOptions, call?: CallOptions): Promise<SearchResponse>;
  /** GET /v1/products/{id}/status: where a product stands in the pipeline (queued, indexed, failed, deleted, unknown). */
  productStatus(productId: string, call?: CallOptions): Promise<ProductStatus>;
  /**
   * POST /v1/webhooks/catalog: one event or `{ events: [...] }` (up to 500), signed with the webhook secrets over the
   * exact bytes sent. Resolves with `{ accepted, duplicates }`.
   */
  sendCatalogEvents(body: WebhookBody, options?: SendEventsOptions): Promise<Accepted>;
}

/** What every openapi-fetch call resolves with. */
interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a success, or the LookalikeError of anything else. */
async function unwrap<T>(call: Promise<Outcome<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw errorFromResponse(response, error);
  return data as T;
}

function callInit(call: CallOptions = {}): { signal?: AbortSignal; headers?: Record<string, string> } {
  return { ...(call.signal ? { signal: call.signal } : {}), ...(call.requestId ? { headers: { 'X-Request-Id': call.requestId } } : {}) };
}

function photoBlob(photo: Photo): Blob {
  if (photo instanceof Blob) return photo;
  // A view may sit on a SharedArrayBuffer, which a Blob does not take: its bytes are copied into a plain array.
  return new Blob([photo instanceof ArrayBuffer ? photo : new Uint8Array(photo)]);
}

/** GET …/similar takes the options as query parameters, `filters` and `models` as JSON. */
function similarQuery(options: SearchOptions) {
  // Objects and lists travel as JSON parameters (the API's optionsFromQuery).
  const { filters, models, like, unlike, boost, pin, bury, ...plain } = options;
  const json = Object.entries({ filters, models, like, unlike, boost, pin, bury }).filter(([, value]) => value !== undefined);
  return { ...plain, ...Object.fromEntries(json.map(([name, value]) => [name, JSON.stringify(value)])) };
}

/** A client for the Lookalike API at `options.baseUrl`. */
export function createLookalikeClient(options: LookalikeClientOptions): LookalikeClient {
  const api = createClient<paths>({
    baseUrl: options.baseUrl,
    headers: { ...options.headers, ...(options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {}) },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const searchJson = (body: SearchRequest, call?: CallOptions) => unwrap(api.POST('/v1/search', { body, ...callInit(call) }));

  return {
    api,
    searchByPhoto(photo, searchOptions, call) {
      const form = new FormData();
      form.append('image', photoBlob(photo), 'photo');
      if (searchOptions) form.append('query', JSON.stringify(searchOptions));
      // openapi-typescript types a binary part as a string; the serializer sends the FormData built above instead.
      const body = { image: 'photo', ...(searchOptions ? { query: searchOptions } : {}) };
      return unwrap(api.POST('/v1/search', { body, bodySerializer: () => form, ...callInit(call) }));
    },
    searchByBase64: (imageBase64, searchOptions, call) => searchJson({ ...searchOptions, image_base64: imageBase64 }, call),
    searchByImageUrl: (imageUrl, searchOptions, call) => searchJson({ ...searchOptions, image_url: imageUrl }, call),
    searchByProduct: (productId, searchOptions, call) => searchJson({ ...searchOptions, product_id: productId }, call),
    searchByVector: (vector, searchOptions, call) => searchJson({ ...searchOptions, vector }, call),
    similar: (productId, searchOptions = {}, call) =>
      unwrap(api.GET('/v1/products/{id}/similar', { params: { path: { id: productId }, query: similarQuery(searchOptions) }, ...callInit(call) })),
    productStatus: (productId, call) => unwrap(api.GET('/v1/products/{id}/status', { params: { path: { id: productId } }, ...callInit(call) })),
    async sendCatalogEvents(body, send = {}) {
      const secrets = send.secrets ?? options.webhookSecrets;
      if (secrets === undefined) throw new TypeError('sendCatalogEvents needs a webhook secret: webhookSecrets in createLookalikeClient, or secrets in its options');
      // Signed and sent as the same bytes: the API verifies the raw body.
      const raw = JSON.stringify(body);
      const signature = await signatureHeader(secrets, raw, send.timestamp);
      return unwrap(
        api.POST('/v1/webhooks/catalog', { params: { header: { [SIGNATURE_HEADER]: signature } }, body, bodySerializer: () => raw, ...callInit(send) }),
      );
    },
  };
}
