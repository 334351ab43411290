import { z } from 'zod';
import { ValidationError, describeIssues } from './errors';

/**
 * The catalog's wire formats (a contract: the README and the OpenAPI document describe the same shapes).
 *
 * Product: `{ id, catalog, title, brand, category, color, sizes, price, currency, available, images }`; id and
 * images (1–10 distinct photo URLs, the first the main one) required, the rest optional; strict types; unknown fields
 * refused. `image_url` is the one-photo form, accepted in place of `images` (never both).
 * Event: `{ id, type: "product.upsert", version, product }` or `{ id, type: "product.delete", version, product_id,
 * catalog }`. A webhook body is one event or `{ events: [ … ] }` with at most 500.
 *
 * Catalogs: every product belongs to one catalog (`default` unless it names another), and product ids are per
 * catalog: `sku-1` of `store-a` and `sku-1` of `store-b` are two products. The Elasticsearch `_id` (and every key
 * derived from it: status records, job ids) is `documentId(catalog, id)`.
 */

/** The catalog of a product, an event or a search that names none. */
export const DEFAULT_CATALOG = 'default';

export const catalogNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64')
  .describe('A catalog name: lower-case letters, digits, "-" and "_" (at most 64)');

/**
 * The Elasticsearch `_id` of product `id` of `catalog`: the product id itself in the default catalog (so indices
 * written before catalogs existed keep their ids), `<catalog> <id>` in any other. A product id never contains a
 * space, so no id of the default catalog can be mistaken for another catalog's.
 */
export function documentId(catalog: string, id: string): string {
  return catalog === DEFAULT_CATALOG ? id : `${catalog} ${id}`;
}

/** The catalog of an Elasticsearch `_id`: `documentId`'s inverse (a product id has no space, a catalog name neither). */
export function catalogOfDocumentId(id: string): string {
  const space = id.indexOf(' ');
  return space < 0 ? DEFAULT_CATALOG : id.slice(0, space);
}

/** The catalog of a stored product (its `_source`): products written before catalogs have none and are the default's. */
export function catalogOfSource(source: Record<string, unknown> | undefined): string {
  return typeof source?.catalog === 'string' ? source.catalog : DEFAULT_CATALOG;
}

export const MAX_EVENTS_PER_REQUEST = 500;

export const productIdSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
  .describe('The product id: 1–256 printable ASCII characters, no spaces');
const text = (max: number) => z.string().min(1).max(max);

/** How many photos a product may have. */
export const MAX_IMAGES = 10;

const imageUrlSchema = z
  .url({ protocol: /^https?$/, hostname: z.regexes.hostname })
  .max(2048)
  .describe('http or https; private addresses are refused unless FETCH_ALLOWED_HOSTS lists them');

export const productSchema = z
  .object({
    id: productIdSchema,
    catalog: catalogNameSchema.optional().describe(`The catalog the product belongs to; default "${DEFAULT_CATALOG}"`),
    title: text(500).optional(),
    brand: text(256).optional(),
    category: text(256).optional(),
    color: text(64).optional(),
    sizes: z.array(text(64)).max(100).optional(),
    price: z.number().finite().min(0).max(1e12).describe('Major units (19.99)').optional(),
    currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR').describe('An ISO 4217 code such as EUR').optional(),
    available: z.boolean().optional(),
    signals: z
      .record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a signal name: lower-case letters, digits and "_"'), z.number().finite())
      .refine((signals) => Object.keys(signals).length <= 20, { message: 'at most 20 signals' })
      .optional()
      .describe('Numbers a search may rank by (`boost`), e.g. { "popularity": 0.8, "margin": 0.3, "stock": 1 }; a change never re-embeds'),
    images: z
      .array(imageUrlSchema)
      .min(1)
      .max(MAX_IMAGES, `at most ${MAX_IMAGES} images`)
      .optional()
      .describe(`The product's photos (1–${MAX_IMAGES} distinct URLs), the main one first; each is embedded and searchable`),
    image_url: imageUrlSchema.optional().describe('The one-photo form of `images`: give one or the other, never both'),
  })
  .strict()
  .superRefine((product, context) => {
    if ((product.images === undefined) === (product.image_url === undefined)) {
      const both = product.images !== undefined;
      context.addIssue({ code: 'custom', path: [both ? 'image_url' : 'images'], message: both ? 'give images or image_url, not both' : 'give images (or image_url for one photo)', params: { code: 'invalid_images' } });
    }
    const seen = new Set<string>();
    product.images?.forEach((url, position) => {
      if (seen.has(url)) context.addIssue({ code: 'custom', path: ['images', position], message: `${url} appears twice`, params: { code: 'duplicate_images' } });
      seen.add(url);
    });
  });

export type Product = z.infer<typeof productSchema>;

/** A product's photo URLs in order: `images`, or its one `image_url`. */
export function productImages(product: Pick<Product, 'images' | 'image_url'>): string[] {
  return product.images ?? (product.image_url !== undefined ? [product.image_url] : []);
}

const eventId = z.string().min(1).max(256).describe('For deduplication: an id seen in the last EVENT_DEDUP_TTL_S is answered 202 and enqueues nothing');
const version = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe('Per product; only a newer version changes anything');

export const upsertEventSchema = z
  .object({ id: eventId, type: z.literal('product.upsert'), version, product: productSchema })
  .strict()
  .describe('Creates or replaces the product; a change of price, stock or sizes alone never re-embeds it');
export const deleteEventSchema = z
  .object({ id: eventId, type: z.literal('product.delete'), version, product_id: productIdSchema, catalog: catalogNameSchema.optional().describe(`The product's catalog; default "${DEFAULT_CATALOG}"`) })
  .strict()
  .describe('Deletes the product, leaving a tombstone so that an older upsert arriving late cannot bring it back');
export const eventSchema = z.discriminatedUnion('type', [upsertEventSchema, deleteEventSchema]);
export const eventBatchSchema = z.object({ events: z.array(eventSchema).min(1).max(MAX_EVENTS_PER_REQUEST) }).strict();
/** A webhook body: one event, or a batch. */
export const webhookBodySchema = z.union([eventSchema, eventBatchSchema]);

export type UpsertEvent = z.infer<typeof upsertEventSchema>;
export type DeleteEvent = z.infer<typeof deleteEventSchema>;
export type CatalogEvent = z.infer<typeof eventSchema>;

export const productIdOf = (event: CatalogEvent): string => (event.type === 'product.upsert' ? event.product.id : event.product_id);
/** The catalog an event is about. */
export const catalogOf = (event: CatalogEvent): string => (event.type === 'product.upsert' ? event.product.catalog : event.catalog) ?? DEFAULT_CATALOG;

/** Parses a webhook body (already JSON-decoded) into events; a ValidationError names each bad event and field. */
export function parseWebhookBody(body: unknown): CatalogEvent[] {
  const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'events' in body;
  if (!isBatch) {
    const parsed = eventSchema.safeParse(body);
    if (!parsed.success) throw invalid(describeIssues(parsed.error.issues), codeOf(parsed.error.issues));
    return [parsed.data];
  }
  const events = (body as { events: unknown }).events;
  if (Array.isArray(events) && events.length > MAX_EVENTS_PER_REQUEST) {
    throw new ValidationError(`a batch holds at most ${MAX_EVENTS_PER_REQUEST} events, got ${events.length}`, { code: 'too_many_events' });
  }
  const parsed = eventBatchSchema.safeParse(body);
  if (!parsed.success) throw invalid(describeIssues(parsed.error.issues), codeOf(parsed.error.issues));
  return parsed.data.events;
}

/**
 * The code of a refused body: `too_many_images` or `duplicate_images` when every problem is that one (a client can act
 * on it without parsing messages), else `invalid_event`.
 */
type EventErrorCode = 'invalid_event' | 'too_many_images' | 'duplicate_images';

function codeOf(issues: ReadonlyArray<{ code: string; path: ReadonlyArray<PropertyKey>; params?: Record<string, unknown> }>): EventErrorCode {
  const codes = new Set<EventErrorCode>(
    issues.map((issue): EventErrorCode => {
      if (issue.code === 'too_big' && issue.path[issue.path.length - 1] === 'images') return 'too_many_images';
      const custom = issue.params?.code;
      return custom === 'duplicate_images' ? 'duplicate_images' : 'invalid_event';
    }),
  );
  return codes.size === 1 ? [...codes][0]! : 'invalid_event';
}

function invalid(problems: string[], code: EventErrorCode = 'invalid_event'): ValidationError {
  const shown = problems.slice(0, 20);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  return new ValidationError(`invalid event: ${shown.join('; ')}${more}`, { code, details: { problems: shown } });
}
