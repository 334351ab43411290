import { z } from 'zod';
import { ValidationError, describeIssues } from './errors';

/**
 * The catalog's wire formats (a contract: the README and the OpenAPI document describe the same shapes).
 *
 * Product: `{ id, catalog, title, brand, category, color, sizes, price, currency, available, image_url }`; id and
 * image_url required, the rest optional; strict types; unknown fields refused.
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

export const MAX_EVENTS_PER_REQUEST = 500;

export const productIdSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
  .describe('The product id: 1–256 printable ASCII characters, no spaces');
const text = (max: number) => z.string().min(1).max(max);

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
    image_url: z
      .url({ protocol: /^https?$/, hostname: z.regexes.hostname })
      .max(2048)
      .describe('http or https; private addresses are refused unless FETCH_ALLOWED_HOSTS lists them'),
  })
  .strict();

export type Product = z.infer<typeof productSchema>;

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
    if (!parsed.success) throw invalid(describeIssues(parsed.error.issues));
    return [parsed.data];
  }
  const events = (body as { events: unknown }).events;
  if (Array.isArray(events) && events.length > MAX_EVENTS_PER_REQUEST) {
    throw new ValidationError(`a batch holds at most ${MAX_EVENTS_PER_REQUEST} events, got ${events.length}`, { code: 'too_many_events' });
  }
  const parsed = eventBatchSchema.safeParse(body);
  if (!parsed.success) throw invalid(describeIssues(parsed.error.issues));
  return parsed.data.events;
}

function invalid(problems: string[]): ValidationError {
  const shown = problems.slice(0, 20);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  return new ValidationError(`invalid event: ${shown.join('; ')}${more}`, { code: 'invalid_event', details: { problems: shown } });
}
