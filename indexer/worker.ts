import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../core/config';
import type { Embedder } from '../core/embedding/embedder';
import type { DeleteJob, ReembedJob, UpsertJob } from '../core/jobs';
import { QUEUES, reembedQueueName } from '../core/jobs';
import type { Logger } from '../core/logger';
import type { IndexerMetrics } from '../core/metrics';
import type { ImageFetcher } from '../core/net/image-fetcher';
import type { CatalogStore } from '../core/search/catalog-store';
import type { StatusStore } from '../core/status-store';
import { MicroBatcher } from './batcher';
import { Gate } from './gate';
import { processCatalogBatch, type CatalogItem, type ItemOutcome } from './handlers/catalog-batch.handler';
import { processReembedBatch, type ReembedOutcome } from './handlers/reembed-batch.handler';

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
}

export interface IndexerWorker {
  start(): void;
  /** Stops taking jobs; lets the batches in hand finish until the deadline, then hands the rest back. */
  close(deadlineMs?: number): Promise<void>;
  /** Liveness: the workers run and their Redis connection is up. */
  isAlive(): boolean;
}

function isFinalFailure(job: Job, error: unknown): boolean {
  return error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export function createIndexerWorker(deps: IndexerWorkerDeps): IndexerWorker {
  const { config, logger, metrics, status } = deps;
  const log = logger.child({ component: 'worker' });
  const handlerDeps = { ...deps, embedGate: new Gate(config.worker.embedConcurrency), imageGate: new Gate(config.worker.embedConcurrency + 1) };
  const catalogBatcher = new MicroBatcher<CatalogItem, ItemOutcome>((items) => processCatalogBatch(handlerDeps, items), config.worker.batchMaxItems, config.worker.batchMaxWaitMs);
  const reembedBatcher = new MicroBatcher<ReembedJob, ReembedOutcome>((items) => processReembedBatch(handlerDeps, items), config.worker.batchMaxItems, config.worker.batchMaxWaitMs);

  const catalogProcessor = async (job: Job<UpsertJob | DeleteJob>): Promise<ItemOutcome> => {
    const item = { kind: job.name, data: job.data } as CatalogItem;
    const productId = item.kind === 'upsert' ? item.data.product.id : item.data.productId;
    try {
      const outcome = await catalogBatcher.submit(item);
      metrics.events.inc({ kind: item.kind, outcome });
      if (outcome !== 'stale') {
        if (outcome !== 'applied') metrics.freshness.observe({ kind: outcome === 'updated' ? 'update' : item.kind }, (Date.now() - item.data.receivedAt) / 1000);
        await status.set(productId, item.kind === 'delete' ? 'deleted' : 'indexed', item.data.version);
      }
      return outcome;
    } catch (error) {
      const final = isFinalFailure(job, error);
      metrics.events.inc({ kind: item.kind, outcome: final ? 'failed' : 'retry' });
      const reason = error instanceof Error ? error.message : String(error);
      log.warn({ jobId: job.id, productId, attempt: job.attemptsMade + 1, final, reason }, 'catalog job failed');
      if (final) await status.set(productId, 'failed', item.data.version, reason).catch(() => undefined);
      throw error;
    }
  };

  const reembedProcessor = async (job: Job<ReembedJob>): Promise<ReembedOutcome> => {
    try {
      const outcome = await reembedBatcher.submit(job.data);
      metrics.events.inc({ kind: 'reembed', outcome });
      return outcome;
    } catch (error) {
      const final = isFinalFailure(job, error);
      metrics.events.inc({ kind: 'reembed', outcome: final ? 'failed' : 'retry' });
      log.warn({ jobId: job.id, productId: job.data.productId, model: job.data.model, final, reason: error instanceof Error ? error.message : String(error) }, 'reembed job failed');
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
    new Worker(QUEUES.catalog, catalogProcessor, workerOptions),
    ...deps.embedder.models.map((model) => new Worker(reembedQueueName(model.id), reembedProcessor, { ...workerOptions, concurrency: reembedConcurrency })),
  ];
  for (const worker of workers) {
    // Connection problems are reported here; BullMQ reconnects by itself.
    worker.on('error', (error) => log.error({ queue: worker.name, err: error.message }, 'worker error'));
  }

  return {
    start() {
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
    },
    isAlive() {
      return workers.every((w) => w.isRunning()) && deps.connection.status === 'ready';
    },
  };
}
