import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../core/config';
import type { Embedder } from '../core/embedding/embedder';
import { describeError } from '../core/errors';
import { QUEUES, catalogJobOf, catalogOfJob, documentIdOfJob, productIdOfJob, reembedQueueName, type CatalogJob, type CatalogJobData, type CatalogJobName, type JOBS, type ReembedJob } from '../core/jobs';
import type { Logger } from '../core/logger';
import type { IndexerMetrics } from '../core/metrics';
import type { ImageFetcher } from '../core/net/image-fetcher';
import { notificationEvent } from '../core/notifications/notification';
import type { CatalogStore } from '../core/search/catalog-store';
import type { StatusStore } from '../core/status-store';
import { MicroBatcher } from './batcher';
import { Gate } from './gate';
import { processCatalogBatch, type ItemOutcome } from './handlers/catalog-batch.handler';
import { processReembedBatch, type ReembedOutcome } from './handlers/reembed-batch.handler';
import type { Notifier } from './notifier';

/**
 * The indexer: BullMQ workers on the `catalog` and `reembed` queues, whose jobs are grouped by micro-batchers into
 * one image batch and one bulk request at a time. `createIndexerWorker` connects nothing by itself until `start()`,
 * so tests run it in-process.
 */
export interface IndexerWorkerDeps {
  config: Config;
  logger: Logger;
  /** A connection for BullMQ workers (maxRetriesPerRequest: null); BullMQ duplicates it for blocking calls. */
  connection: Redis;
  store: CatalogStore;
  embedder: Embedder;
  fetcher: ImageFetcher;
  status: StatusStore;
  metrics: IndexerMetrics;
  /** Product notifications (NOTIFY_URL); none when absent. Started and closed with the worker. */
  notifier?: Notifier;
}

export interface IndexerWorker {
  start(): void;
  /** Stops taking jobs; lets the batches in hand finish until the deadline, then hands the rest back. */
  close(deadlineMs?: number): Promise<void>;
  /** Liveness: the workers run and their Redis connection is up. */
  isAlive(): boolean;
}

/**
 * Largest re-embed batch. Embedding is not preemptible, so fresh catalog changes wait for the re-embed batch in hand;
 * at 16 images that is a few hundred ms, and batching beyond 16 gains little throughput.
 */
export const REEMBED_BATCH_ITEMS = 16;

function isFinalFailure(job: Job, error: unknown): boolean {
  return error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export function createIndexerWorker(deps: IndexerWorkerDeps): IndexerWorker {
  const { config, logger, metrics, status, notifier } = deps;
  const log = logger.child({ component: 'worker' });
  const { embedConcurrency } = config.worker;
  const handlerDeps = {
    ...deps,
    embedGate: new Gate(embedConcurrency),
    // One slot more than embedding (one batch fetches while one embeds); re-embedding never takes the last one.
    imageGate: new Gate(embedConcurrency + 1, embedConcurrency),
  };
  const catalogBatcher = new MicroBatcher<CatalogJob, ItemOutcome>((items) => processCatalogBatch(handlerDeps, items), config.worker.batchMaxItems, config.worker.batchMaxWaitMs);
  // A catalog batch that arrives while a re-embed batch embeds waits for it: re-embed batches stay short.
  const reembedBatcher = new MicroBatcher<ReembedJob, ReembedOutcome>((items) => processReembedBatch(handlerDeps, items), Math.min(config.worker.batchMaxItems, REEMBED_BATCH_ITEMS), config.worker.batchMaxWaitMs);

  /** A status write that fails is logged and counted; the job's outcome stands (the index is the source of truth). */
  const recordStatus = async (state: string, productId: string, write: () => Promise<void>) => {
    try {
      await write();
    } catch (error) {
      metrics.statusWriteFailures.inc({ state });
      log.error({ productId, state, err: describeError(error) }, 'could not record the product status');
    }
  };

  const catalogProcessor = async (job: Job<CatalogJobData, ItemOutcome, CatalogJobName>): Promise<ItemOutcome> => {
    const item = catalogJobOf(job);
    const productId = productIdOfJob(item);
    const catalog = catalogOfJob(item);
    // Status records are per catalog, keyed like the index.
    const statusKey = documentIdOfJob(item);
    const { version, eventId } = item.data;
    try {
      const outcome = await catalogBatcher.submit(item);
      // Every event older than what the catalog holds is counted as `stale`, logged, and shown in the status.
      metrics.events.inc({ kind: item.name, outcome: outcome === 'tombstoned' ? 'stale' : outcome });
      if (outcome === 'stale' || outcome === 'tombstoned') {
        log.info({ jobId: job.id, productId, catalog, eventId, version, reason: outcome }, 'event ignored: the catalog holds a newer version');
        await recordStatus('ignored', statusKey, () => status.ignored(statusKey, { eventId, version, reason: outcome }));
        return outcome;
      }
      if (outcome !== 'applied') metrics.freshness.observe({ kind: outcome === 'updated' ? 'update' : item.name }, (Date.now() - item.data.receivedAt) / 1000);
      await status.set(statusKey, item.name === 'delete' ? 'deleted' : 'indexed', version);
      // `applied` too: the version was written by an earlier attempt that may have ended before it notified.
      await notifier?.publish(notificationEvent(item.name === 'delete' ? 'product.deleted' : 'product.indexed', productId, catalog, version));
      return outcome;
    } catch (error) {
      const final = isFinalFailure(job, error);
      metrics.events.inc({ kind: item.name, outcome: final ? 'failed' : 'retry' });
      const reason = describeError(error);
      log.warn({ jobId: job.id, productId, catalog, attempt: job.attemptsMade + 1, final, reason }, 'catalog job failed');
      if (final) {
        await recordStatus('failed', statusKey, () => status.set(statusKey, 'failed', version, reason));
        await notifier?.publish(notificationEvent('product.failed', productId, catalog, version, reason));
      }
      throw error;
    }
  };

  const reembedProcessor = async (job: Job<ReembedJob, ReembedOutcome, typeof JOBS.reembed>): Promise<ReembedOutcome> => {
    try {
      const outcome = await reembedBatcher.submit(job.data);
      metrics.events.inc({ kind: 'reembed', outcome });
      return outcome;
    } catch (error) {
      const final = isFinalFailure(job, error);
      metrics.events.inc({ kind: 'reembed', outcome: final ? 'failed' : 'retry' });
      log.warn({ jobId: job.id, productId: job.data.productId, model: job.data.model, final, reason: describeError(error) }, 'reembed job failed');
      throw error;
    }
  };

  const workerOptions = {
    connection: deps.connection,
    prefix: config.redis.queuePrefix,
    concurrency: config.worker.concurrency,
    lockDuration: config.worker.lockMs,
    stalledInterval: config.worker.lockMs,
    maxStalledCount: 5,
    autorun: false,
  };
  const reembedConcurrency = Math.max(1, Math.floor(config.worker.concurrency / 2));
  const workers = [
    new Worker<CatalogJobData, ItemOutcome, CatalogJobName>(QUEUES.catalog, catalogProcessor, workerOptions),
    ...deps.embedder.models.map((model) => new Worker<ReembedJob, ReembedOutcome, typeof JOBS.reembed>(reembedQueueName(model.id), reembedProcessor, { ...workerOptions, concurrency: reembedConcurrency })),
  ];
  for (const worker of workers) {
    // Connection problems are reported here; BullMQ reconnects by itself.
    worker.on('error', (error) => log.error({ queue: worker.name, err: error.message }, 'worker error'));
  }

  return {
    start() {
      notifier?.start();
      for (const worker of workers) void worker.run().catch((error: unknown) => log.error({ err: String(error) }, 'worker stopped'));
      log.info({ concurrency: config.worker.concurrency, batch: config.worker.batchMaxItems, waitMs: config.worker.batchMaxWaitMs }, 'indexer worker started');
    },
    async close(deadlineMs = config.worker.shutdownTimeoutMs) {
      const graceful = Promise.all(workers.map((w) => w.close()));
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), deadlineMs).unref());
      catalogBatcher.flush();
      reembedBatcher.flush();
      if ((await Promise.race([graceful.then(() => 'done' as const), timer])) === 'timeout') {
        log.warn({ deadlineMs }, 'shutdown deadline reached: handing unfinished jobs back');
        await Promise.all(workers.map((w) => w.close(true)));
      }
      // After the catalog jobs: the events they published are queued before the notifier stops.
      await notifier?.close();
    },
    isAlive() {
      return workers.every((w) => w.isRunning()) && (notifier?.isAlive() ?? true) && deps.connection.status === 'ready';
    },
  };
}
