import { z } from 'zod';

/**
 * Reading the summary k6 hands to handleSummary (benchmarks/k6/lib/lookalike.js writes it as JSON): the metrics the
 * scripts record per request kind (`admitted_ms{kind:…}`, `errors{kind:…}`, `refused{kind:…}`), k6's own, and which
 * thresholds failed.
 */
const metricSchema = z.object({
  type: z.enum(['trend', 'rate', 'counter', 'gauge']),
  contains: z.string().optional(),
  values: z.record(z.string(), z.number()),
  thresholds: z.record(z.string(), z.object({ ok: z.boolean() })).optional(),
});

export const k6SummarySchema = z.object({
  metrics: z.record(z.string(), metricSchema),
  state: z.object({ testRunDurationMs: z.number() }).partial().optional(),
});

export type K6Summary = z.infer<typeof k6SummarySchema>;

export interface TrendStats {
  count: number;
  avg: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** A trend's statistics (milliseconds for time trends), or null when nothing was recorded. */
export function trendOf(summary: K6Summary, name: string): TrendStats | null {
  const metric = summary.metrics[name];
  if (!metric || metric.type !== 'trend' || !metric.values.count) return null;
  const v = metric.values;
  return { count: v.count!, avg: v.avg!, min: v.min!, p50: v.med!, p90: v['p(90)']!, p95: v['p(95)']!, p99: v['p(99)']!, max: v.max! };
}

/** A rate's share of true values and how many were added, or null when nothing was. */
export function rateOf(summary: K6Summary, name: string): { rate: number; trues: number; total: number } | null {
  const metric = summary.metrics[name];
  if (!metric || metric.type !== 'rate') return null;
  const trues = metric.values.passes ?? 0;
  const total = trues + (metric.values.fails ?? 0);
  return total === 0 ? null : { rate: metric.values.rate ?? trues / total, trues, total };
}

export const counterOf = (summary: K6Summary, name: string): number => summary.metrics[name]?.values.count ?? 0;

/** Every threshold that failed, as `metric expression`. */
export function failedThresholds(summary: K6Summary): string[] {
  return Object.entries(summary.metrics).flatMap(([name, metric]) =>
    Object.entries(metric.thresholds ?? {}).flatMap(([expression, result]) => (result.ok ? [] : [`${name} ${expression}`])),
  );
}

export interface KindResult {
  kind: string;
  /** Requests answered in any way (or not at all). */
  requests: number;
  /** Answered 2xx, and their latency. */
  admitted: TrendStats | null;
  errorRate: number;
  refusedRate: number;
}

/** The per-kind results of the kinds that had requests. */
export function kindResults(summary: K6Summary, kinds: readonly string[]): KindResult[] {
  return kinds.flatMap((kind) => {
    const errors = rateOf(summary, `errors{kind:${kind}}`);
    if (!errors) return [];
    return [{ kind, requests: errors.total, admitted: trendOf(summary, `admitted_ms{kind:${kind}}`), errorRate: errors.rate, refusedRate: rateOf(summary, `refused{kind:${kind}}`)?.rate ?? 0 }];
  });
}
