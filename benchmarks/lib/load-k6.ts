import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createProgress } from '../../core/progress';
import { exitedChildrenCpuSeconds, measureProcesses, type ProcessUsage } from './load-proc';
import { k6SummarySchema, type K6Summary } from './load-summary';

const root = path.resolve(__dirname, '..', '..');
export const K6_DIR = path.join(root, 'benchmarks', 'k6');

/** k6's exit status when the run completed but a threshold failed. */
export const THRESHOLDS_FAILED = 99;

/** The k6 binary: scripts/install-k6.sh builds it into .cache/bin when missing (K6_BIN names another). */
export async function ensureK6(): Promise<string> {
  const child = spawn('bash', [path.join(root, 'scripts', 'install-k6.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error('k6 could not be installed (scripts/install-k6.sh)');
  return out.trim().split('\n').pop()!;
}

export interface K6RunOptions {
  k6: string;
  /** A script of benchmarks/k6 (`photo.js`). */
  script: string;
  /** Its settings (`k6 run -e`): given as the environment, so secrets stay off the command line. */
  env: Record<string, string>;
  summaryFile: string;
  /** The progress line's label, and how long the run should take (seconds: the progress counts them). */
  label: string;
  expectedSeconds: number;
  /** Processes to measure over the run (CPU, memory). */
  pids: Record<string, number>;
  /** Show the script's own summary lines (off for the knee's steps: the wrapper prints its table). */
  echoSummary: boolean;
}

export interface K6Run {
  /** 0, or THRESHOLDS_FAILED. */
  exitCode: number;
  summary: K6Summary;
  usage: ProcessUsage;
  /** CPU seconds k6 itself used: it shares the machine with what it loads. */
  k6CpuSeconds: number;
}

let running: ChildProcess | null = null;

/** Stops the k6 run in progress, if any (on Ctrl-C or a failure elsewhere). */
export function stopK6(): void {
  running?.kill('SIGTERM');
}

/** Runs one k6 script to its end and reads its summary; throws when k6 fails for any reason but a threshold. */
export async function runK6(options: K6RunOptions): Promise<K6Run> {
  fs.rmSync(options.summaryFile, { force: true });
  fs.mkdirSync(path.dirname(options.summaryFile), { recursive: true });
  // A clean environment: the scripts read every setting from __ENV, so a shell's RATE or TIMEOUT must not leak in.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...options.env, SUMMARY_FILE: options.summaryFile };
  const measure = measureProcesses(options.pids);
  const cpuBefore = exitedChildrenCpuSeconds();
  // --address '': no REST API (its fixed port would clash with another k6 on the machine).
  const child = spawn(options.k6, ['run', '--quiet', '--no-usage-report', '--no-color', '--address', '', path.join(K6_DIR, options.script)], {
    env,
    stdio: ['ignore', options.echoSummary ? 'inherit' : 'ignore', 'inherit'],
  });
  running = child;
  const progress = createProgress(options.label);
  const started = Date.now();
  // Seconds done of the expected; past it, k6 is waiting for the requests still in flight.
  const timer = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    progress.update(Math.min(seconds, options.expectedSeconds), options.expectedSeconds, seconds > options.expectedSeconds ? 'finishing the requests in flight' : '');
  }, 1000);
  let code: number | null;
  try {
    code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
  } finally {
    clearInterval(timer);
    running = null;
  }
  const usage = measure.stop();
  const k6CpuSeconds = exitedChildrenCpuSeconds() - cpuBefore;
  progress.done();
  if (code !== 0 && code !== THRESHOLDS_FAILED) throw new Error(`k6 ${options.script} failed (exit ${code ?? 'signal'})`);
  if (!fs.existsSync(options.summaryFile)) throw new Error(`k6 ${options.script} wrote no summary (${options.summaryFile})`);
  const summary = k6SummarySchema.parse(JSON.parse(fs.readFileSync(options.summaryFile, 'utf8')));
  return { exitCode: code, summary, usage, k6CpuSeconds };
}
