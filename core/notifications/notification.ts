import { z } from 'zod';

/**
 * What the indexer tells NOTIFY_URL about products (docs/notifications.md): one event as the body, or several that
 * finished together as `{ "events": [ … ] }`. The schemas are the one definition of the shape: the notification jobs
 * are checked against them, and so can receivers written in TypeScript.
 *
 * - `product.indexed`: the product's `version` is searchable (a new image embedded, or only its attributes changed).
 * - `product.deleted`: a delete at `version` was applied; the product no longer appears in searches.
 * - `product.failed`: the event at `version` could not be applied and will not be retried; `error` says why.
 * Events ignored because the catalog already held a newer version notify nothing: nothing changed.
 */
export const NOTIFICATION_TYPES = ['product.indexed', 'product.deleted', 'product.failed'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export const notificationEventSchema = z
  .object({
    type: z.enum(NOTIFICATION_TYPES),
    product_id: z.string().min(1),
    catalog: z.string().min(1),
    version: z.number().int().nonnegative(),
    /** When the indexer finished with the event (ISO 8601, UTC). */
    at: z.iso.datetime(),
    /** `product.failed` only: `<code>: <message>`. */
    error: z.string().optional(),
  })
  .strict();
export type NotificationEvent = z.infer<typeof notificationEventSchema>;

/** Most events in one notification; more finishing together go out as several. */
export const MAX_EVENTS_PER_NOTIFICATION = 100;

export const notificationBatchSchema = z.object({ events: z.array(notificationEventSchema).min(1).max(MAX_EVENTS_PER_NOTIFICATION) }).strict();
/** A notification body as receivers get it. */
export const notificationBodySchema = z.union([notificationEventSchema, notificationBatchSchema]);

/** The event for a product's outcome (product `productId` of `catalog`: ids are per catalog), stamped now. */
export function notificationEvent(type: NotificationType, productId: string, catalog: string, version: number, error?: string): NotificationEvent {
  return {
    type,
    product_id: productId,
    catalog,
    version,
    at: new Date().toISOString(),
    ...(type === 'product.failed' && error !== undefined ? { error } : {}),
  };
}

/** The raw body: a lone event as itself, several as `{ events }`. What is signed is exactly these bytes. */
export function notificationBody(events: NotificationEvent[]): string {
  if (events.length === 0) throw new Error('a notification needs at least one event');
  return JSON.stringify(events.length === 1 ? events[0] : { events });
}
