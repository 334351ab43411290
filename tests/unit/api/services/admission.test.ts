import { Registry } from 'prom-client';
import { createAdmission } from '../../../../api/services/admission';
import { AppError } from '../../../../core/errors';

/** Work that runs until the test ends it. */
function pendingWork() {
  let finish!: (value: string) => void;
  let started = false;
  const promise = new Promise<string>((resolve) => (finish = resolve));
  return { work: () => ((started = true), promise), finish, started: () => started };
}

const refusedCount = async (registry: Registry, reason: string) =>
  (await registry.getSingleMetric('lookalike_search_refused_total')!.get()).values.find((value) => value.labels.reason === reason)?.value ?? 0;

describe('admission control', () => {
  it('runs up to `concurrency` at once, queues up to `queue`, and refuses the rest at once with 503 overloaded', async () => {
    const registry = new Registry();
    const admission = createAdmission({ concurrency: 2, queue: 1, maxWaitMs: 10_000 }, registry);
    const [a, b, c] = [pendingWork(), pendingWork(), pendingWork()];
    const running = [admission.run(a.work), admission.run(b.work)];
    const queued = admission.run(c.work);
    const refusedAt = performance.now();
    const refused = await admission.run(async () => 'never').catch((error: unknown) => error);
    expect(performance.now() - refusedAt).toBeLessThan(50);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'overloaded', status: 503, retryAfterSeconds: 1 });
    expect([a.started(), b.started(), c.started()]).toEqual([true, true, false]);
    expect({ running: admission.running, waiting: admission.waiting }).toEqual({ running: 2, waiting: 1 });
    // A slot comes free: the queued search runs.
    a.finish('a');
    await expect(running[0]).resolves.toBe('a');
    await new Promise((resolve) => setImmediate(resolve));
    expect(c.started()).toBe(true);
    b.finish('b');
    c.finish('c');
    await expect(Promise.all([running[1], queued])).resolves.toEqual(['b', 'c']);
    expect(await refusedCount(registry, 'queue_full')).toBe(1);
  });

  it('refuses a search that waited longer than maxWaitMs, and never runs it afterwards', async () => {
    const registry = new Registry();
    const admission = createAdmission({ concurrency: 1, queue: 5, maxWaitMs: 30 }, registry);
    const first = pendingWork();
    const running = admission.run(first.work);
    const late = pendingWork();
    const waitedAt = performance.now();
    await expect(admission.run(late.work)).rejects.toMatchObject({ code: 'overloaded' });
    expect(performance.now() - waitedAt).toBeGreaterThanOrEqual(25);
    first.finish('first');
    await running;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(late.started()).toBe(false);
    expect(admission.running).toBe(0);
    expect(await refusedCount(registry, 'wait_exceeded')).toBe(1);
    // The slot is free again for the next search.
    await expect(admission.run(async () => 'next')).resolves.toBe('next');
  });

  it("passes the work's own failure through and frees its slot", async () => {
    const admission = createAdmission({ concurrency: 1, queue: 0, maxWaitMs: 100 }, new Registry());
    await expect(admission.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(admission.run(async () => 'ok')).resolves.toBe('ok');
  });
});
