import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A small steady stream of requests for the failure tests: one kind of request every `intervalMs`, each outcome
 * recorded with its time, and what the outcomes say about a failure that happened at a known moment.
 */

export interface Outcome {
  /** When the request started, ms since the epoch, and how long it took. */
  at: number;
  ms: number;
  ok: boolean;
  detail: string;
}

export interface Stream {
  outcomes: Outcome[];
  stop(): Promise<void>;
}

/** Calls `request(n)` (n = 0, 1, …) every `intervalMs` until stopped; `request` says whether the answer was right. */
export function steadyStream(request: (n: number) => Promise<{ ok: boolean; detail: string }>, intervalMs: number): Stream {
  const outcomes: Outcome[] = [];
  let running = true;
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const at = Date.now();
      const outcome = await request(n).catch((error: unknown) => ({ ok: false, detail: (error as Error).message }));
      outcomes.push({ at, ms: Date.now() - at, ...outcome });
      await sleep(Math.max(0, intervalMs - (Date.now() - at)));
    }
  })();
  return {
    outcomes,
    async stop() {
      running = false;
      await loop;
    },
  };
}

export interface FailureWindow {
  requests: number;
  errors: number;
  /** From the failure to the start of the last failed request, ms (0 without errors). */
  windowMs: number;
  /** Longest time between two answered requests around the failure, ms: how long clients waited at worst. */
  longestGapMs: number;
  /** The slowest request after the failure, ms. */
  slowestMs: number;
  firstErrors: string[];
}

/** What the outcomes after `failedAt` say: how many failed, and over how long. */
export function failureWindow(outcomes: Outcome[], failedAt: number): FailureWindow {
  const after = outcomes.filter((outcome) => outcome.at >= failedAt);
  const errors = after.filter((outcome) => !outcome.ok);
  const answered = [failedAt, ...after.filter((outcome) => outcome.ok).map((outcome) => outcome.at)];
  return {
    requests: after.length,
    errors: errors.length,
    windowMs: errors.length > 0 ? errors[errors.length - 1]!.at - failedAt : 0,
    longestGapMs: Math.max(0, ...answered.slice(1).map((at, i) => at - answered[i]!)),
    slowestMs: Math.max(0, ...after.map((outcome) => outcome.ms)),
    firstErrors: [...new Set(errors.map((error) => error.detail))].slice(0, 3),
  };
}

/** Records what a failure test measured in test-artifacts/<name>.json (the figures docs/scaling.md quotes). */
export function recordMeasurement(name: string, data: Record<string, unknown>): void {
  const dir = path.resolve(__dirname, '..', '..', 'test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify({ date: new Date().toISOString(), ...data }, null, 2)}\n`);
}
