import fs from 'node:fs';
import path from 'node:path';
import { durationSeconds, POOLS, type LoadArgs, type Pool, type Scenario } from './load-args';
import { DEFAULT_RATES, KNEE_P95_MS, runKnee, type KneeStep } from './load-knee';
import { runK6, THRESHOLDS_FAILED, type K6Run } from './load-k6';
import { poolBytes } from './load-inputs';
import { droppedIterations, freshnessTable, kindsTable, kneeCharts, kneeSummary, kneeTable, requestKinds, stagesLine, usageTable } from './load-report';
import { failedThresholds, rateOf, trendOf } from './load-summary';
import { fixed, RESULTS_DIR, writeResult } from './report';

/** What every scenario runs with (benchmarks/load.ts builds it). */
export interface ScenarioContext {
  args: LoadArgs;
  command: string;
  k6: string;
  cores: number;
  resultsDir: string;
  summaryFile: (name: string) => string;
  pools: Record<Pool, string>;
  /** The processes measured over each run: api, elasticsearch, indexer (where known). */
  pids: Record<string, number>;
  /** Settings every script gets (BASE_URL, WEBHOOK_SECRET, API_KEY, RUN_ID, PRODUCTS). */
  env: Record<string, string>;
  stackNote: string;
  loadBefore: number;
  exportedProducts: number;
}

/** One k6 run per scenario but knee: script, request kinds, default rate and duration. */
const SINGLE: Record<Exclude<Scenario, 'knee'>, { script: string; kinds: string[]; rate: number; duration: string; title: string }> = {
  smoke: { script: 'smoke.js', kinds: ['photo_640', 'photo_12mp', 'similar', 'vector', 'webhook', 'status'], rate: 1, duration: '15s', title: 'Smoke: every request kind at a low rate' },
  'photo-640': { script: 'photo.js', kinds: ['photo_640'], rate: 5, duration: '30s', title: 'Photo search, 640 px JPEG (multipart upload)' },
  'photo-12mp': { script: 'photo.js', kinds: ['photo_12mp'], rate: 2, duration: '30s', title: 'Photo search, 12 MP phone photo (4000×3000 JPEG, multipart upload)' },
  similar: { script: 'similar.js', kinds: ['similar'], rate: 20, duration: '30s', title: 'Search by product id (GET /v1/products/:id/similar)' },
  vector: { script: 'vector.js', kinds: ['vector'], rate: 20, duration: '30s', title: 'Raw-vector search (JSON `vector`)' },
  webhook: { script: 'webhook.js', kinds: ['webhook'], rate: 10, duration: '30s', title: 'Catalog webhooks (signed price and stock changes)' },
  mixed: { script: 'mixed.js', kinds: ['photo_640', 'similar', 'vector', 'webhook', 'status'], rate: 5, duration: '60s', title: 'Searches while the catalog changes (new products and price changes)' },
  overload: { script: 'overload.js', kinds: ['photo_640', 'photo_12mp'], rate: NaN, duration: '30s', title: 'Overload: photo searches far past the knee' },
};

const photoEnv = (context: ScenarioContext, pool: Pool) => ({ PHOTOS: context.pools[pool], PHOTOS_PER_VU: pool === '12mp' ? '2' : '0' });

/** The rate for overload: --rate, else 3 × the committed knee of the pool. */
function overloadRate(args: LoadArgs, pool: Pool): number {
  if (args.rate) return args.rate;
  const file = path.join(RESULTS_DIR, 'load-knee.json');
  const knee = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { pools?: Record<string, { knee: number | null }> }).pools?.[pool]?.knee : null;
  if (!knee) throw new Error('overload needs --rate (meant: 3 × the knee), or a knee in benchmarks/results/load-knee.json');
  return 3 * knee;
}

function preamble(context: ScenarioContext, what: string): string {
  return `Against ${context.stackNote}. ${what} Machine: ${context.cores} cores shared with other people's work; load average before the run ${fixed(context.loadBefore, 2)}. k6 runs on the same cores: its own CPU is shown.`;
}

async function single(context: ScenarioContext, scenario: Exclude<Scenario, 'knee'>): Promise<boolean> {
  const spec = SINGLE[scenario];
  const { args } = context;
  const pool: Pool = scenario === 'photo-12mp' ? '12mp' : (args.photos?.[0] ?? '640');
  const rate = scenario === 'overload' ? overloadRate(args, pool) : (args.rate ?? spec.rate);
  const duration = args.duration ?? spec.duration;
  const env: Record<string, string> = { ...context.env, RATE: String(rate), DURATION: duration, POOL: pool, ...photoEnv(context, pool) };
  if (scenario === 'smoke') Object.assign(env, { PHOTOS_640: context.pools['640'], PHOTOS_12MP: context.pools['12mp'] });
  if (scenario === 'overload') env.TIMEOUT = '30s';
  const run = await runK6({ k6: context.k6, script: spec.script, env, summaryFile: context.summaryFile(scenario), label: `${scenario} at ${rate}/s for ${duration}`, expectedSeconds: durationSeconds(duration), pids: context.pids, echoSummary: true });
  const seconds = durationSeconds(duration);
  const kinds = requestKinds(run, spec.kinds);
  const failed = failedThresholds(run.summary);
  const requests = kinds.reduce((sum, kind) => sum + (kind.admitted?.count ?? 0), 0);
  const after = scenario === 'overload' ? await apiAfter(context) : null;
  const sections = [
    `# Load: ${spec.title}`,
    preamble(context, `${scenario === 'smoke' ? 'Every kind at its own low rate' : `${rate} requests a second offered (constant arrival rate)`} for ${duration}; photo pools: 640 px ≈ ${fixed(poolBytes(context.pools['640']) / 1024, 0)} KiB, 12 MP ≈ ${fixed(poolBytes(context.pools['12mp']) / 2 ** 20, 1)} MiB a photo; ${context.exportedProducts} products exported for id and vector searches.`),
    kindsTable(kinds, seconds),
    stagesLine(run),
    freshnessTable(run),
    after ? overloadLines(run, pool, after) : '',
    `Not sent (every VU busy): ${droppedIterations(run)}. Thresholds: ${failed.length ? `**failed**: ${failed.join('; ')}` : 'all passed'}.`,
    '## Where the CPU went',
    usageTable(run, requests, context.cores),
  ];
  writeResult(`load-${scenario}`, context.command, { scenario, rate, duration, pool, passed: run.exitCode === 0, failed_thresholds: failed, kinds, ...(after ? { api_after: after } : {}), usage: run.usage, k6_cpu_seconds: run.k6CpuSeconds, summary: run.summary.metrics }, sections.filter(Boolean).join('\n\n'), context.resultsDir);
  process.stderr.write(`bench:load: results in ${path.join(context.resultsDir, `load-${scenario}.md`)}\n`);
  return run.exitCode !== THRESHOLDS_FAILED;
}

/** After an overload run: whether the API process is still there (when its pid is known) and answers /readyz within 5 s. */
async function apiAfter(context: ScenarioContext): Promise<{ alive: boolean | null; ready: boolean }> {
  const alive = context.pids.api === undefined ? null : fs.existsSync(`/proc/${context.pids.api}`);
  const ready = await fetch(`${context.env.BASE_URL}/readyz`, { signal: AbortSignal.timeout(5_000) }).then((response) => response.ok, () => false);
  return { alive, ready };
}

function overloadLines(run: K6Run, pool: Pool, after: { alive: boolean | null; ready: boolean }): string {
  const kind = `photo_${pool}`;
  const admitted = trendOf(run.summary, `admitted_ms{kind:${kind}}`);
  const refused = rateOf(run.summary, `refused{kind:${kind}}`);
  const errors = rateOf(run.summary, `errors{kind:${kind}}`);
  const waits = trendOf(run.summary, 'http_req_duration');
  const healthy = rateOf(run.summary, 'healthy');
  const stayedUp = healthy !== null && healthy.rate === 1;
  return [
    `- admitted (2xx): ${admitted?.count ?? 0}, p50 / p95 / p99 ${fixed(admitted?.p50 ?? NaN, 0)} / ${fixed(admitted?.p95 ?? NaN, 0)} / ${fixed(admitted?.p99 ?? NaN, 0)} ms`,
    `- refused (503 \`overloaded\`): ${refused ? `${fixed(refused.rate * 100, 1)} %` : 'none'}; errors: ${errors ? `${fixed(errors.rate * 100, 1)} %` : 'none'}`,
    `- the longest wait of any request: ${fixed((waits?.max ?? NaN) / 1000, 1)} s`,
    `- the API stayed up: ${stayedUp ? 'yes' : '**no**'} (liveness probe GET /healthz within 2 s, once a second: ${healthy ? `${healthy.total - healthy.trues} of ${healthy.total} missed` : 'not run'}); after the run its process was ${after.alive === null ? 'not watched' : after.alive ? 'alive' : '**gone**'} and /readyz ${after.ready ? 'answered' : '**did not answer**'}`,
  ].join('\n');
}

async function knee(context: ScenarioContext): Promise<boolean> {
  const { args } = context;
  const stepSeconds = durationSeconds(args.duration ?? '20s');
  const pools = args.photos ?? [...POOLS];
  const target = (pool: Pool) => args.p95 ?? KNEE_P95_MS[pool];
  const results: Partial<Record<Pool, { steps: KneeStep[]; knee: number | null; rates: number[]; p95_target_ms: number }>> = {};
  const sections = [
    '# Load: the knee of photo search',
    preamble(context, `Photo searches (multipart upload) at a constant offered rate, ${stepSeconds} s a step (after a 10 s warm-up), the rate stepped up until two steps in a row missed the target, then one step halfway between the highest rate that met it and the first miss above (the ladder widens as rates grow): admitted p95 under ${pools.map((pool) => `${target(pool)} ms for ${pool}`).join(', ')}, with no error, no refusal and nothing left unsent. The knee is the highest rate that met it. CPU per search is the API's and Elasticsearch's CPU time over the step (/proc utime + stime) ÷ the searches answered; the CPU bound is cores ÷ that: the rate the cores could serve if they did nothing else.`),
  ];
  for (const pool of pools) {
    const rates = args.rates ?? (args.rate ? Array.from({ length: 20 }, (_, i) => Math.round(args.rate! * (i + 1) * 100) / 100) : DEFAULT_RATES[pool]);
    const { steps, knee: found } = await runKnee({ k6: context.k6, env: context.env, pids: context.pids, cores: context.cores, summaryFile: context.summaryFile }, pool, rates, stepSeconds, target(pool), photoEnv(context, pool));
    results[pool] = { steps, knee: found, rates, p95_target_ms: target(pool) };
    const title = pool === '640' ? '640 px photos' : '12 MP photos';
    const charts = await kneeCharts(context.resultsDir, `load-knee-${pool}`, title, steps, target(pool), context.cores);
    sections.push(
      `## ${title} (${pool === '640' ? `640×480, ≈ ${fixed(poolBytes(context.pools['640']) / 1024, 0)} KiB` : `4000×3000, ≈ ${fixed(poolBytes(context.pools['12mp']) / 2 ** 20, 1)} MiB`})`,
      kneeSummary(steps, found, target(pool), context.cores),
      kneeTable(steps),
      stagesAt(steps.find((step) => step.offered === found) ?? steps[0]),
      charts.map((file) => `![${file}](${file})`).join('\n'),
    );
  }
  writeResult('load-knee', context.command, { step_seconds: stepSeconds, pools: results }, sections.join('\n\n'), context.resultsDir);
  process.stderr.write(`bench:load: results in ${path.join(context.resultsDir, 'load-knee.md')}\n`);
  return Object.values(results).every((result) => result.knee !== null);
}

/** Where a step's time went inside the API (its timings_ms at p50), and how many photos it localized. */
function stagesAt(step: KneeStep | undefined): string {
  if (!step || Object.keys(step.stagesP50).length === 0) return '';
  const stages = Object.entries(step.stagesP50).map(([stage, value]) => `${stage} ${fixed(value, 1)}`).join(', ');
  return `At ${step.offered}/s, inside the API (\`timings_ms\`, ms at p50): ${stages}${step.localized === null ? '' : `; localized (the slow path): ${fixed(step.localized * 100, 1)} % of photos`}.`;
}

/** Runs the scenario the flags name, writes its results; returns whether every threshold held. */
export function runScenario(context: ScenarioContext): Promise<boolean> {
  return context.args.scenario === 'knee' ? knee(context) : single(context, context.args.scenario);
}
