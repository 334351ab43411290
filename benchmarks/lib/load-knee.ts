import type { Pool } from './load-args';
import { runK6, type K6Run } from './load-k6';
import { counterOf, kindResults, rateOf, trendOf } from './load-summary';

/**
 * The knee finder: photo searches at a constant offered rate, one k6 run per step (benchmarks/k6/photo.js), rates
 * stepped up until two steps in a row miss the target. One run per step makes each step's CPU accounting exact (the
 * /proc deltas span exactly that step's requests) and lets the stepping stop once the knee is behind it.
 */

/**
 * The latency target of a step, per photo pool (--p95 sets one for all): admitted p95 under it, and nothing failed,
 * refused or left unsent. 100 ms for what the web page sends; a 12 MP upload's decoding alone takes ~75 ms on a
 * 2-core machine and its p95 is ~200 ms with no load at all, so its knee is taken at 300 ms (the 100 ms verdict is
 * in the report beside it).
 */
export const KNEE_P95_MS: Record<Pool, number> = { '640': 100, '12mp': 300 };

/**
 * Offered rates tried when --rates is not given (requests a second), up to well past the CPU bound of a 2-core
 * machine (about 40/s for 640 px, 20/s for 12 MP): the run stops at the second miss in a row, not at the list's end.
 */
export const DEFAULT_RATES: Record<Pool, number[]> = {
  '640': [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 24, 28, 32, 36, 40, 44, 48, 56, 64],
  '12mp': [1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 24, 28, 32],
};

export interface KneeStep {
  offered: number;
  /**
   * Admitted (2xx) answers a second: over the span k6 offered them, or, when answers came in later than that (a
   * backlog that drained after the step), over the whole run: what the stack actually served.
   */
  achieved: number;
  requests: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errorRate: number;
  refusedRate: number;
  /** Iterations k6 could not start (every VU busy): offered but never sent. */
  dropped: number;
  /** CPU seconds per admitted search, per process (api, elasticsearch, k6), where measured. */
  cpuPerSearch: Record<string, number>;
  /** The search rate the cores could serve if the API and Elasticsearch used them all: cores ÷ their CPU-s per search. */
  cpuBound: number | null;
  /** The whole machine's busy share over the step, everyone's work included (1 = every core busy). */
  machineBusy: number;
  /** CPU seconds a second used by processes other than the stack and k6 (other people's work on a shared machine). */
  othersCpu: number;
  apiRssMaxMiB: number | null;
  /** Share of searches the API localized (candidate regions: the slow path), and its own stage timings at p50. */
  localized: number | null;
  stagesP50: Record<string, number>;
  meetsTarget: boolean;
}

/** One step's row from its k6 run. */
export function kneeStep(run: K6Run, kind: string, offered: number, cores: number, p95Target: number): KneeStep {
  const [result] = kindResults(run.summary, [kind]);
  const admitted = result?.admitted ?? null;
  const admittedCount = admitted?.count ?? 0;
  const cpu: Record<string, number> = { ...run.usage.cpuSeconds, k6: run.k6CpuSeconds };
  const cpuPerSearch = Object.fromEntries(Object.entries(cpu).flatMap(([name, value]) => (name === 'indexer' || admittedCount === 0 ? [] : [[name, value / admittedCount]])));
  const served = (cpuPerSearch.api ?? 0) + (cpuPerSearch.elasticsearch ?? 0);
  const known = Object.values(cpu).reduce((sum, value) => sum + value, 0);
  const dropped = counterOf(run.summary, 'dropped_iterations');
  const offeredSpan = (counterOf(run.summary, 'iterations') + dropped) / offered;
  const runSeconds = (run.summary.state?.testRunDurationMs ?? 0) / 1000;
  const errorRate = result?.errorRate ?? 1;
  const refusedRate = result?.refusedRate ?? 0;
  const p95 = admitted?.p95 ?? Infinity;
  const stagesP50 = Object.fromEntries(['decode', 'localize', 'embed', 'search', 'total'].flatMap((stage) => {
    const trend = trendOf(run.summary, `api_${stage}_ms`);
    return trend ? [[stage, trend.p50]] : [];
  }));
  return {
    offered,
    achieved: admittedCount / Math.max(offeredSpan, runSeconds, Number.MIN_VALUE),
    requests: result?.requests ?? 0,
    p50: admitted?.p50 ?? NaN,
    p95,
    p99: admitted?.p99 ?? NaN,
    max: admitted?.max ?? NaN,
    errorRate,
    refusedRate,
    dropped,
    cpuPerSearch,
    cpuBound: 'api' in cpuPerSearch && served > 0 ? cores / served : null,
    machineBusy: run.usage.machineBusySeconds / (cores * run.usage.seconds),
    othersCpu: Math.max(0, run.usage.machineBusySeconds - known) / run.usage.seconds,
    apiRssMaxMiB: run.usage.rssMaxBytes.api !== undefined ? run.usage.rssMaxBytes.api / 2 ** 20 : null,
    localized: rateOf(run.summary, 'localized')?.rate ?? null,
    stagesP50,
    meetsTarget: p95 < p95Target && errorRate === 0 && refusedRate === 0 && dropped === 0,
  };
}

/**
 * The knee: the highest offered rate whose step met the target, or null when none did. A step that missed between
 * two that met it is noise on a shared machine, and the report shows it.
 */
export function findKnee(steps: KneeStep[]): number | null {
  const met = steps.filter((step) => step.meetsTarget).map((step) => step.offered);
  return met.length ? Math.max(...met) : null;
}

/** The knee the same steps give at another p95 target (among the rates tried). */
export function kneeAt(steps: KneeStep[], p95Ms: number): number | null {
  return findKnee(steps.map((step) => ({ ...step, meetsTarget: step.p95 < p95Ms && step.errorRate === 0 && step.refusedRate === 0 && step.dropped === 0 })));
}

/**
 * The CPU a search costs, for the CPU bound: per process (API, Elasticsearch), the lowest CPU per search of any step.
 * What a process does whatever the load (timers, housekeeping) and, on a shared Elasticsearch node, other people's
 * queries only add to a step's figure, most at low rates: the lowest is the closest to a search's own cost. Null
 * without API figures.
 */
export function ownCpuPerSearch(steps: KneeStep[]): { api: number; elasticsearch: number | null; total: number } | null {
  const lowest = (name: string) => {
    const values = steps.flatMap((step) => (step.cpuPerSearch[name] === undefined ? [] : [step.cpuPerSearch[name]]));
    return values.length ? Math.min(...values) : null;
  };
  const api = lowest('api');
  if (api === null) return null;
  const elasticsearch = lowest('elasticsearch');
  return { api, elasticsearch, total: api + (elasticsearch ?? 0) };
}

export interface KneeRunContext {
  k6: string;
  env: Record<string, string>;
  pids: Record<string, number>;
  cores: number;
  summaryFile: (name: string) => string;
}

/**
 * Steps through `rates` (after a short unrecorded warm-up at the first) until two steps in a row miss the target;
 * prints each row as it comes. Returns the steps and the knee.
 */
export async function runKnee(context: KneeRunContext, pool: Pool, rates: number[], stepSeconds: number, p95Target: number, photosEnv: Record<string, string>): Promise<{ steps: KneeStep[]; knee: number | null }> {
  const kind = `photo_${pool}`;
  const env = (rate: number, seconds: number) => ({ ...context.env, ...photosEnv, POOL: pool, RATE: String(rate), DURATION: `${seconds}s`, ERROR_RATE: '0', REFUSED_RATE: '0', P95_MS: String(p95Target) });
  const base = { k6: context.k6, script: 'photo.js', pids: context.pids, echoSummary: false };
  await runK6({ ...base, env: env(rates[0]!, 10), summaryFile: context.summaryFile(`knee-${pool}-warmup`), label: `knee ${pool}: warm-up at ${rates[0]}/s`, expectedSeconds: 10 });
  const steps: KneeStep[] = [];
  const runStep = async (rate: number): Promise<KneeStep> => {
    const run = await runK6({ ...base, env: env(rate, stepSeconds), summaryFile: context.summaryFile(`knee-${pool}-${rate}`), label: `knee ${pool}: ${rate}/s`, expectedSeconds: stepSeconds });
    const step = kneeStep(run, kind, rate, context.cores, p95Target);
    steps.push(step);
    const cpu = (step.cpuPerSearch.api ?? NaN) + (step.cpuPerSearch.elasticsearch ?? NaN);
    process.stderr.write(
      `  ${pool} ${rate}/s: achieved ${step.achieved.toFixed(1)}/s, p50/p95/p99 ${step.p50.toFixed(0)}/${step.p95.toFixed(0)}/${step.p99.toFixed(0)} ms, errors ${(step.errorRate * 100).toFixed(1)} %, refused ${(step.refusedRate * 100).toFixed(1)} %, dropped ${step.dropped}, CPU ${(cpu * 1000).toFixed(0)} ms/search ${step.meetsTarget ? '✓' : '✗'}\n`,
    );
    return step;
  };
  let missedInARow = 0;
  for (const rate of rates) {
    missedInARow = (await runStep(rate)).meetsTarget ? 0 : missedInARow + 1;
    if (missedInARow >= 2) break;
  }
  // The ladder's steps widen as rates grow: one more step halfway between the knee and the first miss above it.
  const between = refinementRate(steps);
  if (between !== null) await runStep(between);
  steps.sort((a, b) => a.offered - b.offered);
  return { steps, knee: findKnee(steps) };
}

/**
 * The rate halfway (rounded) between the highest rate that met the target and the lowest one above it that missed,
 * when that is a rate not tried yet; else null (nothing met, nothing above missed, or they are adjacent).
 */
export function refinementRate(steps: KneeStep[]): number | null {
  const knee = findKnee(steps);
  if (knee === null) return null;
  const above = steps.filter((step) => !step.meetsTarget && step.offered > knee).map((step) => step.offered);
  if (above.length === 0) return null;
  const firstMiss = Math.min(...above);
  const between = Math.round((knee + firstMiss) / 2);
  return between > knee && between < firstMiss && !steps.some((step) => step.offered === between) ? between : null;
}
