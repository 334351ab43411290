import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { DEFAULT_CATALOG, catalogOf, documentId, productIdOf, type CatalogEvent } from '../../core/catalog';
import { DependencyUnavailableError } from '../../core/errors';
import { eventJobId, eventToJob, type CatalogQueue } from '../../core/jobs';
import type { StatusStore } from '../../core/status-store';

export const ingestResultSchema = z
  .object({
    accepted: z.number().int().min(0).describe('Events enqueued'),
    duplicates: z.number().int().min(0).describe('Events whose id was seen before (in this request or in the last EVENT_DEDUP_TTL_S): nothing enqueued'),
  })
  .describe('Every event is either accepted or a duplicate');

export type IngestResult = z.infer<typeof ingestResultSchema>;

/** How long an accepted batch waits for replicas to acknowledge it (within the ingest's own deadline). */
const REPLICA_WAIT_MS = 1_000;

/**
 * Accepts catalog events: drops the ones whose event id was seen before, enqueues the rest with deterministic job ids
 * (one round trip for the batch), then remembers their ids and marks the products queued. The order matters: an
 * event is remembered only after it is enqueued, so a failure in between can cause a second enqueue (harmless: jobs
 * are idempotent and versioned), never a lost event. Redis unavailable → DependencyUnavailableError (503) at once.
 *
 * With `waitReplicas` > 0 (Redis with a replica behind Sentinel), the answer also waits until that many replicas
 * acknowledge the writes (Redis WAIT): Redis replicates asynchronously, and an event held by the primary alone is gone
 * if that primary dies and its replica is promoted. Fewer acknowledgements in time → 503, and the sender's retry is
 * accepted again or found a duplicate, whichever the surviving data says.
 */
export class IngestService {
  constructor(
    private readonly redis: Redis,
    private readonly queue: CatalogQueue,
    private readonly status: StatusStore,
    private readonly prefix: string,
    private readonly dedupTtlSeconds: number,
    private readonly waitReplicas = 0,
    private readonly timeoutMs = 3_000,
  ) {}

  /** Event ids are per catalog: one catalog's events never shadow another's (the default's keys are as before). */
  private seenKey(event: CatalogEvent): string {
    const catalog = catalogOf(event);
    const id = catalog === DEFAULT_CATALOG ? event.id : `${catalog}\n${event.id}`;
    return `${this.prefix}:event:${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
  }

  /** An event's identity within the request: its catalog and its id. */
  private static identity(event: CatalogEvent): string {
    return `${catalogOf(event)}\n${event.id}`;
  }

  async ingest(events: CatalogEvent[], receivedAt = Date.now()): Promise<IngestResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Redis in ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([this.enqueue(events, receivedAt), timeout]);
    } catch (error) {
      throw new DependencyUnavailableError('queue_unavailable', `the queue is unavailable, retry later (${(error as Error).message})`, error);
    } finally {
      clearTimeout(timer);
    }
  }

  private async enqueue(events: CatalogEvent[], receivedAt: number): Promise<IngestResult> {
    const seen = await this.redis.mget(...events.map((e) => this.seenKey(e)));
    const fresh: CatalogEvent[] = [];
    const inRequest = new Set<string>();
    events.forEach((event, i) => {
      const identity = IngestService.identity(event);
      if (seen[i] !== null || inRequest.has(identity)) return;
      inRequest.add(identity);
      fresh.push(event);
    });
    if (fresh.length > 0) {
      await this.queue.addBulk(
        fresh.map((event) => {
          const job = eventToJob(event, receivedAt);
          return { name: job.name, data: job.data, opts: { jobId: eventJobId(event.id, catalogOf(event)) } };
        }),
      );
      const pipeline = this.redis.pipeline();
      for (const event of fresh) pipeline.set(this.seenKey(event), '1', 'EX', this.dedupTtlSeconds);
      await pipeline.exec();
      await this.status.setMany(fresh.map((event) => ({ productId: documentId(catalogOf(event), productIdOf(event)), state: 'queued' as const, version: event.version })));
    }
    // Also when every event was a duplicate: the request that stored them may have been answered 503 for want of
    // replicas. (WAIT covers this connection's writes, which in one API process are every request's.)
    if (this.waitReplicas > 0) {
      const acknowledged = await this.redis.wait(this.waitReplicas, REPLICA_WAIT_MS);
      if (acknowledged < this.waitReplicas) {
        throw new Error(`${acknowledged} of ${this.waitReplicas} Redis replica(s) acknowledged the events in ${REPLICA_WAIT_MS} ms`);
      }
    }
    return { accepted: fresh.length, duplicates: events.length - fresh.length };
  }
}
