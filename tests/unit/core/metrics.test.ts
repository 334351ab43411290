import { createQueueDepthGauge, createRegistry } from '../../../core/metrics';

describe('queue depth gauge', () => {
  it('reports the counts; when they cannot be read it reports none (never the old values), and logs and counts the failure', async () => {
    const registry = createRegistry('test');
    let redisUp = true;
    const errors: unknown[] = [];
    createQueueDepthGauge(
      registry,
      async () => {
        if (!redisUp) throw new Error('Connection is closed.');
        return [{ queue: 'catalog', state: 'waiting', count: 7 }];
      },
      (error) => errors.push(error),
    );
    expect(await registry.getSingleMetricAsString('lookalike_queue_jobs')).toMatch(/lookalike_queue_jobs\{[^}]*state="waiting"[^}]*\} 7/);
    redisUp = false;
    const whileDown = await registry.getSingleMetricAsString('lookalike_queue_jobs');
    expect(whileDown).not.toMatch(/lookalike_queue_jobs\{/);
    expect(errors).toHaveLength(1);
    expect(await registry.getSingleMetricAsString('lookalike_metrics_collect_failures_total')).toMatch(/metric="lookalike_queue_jobs"[^}]*\} 1/);
    redisUp = true;
    expect(await registry.getSingleMetricAsString('lookalike_queue_jobs')).toMatch(/\} 7/);
  });
});
