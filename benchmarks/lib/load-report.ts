import path from 'node:path';
import { writeLineChart } from './charts';
import { kneeAt, ownCpuPerSearch, type KneeStep } from './load-knee';
import type { K6Run } from './load-k6';
import { counterOf, kindResults, rateOf, trendOf, type KindResult } from './load-summary';
import { fixed } from './report';

/** The tables and charts of `npm run bench:load` results (benchmarks/results/load-<scenario>.md). */

const ms = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(value < 10 ? 1 : 0));
const percent = (value: number) => `${fixed(value * 100, value > 0 && value < 0.01 ? 2 : 1)} %`;

/** Per request kind: how many, admitted latency, errors and refusals. */
export function kindsTable(results: KindResult[], seconds: number): string {
  const rows = results.map((r) => {
    const a = r.admitted;
    return `| ${r.kind} | ${r.requests} | ${fixed(r.requests / seconds, 1)} | ${ms(a?.p50)} / ${ms(a?.p95)} / ${ms(a?.p99)} / ${ms(a?.max)} | ${percent(r.errorRate)} | ${percent(r.refusedRate)} |`;
  });
  return ['| kind | requests | a second | admitted latency, ms: p50 / p95 / p99 / max | errors | refused |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** What the run cost: CPU seconds per process (and per admitted request), the machine's busy share, the API's memory. */
export function usageTable(run: K6Run, requests: number, cores: number): string {
  const cpu: Record<string, number> = { ...run.usage.cpuSeconds, k6: run.k6CpuSeconds };
  const rows = Object.entries(cpu).map(([name, seconds]) => `| ${name} | ${fixed(seconds, 1)} | ${requests ? fixed((seconds / requests) * 1000, 1) : 'n/a'} | ${fixed(seconds / run.usage.seconds / cores * 100, 0)} % |`);
  const known = Object.values(cpu).reduce((sum, value) => sum + value, 0);
  rows.push(`| everything else on the machine | ${fixed(Math.max(0, run.usage.machineBusySeconds - known), 1)} | | ${fixed((Math.max(0, run.usage.machineBusySeconds - known) / run.usage.seconds / cores) * 100, 0)} % |`);
  const rss = run.usage.rssMaxBytes.api;
  return [
    `| process | CPU seconds | CPU ms per request | share of ${cores} cores |`,
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    rss !== undefined ? `The API's resident memory peaked at ${fixed(rss / 2 ** 20, 0)} MiB (VmRSS, sampled every second).` : '',
  ].join('\n');
}

/** Freshness of the changes sent during the run: webhook 202 → the status says indexed. */
export function freshnessTable(run: K6Run): string {
  const rows = ['new', 'price'].flatMap((kind) => {
    const trend = trendOf(run.summary, `freshness_ms{kind:${kind}}`);
    const timeouts = rateOf(run.summary, `freshness_timeouts{kind:${kind}}`);
    if (!trend && !timeouts) return [];
    const label = kind === 'new' ? 'new product (image fetched and embedded)' : 'price and stock change';
    return [`| ${label} | ${trend?.count ?? 0} | ${ms(trend?.p50)} / ${ms(trend?.p95)} / ${ms(trend?.p99)} / ${ms(trend?.max)} | ${timeouts?.trues ?? 0} |`];
  });
  if (rows.length === 0) return '';
  return ['| change | indexed | webhook 202 → status indexed, ms: p50 / p95 / p99 / max | not indexed in time |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** The API's own stage timings of photo searches (timings_ms), p50 / p95, and the share it localized. */
export function stagesLine(run: K6Run): string {
  const parts = ['decode', 'localize', 'embed', 'search', 'total'].flatMap((stage) => {
    const trend = trendOf(run.summary, `api_${stage}_ms`);
    return trend ? [`${stage} ${ms(trend.p50)} / ${ms(trend.p95)}`] : [];
  });
  if (parts.length === 0) return '';
  const localized = rateOf(run.summary, 'localized');
  return `Inside the API (its \`timings_ms\`, ms p50 / p95): ${parts.join(', ')}${localized ? `; localized (candidate regions, the slow path): ${percent(localized.rate)} of photos` : ''}.`;
}

export const requestKinds = (run: K6Run, kinds: readonly string[]) => kindResults(run.summary, kinds);
export const droppedIterations = (run: K6Run) => counterOf(run.summary, 'dropped_iterations');

/** The knee table of one photo pool. */
export function kneeTable(steps: KneeStep[]): string {
  const rows = steps.map((s) => {
    const apiEs = (s.cpuPerSearch.api ?? NaN) + (s.cpuPerSearch.elasticsearch ?? NaN);
    return `| ${s.offered} | ${fixed(s.achieved, 1)} | ${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.p99)} | ${percent(s.errorRate)} | ${percent(s.refusedRate)} | ${s.dropped} | ${ms((s.cpuPerSearch.api ?? NaN) * 1000)} + ${ms((s.cpuPerSearch.elasticsearch ?? NaN) * 1000)} = ${ms(apiEs * 1000)} | ${ms((s.cpuPerSearch.k6 ?? NaN) * 1000)} | ${s.cpuBound === null ? 'n/a' : fixed(s.cpuBound, 1)} | ${fixed(s.machineBusy * 100, 0)} % (${fixed(s.othersCpu, 2)}) | ${s.apiRssMaxMiB === null ? 'n/a' : fixed(s.apiRssMaxMiB, 0)} | ${s.meetsTarget ? 'yes' : 'no'} |`;
  });
  return [
    '| offered /s | achieved /s | admitted ms p50 / p95 / p99 | errors | refused | not sent | CPU ms per search: API + ES | k6 CPU ms per search | CPU bound /s | machine busy (of it others, in cores) | API RSS MiB | meets target |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** The share of a step's offered requests that k6 could not send (every VU busy). */
const notSent = (step: KneeStep) => (step.dropped > 0 ? step.dropped / (step.requests + step.dropped) : 0);

/** The three charts of a knee run (latency, throughput, errors and refusals against the offered rate); returns their file names. */
export async function kneeCharts(dir: string, name: string, title: string, steps: KneeStep[], p95Target: number, cores: number): Promise<string[]> {
  const points = (value: (step: KneeStep) => number) => steps.filter((step) => Number.isFinite(value(step))).map((step) => ({ x: step.offered, y: value(step) }));
  const files = [`${name}-latency.png`, `${name}-throughput.png`, `${name}-errors.png`];
  await writeLineChart(path.join(dir, files[0]!), {
    title: `${title}: admitted latency against offered rate`,
    x: { title: 'offered rate (searches/s)' },
    y: { title: 'latency (ms)', log: true },
    series: [
      { name: 'p50', points: points((s) => s.p50) },
      { name: 'p95', points: points((s) => s.p95) },
      { name: 'p99', points: points((s) => s.p99) },
    ],
    rules: [{ y: p95Target, label: `p95 target ${p95Target} ms` }],
  });
  await writeLineChart(path.join(dir, files[1]!), {
    title: `${title}: throughput against offered rate`,
    x: { title: 'offered rate (searches/s)' },
    y: { title: 'searches/s' },
    series: [
      { name: 'offered', points: points((s) => s.offered) },
      { name: 'achieved (2xx)', points: points((s) => s.achieved) },
      { name: 'CPU bound, per step', points: points((s) => s.cpuBound ?? NaN) },
    ],
    rules: ownCpuPerSearch(steps) === null ? [] : [{ y: cores / ownCpuPerSearch(steps)!.total, label: `CPU bound, lowest CPU per search: ${fixed(cores / ownCpuPerSearch(steps)!.total, 1)}/s` }],
  });
  await writeLineChart(path.join(dir, files[2]!), {
    title: `${title}: errors and refusals against offered rate`,
    x: { title: 'offered rate (searches/s)' },
    // At least 0–1 %: a run without any error or refusal still gets a scale.
    y: { title: 'share of requests (%)', max: Math.max(1, ...steps.flatMap((s) => [s.errorRate, s.refusedRate, notSent(s)].map((share) => share * 100))) },
    series: [
      { name: 'errors', points: points((s) => s.errorRate * 100) },
      { name: 'refused (503)', points: points((s) => s.refusedRate * 100) },
      { name: 'not sent', points: points((s) => notSent(s) * 100) },
    ],
  });
  return files;
}

/**
 * The knee of one photo pool in words: the knee at the target (and at 100 ms when the target differs), the CPU
 * bound from the knee step's average CPU per search, and from the lowest of any step.
 */
export function kneeSummary(steps: KneeStep[], knee: number | null, p95Target: number, cores: number): string {
  const lines: string[] = [];
  const atKnee = steps.find((step) => step.offered === knee);
  if (knee === null || !atKnee) lines.push(`**No knee** at a ${p95Target} ms p95: no step met it (the lowest, ${steps[0]?.offered}/s, had p95 ${ms(steps[0]?.p95)} ms).`);
  else lines.push(`**Knee: ${knee} searches/s** at a ${p95Target} ms p95 target (p95 there ${ms(atKnee.p95)} ms).`);
  if (p95Target !== 100) {
    const at100 = kneeAt(steps, 100);
    lines.push(at100 === null ? `At 100 ms (the 640 px target) no rate qualifies: p95 was ${ms(Math.min(...steps.map((step) => step.p95)))} ms at best.` : `At 100 ms: ${at100} searches/s.`);
  }
  if (atKnee && atKnee.cpuBound !== null && knee !== null) {
    const api = atKnee.cpuPerSearch.api ?? NaN;
    const es = atKnee.cpuPerSearch.elasticsearch ?? 0;
    lines.push(`CPU per search over the knee step (average): API ${ms(api * 1000)} + Elasticsearch ${ms(es * 1000)} = ${ms((api + es) * 1000)} ms → CPU bound ${cores} ÷ that = ${fixed(atKnee.cpuBound, 1)}/s; **knee ÷ bound = ${fixed(knee / atKnee.cpuBound, 2)}**.`);
  }
  const own = ownCpuPerSearch(steps);
  if (own && knee !== null) {
    const bound = cores / own.total;
    const range = (name: string) => {
      const values = steps.flatMap((step) => (step.cpuPerSearch[name] === undefined ? [] : [step.cpuPerSearch[name] * 1000]));
      return `${ms(Math.min(...values))}–${ms(Math.max(...values))}`;
    };
    lines.push(
      `The lowest CPU per search of any step (what a process does whatever the load, and other people's queries on the shared Elasticsearch node, only add to a step's figure): API ${ms(own.api * 1000)} ms (over the steps ${range('api')})${own.elasticsearch === null ? '' : ` + Elasticsearch ${ms(own.elasticsearch * 1000)} ms (${range('elasticsearch')})`} → CPU bound ${fixed(bound, 1)}/s; knee ÷ bound = ${fixed(knee / bound, 2)}.`,
    );
  }
  return lines.join(' ');
}
