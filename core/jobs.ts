import { createHash } from 'node:crypto';
import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import type { CatalogEvent, Product } from './catalog';
import type { Config } from './config';

/**
 * Queues, job names and payloads. Payloads carry ids, URLs and versions, never image bytes. Job ids are
 * deterministic, so a replayed event or a re-run import does not enqueue twice while the first job is remembered.
 *
 * - `catalog` queue: `upsert` and `delete` jobs, one per catalog event.
 * - `reembed-<model id>` queues: one job per product to (re)compute with that model. One pipeline per model: only
 *   indexers that load the model listen to its queue (an indexer of an older release, during a rolling deploy,
 *   leaves the jobs alone), and a large re-embed never delays fresh catalog changes.
 */
export const QUEUES = { catalog: 'catalog' } as const;
export const reembedQueueName = (modelId: string): string => `reembed-${modelId}`;
export const JOBS = { upsert: 'upsert', delete: 'delete', reembed: 'reembed' } as const;

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
  receivedAt: number;
}

export interface ReembedJob {
  productId: string;
  model: string;
  modelVersion: string;
  requestedAt: number;
}

export type CatalogJob = { name: 'upsert'; data: UpsertJob } | { name: 'delete'; data: DeleteJob };

const digest = (value: string): string => createHash('sha256').update(value).digest('hex').slice(0, 40);

/** BullMQ ids may not contain ':'; hashing also bounds their length. */
export const eventJobId = (eventId: string): string => `event-${digest(eventId)}`;
export const reembedJobId = (productId: string, model: string, modelVersion: string): string => `reembed-${digest(`${model}\n${modelVersion}\n${productId}`)}`;

export function eventToJob(event: CatalogEvent, receivedAt: number): CatalogJob {
  return event.type === 'product.upsert'
    ? { name: 'upsert', data: { eventId: event.id, version: event.version, product: event.product, receivedAt } }
    : { name: 'delete', data: { eventId: event.id, version: event.version, productId: event.product_id, receivedAt } };
}

export function defaultJobOptions(worker: Config['worker']): DefaultJobOptions {
  return {
    attempts: worker.attempts,
    backoff: { type: 'exponential', delay: worker.backoffMs },
    removeOnComplete: { count: worker.history },
    removeOnFail: { count: worker.history },
  };
}

export function createQueue(name: string, connection: ConnectionOptions, config: Config): Queue {
  return new Queue(name, { connection, prefix: config.redis.queuePrefix, defaultJobOptions: defaultJobOptions(config.worker) });
}
