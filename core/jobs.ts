import { createHash } from 'node:crypto';
import { Queue, UnrecoverableError, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import type { z } from 'zod';
import { DEFAULT_CATALOG, catalogOf, documentId, type CatalogEvent, type Product } from './catalog';
import type { Config } from './config';
import { notificationBatchSchema } from './notifications/notification';

/**
 * Queues, job names and payloads. Payloads carry ids, URLs and versions, never image bytes. Job ids are
 * deterministic, so a replayed event or a re-run import does not enqueue twice while the first job is remembered.
 *
 * - `catalog` queue: `upsert` and `delete` jobs, one per catalog event.
 * - `reembed-<model id>` queues: one job per product to (re)compute with that model. One pipeline per model: only
 *   indexers that load the model listen to its queue (an indexer of an older release, during a rolling deploy,
 *   leaves the jobs alone). Within an indexer, catalog batches go before re-embed batches at the image and embedding
 *   gates, and re-embedding never holds the last image slot (indexer/gate.ts), so a large re-embed delays fresh
 *   catalog changes by at most the batch in hand (measured: benchmarks/results/pipeline.md).
 * - `notifications` queue: `notify` jobs, each one notification to NOTIFY_URL (docs/notifications.md) carrying its
 *   events; retried NOTIFY_ATTEMPTS times with exponential backoff, kept in Redis across indexer restarts.
 */
export const QUEUES = { catalog: 'catalog', notifications: 'notifications' } as const;
export const reembedQueueName = (modelId: string): string => `reembed-${modelId}`;
export const JOBS = { upsert: 'upsert', delete: 'delete', reembed: 'reembed', notify: 'notify' } as const;

export interface UpsertJob {
  eventId: string;
  version: number;
  product: Product;
  /** When the API (or the importer) received the event, ms since the epoch: the start of the freshness clock. */
  receivedAt: number;
}

export interface DeleteJob {
  eventId: string;
  version: number;
  productId: string;
  /** Absent in jobs enqueued before catalogs existed: the default catalog. */
  catalog?: string;
  receivedAt: number;
}

export interface ReembedJob {
  productId: string;
  model: string;
  modelVersion: string;
  requestedAt: number;
}

/** One notification's events (the body is built, and signed, at each attempt). */
export const notifyJobSchema = notificationBatchSchema;
export type NotifyJob = z.infer<typeof notifyJobSchema>;

/** A catalog job as the handlers take it: the name tells the payload apart. */
export type CatalogJob = { name: typeof JOBS.upsert; data: UpsertJob } | { name: typeof JOBS.delete; data: DeleteJob };
export type CatalogJobName = CatalogJob['name'];
export type CatalogJobData = CatalogJob['data'];

/** The queues, typed by their payloads and names (BullMQ's generics: data, result, name). */
export type CatalogQueue = Queue<CatalogJobData, unknown, CatalogJobName>;
export type ReembedQueue = Queue<ReembedJob, unknown, typeof JOBS.reembed>;
export type NotificationQueue = Queue<NotifyJob, unknown, typeof JOBS.notify>;

const digest = (value: string): string => createHash('sha256').update(value).digest('hex').slice(0, 40);

/**
 * BullMQ ids may not contain ':'; hashing also bounds their length. Event ids are per catalog (one catalog's events
 * can never shadow another's), and the default catalog's ids are those of releases before catalogs.
 */
export const eventJobId = (eventId: string, catalog: string = DEFAULT_CATALOG): string => `event-${digest(catalog === DEFAULT_CATALOG ? eventId : `${catalog}\n${eventId}`)}`;
export const reembedJobId = (productId: string, model: string, modelVersion: string): string => `reembed-${digest(`${model}\n${modelVersion}\n${productId}`)}`;

export function eventToJob(event: CatalogEvent, receivedAt: number): CatalogJob {
  return event.type === 'product.upsert'
    ? { name: JOBS.upsert, data: { eventId: event.id, version: event.version, product: event.product, receivedAt } }
    : { name: JOBS.delete, data: { eventId: event.id, version: event.version, productId: event.product_id, catalog: catalogOf(event), receivedAt } };
}

/**
 * A job taken from the catalog queue as the tagged union the handlers use. BullMQ types a job's name and data apart;
 * this checks that they agree instead of casting (a job of another release's shape fails alone, unrecoverably).
 */
export function catalogJobOf(job: { name: string; data: CatalogJobData }): CatalogJob {
  if (job.name === JOBS.upsert && 'product' in job.data) return { name: JOBS.upsert, data: job.data };
  if (job.name === JOBS.delete && 'productId' in job.data) return { name: JOBS.delete, data: job.data };
  throw new UnrecoverableError(`unknown_job: a "${job.name}" job with fields ${Object.keys(job.data).join(', ')} is not a catalog job`);
}

/** The product a catalog job is about. */
export const productIdOfJob = (job: CatalogJob): string => (job.name === JOBS.upsert ? job.data.product.id : job.data.productId);
/** The catalog a catalog job is about. */
export const catalogOfJob = (job: CatalogJob): string => (job.name === JOBS.upsert ? job.data.product.catalog : job.data.catalog) ?? DEFAULT_CATALOG;
/** The Elasticsearch `_id` (and status key) of the product a catalog job is about. */
export const documentIdOfJob = (job: CatalogJob): string => documentId(catalogOfJob(job), productIdOfJob(job));

export function defaultJobOptions(worker: Config['worker']): DefaultJobOptions {
  return {
    attempts: worker.attempts,
    backoff: { type: 'exponential', delay: worker.backoffMs },
    removeOnComplete: { count: worker.history },
    removeOnFail: { count: worker.history },
  };
}

export function createCatalogQueue(connection: ConnectionOptions, config: Config): CatalogQueue {
  return new Queue(QUEUES.catalog, { connection, prefix: config.redis.queuePrefix, defaultJobOptions: defaultJobOptions(config.worker) });
}

export function createReembedQueue(modelId: string, connection: ConnectionOptions, config: Config): ReembedQueue {
  return new Queue(reembedQueueName(modelId), { connection, prefix: config.redis.queuePrefix, defaultJobOptions: defaultJobOptions(config.worker) });
}

/** The notifications queue: attempts and backoff from NOTIFY_ATTEMPTS / NOTIFY_BACKOFF_MS, history as other queues. */
export function createNotificationQueue(connection: ConnectionOptions, config: Config, notify: NonNullable<Config['notify']>): NotificationQueue {
  return new Queue(QUEUES.notifications, {
    connection,
    prefix: config.redis.queuePrefix,
    defaultJobOptions: { ...defaultJobOptions(config.worker), attempts: notify.attempts, backoff: { type: 'exponential', delay: notify.backoffMs } },
  });
}
