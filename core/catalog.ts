import { z } from 'zod';
import { ValidationError, describeIssues } from './errors';

/**
 * The catalog's wire formats (a contract: the README and the OpenAPI document describe the same shapes).
 *
 * Product: `{ id, title, brand, category, color, sizes, price, currency, available, image_url }`; id and image_url
 * required, the rest optional; strict types; unknown fields refused.
 * Event: `{ id, type: "product.upsert", version, product }` or `{ id, type: "product.delete", version, product_id }`.
 * A webhook body is one event or `{ events: [ … ] }` with at most 500.
 */

export const MAX_EVENTS_PER_REQUEST = 500;

const productId = z.string().min(1).max(256).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
const text = (max: number) => z.string().min(1).max(max);

export const productSchema = z
  .object({
    id: productId,
    title: text(500).optional(),
    brand: text(256).optional(),
    category: text(256).optional(),
    color: text(64).optional(),
    sizes: z.array(text(64)).max(100).optional(),
    price: z.number().finite().min(0).max(1e12).optional(),
    currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR').optional(),
    available: z.boolean().optional(),
    image_url: z.url({ protocol: /^https?$/, hostname: z.regexes.hostname }).max(2048),
  })
  .strict();

export type Product = z.infer<typeof productSchema>;

const eventId = z.string().min(1).max(256);
const version = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const upsertEventSchema = z.object({ id: eventId, type: z.literal('product.upsert'), version, product: productSchema }).strict();
export const deleteEventSchema = z.object({ id: eventId, type: z.literal('product.delete'), version, product_id: productId }).strict();
export const eventSchema = z.discriminatedUnion('type', [upsertEventSchema, deleteEventSchema]);

export type UpsertEvent = z.infer<typeof upsertEventSchema>;
export type DeleteEvent = z.infer<typeof deleteEventSchema>;
export type CatalogEvent = z.infer<typeof eventSchema>;

export const productIdOf = (event: CatalogEvent): string => (event.type === 'product.upsert' ? event.product.id : event.product_id);

/** Parses a webhook body (already JSON-decoded) into events; a ValidationError names each bad event and field. */
export function parseWebhookBody(body: unknown): CatalogEvent[] {
  const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'events' in body;
  if (!isBatch) {
    const parsed = eventSchema.safeParse(body);
    if (!parsed.success) throw invalid(describeIssues(parsed.error.issues));
    return [parsed.data];
  }
  const keys = Object.keys(body as object);
  if (keys.length !== 1) throw invalid([`(body): only "events" is allowed beside the events, got ${keys.filter((k) => k !== 'events').join(', ')}`]);
  const events = (body as { events: unknown }).events;
  if (!Array.isArray(events)) throw invalid(['events: expected an array']);
  if (events.length === 0) throw invalid(['events: at least one event']);
  if (events.length > MAX_EVENTS_PER_REQUEST) {
    throw new ValidationError(`a batch holds at most ${MAX_EVENTS_PER_REQUEST} events, got ${events.length}`, { code: 'too_many_events' });
  }
  const problems: string[] = [];
  const parsed: CatalogEvent[] = [];
  events.forEach((event, index) => {
    const result = eventSchema.safeParse(event);
    if (result.success) parsed.push(result.data);
    else problems.push(...describeIssues(result.error.issues, `events.${index}`));
  });
  if (problems.length > 0) throw invalid(problems);
  return parsed;
}

function invalid(problems: string[]): ValidationError {
  const shown = problems.slice(0, 20);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  return new ValidationError(`invalid event: ${shown.join('; ')}${more}`, { code: 'invalid_event', details: { problems: shown } });
}
