import { z } from 'zod';
import { cropBoxSchema } from '../image/autocrop';
import { DEFAULT_CATALOG, catalogNameSchema } from '../catalog';
import { PayloadTooLargeError, ValidationError, describeIssues } from '../errors';
import { filtersSchema } from './filters';
import { rankingSchema } from './ranking';
import { steeringSchema } from './steering';

/**
 * A search request, validated before anything reaches Elasticsearch: the options, plus exactly one query source
 * (`image_base64`, `image_url`, `product_id` or `vector`). Unknown fields and wrong types are a 400.
 */
export const MAX_K = 100;
export const MAX_NUM_CANDIDATES = 10_000;
export const MAX_OBJECTS = 10;

export const searchOptionsSchema = z
  .object({
    catalog: catalogNameSchema
      .optional()
      .describe(`The catalog to search: default "${DEFAULT_CATALOG}", or the first catalog of an API key bound to catalogs (one it is not bound to: 403 catalog_forbidden)`),
    filters: filtersSchema.optional(),
    k: z.number().int().min(1).max(MAX_K).default(10).describe('How many results'),
    num_candidates: z.number().int().min(1).optional().describe(`Candidates per model; clamped to [k, ${MAX_NUM_CANDIDATES}]; default max(100, 10·k)`),
    mode: z
      .enum(['knn', 'exact'])
      .default('knn')
      .describe('knn: approximate nearest neighbours (HNSW). exact: cosine script_score over every product that passes the filters; 501 exact_search_unavailable where the cluster has no painless'),
    models: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/), z.number().min(0).max(100))
      .optional()
      .describe('Weight per model id for the hybrid score (normalised to sum 1); default SEARCH_MODEL_WEIGHTS'),
    min_score: z.number().min(0).max(1).optional().describe('Drop results scoring below this'),
    like: steeringSchema.optional().describe('Steer the query towards these (products, kept queries, vectors), each with a weight: per model, the weighted sum of unit vectors, normalised'),
    unlike: steeringSchema
      .optional()
      .describe('Steer the query away from these (subtracted in the same sum); unliked products are also left out of the results ("less like this")'),
    facets: z.boolean().default(false).describe('Count brand, category, sizes and price buckets over the candidates'),
    rerank: z
      .boolean()
      .optional()
      .describe(
        "The precision stage: re-score the first 10 results by how well each product photo's regions are found in the query photo (docs/search.md, \"Re-ranking\"), which puts a whole item above close-ups of its parts. Default: the server's RERANK_DEFAULT (off; on, it runs it wherever it can and skips it quietly where there are no regions (a raw vector, a product photo without a descriptor, a steered query)). Asked for with true where it cannot run: 400 or 409 rerank_unavailable",
      ),
    ...rankingSchema.shape,
    crop: z
      .enum(['auto', 'localize', 'trim', 'none'])
      .default('auto')
      .describe(
        'How a photo is cropped to the product before it is embedded. auto: as the server is configured (AUTOCROP; by default `localize`); localize: trim a plain background, else find the product among candidate regions scored by the catalog (docs/search.md, "Localization"); trim: cut uniform borders only; none: the whole image',
      ),
  })
  .strict();

/** Options that only a photo query takes (POST /v1/search with an image, image_base64 or image_url). */
export const photoOptionsSchema = searchOptionsSchema
  .extend({
    objects: z.boolean().default(false).describe('Also find every product-like object in the photo and search each: the response gets `objects`, best first'),
    max_objects: z.number().int().min(1).max(MAX_OBJECTS).default(5).describe(`With objects: at most this many (1–${MAX_OBJECTS})`),
    box: cropBoxSchema
      .refine((box) => box.width >= 8 && box.height >= 8, { message: 'box must be at least 8 × 8 px' })
      .optional()
      .describe("Search this region of the photo only (a box the shopper drew), in the photo's pixels after EXIF orientation; no localization"),
  })
  .strict();

export const searchBodySchema = photoOptionsSchema
  .extend({
    image_base64: z.string().min(1).optional().describe('JPEG, PNG, WebP, AVIF or GIF, base64; a data: URL prefix is accepted'),
    image_url: z.string().min(1).max(2048).optional().describe('Fetched SSRF-safely: http(s) only, private addresses refused'),
    product_id: z.string().min(1).max(256).optional().describe('Products like this catalog product (never itself)'),
    query_id: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('Run a search made in the last QUERY_TTL_S again (its `query_id`) with these options: other filters, other models, steering; or its next page with `cursor`. No photo is uploaded again; `box` and `objects` need one. Expired, or of a catalog this request may not use: 404 query_expired'),
    cursor: z
      .string()
      .min(1)
      .max(512 * 1024)
      .optional()
      .describe("With query_id: the `next_cursor` of the page before; answers the next `k` results of the same search (its options travel in the cursor: give only query_id, cursor and k). Pages reach at most 1,000 results deep"),
    vector: z
      .array(z.number().finite())
      .min(1)
      .max(4096)
      .optional()
      .describe('A raw vector for the one model whose dimension it matches (or the one model in `models`)'),
  })
  .strict()
  .describe('The search options plus exactly one of image_base64, image_url, product_id, vector, query_id');

export type SearchOptions = z.infer<typeof searchOptionsSchema>;
/** The options of any query: a photo query's own options are absent from other kinds. */
export type QueryOptions = SearchOptions & Partial<z.infer<typeof photoOptionsSchema>>;
export type SearchBody = z.infer<typeof searchBodySchema>;
export type QuerySource =
  | { kind: 'image'; bytes: Buffer }
  | { kind: 'image_url'; url: string }
  | { kind: 'product_id'; id: string }
  | { kind: 'vector'; vector: number[] }
  | { kind: 'query_id'; id: string; cursor?: string };

/** With a cursor a request gives only these: the page's options are those of the search it continues. */
const PAGE_FIELDS = new Set(['query_id', 'cursor', 'k']);

/**
 * `like` and `unlike` steer one query; `objects` answers one search per object found in the photo, each about another
 * thing. Steering them all by the same products would pull each towards the others' (a liked sofa turning the lamp's
 * results into sofas), and steering only some would answer a mix, so the two are refused together: steer one
 * object's search with its `box`, or the search's `query_id` (its primary region).
 */
function assertSteerable(options: QueryOptions): void {
  if (options.objects && (options.like !== undefined || options.unlike !== undefined)) {
    throw new ValidationError('like and unlike steer one search, objects runs one per object: steer an object with its box, or re-run the search by its query_id', { code: 'steering_with_objects' });
  }
}

/** Parses a JSON search body into its options and its one query source. */
export function parseSearchBody(body: unknown, maxImageBytes: number): { options: QueryOptions; source: QuerySource } {
  const parsed = searchBodySchema.safeParse(body);
  if (!parsed.success) throw new ValidationError(`invalid search request: ${describeIssues(parsed.error.issues).join('; ')}`, { code: 'invalid_request' });
  const { image_base64, image_url, product_id, vector, query_id, cursor, ...options } = parsed.data;
  const given = [image_base64, image_url, product_id, vector, query_id].filter((v) => v !== undefined).length;
  if (given !== 1) {
    throw new ValidationError('give exactly one of image_base64, image_url, product_id, vector, query_id', { code: 'invalid_query_source' });
  }
  if (cursor !== undefined) {
    if (query_id === undefined) throw new ValidationError('cursor pages a query: give it with its query_id', { code: 'invalid_request' });
    const others = Object.keys(body as object).filter((key) => !PAGE_FIELDS.has(key));
    if (others.length > 0) throw new ValidationError(`with a cursor give only query_id, cursor and k (the page's options are the search's): not ${others.join(', ')}`, { code: 'invalid_request' });
  }
  assertSteerable(options);
  if (query_id !== undefined && (options.objects || options.box)) {
    throw new ValidationError('box and objects need the photo, which is never kept: upload it again (query_id re-runs the region it searched)', { code: 'query_needs_photo' });
  }
  let source: QuerySource;
  if (image_base64 !== undefined) {
    // base64 is 4/3 of the bytes; refuse before decoding a huge string.
    if (image_base64.length > Math.ceil((maxImageBytes * 4) / 3) + 4) throw new PayloadTooLargeError('the image is larger than allowed', 'image_too_large');
    const cleaned = image_base64.replace(/^data:[^;,]+;base64,/, '');
    if (!/^[A-Za-z0-9+/=\s]+$/.test(cleaned)) throw new ValidationError('image_base64 is not base64', { code: 'invalid_base64' });
    source = { kind: 'image', bytes: Buffer.from(cleaned, 'base64') };
  } else if (image_url !== undefined) source = { kind: 'image_url', url: image_url };
  else if (product_id !== undefined) source = { kind: 'product_id', id: product_id };
  else if (query_id !== undefined) source = { kind: 'query_id', id: query_id, ...(cursor !== undefined ? { cursor } : {}) };
  else source = { kind: 'vector', vector: vector! };
  if ((source.kind === 'product_id' || source.kind === 'vector') && (options.objects || options.box)) {
    throw new ValidationError('objects and box apply to a photo query (image_base64, image_url or an upload)', { code: 'invalid_request' });
  }
  return { options, source };
}

/** A photo query's options, given as a JSON text part of a multipart upload. */
export function parsePhotoOptions(raw: unknown): QueryOptions {
  const parsed = photoOptionsSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ValidationError(`invalid search options: ${describeIssues(parsed.error.issues).join('; ')}`, { code: 'invalid_request' });
  assertSteerable(parsed.data);
  return parsed.data;
}

/** Options given as query parameters (GET …/similar). */
export function parseSearchOptions(raw: unknown): SearchOptions {
  const parsed = searchOptionsSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ValidationError(`invalid search options: ${describeIssues(parsed.error.issues).join('; ')}`, { code: 'invalid_request' });
  return parsed.data;
}

const JSON_PARAMETERS = new Set(['filters', 'models', 'like', 'unlike', 'boost', 'pin', 'bury']);

/** Query parameters as options: numbers and booleans from their text; `filters`, `models`, `like`, `unlike` as JSON. */
export function optionsFromQuery(query: Record<string, unknown>): SearchOptions {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    if (typeof value !== 'string') throw new ValidationError(`query parameter ${key} must appear once`, { code: 'invalid_request' });
    if (JSON_PARAMETERS.has(key)) {
      try {
        out[key] = JSON.parse(value);
      } catch {
        throw new ValidationError(`query parameter ${key} must be JSON`, { code: 'invalid_request' });
      }
    } else if (key === 'k' || key === 'num_candidates' || key === 'min_score') out[key] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
    else if (key === 'max_per_brand') out[key] = /^\d+$/.test(value) ? Number(value) : value;
    else if (key === 'facets' || key === 'dedupe' || key === 'explain' || key === 'rerank') out[key] = value === 'true' ? true : value === 'false' ? false : value;
    else out[key] = value;
  }
  return parseSearchOptions(out);
}
