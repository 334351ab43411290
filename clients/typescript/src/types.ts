import type { components } from './schema';

/** The API's named types, from the generated schema (src/schema.d.ts): one definition, the server's. */
type Schemas = components['schemas'];

export type Product = Schemas['Product'];
export type UpsertEvent = Schemas['UpsertEvent'];
export type DeleteEvent = Schemas['DeleteEvent'];
export type CatalogEvent = Schemas['Event'];
/** One event, or `{ events: [...] }` with up to 500. */
export type WebhookBody = Schemas['WebhookBody'];
/** 202 to a webhook: events enqueued, and events whose id was seen before. */
export type Accepted = Schemas['Accepted'];
export type Filters = Schemas['Filters'];
/** The options of every search. */
export type SearchOptions = Schemas['SearchOptions'];
/** The body of POST /v1/search: the options plus exactly one query source. */
export type SearchRequest = Schemas['SearchRequest'];
/** The options of a photo search (an upload, base64 or an image URL): every option plus `objects`, `max_objects`, `box`. */
export type PhotoSearchOptions = Omit<SearchRequest, 'image_base64' | 'image_url' | 'product_id' | 'vector'>;
export type SearchResponse = Schemas['SearchResponse'];
export type SearchResult = SearchResponse['results'][number];
export type ProductStatus = Schemas['ProductStatus'];
export type Health = Schemas['Health'];
export type Readiness = Schemas['Readiness'];
export type ErrorBody = Schemas['Error'];
/** Every error code the API answers (the schema's `ErrorCode`). */
export type ErrorCode = Schemas['ErrorCode'];
