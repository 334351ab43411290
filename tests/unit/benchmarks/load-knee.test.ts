import { findKnee, kneeAt, kneeStep, ownCpuPerSearch, refinementRate, type KneeStep } from '../../../benchmarks/lib/load-knee';
import type { K6Run } from '../../../benchmarks/lib/load-k6';
import { failedThresholds, kindResults, k6SummarySchema } from '../../../benchmarks/lib/load-summary';

/** A k6 summary as handleSummary receives it, for one step of photo searches. */
function step(options: { admitted: number; p95: number; errors?: number; refused?: number; dropped?: number; runMs?: number }) {
  const { admitted, p95, errors = 0, refused = 0, dropped = 0 } = options;
  const requests = admitted + errors + refused;
  const metrics: Record<string, unknown> = {
    iterations: { type: 'counter', contains: 'default', values: { count: requests, rate: requests / 20 } },
    'admitted_ms{kind:photo_640}': {
      type: 'trend',
      contains: 'time',
      values: { count: admitted, avg: p95 / 2, min: 10, med: p95 / 2, max: p95 * 2, 'p(90)': p95 * 0.9, 'p(95)': p95, 'p(99)': p95 * 1.5 },
      thresholds: { 'p(95)<100': { ok: p95 < 100 } },
    },
    'errors{kind:photo_640}': { type: 'rate', contains: 'default', values: { rate: errors / requests, passes: errors, fails: requests - errors }, thresholds: { 'rate==0': { ok: errors === 0 } } },
    'refused{kind:photo_640}': { type: 'rate', contains: 'default', values: { rate: refused / requests, passes: refused, fails: requests - refused } },
    api_embed_ms: { type: 'trend', contains: 'time', values: { count: admitted, avg: 30, min: 20, med: 28, max: 90, 'p(90)': 40, 'p(95)': 45, 'p(99)': 60 } },
    localized: { type: 'rate', contains: 'default', values: { rate: 0.25, passes: admitted / 4, fails: (admitted * 3) / 4 } },
  };
  if (dropped) metrics.dropped_iterations = { type: 'counter', contains: 'default', values: { count: dropped, rate: dropped / 20 } };
  const summary = k6SummarySchema.parse({ metrics, state: { testRunDurationMs: options.runMs ?? 20_050 } });
  const run: K6Run = {
    exitCode: 0,
    summary,
    usage: { cpuSeconds: { api: admitted * 0.04, elasticsearch: admitted * 0.01, indexer: 0.5 }, machineBusySeconds: admitted * 0.05 + 10 + 4, rssMaxBytes: { api: 300 * 2 ** 20 }, seconds: 21 },
    k6CpuSeconds: 10,
  };
  return run;
}

describe('kneeStep', () => {
  it('reads a step that meets the target: latency, throughput, CPU per search and the CPU bound', () => {
    const row = kneeStep(step({ admitted: 200, p95: 80 }), 'photo_640', 10, 2, 100);
    expect(row).toMatchObject({ offered: 10, requests: 200, p95: 80, p50: 40, errorRate: 0, refusedRate: 0, dropped: 0, meetsTarget: true, apiRssMaxMiB: 300, localized: 0.25 });
    expect(row.achieved).toBeCloseTo(200 / 20.05);
    expect(row.cpuPerSearch).toEqual({ api: 0.04, elasticsearch: 0.01, k6: 0.05 });
    // 2 cores ÷ (0.04 + 0.01) CPU-s per search; the indexer is not part of a search.
    expect(row.cpuBound).toBeCloseTo(40);
    // Busy 24 s, of which the stack, the indexer and k6 used 20.5.
    expect(row.othersCpu).toBeCloseTo(3.5 / 21);
    expect(row.stagesP50).toEqual({ embed: 28 });
  });

  it('misses the target on a slow p95, any error, any refusal or anything left unsent', () => {
    expect(kneeStep(step({ admitted: 200, p95: 100 }), 'photo_640', 10, 2, 100).meetsTarget).toBe(false);
    expect(kneeStep(step({ admitted: 199, p95: 50, errors: 1 }), 'photo_640', 10, 2, 100).meetsTarget).toBe(false);
    expect(kneeStep(step({ admitted: 199, p95: 50, refused: 1 }), 'photo_640', 10, 2, 100).meetsTarget).toBe(false);
    expect(kneeStep(step({ admitted: 190, p95: 50, dropped: 10 }), 'photo_640', 10, 2, 100).meetsTarget).toBe(false);
  });

  it('counts throughput over the whole run when a backlog drained after the offered span', () => {
    // 400 offered at 20/s (20 s), answered over 40 s: the stack served 10/s.
    expect(kneeStep(step({ admitted: 400, p95: 9000, runMs: 40_000 }), 'photo_640', 20, 2, 100).achieved).toBeCloseTo(10);
  });
});

describe('findKnee', () => {
  const row = (offered: number, meetsTarget: boolean) => ({ offered, meetsTarget }) as KneeStep;

  it('is the highest offered rate that met the target, or null', () => {
    expect(findKnee([row(2, true), row(4, true), row(6, false), row(8, false)])).toBe(4);
    expect(findKnee([row(2, true), row(4, false), row(6, true), row(8, false), row(10, false)])).toBe(6);
    expect(findKnee([row(1, false), row(2, false)])).toBeNull();
  });

  it('refines between the knee and the first miss above it once, when a rate lies between them', () => {
    expect(refinementRate([row(24, true), row(28, true), row(32, false), row(36, false)])).toBe(30);
    expect(refinementRate([row(28, true), row(30, true), row(32, false), row(36, false)])).toBe(31);
    expect(refinementRate([row(30, true), row(31, false), row(32, false)])).toBeNull();
    expect(refinementRate([row(14, true), row(16, true), row(18, false), row(20, false)])).toBe(17);
    expect(refinementRate([row(1, false), row(2, false)])).toBeNull();
    expect(refinementRate([row(1, true), row(2, true)])).toBeNull();
  });

  it('gives the knee of the same steps at another target', () => {
    const steps = [1, 2, 3, 4].map((offered) => ({ offered, p95: 150 + 50 * offered, errorRate: 0, refusedRate: 0, dropped: 0, meetsTarget: true }) as KneeStep);
    expect(kneeAt(steps, 300)).toBe(2);
    expect(kneeAt(steps, 100)).toBeNull();
    expect(kneeAt([{ ...steps[0]!, errorRate: 0.01 }], 1000)).toBeNull();
  });
});

describe('ownCpuPerSearch', () => {
  const row = (api: number | undefined, elasticsearch?: number) => ({ cpuPerSearch: { ...(api === undefined ? {} : { api }), ...(elasticsearch === undefined ? {} : { elasticsearch }), k6: 0.001 } }) as unknown as KneeStep;

  it("takes each process's lowest of any step (background and other people's queries only add)", () => {
    const own = ownCpuPerSearch([row(0.061, 0.029), row(0.059, 0.32), row(0.055, 0.015), row(0.07, 0.013), row(0.057, 0.151)])!;
    expect([own.api, own.elasticsearch, own.total]).toEqual([0.055, 0.013, expect.closeTo(0.068)]);
  });

  it('goes without Elasticsearch when its pid is unknown, and gives nothing without the API', () => {
    expect(ownCpuPerSearch([row(0.05)])).toEqual({ api: 0.05, elasticsearch: null, total: 0.05 });
    expect(ownCpuPerSearch([row(undefined, 0.02)])).toBeNull();
  });
});

describe('the k6 summary', () => {
  it('gives per-kind results and the thresholds that failed', () => {
    const { summary } = step({ admitted: 98, p95: 150, errors: 2 });
    expect(kindResults(summary, ['photo_640', 'photo_12mp'])).toEqual([
      expect.objectContaining({ kind: 'photo_640', requests: 100, errorRate: 0.02, refusedRate: 0, admitted: expect.objectContaining({ count: 98, p95: 150 }) }),
    ]);
    expect(failedThresholds(summary).sort()).toEqual(['admitted_ms{kind:photo_640} p(95)<100', 'errors{kind:photo_640} rate==0']);
  });
});
