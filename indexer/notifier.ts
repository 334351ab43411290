import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../core/config';
import { describeError, describeIssues } from '../core/errors';
import { JOBS, QUEUES, createNotificationQueue, notifyJobSchema, type NotifyJob } from '../core/jobs';
import type { Logger } from '../core/logger';
import type { IndexerMetrics } from '../core/metrics';
import { FetchError } from '../core/net/outbound';
import { MAX_EVENTS_PER_NOTIFICATION, type NotificationEvent } from '../core/notifications/notification';
import type { NotificationSender } from '../core/notifications/notification-sender';
import { MicroBatcher } from './batcher';

/**
 * Product notifications (docs/notifications.md), in two halves:
 * - `publish`: events that finish within NOTIFY_BATCH_WAIT_MS of each other become one `notify` job on the
 *   `notifications` queue. The catalog job waits for that write, so an event is in Redis before its catalog job
 *   completes (a crash in between re-runs the catalog job, which publishes again: at least once). Publishing never
 *   throws: a notification that cannot be queued is logged and counted, and indexing goes on.
 * - a BullMQ worker delivers each job through the sender; BullMQ retries it with exponential backoff (NOTIFY_ATTEMPTS,
 *   NOTIFY_BACKOFF_MS), and waiting retries stay in Redis across restarts. A receiver that is down delays only its
 *   notifications, never indexing.
 */
export interface Notifier {
  /** Queues `event` for delivery; resolves once it is in Redis, or its failure is logged and counted. Never rejects. */
  publish(event: NotificationEvent): Promise<void>;
  start(): void;
  /** Queues what is pending, then stops delivering (jobs in hand finish; the rest wait in Redis). */
  close(): Promise<void>;
  isAlive(): boolean;
}

export interface NotifierDeps {
  config: Config;
  notify: NonNullable<Config['notify']>;
  logger: Logger;
  /**
   * The indexer's worker connection (maxRetriesPerRequest: null), for queueing and delivering. While Redis is away
   * a publish waits for it, as the catalog job's own completion does, rather than losing the event.
   */
  connection: Redis;
  sender: NotificationSender;
  metrics: IndexerMetrics;
}

/** Deliveries in flight at once: one receiver, so a few suffice, and a slow receiver holds few connections. */
export const NOTIFY_CONCURRENCY = 8;

export function createNotifier(deps: NotifierDeps): Notifier {
  const { config, notify, metrics } = deps;
  const log = deps.logger.child({ component: 'notifier' });
  const queue = createNotificationQueue(deps.connection, config, notify);
  queue.on('error', (error) => log.warn({ err: error.message }, 'notification queue error'));

  const batcher = new MicroBatcher<NotificationEvent, void>(
    async (events) => {
      try {
        await queue.add(JOBS.notify, { events });
      } catch (error) {
        metrics.notifications.inc({ outcome: 'failed' }, events.length);
        log.error({ events: events.length, err: describeError(error) }, 'could not queue notifications; they are lost');
      }
      return events.map(() => ({ ok: true as const, value: undefined }));
    },
    MAX_EVENTS_PER_NOTIFICATION,
    notify.batchWaitMs,
  );

  const deliver = async (job: Job<NotifyJob, void, typeof JOBS.notify>): Promise<void> => {
    const parsed = notifyJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`unknown_job: ${describeIssues(parsed.error.issues).join('; ')}`);
    const { events } = parsed.data;
    try {
      await deps.sender.send(events);
      metrics.notifications.inc({ outcome: 'sent' }, events.length);
    } catch (error) {
      // A URL the outbound rules refuse stays refused; anything else (down, 5xx, 4xx, timeout) may be fixed in time.
      const refused = error instanceof FetchError && (error.code === 'fetch_blocked_address' || error.code === 'fetch_bad_url');
      const final = refused || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      metrics.notifications.inc({ outcome: final ? 'failed' : 'retried' }, events.length);
      log.warn({ jobId: job.id, events: events.length, attempt: job.attemptsMade + 1, final, reason: describeError(error) }, 'notification not delivered');
      throw refused ? new UnrecoverableError(describeError(error)) : error;
    }
  };

  const worker = new Worker<NotifyJob, void, typeof JOBS.notify>(QUEUES.notifications, deliver, {
    connection: deps.connection,
    prefix: config.redis.queuePrefix,
    concurrency: NOTIFY_CONCURRENCY,
    autorun: false,
  });
  worker.on('error', (error) => log.error({ queue: worker.name, err: error.message }, 'worker error'));

  return {
    publish: (event) => batcher.submit(event),
    start() {
      void worker.run().catch((error: unknown) => log.error({ err: String(error) }, 'notification worker stopped'));
      log.info({ host: new URL(notify.url).host, attempts: notify.attempts }, 'notifications on');
    },
    async close() {
      await batcher.drain();
      await worker.close();
      await queue.close();
    },
    isAlive: () => worker.isRunning(),
  };
}
