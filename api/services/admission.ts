import { BulkheadRejectedError, TaskCancelledError, bulkhead, type BulkheadPolicy } from 'cockatiel';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { AppError } from '../../core/errors';
import { reuseMetric } from '../../core/metrics';

/**
 * Admission control for searches (cockatiel's bulkhead): at most `concurrency` searches run at once in this
 * process, at most `queue` wait for a slot, and none waits longer than `maxWaitMs`. Past that a search is answered
 * at once `503 overloaded` with Retry-After instead of queueing without limit, so what is admitted keeps its latency
 * and a client (or a load balancer) can go elsewhere. The routes hold a slot around the search itself, after the
 * upload is read: a slow client never holds one.
 */
export interface AdmissionSettings {
  concurrency: number;
  queue: number;
  maxWaitMs: number;
}

export type Refusal = 'queue_full' | 'wait_exceeded';

export interface Admission {
  /** Runs `work` once a slot is free; throws AppError `overloaded` (503, Retry-After) when none comes in time. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Searches running and waiting now. */
  readonly running: number;
  readonly waiting: number;
}

const RETRY_AFTER_SECONDS = 1;

export function createAdmission(settings: AdmissionSettings, registry: Registry): Admission {
  const policy = bulkhead(settings.concurrency, settings.queue);
  const metrics = admissionMetrics(registry, policy, settings);

  const overloaded = (reason: Refusal) => {
    metrics.refused.inc({ reason });
    const why = reason === 'queue_full' ? `${settings.concurrency} searches are running and ${settings.queue} waiting` : `no search slot came free within ${settings.maxWaitMs} ms`;
    return new AppError('overloaded', `the server is at capacity (${why}); retry in ${RETRY_AFTER_SECONDS} s or elsewhere`, 503, { retryAfterSeconds: RETRY_AFTER_SECONDS });
  };

  const run = <T>(work: () => Promise<T>): Promise<T> => {
    const arrived = performance.now();
    const expiry = new AbortController();
    return new Promise<T>((resolve, reject) => {
      let admitted = false;
      const timer = setTimeout(() => {
        // Still waiting: refused now; the bulkhead drops it when its turn comes (its signal is aborted).
        expiry.abort();
        reject(overloaded('wait_exceeded'));
      }, settings.maxWaitMs);
      policy
        .execute(() => {
          admitted = true;
          clearTimeout(timer);
          metrics.wait.observe((performance.now() - arrived) / 1000);
          return work();
        }, expiry.signal)
        .then(resolve, (error: unknown) => {
          clearTimeout(timer);
          if (error instanceof BulkheadRejectedError) return reject(overloaded('queue_full'));
          // Dropped after its wait expired: it was refused already.
          if (error instanceof TaskCancelledError && !admitted) return;
          reject(error);
        });
    });
  };

  return {
    run,
    get running() {
      return settings.concurrency - policy.executionSlots;
    },
    get waiting() {
      return settings.queue - policy.queueSlots;
    },
  };
}

function admissionMetrics(registry: Registry, policy: BulkheadPolicy, settings: AdmissionSettings) {
  reuseMetric(registry, 'lookalike_search_admission', () => new Gauge({
    name: 'lookalike_search_admission',
    help: 'Searches running and waiting for a slot now (running, waiting), and the limits (limit_running, limit_waiting)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.set({ state: 'running' }, settings.concurrency - policy.executionSlots);
      this.set({ state: 'waiting' }, settings.queue - policy.queueSlots);
      this.set({ state: 'limit_running' }, settings.concurrency);
      this.set({ state: 'limit_waiting' }, settings.queue);
    },
  }));
  return {
    refused: reuseMetric(registry, 'lookalike_search_refused_total', () => new Counter({
      name: 'lookalike_search_refused_total',
      help: 'Searches answered 503 overloaded, by reason (queue_full: on arrival; wait_exceeded: no slot within SEARCH_QUEUE_WAIT_MS)',
      labelNames: ['reason'],
      registers: [registry],
    })),
    wait: reuseMetric(registry, 'lookalike_search_admission_wait_seconds', () => new Histogram({
      name: 'lookalike_search_admission_wait_seconds',
      help: 'Time an admitted search waited for its slot',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    })),
  };
}
