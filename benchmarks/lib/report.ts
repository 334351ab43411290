import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const RESULTS_DIR = path.resolve(__dirname, '..', 'results');

/** Where and how a benchmark ran: recorded beside every result. */
export function environment(): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}

/**
 * Writes `<name>.json` (the data, the command and the environment) and `<name>.md` (the human summary) into `dir`
 * (default benchmarks/results, the committed results).
 */
export function writeResult(name: string, command: string, data: Record<string, unknown>, markdown: string, dir = RESULTS_DIR): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify({ command, environment: environment(), ...data }, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, `${name}.md`), `${markdown.trim()}\n\nProduced by \`${command}\` on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? ''}), ${new Date().toISOString().slice(0, 10)}.\n`);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export type LatencyStats = { p50: number; p95: number; p99: number; mean: number };

/** p50, p95, p99 and the mean of a set of timings. */
export function latencyStats(values: number[]): LatencyStats {
  return { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99), mean: values.reduce((a, b) => a + b, 0) / values.length };
}

export const fixed = (value: number, digits = 3): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
