import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The registry's metric called `name`, or a new one from `create` (several apps may share a registry, as in tests). */
export function reuseMetric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** Prometheus metrics, one registry per process (the API and the indexer each expose their own /metrics). */
export function createRegistry(processName: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface IndexerMetrics {
  freshness: Histogram<'kind'>;
  events: Counter<'kind' | 'outcome'>;
  batchSize: Histogram;
  stage: Histogram<'stage'>;
  bulkFailures: Counter<'type'>;
  /** Status records that could not be written (the job's own outcome stands; the status may lag). */
  statusWriteFailures: Counter<'state'>;
  /** Expired tombstones removed, and ones Elasticsearch refused to remove. */
  tombstones: Counter<'outcome'>;
  /**
   * Notification events by outcome: `sent` (the receiver answered 2xx), `retried` (an attempt failed, another
   * follows), `failed` (given up after the last attempt, refused by the outbound rules, or never queued).
   */
  notifications: Counter<'outcome'>;
}

export function createIndexerMetrics(registry: Registry): IndexerMetrics {
  return {
    freshness: new Histogram({
      name: 'lookalike_freshness_seconds',
      help: 'From the event received (webhook or import) to the change being searchable',
      labelNames: ['kind'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 300, 1800],
      registers: [registry],
    }),
    events: new Counter({ name: 'lookalike_indexer_events_total', help: 'Catalog jobs handled, by kind and outcome', labelNames: ['kind', 'outcome'], registers: [registry] }),
    batchSize: new Histogram({ name: 'lookalike_indexer_batch_size', help: 'Items per batch', buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [registry] }),
    stage: new Histogram({
      name: 'lookalike_indexer_stage_seconds',
      help: 'Time per batch stage (read, fetch, embed, write)',
      labelNames: ['stage'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    bulkFailures: new Counter({ name: 'lookalike_indexer_bulk_item_failures_total', help: 'Bulk items Elasticsearch refused, by error type', labelNames: ['type'], registers: [registry] }),
    statusWriteFailures: new Counter({ name: 'lookalike_indexer_status_write_failures_total', help: 'Product status records that could not be written to Redis, by state', labelNames: ['state'], registers: [registry] }),
    tombstones: new Counter({ name: 'lookalike_indexer_tombstones_swept_total', help: 'Expired tombstones swept, by outcome (removed, failed)', labelNames: ['outcome'], registers: [registry] }),
    notifications: new Counter({ name: 'lookalike_notifications_total', help: 'Product notification events to NOTIFY_URL, by outcome (sent, retried, failed)', labelNames: ['outcome'], registers: [registry] }),
  };
}

/**
 * Jobs per queue and state, read from Redis at each scrape. When they cannot be read (Redis down) the gauge reports
 * nothing rather than the last values, and the failure is logged and counted: a frozen gauge would look healthy.
 */
export function createQueueDepthGauge(
  registry: Registry,
  collect: () => Promise<Array<{ queue: string; state: string; count: number }>>,
  onError: (error: unknown) => void,
): Gauge<'queue' | 'state'> {
  const failures = reuseMetric(registry, 'lookalike_metrics_collect_failures_total', () => new Counter({
    name: 'lookalike_metrics_collect_failures_total',
    help: 'Scrapes at which a metric could not be collected, by metric',
    labelNames: ['metric'],
    registers: [registry],
  }));
  return reuseMetric(registry, 'lookalike_queue_jobs', () => new Gauge({
    name: 'lookalike_queue_jobs',
    help: 'Jobs per queue and state (absent while they cannot be read; see lookalike_metrics_collect_failures_total)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      let counts;
      try {
        counts = await collect();
      } catch (error) {
        this.reset();
        failures.inc({ metric: 'lookalike_queue_jobs' });
        onError(error);
        return;
      }
      this.reset();
      for (const { queue, state, count } of counts) this.set({ queue, state }, count);
    },
  }));
}
